/**
 * A training run from a configuration: the run directory opened and locked, the data loaded, the
 * model built (an MLP or a CNN on Fashion-MNIST, or a character-level LSTM language model on text) or
 * restored from the checkpoint a resumed run continues, the sparsity hooks, `train()`, then the
 * final layouts and summary.json written. The CLI's `train` command and scripts call it; settings
 * are checked as the command line names them (training-settings.ts).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeFileAtomic } from '../atomic-write.js';
import { checkInteger } from '../check.js';
import { BlocksparseError, FileError } from '../errors.js';
import { getBackend, type BackendChoice } from '../kernels/get-backend.js';
import type { Backend } from '../kernels/types.js';
import { loadLayout, saveLayout } from '../patterns/files.js';
import type { BlockLayout } from '../patterns/layout.js';
import { buildPatternSpec } from '../patterns/spec.js';
import { loadCheckpoint, type Checkpoint } from '../train/checkpoint.js';
import { buildCNN, checkCNNOptions } from '../train/cnn.js';
import { restoreModel, restoreOptimizer } from '../train/checkpoint-restore.js';
import { batchCount } from '../train/data/batches.js';
import { FASHION_MNIST_SIDE } from '../train/data/fashion-mnist.js';
import { sequenceBatchesPerEpoch } from '../train/data/sequence-batches.js';
import { isLanguageModelMetrics, type EpochMetrics } from '../train/epoch-metrics.js';
import { buildCharLSTM, checkCharLSTMOptions, gateSharedLayout } from '../train/language-model.js';
import { LSTM } from '../train/layers/lstm.js';
import type { Sequential } from '../train/layers/sequential.js';
import { checkpointRunRecord, train, type TrainResult } from '../train/loop.js';
import { buildMLP, layerDensities, parameterCount, type LayerDensity, type LayoutFactory } from '../train/model.js';
import { Adam, SGD, type Optimizer } from '../train/optimizers.js';
import { CHECKPOINT_DIR, openRunDirectory, SUMMARY_FILE, type ExistingRun } from '../train/run-directory.js';
import { l0Layout } from '../train/sparsity/l0.js';
import { UsageError } from '../usage-error.js';
import { loadRunData, type RunData } from './training-data.js';
import { trainingHooks } from './training-hooks.js';
import {
  checkActivationMemory, checkModelData, EVAL_BATCH, MAX_TRAINING_WIDTH, resolveSettings, savedRunConfig, withDefaults, type TrainingSettings, type TrainRunConfig,
} from './training-settings.js';

export {
  DEFAULT_LSTM_CLIP, DEFAULT_SEQ, MAX_TRAINING_WIDTH, TRAIN_DATASETS, TRAIN_MODELS, TRAIN_OPTIMIZERS, type TrainData, type TrainingSettings, type TrainRunConfig,
} from './training-settings.js';

/** What `runTraining` runs: a new run (`out` and `settings`) or a resumed one (`resume`). */
export interface TrainingRunConfig {
  /** Total epochs (a resumed run continues up to this many). */
  epochs: number;
  backend: BackendChoice;
  /** The run directory: new or empty unless `force`; with `resume` it defaults to the resumed directory. */
  out?: string;
  /** A new run's settings. */
  settings?: TrainingSettings;
  /** The run directory (or its checkpoint directory) to continue; the settings come from its checkpoint. */
  resume?: string;
  /** Start over in an `out` directory that already holds a run or other files (see ExistingRun's `replace`). */
  force?: boolean;
  /** Also checkpoint every this many steps within an epoch (default: at epoch ends only); may change on resume. */
  checkpointEvery?: number;
}

/** Callbacks of `runTraining`. */
export interface TrainingRunOptions {
  /** Lines about the backend picked (default: to stderr, as getBackend does). */
  log?: (message: string) => void;
  /** Called with each epoch's metrics, after its checkpoint. */
  onEpoch?: (metrics: EpochMetrics) => void;
}

/** What every summary.json holds: the run's settings, its size and its time. */
export interface TrainingSummaryBase extends TrainRunConfig {
  epochs: number;
  backend: string;
  trainLoss: number | null;
  parameterCount: number;
  layerDensities: LayerDensity[];
  /** The final layouts' files in the run directory, one per block-sparse weight (`Sequential.blockSparseLayers` order). */
  layouts: string[];
  /** With L0: the learned layouts' files (blocks whose test-time gate is open). */
  l0Layouts?: string[];
  wallSeconds: number;
  trainSeconds: number;
}

