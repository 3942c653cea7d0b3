/**
 * Post-training pruning of a run (the `prune` command): the run's trained model pruned at each
 * sparsity (`pruneTrainedModel`: block magnitude, every prunable weight), each optionally
 * fine-tuned for a few epochs with its layouts fixed, each written as a run directory of its own
 * (checkpoint with the pruned layouts and their provenance, layout files, summary.json), so that
 * `predict`, `export`, `inspect` and `train --resume` take it like any run.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeFileAtomic } from '../atomic-write.js';
import { checkInteger, checkNumber } from '../check.js';
import { FileError, ParameterError } from '../errors.js';
import { getBackend, type BackendChoice } from '../kernels/get-backend.js';
import type { BlockSize } from '../patterns/layout.js';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import { restoreModel } from '../train/checkpoint-restore.js';
import { evaluate, evaluateText } from '../train/evaluate.js';
import type { Sequential } from '../train/layers/sequential.js';
import { layerDensities, parameterCount } from '../train/model.js';
import { pruneTrainedModel, type PrunedWeight } from '../train/post-prune.js';
import { CHECKPOINT_DIR, openRunDirectory, SUMMARY_FILE } from '../train/run-directory.js';
import { UsageError } from '../usage-error.js';
import { loadRunData, type RunData } from './training-data.js';
import { makeOptimizer, resumeCheckpointDir, runRecordFor, runRecordOf, trainIntoRun, writeRunLayouts } from './training.js';
import { EVAL_BATCH, savedRunConfig, type TrainRunConfig } from './training-settings.js';

/** The summary file `pruneRun` writes into its output directory. */
export const PRUNE_SUMMARY_FILE = 'prune.json';

/** What `pruneRun` does. */
export interface PruneRunConfig {
  /** The trained run (a run directory or its checkpoint directory). */
  run: string;
  /** Sparsities, each in [0, 1): one pruned model per value. */
  sparsities: readonly number[];
  /** Epochs of fine-tuning after pruning (layouts fixed; default 0). */
  finetuneEpochs?: number;
  /** The output directory: one run directory per sparsity, `sparsity-<s>`, and prune.json. */
  out: string;
  /** The largest block size dense weights are cut into (default 32). */
  blockSize?: BlockSize;
  /** Fine-tuning learning rate (default the run's). */
  lr?: number;
  /** Replace what an earlier prune wrote in `out` (default: an `out` holding files is refused). */
  force?: boolean;
  backend: BackendChoice;
}

/** Callbacks of `pruneRun`. */
export interface PruneRunOptions {
  /** Lines about the backend picked and each level written (default: none but getBackend's). */
  log?: (message: string) => void;
  /** Called with each level when it is written. */
  onLevel?: (level: PrunedLevel) => void;
}

/** One pruned model. */
export interface PrunedLevel {
  sparsity: number;
  /** Its run directory. */
  dir: string;
  parameters: number;
  /** Test accuracy (a classifier) or test bits per character (a language model) right after pruning. */
  pruned: number;
  /** The same after fine-tuning (null without it). */
  finetuned: number | null;
  weights: PrunedWeight[];
}

/** prune.json: the source, and each level. */
export interface PruneSummary {
  source: string;
  step: number;
  metric: 'testAccuracy' | 'testBpc';
  /** The source model's own test figure. */
  dense: number;
  parameters: number;
  finetuneEpochs: number;
  levels: PrunedLevel[];
}

/** A level's directory name: sparsity-0.9, sparsity-0.95. */
export function levelDirName(sparsity: number): string {
  return `sparsity-${sparsity}`;
}

/** The test figure of a model: accuracy (classifier) or bits per character (language model). */
async function testFigure(model: Sequential, data: RunData, config: TrainRunConfig): Promise<number> {
  if (data.kind === 'classification') return (await evaluate(model, data.test, EVAL_BATCH)).accuracy;
  return (await evaluateText(model, data.text.test, { batchSize: config.batch, steps: data.text.steps })).bpc;
}

/**
 * Prunes the trained run `config.run` at each sparsity and writes each result as a run directory
 * (see the module comment) plus prune.json. Everything is checked before anything is written:
 * ParameterError naming `sparsities` (each in [0, 1), given once), `finetuneEpochs`, `lr`;
 * FileError when the run does not exist or `out` holds files and `force` is not given; UsageError
 * when the run's checkpoint holds no training settings (its data is needed).
 */
