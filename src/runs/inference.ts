/**
 * Inference on a trained run: `loadModel` restores a run's model (its last checkpoint's
 * parameters and layouts; no optimiser state, no gradients) as an InferenceModel, and `predictRun`
 * measures it on data (accuracy, or bits per character) and gives its predictions.
 */
import { existsSync } from 'node:fs';
import { checkInteger } from '../check.js';
import { FileError } from '../errors.js';
import { getBackend, type BackendChoice } from '../kernels/get-backend.js';
import type { Backend } from '../kernels/types.js';
import { loadCheckpoint, type Checkpoint } from '../train/checkpoint.js';
import { restoreModel } from '../train/checkpoint-restore.js';
import { CharVocabulary } from '../train/data/char-vocabulary.js';
import type { Dataset } from '../train/data/dataset.js';
import { InferenceModel } from '../train/inference.js';
import { UsageError } from '../usage-error.js';
import { loadRunData } from './training-data.js';
import { resumeCheckpointDir, runRecordOf } from './training.js';
import { savedRunConfig, type TrainData, type TrainRunConfig } from './training-settings.js';

/** Options of `loadModel`. */
export interface LoadModelOptions {
  /** A backend to run on (the caller's), or which to make (the model then owns it); default 'cpu'. */
  backend?: Backend | BackendChoice;
  /** Lines about the backend picked (default: to stderr, as getBackend does). */
  log?: (message: string) => void;
}

/** A run's model loaded for inference, with what the run was. */
export interface LoadedModel extends InferenceModel {
  /** The run's settings (its checkpoint's `run` record), or null when the checkpoint holds none. */
  readonly run: TrainRunConfig | null;
  /** The checkpoint directory read. */
  readonly checkpoint: string;
  /** The training steps the model had taken. */
  readonly step: number;
}

/** The run settings a checkpoint holds, or null when it holds none (a checkpoint not written by a run). */
function runSettings(checkpoint: Checkpoint, dir: string): TrainRunConfig | null {
  const settings = runRecordOf(checkpoint);
  return Object.keys(settings).length === 0 ? null : savedRunConfig(settings, dir);
}

/**
 * The model of the run in `dir` (a run directory of `train`, `prune` or `import`, or a checkpoint
 * directory) for inference: its last checkpoint's parameters read and checked (FormatError,
 * ResourceError as `loadCheckpoint` raises them; the optimiser's state is not read, and the memory
 * checked is the model's values alone), the model rebuilt with the layouts it had, its parameters
 * put in. FileError when `dir` does not exist.
 */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  if (typeof dir !== 'string' || dir.length === 0) throw new UsageError('loadModel needs a run directory (the --out of blocksparse train)');
  if (!existsSync(dir)) throw new FileError(dir, 'does not exist: there is no run to load');
  // The parameters alone: the optimiser's state is neither read nor counted against the budget.
  const checkpoint = loadCheckpoint(resumeCheckpointDir(dir), { parametersOnly: true });
  const { manifest } = checkpoint;
  const run = runSettings(checkpoint, dir);
  const vocabulary = manifest.vocabulary === null ? null : CharVocabulary.fromJSON(manifest.vocabulary);
  const given = typeof options.backend === 'object' && options.backend !== null;
  const backend = given ? (options.backend as Backend) : await getBackend((options.backend as BackendChoice | undefined) ?? 'cpu', options.log ? { log: options.log } : {});
  try {
    const model = restoreModel(checkpoint, backend);
    return Object.assign(new InferenceModel(model, { vocabulary, ownsBackend: !given }), { run, checkpoint: checkpoint.dir, step: manifest.position.step });
  } catch (error) {
    if (!given) await backend.dispose();
    throw error;
  }
}

/** Options of `predictRun`. */
export interface PredictRunOptions extends LoadModelOptions {
  /** The data (default: the run's own): fashion-mnist, or a language model's brown or text:<file>. */
  data?: TrainData;
  /** Which split: 'test' (default) or 'train'. */
  split?: 'test' | 'train';
  /** Only the first this many examples (classification). */
  limit?: number;
  /** Examples per forward pass (default 1000). */
  batch?: number;
  /** A language model's run: also predict the next character at every position (an extra pass over the text). */
  textPredictions?: boolean;
}

