/**
 * A training run from a configuration: the run directory opened and locked, the data loaded, the
 * model built (or restored from the checkpoint a resumed run continues), the sparsity hooks,
 * `train()`, then the final layouts and summary.json written. The CLI's `train` command and
 * scripts call it; settings are checked as the command line names them.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeFileAtomic } from '../atomic-write.js';
import { checkMemory } from '../budget.js';
import { checkInteger, checkNumber } from '../check.js';
import { BlocksparseError, FileError } from '../errors.js';
import { getBackend, type BackendChoice } from '../kernels/get-backend.js';
import type { Backend } from '../kernels/types.js';
import { loadLayout, saveLayout } from '../patterns/files.js';
import type { BlockLayout, BlockSize } from '../patterns/layout.js';
import { buildPatternSpec } from '../patterns/spec.js';
import type { Seed } from '../random.js';
import { loadCheckpoint, restoreModel, restoreOptimizer, type Checkpoint } from '../train/checkpoint.js';
import { batchCount } from '../train/data/batches.js';
import type { Dataset } from '../train/data/dataset.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_SIDE, loadFashionMNIST } from '../train/data/fashion-mnist.js';
import type { EpochMetrics } from '../train/epoch-metrics.js';
import { BlockSparseLinear } from '../train/layers/block-sparse-linear.js';
import type { Sequential } from '../train/layers/sequential.js';
import { train } from '../train/loop.js';
import { buildMLP, layerDensities, parameterCount, type LayerDensity, type LayoutFactory } from '../train/model.js';
import { Adam, SGD, type Optimizer } from '../train/optimizers.js';
import { CHECKPOINT_DIR, openRunDirectory, SUMMARY_FILE, type ExistingRun } from '../train/run-directory.js';
import { l0Layout } from '../train/sparsity/l0.js';
import { UsageError } from '../usage-error.js';
import { parsePruneSpec, parseRegrowSpec, trainingHooks, type PruneSpec, type RegrowSpec } from './training-hooks.js';

/** The data sets a training run knows (`train --data`). */
export const TRAIN_DATASETS = ['fashion-mnist'] as const;
/** The optimisers a training run knows (`train --optimizer`). */
export const TRAIN_OPTIMIZERS = ['adam', 'adamw', 'sgd'] as const;
/** Largest hidden width and batch a training run accepts (the memory budget usually binds first). */
export const MAX_TRAINING_WIDTH = 2 ** 24;

/** Examples per evaluation batch (the loop's default). */
const EVAL_BATCH = 1000;
/** Examples in the Fashion-MNIST splits, for estimates made before the files are read. */
const TRAIN_EXAMPLES = 60000;
const TEST_EXAMPLES = 10000;

/** A new run's settings, as the `train` command's options give them (--prune and --regrow as their spec text). */
export interface TrainingSettings {
  data: (typeof TRAIN_DATASETS)[number];
  /** Hidden widths. */
  hidden: number[];
  /** Layout of the block-sparse layers: a pattern spec or a .json/.npy layout file (default: dense layers; "dense" blocks with `l0`). */
  layout?: string;
  blockSize: BlockSize;
  /** Examples per training step. */
  batch: number;
  lr: number;
  optimizer: (typeof TRAIN_OPTIMIZERS)[number];
  /** SGD momentum (sgd only). */
  momentum: number;
  weightDecay: number;
  /** L0 gates on every block, with this penalty weight per weight. */
  l0?: number;
  /** Learning-rate multiplier of the gate logits. */
  l0LrScale: number;
  /** The input layer block-sparse too. */
  sparseInput: boolean;
  /** Gradual pruning spec (see parsePruneSpec), resolved against the run's length. */
  prune?: string;
  /** Prune-and-regrow spec (see parseRegrowSpec), resolved against the run's length. */
  regrow?: string;
  seed: Seed;
  /** Only the first this many training examples. */
  limit?: number;
}

/**
 * The run's settings, resolved, stored in the checkpoint (its `run` record) so that a resumed run
 * continues the same run: the settings with absent options as null and --prune and --regrow parsed
 * and resolved against the run's length.
 */