export async function pruneRun(config: PruneRunConfig, options: PruneRunOptions = {}): Promise<PruneSummary> {
  const context = 'prune';
  const started = performance.now();
  const sparsities = config.sparsities;
  if (!Array.isArray(sparsities) || sparsities.length === 0) throw new ParameterError('sparsity', 'a non-empty list of sparsities in [0, 1)', sparsities, context);
  sparsities.forEach((s, i) => {
    checkNumber(`sparsity[${i}]`, s, 0, 1, context);
    if (s >= 1) throw new ParameterError(`sparsity[${i}]`, 'a number in [0, 1) (1 would remove every block)', s, context);
    if (sparsities.indexOf(s) !== i) throw new ParameterError(`sparsity[${i}]`, 'a sparsity not given before', s, context);
  });
  const epochs = checkInteger('finetuneEpochs', config.finetuneEpochs ?? 0, 0, 1e6, context);
  if (config.lr !== undefined) checkNumber('lr', config.lr, Number.MIN_VALUE, 10, context);
  if (!existsSync(config.run)) throw new FileError(config.run, 'does not exist: there is no run to prune');
  const checkpoint = loadCheckpoint(resumeCheckpointDir(config.run));
  const record = runRecordOf(checkpoint);
  if (Object.keys(record).length === 0) throw new UsageError(`${config.run}: its checkpoint holds no training settings (the data to evaluate and fine-tune on)`);
  const source = savedRunConfig(record, config.run);
  const levelConfig: TrainRunConfig = { ...source, l0: null, prune: null, regrow: null, lr: config.lr ?? source.lr };
  if (existsSync(config.out) && readdirSync(config.out).length > 0 && !config.force) {
    throw new FileError(config.out, 'is not empty: choose a new or empty directory, or give --force to replace the pruned runs in it');
  }
  mkdirSync(config.out, { recursive: true });
  const data = loadRunData(levelConfig, checkpoint.manifest.vocabulary, config.run);
  const backend = await getBackend(config.backend, options.log ? { log: options.log } : {});
  try {
    const sourceModel = restoreModel(checkpoint, backend);
    let dense: number;
    let denseParameters: number;
    const levels: PrunedLevel[] = [];
    try {
      dense = await testFigure(sourceModel, data, levelConfig);
      denseParameters = parameterCount(sourceModel);
      for (const sparsity of sparsities) {
        const { model, weights } = await pruneTrainedModel(sourceModel, { sparsity, ...(config.blockSize ? { blockSize: config.blockSize } : {}) });
        levels.push(await writeLevel({ model, weights, sparsity, epochs, data, levelConfig, out: join(config.out, levelDirName(sparsity)), force: config.force ?? false, started }, backend, options));
        options.onLevel?.(levels[levels.length - 1]);
      }
    } finally {
      sourceModel.dispose();
    }
    const summary: PruneSummary = {
      source: config.run, step: checkpoint.manifest.position.step, metric: data.kind === 'classification' ? 'testAccuracy' : 'testBpc', dense, parameters: denseParameters, finetuneEpochs: epochs, levels,
    };
    writeFileAtomic(join(config.out, PRUNE_SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`);
    return summary;
  } finally {
    await backend.dispose();
  }
}

/** Writes one pruned model as a run directory: fine-tuned (a training run of `epochs`), or as pruned. */
async function writeLevel(
  level: { model: Sequential; weights: PrunedWeight[]; sparsity: number; epochs: number; data: RunData; levelConfig: TrainRunConfig; out: string; force: boolean; started: number },
  backend: Awaited<ReturnType<typeof getBackend>>,
  options: PruneRunOptions,
): Promise<PrunedLevel> {
  const { weights, sparsity, epochs, data, levelConfig, out } = level;
  let model = level.model;
  let optimizer = makeOptimizer(levelConfig, model);
  const lock = openRunDirectory(out, level.force ? 'replace' : 'refuse');
  try {
    const pruned = await testFigure(model, data, levelConfig);
    let finetuned: number | null = null;
    if (epochs > 0) {
      const result = await trainIntoRun({ model, optimizer, backend, runConfig: levelConfig, data, out, epochs, started: level.started });
      ({ model, optimizer } = result.trained);
      finetuned = await testFigure(model, data, levelConfig);
    } else {
      await saveCheckpoint(join(out, CHECKPOINT_DIR), { model, optimizer, seed: levelConfig.seed, position: { epoch: 0, batch: 0, step: 0 }, run: runRecordFor(levelConfig), vocabulary: data.kind === 'text' ? data.text.vocabulary : null });
      const layouts = writeRunLayouts(out, model);
      const metric = data.kind === 'classification' ? { testAccuracy: pruned } : { testBpc: pruned };
      const summary = { ...levelConfig, epochs: 0, backend: backend.description, ...metric, parameterCount: parameterCount(model), layerDensities: layerDensities(model), layouts };
      writeFileAtomic(join(out, SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`);
    }
    options.log?.(`sparsity ${sparsity}: ${out}`);
    return { sparsity, dir: out, parameters: parameterCount(model), pruned, finetuned, weights };
  } finally {
    lock.release();
    model.dispose();
    optimizer.dispose();
  }
}