/** summary.json of an MLP run: its final accuracy and losses. */
export interface ClassificationSummary extends TrainingSummaryBase {
  testAccuracy: number | null;
  testLoss: number | null;
  trainAccuracy: number | null;
  samplesPerSecond: number | null;
}

/** summary.json of a language model's run: bits per character, speed and the text's size. */
export interface LanguageModelSummary extends TrainingSummaryBase {
  /** The last epoch's training loss in bits per character. */
  trainBpc: number | null;
  /** Over the whole validation text after the last epoch. */
  validationBpc: number | null;
  /** Over the whole test text after the run's last epoch. */
  testBpc: number | null;
  /** Training characters per second over the run's epochs. */
  charactersPerSecond: number | null;
  /** The character vocabulary's size (stored in the checkpoint). */
  vocabularySize: number;
  /** Characters of each split (train after --limit). */
  characters: { train: number; validation: number; test: number };
}

/** summary.json: the run's settings, its final metrics, its size and its time. */
export type TrainingSummary = ClassificationSummary | LanguageModelSummary;

/** What `runTraining` returns. */
export interface TrainingRunResult {
  /** The run directory written. */
  out: string;
  summary: TrainingSummary;
  /** Every epoch's metrics, including those of the run a resumed one continues. */
  metrics: EpochMetrics[];
}

/**
 * Runs the training of `config`: opens and locks the run directory (a directory holding a run or
 * other files is refused unless `resume` continues the run in it or `force` starts over), loads
 * the data (Fashion-MNIST; or the Brown corpus or a text file and its character vocabulary),
 * builds the model (an MLP, a CNN: buildCNN, or a character LSTM: buildCharLSTM) or restores it from the resumed
 * checkpoint (layouts as saved), trains it with its hooks (checkpoints and metrics.jsonl in the
 * directory), then writes the final layout of each block-sparse weight (layout-<i>.json; with L0
 * also l0-layout-<i>.json) and summary.json. Settings are checked before anything is read (the
 * activations against the memory budget too); errors name them as the `train` command's options.
 */
export async function runTraining(config: TrainingRunConfig, options: TrainingRunOptions = {}): Promise<TrainingRunResult> {
  const started = performance.now();
  const epochs = checkInteger('epochs', config.epochs, 1, 1e6);
  if (config.checkpointEvery !== undefined) checkInteger('checkpointEvery', config.checkpointEvery, 1);
  const { out, resumeFrom } = runPlace(config);
  // The run's own directory is continued; any other that holds files is refused unless forced.
  const continues = resumeFrom !== undefined && resolve(out, CHECKPOINT_DIR) === resolve(resumeFrom);
  const existing: ExistingRun = continues ? 'continue' : config.force ? 'replace' : 'refuse';
  const lock = openRunDirectory(out, existing);
  try {
    return await runLocked(config, options, { started, epochs, out, resumeFrom });
  } finally {
    lock.release();
  }
}

/** The run directory and the checkpoint to resume from; a new run's settings checked first (model and data, sizes, the activations' memory). */
function runPlace(config: TrainingRunConfig): { out: string; resumeFrom: string | undefined } {
  if (config.resume !== undefined) {
    if (!existsSync(config.resume)) throw new FileError(config.resume, 'does not exist: there is no run to --resume');
    const resumeFrom = resumeCheckpointDir(config.resume);
    return { out: config.out ?? (resumeFrom === config.resume ? dirname(resumeFrom) : config.resume), resumeFrom };
  }
  if (config.out === undefined) throw new UsageError('--out is required (or --resume)');
  const settings = config.settings;
  const cnn = settings?.model === 'cnn';
  if (!settings || (cnn ? !settings.channels : !settings.hidden)) throw new UsageError(cnn ? '--channels is required with --model cnn (or --resume)' : '--hidden is required (or --resume)');
  const model = checkModelData(settings);
  checkInteger('batch', settings.batch, 1, MAX_TRAINING_WIDTH);
  if (settings.limit !== undefined) checkInteger('limit', settings.limit, 1);
  const resolved = resolveSettings({ ...settings, prune: undefined, regrow: undefined }, 1);
  const { seq, embedding, hidden, channels, depth, blockSize } = resolved;
  checkActivationMemory({ model, hidden, batch: resolved.batch, limit: resolved.limit, seq, embedding, channels, depth, blockSize });
  if (model === 'cnn') {
    // The model's shape as buildCNN checks it, before the data is read.
    const layout = resolved.layout === null ? {} : { layout: () => { throw new Error('unreachable: no layout is asked for in a check'); } };
    checkCNNOptions({ channels: channels!, depth: depth!, blockSize, ...layout, ...(resolved.l0 !== null ? { l0: {} } : {}) });
  }
  if (model === 'lstm') {
    // The model's shape as buildCharLSTM checks it, before the text is read (its vocabulary's size is not known yet).
    const layout = resolved.layout === null ? {} : { layout: () => { throw new Error('unreachable: no layout is asked for in a check'); } };
    checkCharLSTMOptions({ symbols: 1, embedding: embedding ?? undefined, hidden, blockSize: resolved.blockSize, sparseInput: resolved.sparseInput, ...layout, ...(resolved.l0 !== null ? { l0: {} } : {}) });
  }
  return { out: config.out, resumeFrom: undefined };
}