export type TrainRunConfig = Omit<TrainingSettings, 'layout' | 'l0' | 'prune' | 'regrow' | 'limit'> & {
  layout: string | null;
  l0: number | null;
  /** --prune, resolved against the run's length (null: none). */
  prune: PruneSpec | null;
  /** --regrow, resolved (null: none). */
  regrow: RegrowSpec | null;
  limit: number | null;
};

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
}

/** Callbacks of `runTraining`. */
export interface TrainingRunOptions {
  /** Lines about the backend picked (default: to stderr, as getBackend does). */
  log?: (message: string) => void;
  /** Called with each epoch's metrics, after its checkpoint. */
  onEpoch?: (metrics: EpochMetrics) => void;
}

/** summary.json: the run's settings, its final metrics, its size and its time. */
export interface TrainingSummary extends TrainRunConfig {
  epochs: number;
  backend: string;
  testAccuracy: number | null;
  testLoss: number | null;
  trainAccuracy: number | null;
  trainLoss: number | null;
  parameterCount: number;
  layerDensities: LayerDensity[];
  /** The final layouts' files in the run directory, one per block-sparse layer. */
  layouts: string[];
  /** With L0: the learned layouts' files (blocks whose test-time gate is open). */
  l0Layouts?: string[];
  wallSeconds: number;
  trainSeconds: number;
  samplesPerSecond: number | null;
}

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
 * Fashion-MNIST, builds the MLP (or restores it from the resumed checkpoint, layouts as saved),
 * trains it with its hooks (checkpoints and metrics.jsonl in the directory), then writes the final
 * layout of each block-sparse layer (layout-<i>.json; with L0 also l0-layout-<i>.json) and
 * summary.json. Settings are checked before anything is read (the activations against the memory
 * budget too); errors name them as the `train` command's options.
 */