/** What `predictRun` measured. */
export type PredictRunResult =
  | { kind: 'classification'; examples: number; accuracy: number; loss: number; predictions: Int32Array; labels: Uint8Array; classNames: readonly string[] }
  | {
      kind: 'text'; characters: number; bpc: number; accuracy: number;
      /** With `textPredictions`: the split's characters as indices, and the model's most likely next character after each position but the last. */
      tokens?: ArrayLike<number>; predictions?: Int32Array; codePoints?: readonly number[];
    };

/** The predictions and labels of a classifier on a data set, and its accuracy and mean loss (one pass). */
async function classify(model: InferenceModel, dataset: Dataset, batch: number): Promise<PredictRunResult> {
  const predictions = new Int32Array(dataset.n);
  const { loss, accuracy } = await model.evaluate(dataset, batch, { predictions });
  return { kind: 'classification', examples: dataset.n, accuracy, loss, predictions, labels: dataset.labels, classNames: dataset.classNames };
}

/**
 * Runs the model of the run in `dir` on data: a classifier's accuracy, mean loss and the predicted
 * class of every example; a language model's bits per character and next-character accuracy over
 * the whole split (with `textPredictions`, the predicted next character at every position). The data defaults to the run's own; UsageError when the run holds no settings
 * and no `data` is given, or when the data does not fit the model.
 */
export async function predictRun(dir: string, options: PredictRunOptions = {}): Promise<PredictRunResult> {
  const context = 'predict';
  const batch = checkInteger('batch', options.batch ?? 1000, 1, 2 ** 20, context);
  const split = options.split ?? 'test';
  if (split !== 'test' && split !== 'train') throw new UsageError(`--split must be test or train, not ${JSON.stringify(split)}`);
  if (options.limit !== undefined) checkInteger('limit', options.limit, 1, Number.MAX_SAFE_INTEGER, context);
  const model = await loadModel(dir, options);
  try {
    const run = model.run;
    const data = options.data ?? run?.data;
    if (data === undefined) throw new UsageError(`${dir}: the run holds no settings: give --data`);
    const lm = model.vocabulary !== null;
    if (lm !== (data !== 'fashion-mnist')) throw new UsageError(`--data ${data} does not fit the run's model (${lm ? 'a language model: brown or text:<file>' : 'a classifier: fashion-mnist'})`);
    const config = { ...(run ?? ({} as TrainRunConfig)), data, limit: split === 'train' ? (options.limit ?? null) : null, model: lm ? 'lstm' : (run?.model ?? 'mlp') } as TrainRunConfig;
    const loaded = loadRunData(config, model.vocabulary?.toJSON() ?? null, dir);
    if (loaded.kind === 'classification') {
      const dataset = split === 'train' ? loaded.train : limitDataset(loaded.test, options.limit);
      if (dataset.features !== model.inFeatures) throw new UsageError(`--data ${data}: ${dataset.features} features per example but the model takes ${model.inFeatures}`);
      return await classify(model, dataset, batch);
    }
    const tokens = split === 'train' ? loaded.text.train : loaded.text.test;
    const steps = run?.seq ?? loaded.text.steps;
    // The streams and steps the run evaluated with, so that the figure is the run's own test bpc.
    const shape = { batchSize: run?.batch ?? 32, steps };
    const evaluation = await model.evaluateText(tokens, shape);
    const figures = { kind: 'text' as const, characters: evaluation.characters, bpc: evaluation.bpc, accuracy: evaluation.accuracy };
    if (!options.textPredictions) return figures;
    return { ...figures, tokens, predictions: await model.predictText(tokens, shape), codePoints: model.vocabulary!.codePoints };
  } finally {
    await model.dispose();
  }
}

/** The first `limit` examples of a data set (all without a limit). */
function limitDataset(dataset: Dataset, limit: number | undefined): Dataset {
  if (limit === undefined || limit >= dataset.n) return dataset;
  return { ...dataset, n: limit, images: dataset.images.subarray(0, limit * dataset.features), labels: dataset.labels.subarray(0, limit) };
}