/** The checkpoint directory of a run: <dir>/checkpoint when there is one, else <dir> itself (a checkpoint directory given directly). */
export function resumeCheckpointDir(dir: string): string {
  return existsSync(join(dir, CHECKPOINT_DIR, 'manifest.json')) || existsSync(join(dir, `${CHECKPOINT_DIR}.previous`, 'manifest.json')) ? join(dir, CHECKPOINT_DIR) : dir;
}

/** The steps of a run of `epochs` epochs on `data` (what --prune and --regrow resolve against). */
function totalSteps(data: RunData, batch: number, epochs: number): number {
  if (data.kind === 'classification') return epochs * batchCount(data.train.n, batch);
  return epochs * sequenceBatchesPerEpoch(data.text.train.length, { batchSize: batch, steps: data.text.steps });
}

async function runLocked(config: TrainingRunConfig, options: TrainingRunOptions, run: { started: number; epochs: number; out: string; resumeFrom: string | undefined }): Promise<TrainingRunResult> {
  const { epochs, out, resumeFrom } = run;
  // Read once: the settings, the model as saved and the loop's state all come from it.
  const checkpoint = resumeFrom === undefined ? undefined : loadCheckpoint(resumeFrom);
  let runConfig: TrainRunConfig;
  let data: RunData;
  if (checkpoint) {
    runConfig = savedRunConfig(runRecordOf(checkpoint), config.resume);
    data = loadRunData(runConfig, checkpoint.manifest.vocabulary, config.resume);
  } else {
    const settings = config.settings!;
    data = loadRunData(resolveSettings({ ...settings, prune: undefined, regrow: undefined }, 1));
    runConfig = withDefaults(resolveSettings(settings, totalSteps(data, settings.batch, epochs)));
  }

  const backend = await getBackend(config.backend, options.log ? { log: options.log } : {});
  let model: Sequential | undefined;
  let optimizer: Optimizer | undefined;
  try {
    ({ model, optimizer } = checkpoint ? restoreRun(checkpoint, backend) : newRun(runConfig, backend, data));
    const { trained, ...result } = await trainIntoRun({
      model, optimizer, backend, runConfig, data, out, epochs, started: run.started, resumeFrom, checkpoint,
      checkpointEvery: config.checkpointEvery, onEpoch: options.onEpoch,
    });
    ({ model, optimizer } = trained);
    return result;
  } finally {
    model?.dispose();
    optimizer?.dispose();
    await backend.dispose();
  }
}

/** What `trainIntoRun` trains and where. */
export interface PreparedRun {
  model: Sequential;
  optimizer: Optimizer;
  backend: Backend;
  /** The run's settings (stored in its checkpoints; its hooks are made from them). */
  runConfig: TrainRunConfig;
  data: RunData;
  /** The run directory, opened and locked by the caller. */
  out: string;
  epochs: number;
  /** performance.now() when the run started (for summary.json's wallSeconds). */
  started: number;
  resumeFrom?: string;
  checkpoint?: Checkpoint;
  checkpointEvery?: number;
  onEpoch?: (metrics: EpochMetrics) => void;
}

/**
 * Trains a built model in an opened run directory (checkpoints and metrics.jsonl written as it
 * goes), then writes its final layouts and summary.json. The model and optimiser stay the
 * caller's (the loop may replace them: the trained ones are returned in `trained`).
 */