export async function runTraining(config: TrainingRunConfig, options: TrainingRunOptions = {}): Promise<TrainingRunResult> {
  const started = performance.now();
  const epochs = checkInteger('epochs', config.epochs, 1, 1e6);
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

/** The run directory and the checkpoint to resume from; a new run's settings checked first (sizes, the activations' memory). */
function runPlace(config: TrainingRunConfig): { out: string; resumeFrom: string | undefined } {
  if (config.resume !== undefined) {
    if (!existsSync(config.resume)) throw new FileError(config.resume, 'does not exist: there is no run to --resume');
    const resumeFrom = resumeCheckpointDir(config.resume);
    return { out: config.out ?? (resumeFrom === config.resume ? dirname(resumeFrom) : config.resume), resumeFrom };
  }
  if (config.out === undefined) throw new UsageError('--out is required (or --resume)');
  const settings = config.settings;
  if (!settings?.hidden) throw new UsageError('--hidden is required (or --resume)');
  checkInteger('batch', settings.batch, 1, MAX_TRAINING_WIDTH);
  if (settings.limit !== undefined) checkInteger('limit', settings.limit, 1);
  checkActivationMemory(settings.hidden, settings.batch, settings.limit ?? TRAIN_EXAMPLES);
  return { out: config.out, resumeFrom: undefined };
}

/** The checkpoint directory of a resumed run: <dir>/checkpoint when there is one, else <dir> itself. */
function resumeCheckpointDir(dir: string): string {
  return existsSync(join(dir, CHECKPOINT_DIR, 'manifest.json')) || existsSync(join(dir, `${CHECKPOINT_DIR}.previous`, 'manifest.json')) ? join(dir, CHECKPOINT_DIR) : dir;
}

async function runLocked(config: TrainingRunConfig, options: TrainingRunOptions, run: { started: number; epochs: number; out: string; resumeFrom: string | undefined }): Promise<TrainingRunResult> {
  const { epochs, out, resumeFrom } = run;
  // Read once: the settings, the model as saved and the loop's state all come from it.
  const checkpoint = resumeFrom === undefined ? undefined : loadCheckpoint(resumeFrom);
  const saved = checkpoint === undefined ? undefined : savedRunConfig(checkpoint, config.resume);
  const trainSet = loadFashionMNIST({ split: 'train', limit: (saved ? saved.limit : config.settings!.limit) ?? undefined });
  const testSet = loadFashionMNIST({ split: 'test' });
  const runConfig = withDefaults(saved ?? resolveSettings(config.settings!, epochs * batchCount(trainSet.n, checkInteger('batch', config.settings!.batch, 1, MAX_TRAINING_WIDTH))));

  const backend = await getBackend(config.backend, options.log ? { log: options.log } : {});
  let model: Sequential | undefined;
  let optimizer: Optimizer | undefined;
  try {
    ({ model, optimizer } = checkpoint ? restoreRun(checkpoint, backend) : newRun(runConfig, backend, trainSet));
    const hooks = trainingHooks(model, runConfig);
    const result = await train({
      model, optimizer, backend, train: trainSet, test: testSet, epochs, batchSize: runConfig.batch, seed: runConfig.seed, hooks,
      outDir: out, outDirOpened: true, resumeFrom, resumeCheckpoint: checkpoint, run: { ...runConfig }, evalBatchSize: EVAL_BATCH,
      onEpoch: options.onEpoch,
    });
    model = result.model;
    optimizer = result.optimizer;
    const files = await writeLayouts(out, model, runConfig, result.metrics);
    const summary = summarize(runConfig, result.metrics, { model, backend, files, started: run.started });
    writeFileAtomic(join(out, SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`);
    return { out, summary, metrics: result.metrics };
  } finally {
    model?.dispose();
    optimizer?.dispose();
    await backend.dispose();
  }
}

/** The settings a checkpoint's `run` record holds, checked to be a training run's; their activations checked against the memory budget. */
function savedRunConfig(checkpoint: Checkpoint, resume: string | undefined): TrainRunConfig {
  const config = checkpoint.manifest.run as unknown as TrainRunConfig;
  if (!config || !Array.isArray(config.hidden) || !config.hidden.every((h) => Number.isInteger(h) && h >= 1 && h <= MAX_TRAINING_WIDTH) || !Number.isInteger(config.batch) || config.batch < 1) {
    throw new UsageError(`--resume ${resume}: the checkpoint was not written by blocksparse train (no valid run settings)`);
  }
  checkActivationMemory(config.hidden, config.batch, typeof config.limit === 'number' ? config.limit : TRAIN_EXAMPLES);
  return config;
}

/** A new run's settings checked and resolved (the prune and regrow specs against the run's `totalSteps`). */
function resolveSettings(settings: TrainingSettings, totalSteps: number): TrainRunConfig {
  return {
    sparseInput: Boolean(settings.sparseInput),
    l0LrScale: checkNumber('l0LrScale', settings.l0LrScale, 0, 1e6),
    prune: settings.prune === undefined ? null : parsePruneSpec(settings.prune, totalSteps),
    regrow: settings.regrow === undefined ? null : parseRegrowSpec(settings.regrow, totalSteps),
    data: settings.data,
    hidden: settings.hidden,
    layout: settings.layout ?? (settings.l0 !== undefined ? 'dense' : null),
    blockSize: Number(settings.blockSize) as BlockSize,
    batch: checkInteger('batch', settings.batch, 1, 2 ** 24),
    lr: checkNumber('lr', settings.lr, 0, Number.MAX_VALUE),
    optimizer: settings.optimizer,
    momentum: checkNumber('momentum', settings.momentum, 0, 1),
    weightDecay: checkNumber('weightDecay', settings.weightDecay, 0, Number.MAX_VALUE),
    l0: settings.l0 === undefined ? null : checkNumber('l0', settings.l0, 0, Number.MAX_VALUE),
    seed: settings.seed,
    limit: settings.limit ?? null,
  };
}

/** Checkpoints written before --sparse-input, --l0-lr-scale, --prune and --regrow existed have none of them. */
function withDefaults(config: TrainRunConfig): TrainRunConfig {
  return { ...config, sparseInput: config.sparseInput ?? false, l0LrScale: config.l0LrScale ?? 1, prune: config.prune ?? null, regrow: config.regrow ?? null };
}

/** The model as saved (layouts may have been pruned or regrown), so that the hooks hold its layers, and its optimiser. */
function restoreRun(checkpoint: Checkpoint, backend: Backend): { model: Sequential; optimizer: Optimizer } {
  const model = restoreModel(checkpoint, backend);
  return { model, optimizer: restoreOptimizer(checkpoint, model) };
}

/** A new run's MLP (its layouts from the settings) and optimiser. */
function newRun(config: TrainRunConfig, backend: Backend, data: Dataset): { model: Sequential; optimizer: Optimizer } {
  const model = buildMLP(backend, {
    inputs: data.features, hidden: config.hidden, classes: data.classes, layout: layoutFactory(config),
    blockSize: config.blockSize, seed: config.seed, sparseInput: config.sparseInput, ...(config.l0 !== null ? { l0: { lrScale: config.l0LrScale } } : {}),
  });
  return { model, optimizer: makeOptimizer(config, model) };
}

/** The layout factory of the `layout` setting: a file's layout for every layer, or the spec built per layer. */
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
  return ({ index, role, inBlocks, outBlocks, blockSize }) =>
    wrap(() => buildPatternSpec(text, { inBlocks, outBlocks, blockSize, seed: role === 'input' ? `${seed}#input` : typeof seed === 'number' ? seed + index : `${seed}#${index}` }));
}

function makeOptimizer(config: TrainRunConfig, model: Sequential): Optimizer {
  const parameters = model.parameters();
  if (config.optimizer === 'sgd') return new SGD(parameters, { lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay });
  return new Adam(parameters, { lr: config.lr, weightDecay: config.weightDecay, decoupled: config.optimizer === 'adamw' });
}

/**
 * Checks, before anything is read or built, that the activations of a step fit the memory budget:
 * every layer keeps its input and output for the backward pass, which makes gradients of the same
 * sizes, for batches of the larger of the training batch and the evaluation batch.
 */
function checkActivationMemory(hidden: readonly number[], batch: number, trainExamples: number): void {
  const inputs = FASHION_MNIST_SIDE * FASHION_MNIST_SIDE;
  const classes = FASHION_MNIST_CLASSES.length;
  const rows = Math.max(Math.min(batch, trainExamples), Math.min(EVAL_BATCH, TEST_EXAMPLES));
  const features = inputs + 2 * hidden.reduce((a, b) => a + b, 0) + classes;
  const widest = Math.max(inputs, classes, ...hidden);
  checkMemory(`--hidden ${hidden.join(',')} with batches of ${rows} examples (activations and their gradients)`, 2 * 4 * rows * features, { elements: rows * widest });
}

/** Writes the final layout of each block-sparse layer (layout-<i>.json) and with L0 the learned one (l0-layout-<i>.json); returns their names. */
async function writeLayouts(out: string, model: Sequential, config: TrainRunConfig, metrics: readonly EpochMetrics[]): Promise<{ layouts: string[]; l0Layouts: string[] }> {
  const layouts: string[] = [];
  const l0Layouts: string[] = [];
  const steps = metrics.length ? metrics[metrics.length - 1].step : 0;
  for (const layer of model.layers) {
    if (!(layer instanceof BlockSparseLinear)) continue;
    const name = `layout-${layouts.length}.json`;
    saveLayout(join(out, name), layer.layout);
    if (config.l0 !== null) {
      // The layout the gates learned: blocks whose test-time gate is open.
      const learned = `l0-layout-${layouts.length}.json`;
      saveLayout(join(out, learned), await l0Layout(layer, { lambda: config.l0, step: steps }));
      l0Layouts.push(learned);
    }
    layouts.push(name);
  }
  return { layouts, l0Layouts };
}

/** summary.json's record (its keys in this order). */
function summarize(
  config: TrainRunConfig,
  metrics: readonly EpochMetrics[],
  run: { model: Sequential; backend: Backend; files: { layouts: string[]; l0Layouts: string[] }; started: number },
): TrainingSummary {
  const last = metrics[metrics.length - 1];
  const trainSeconds = metrics.reduce((s, m) => s + m.seconds, 0);
  const samples = metrics.reduce((s, m) => s + m.samplesPerSecond * m.seconds, 0);
  return {
    ...config,
    epochs: metrics.length,
    backend: run.backend.description,
    testAccuracy: last?.testAccuracy ?? null,
    testLoss: last?.testLoss ?? null,
    trainAccuracy: last?.trainAccuracy ?? null,
    trainLoss: last?.trainLoss ?? null,
    parameterCount: parameterCount(run.model),
    layerDensities: layerDensities(run.model),
    layouts: run.files.layouts,
    ...(config.l0 !== null ? { l0Layouts: run.files.l0Layouts } : {}),
    wallSeconds: (performance.now() - run.started) / 1000,
    trainSeconds,
    samplesPerSecond: trainSeconds > 0 ? samples / trainSeconds : null,
  };
}