export async function trainIntoRun(run: PreparedRun): Promise<TrainingRunResult & { trained: { model: Sequential; optimizer: Optimizer } }> {
  const { model, optimizer, backend, runConfig, data, out, epochs, resumeFrom, checkpoint } = run;
  const hooks = trainingHooks(model, runConfig);
  const common = {
    model, optimizer, backend, epochs, batchSize: runConfig.batch, seed: runConfig.seed, hooks, clip: runConfig.clip,
    outDir: out, outDirOpened: true, resumeFrom, resumeCheckpoint: checkpoint, run: { ...runConfig }, checkpointEvery: run.checkpointEvery ?? 'epoch',
    onEpoch: run.onEpoch,
  } as const;
  const result: TrainResult =
    data.kind === 'classification' ? await train({ ...common, train: data.train, test: data.test, evalBatchSize: EVAL_BATCH }) : await train({ ...common, text: data.text });
  const files = await writeLayouts(out, result.model, runConfig, result.metrics);
  const summary = summarize(runConfig, result.metrics, { model: result.model, backend, files, data, started: run.started });
  writeFileAtomic(join(out, SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`);
  return { out, summary, metrics: result.metrics, trained: { model: result.model, optimizer: result.optimizer } };
}

/** The run record a checkpoint of a run of `config` holds, as the loop writes it (runRecordOf reads it back): for checkpoints written outside it. */
export function runRecordFor(config: TrainRunConfig): Record<string, unknown> {
  return checkpointRunRecord({ ...config }, { batchSize: config.batch, steps: config.model === 'lstm' ? config.seq : null, clip: config.clip });
}

/** The run settings a checkpoint holds, without what the loop adds to them (batch size, task, steps: checked by `train` on resume); empty when the checkpoint holds none. */
export function runRecordOf(checkpoint: Checkpoint): Record<string, unknown> {
  const { batchSize: _batchSize, task: _task, steps: _steps, ...settings } = checkpoint.manifest.run;
  return settings;
}

/** The model as saved (layouts may have been pruned or regrown), so that the hooks hold its layers, and its optimiser. */
function restoreRun(checkpoint: Checkpoint, backend: Backend): { model: Sequential; optimizer: Optimizer } {
  const model = restoreModel(checkpoint, backend);
  return { model, optimizer: restoreOptimizer(checkpoint, model) };
}

/** A new run's model (an MLP, a CNN, or a character LSTM; its layouts from the settings) and optimiser. */
function newRun(config: TrainRunConfig, backend: Backend, data: RunData): { model: Sequential; optimizer: Optimizer } {
  const l0 = config.l0 !== null ? { l0: { lrScale: config.l0LrScale } } : {};
  const layout = layoutFactory(config);
  const common = { layout, blockSize: config.blockSize, seed: config.seed, ...l0 };
  let model: Sequential;
  if (data.kind === 'text') {
    model = buildCharLSTM(backend, { symbols: data.text.vocabulary.size, embedding: config.embedding ?? undefined, hidden: config.hidden, sparseInput: config.sparseInput, ...common });
  } else if (config.model === 'cnn') {
    // Fashion-MNIST's rows are 28 x 28 grey images.
    model = buildCNN(backend, { height: FASHION_MNIST_SIDE, width: FASHION_MNIST_SIDE, channels: config.channels!, depth: config.depth!, classes: data.train.classes, ...common });
  } else {
    model = buildMLP(backend, { inputs: data.train.features, hidden: config.hidden, classes: data.train.classes, sparseInput: config.sparseInput, ...common });
  }
  return { model, optimizer: makeOptimizer(config, model) };
}

/**
 * The layout factory of the `layout` setting: a file's layout for every layer, or the spec built
 * per layer and seeded from the run's seed: an MLP's hidden layer i (a CNN's convolution i) with
 * seed + i (or "<seed>#<i>"), its input layer "<seed>#input"; an LSTM's recurrent weights
 * "<seed>#recurrent<i>" and input weights "<seed>#input<i>".
 */
function layoutFactory(config: TrainRunConfig): LayoutFactory | undefined {
  const text = config.layout;
  if (text === null) return undefined;
  const wrap = <T>(make: () => T): T => {
    try {
      return make();
    } catch (error) {
      if (error instanceof BlocksparseError) throw new UsageError(`--layout ${JSON.stringify(text)}: ${error.message}`);
      throw error;
    }
  };
  if (/\.(json|npy)$/i.test(text)) {
    const layout: BlockLayout = wrap(() => loadLayout(text, /\.npy$/i.test(text) ? { blockSize: config.blockSize } : {}));
    return () => layout;
  }
  const seed = config.seed;
  const lstm = config.model === 'lstm';
  const seedOf = (role: string, index: number) => {
    if (lstm) return `${seed}#${role}${index}`;
    if (role === 'input') return `${seed}#input`;
    return typeof seed === 'number' ? seed + index : `${seed}#${index}`;
  };
  return ({ index, role, inBlocks, outBlocks, blockSize }) => wrap(() => buildPatternSpec(text, { inBlocks, outBlocks, blockSize, seed: seedOf(role, index) }));
}

/** The optimiser of a run's settings (Adam, AdamW or SGD with its hyper-parameters) over the model's parameters. */
export function makeOptimizer(config: TrainRunConfig, model: Sequential): Optimizer {
  const parameters = model.parameters();
  if (config.optimizer === 'sgd') return new SGD(parameters, { lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay });
  return new Adam(parameters, { lr: config.lr, weightDecay: config.weightDecay, decoupled: config.optimizer === 'adamw' });
}

/**
 * Writes the layout of each block-sparse weight of `model` into `out` as layout-<i>.json, in
 * `Sequential.blockSparseLayers` order (an LSTM's weights whose four gates still share their
 * blocks as the square layout they share, `gateSharedLayout`); returns their names. Every run
 * directory's layouts: a training run's, a pruned model's, an imported one's.
 */
export function writeRunLayouts(out: string, model: Sequential): string[] {
  return model.blockSparseLayers().map((layer, i) => {
    const name = `layout-${i}.json`;
    saveLayout(join(out, name), runLayout(model, layer.layout));
    return name;
  });
}

/** A layout as a run directory holds it: an LSTM's gate layout as the square layout its gates share, when they do. */
function runLayout(model: Sequential, layout: BlockLayout): BlockLayout {
  return model.layers.some((l) => l instanceof LSTM) ? (gateSharedLayout(layout) ?? layout) : layout;
}

/**
 * Writes the final layout of each block-sparse weight (`writeRunLayouts`) and with L0 the learned
 * one (l0-layout-<i>.json: blocks whose test-time gate is open); returns their names.
 */
async function writeLayouts(out: string, model: Sequential, config: TrainRunConfig, metrics: readonly EpochMetrics[]): Promise<{ layouts: string[]; l0Layouts: string[] }> {
  const layouts = writeRunLayouts(out, model);
  const l0Layouts: string[] = [];
  if (config.l0 !== null) {
    const steps = metrics.length ? metrics[metrics.length - 1].step : 0;
    for (const [i, layer] of model.blockSparseLayers().entries()) {
      const learned = `l0-layout-${i}.json`;
      saveLayout(join(out, learned), runLayout(model, await l0Layout(layer, { lambda: config.l0, step: steps })));
      l0Layouts.push(learned);
    }
  }
  return { layouts, l0Layouts };
}

/** summary.json's record (its keys in this order). */
function summarize(
  config: TrainRunConfig,
  metrics: readonly EpochMetrics[],
  run: { model: Sequential; backend: Backend; files: { layouts: string[]; l0Layouts: string[] }; data: RunData; started: number },
): TrainingSummary {
  const last = metrics[metrics.length - 1];
  const trainSeconds = metrics.reduce((s, m) => s + m.seconds, 0);
  const rate = (m: EpochMetrics) => (isLanguageModelMetrics(m) ? m.charactersPerSecond : m.samplesPerSecond);
  const samples = metrics.reduce((s, m) => s + rate(m) * m.seconds, 0);
  const perSecond = trainSeconds > 0 ? samples / trainSeconds : null;
  const base = { ...config, epochs: metrics.length, backend: run.backend.description };
  const size = {
    parameterCount: parameterCount(run.model),
    layerDensities: layerDensities(run.model),
    layouts: run.files.layouts,
    ...(config.l0 !== null ? { l0Layouts: run.files.l0Layouts } : {}),
    wallSeconds: (performance.now() - run.started) / 1000,
    trainSeconds,
  };
  if (run.data.kind === 'text') {
    const lm = last && isLanguageModelMetrics(last) ? last : null;
    return {
      ...base, trainLoss: lm?.trainLoss ?? null, trainBpc: lm?.trainBpc ?? null, validationBpc: lm?.validationBpc ?? null, testBpc: lm?.testBpc ?? null,
      vocabularySize: run.data.text.vocabulary.size, characters: run.data.characters, ...size, charactersPerSecond: perSecond,
    };
  }
  const mlp = last && !isLanguageModelMetrics(last) ? last : null;
  return {
    ...base, testAccuracy: mlp?.testAccuracy ?? null, testLoss: mlp?.testLoss ?? null, trainAccuracy: mlp?.trainAccuracy ?? null, trainLoss: mlp?.trainLoss ?? null,
    ...size, samplesPerSecond: perSecond,
  };
}
