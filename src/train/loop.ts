/**
 * The training loop: seeded epochs of minibatch steps on the backend, evaluation each epoch, a
 * JSONL metrics log, atomic checkpoints at epoch ends, exact resumption, and a typed error when
 * training diverges. `train` reads as its steps: check the options, lock the output directory,
 * start (or resume) the run's state, then per epoch run the steps, check for divergence, evaluate,
 * and record (checkpoint, log line).
 */
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkInteger, checkOneOf } from '../check.js';
import { FormatError, ParameterError } from '../errors.js';
import type { DirectoryLock } from '../lock.js';
import type { Backend } from '../kernels/types.js';
import type { Seed } from '../random.js';
import { applyCheckpoint, loadCheckpoint, restoreHooks, restoreModel, restoreOptimizer, saveCheckpoint, type Checkpoint } from './checkpoint.js';
import type { TrainingPosition } from './checkpoint-manifest.js';
import { checkDataset, type Dataset } from './data/dataset.js';
import { firstNonFinite } from './divergence.js';
import { runEpoch, type EpochResult, type TrainProgress } from './epoch.js';
import { appendMetricsLog, savedMetrics, writeMetricsLog, type EpochMetrics } from './epoch-metrics.js';
import { TrainingDivergedError } from './errors.js';
import { evaluate } from './evaluate.js';
import type { TrainingHook } from './hooks.js';
import type { Sequential } from './layers/sequential.js';
import { layerDensities } from './model.js';
import type { Optimizer } from './optimizers.js';
import { CHECKPOINT_DIR, METRICS_FILE, openRunDirectory, type ExistingRun } from './run-directory.js';

/** Options of `train`. */
export interface TrainOptions {
  /** The model (required unless resuming: then it may be rebuilt from the checkpoint, with its layouts as saved). */
  model?: Sequential;
  /** Its optimiser (required with `model`; rebuilt from the checkpoint otherwise). */
  optimizer?: Optimizer;
  /** The backend to rebuild the model on when resuming without a model. */
  backend?: Backend;
  train: Dataset;
  test: Dataset;
  /** Total epochs of the run (a resumed run continues up to this many). */
  epochs: number;
  batchSize: number;
  /** The run's seed: the order of epoch e depends only on (seed, e). */
  seed: Seed;
  /** Extensions run inside each step, in order (pruning, regrowth, L0 penalties). */
  hooks?: readonly TrainingHook[];
  /** Where metrics.jsonl and checkpoint/ go (nothing is written without it); locked for the call (see `openRunDirectory`). */
  outDir?: string;
  /**
   * What to do when `outDir` already holds files (see ExistingRun). Default: `continue` when
   * `resumeFrom` is `outDir`'s own checkpoint, else `refuse`.
   */
  existing?: ExistingRun;
  /** The caller opened `outDir` with `openRunDirectory` and holds its lock (the CLI does, for the whole command): `train` neither locks nor checks it. */
  outDirOpened?: boolean;
  /** Called after every step. */
  onProgress?: (progress: TrainProgress) => void;
  /** Called with each epoch's metrics, after its checkpoint. */
  onEpoch?: (metrics: EpochMetrics) => void;
  /** When to checkpoint (default 'epoch' with an outDir). */
  checkpointEvery?: 'epoch' | 'never';
  /** A checkpoint directory to continue from (same seed and batch size as the saved run). */
  resumeFrom?: string;
  /** `resumeFrom`'s checkpoint when the caller has already read it (it is then not read again). */
  resumeCheckpoint?: Checkpoint;
  /** Read the accumulated loss (one device sync) every this many steps (default 50) and at epoch ends; a divergence is reported at most this many steps late, naming its first step. */
  readEvery?: number;
  /** Batch size of evaluation (default 1000). */
  evalBatchSize?: number;
  /** Show a progress bar on stderr (default: when stderr is a terminal; never otherwise). */
  progressBar?: boolean;
  /** A JSON-safe description of the run stored in checkpoints (e.g. the CLI options). */
  run?: Record<string, unknown>;
}

/** What `train` returns. */
export interface TrainResult {
  model: Sequential;
  optimizer: Optimizer;
  /** Every epoch's metrics, including those of the run a resumed one continues. */
  metrics: EpochMetrics[];
  position: TrainingPosition;
  /** Wall seconds of this call. */
  seconds: number;
  /** Training examples per second over this call's epochs (training steps only). */
  samplesPerSecond: number;
}

/**
 * Trains `model` with `optimizer` on `train` for `epochs` epochs of `batchSize` examples (the last
 * batch of an epoch may be smaller). Each step: forward, softmax cross-entropy, backward, every
 * hook's afterBackward, the optimiser step, every hook's afterStep; tensors stay on the backend
 * and the loss and correct count are accumulated there (axpy), read every `readEvery` steps and at
 * the epoch's end. After each epoch: evaluation on `test`, a checkpoint (atomic) and a line of
 * metrics.jsonl under `outDir`. With `resumeFrom`, the run continues from the checkpoint and ends
 * with exactly the weights an uninterrupted run has (same seed, backend and thread count).
 *
 * Divergence, guaranteed: TrainingDivergedError (with the last good checkpoint, or null) when the
 * loss of any step is NaN or infinite (found within `readEvery` steps, naming the first bad step);
 * when at an epoch's end any parameter or optimiser state holds a value that is not finite (read
 * back once per epoch, so an update that broke the weights on the epoch's last step is caught too);
 * or when the test loss is not finite. These checks run before the epoch's evaluation and
 * checkpoint, so a checkpoint is only ever written from finite state and the one kept is the last
 * good one. A checkpoint to resume from that holds non-finite values is refused (FormatError).
 * Empty data sets are refused (ParameterError).
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  const checked = checkTrainOptions(options);
  const lock = lockOutDir(options);
  try {
    const state = await startState(options, checked);
    const files = startRunFiles(options.outDir, state.metrics);
    let lastGood: string | null = options.resumeFrom ?? null;
    let trainSamples = 0;
    let trainSeconds = 0;
    for (let epoch = state.position.epoch; epoch < checked.epochs; epoch++) {
      const startBatch = epoch === state.position.epoch ? state.position.batch : 0;
      const steps = await runEpoch({
        model: state.model, optimizer: state.optimizer, hooks: checked.hooks, data: options.train, batchSize: checked.batchSize, seed: checked.seed,
        readEvery: checked.readEvery, epoch, epochs: checked.epochs, startBatch, step: state.position.step, lastGood, showBar: checked.showBar, onProgress: options.onProgress,
      });
      trainSamples += steps.samples;
      trainSeconds += steps.seconds;
      await checkFiniteState(state, epoch, steps, lastGood);
      const record = await evaluateEpoch(state, options.test, checked.evalBatchSize, epoch, steps, lastGood);
      state.metrics.push(record);
      state.position = { epoch: epoch + 1, batch: 0, step: steps.step };
      lastGood = await recordEpoch(state, files, record, checked, options) ?? lastGood;
    }
    return {
      model: state.model,
      optimizer: state.optimizer,
      metrics: state.metrics,
      position: state.position,
      seconds: (performance.now() - started) / 1000,
      samplesPerSecond: trainSeconds > 0 ? trainSamples / trainSeconds : 0,
    };
  } finally {
    lock?.release();
  }
}

/** The options of `train`, checked, with their defaults. */
interface CheckedOptions {
  epochs: number;
  batchSize: number;
  readEvery: number;
  evalBatchSize: number;
  checkpointEvery: 'epoch' | 'never';
  seed: Seed;
  hooks: readonly TrainingHook[];
  showBar: boolean;
}

/** The options' checks that need no model: numbers, the seed, non-empty data sets (ParameterError). */
function checkTrainOptions(options: TrainOptions): CheckedOptions {
  const context = 'train';
  checkDataset(options.train, context);
  checkDataset(options.test, context);
  const epochs = checkInteger('epochs', options.epochs, 1, 1e9, context);
  const batchSize = checkInteger('batchSize', options.batchSize, 1, Number.MAX_SAFE_INTEGER, context);
  const readEvery = checkInteger('readEvery', options.readEvery ?? 50, 1, Number.MAX_SAFE_INTEGER, context);
  const evalBatchSize = checkInteger('evalBatchSize', options.evalBatchSize ?? 1000, 1, Number.MAX_SAFE_INTEGER, context);
  const checkpointEvery = checkOneOf('checkpointEvery', options.checkpointEvery ?? 'epoch', ['epoch', 'never'] as const, context);
  const seed = options.seed;
  if (!((typeof seed === 'number' && Number.isFinite(seed)) || typeof seed === 'string')) throw new ParameterError('seed', 'a finite number or a string', seed, context);
  if (options.train.n === 0) throw new ParameterError('train', 'a data set of at least one example', 'an empty one (n = 0)', context);
  if (options.test.n === 0) throw new ParameterError('test', 'a data set of at least one example', 'an empty one (n = 0)', context);
  const showBar = options.progressBar ?? process.stderr.isTTY === true;
  return { epochs, batchSize, readEvery, evalBatchSize, checkpointEvery, seed, hooks: options.hooks ?? [], showBar };
}

/** Opens and locks `outDir` for the call (see `openRunDirectory`), unless there is none or the caller holds it. */
function lockOutDir(options: TrainOptions): DirectoryLock | null {
  const outDir = options.outDir;
  if (outDir === undefined || options.outDirOpened) return null;
  const ownCheckpoint = options.resumeFrom !== undefined && resolve(options.resumeFrom) === resolve(outDir, CHECKPOINT_DIR);
  if (ownCheckpoint && options.existing === 'replace') throw new ParameterError('existing', "'continue' or 'refuse' when resuming from outDir's own checkpoint ('replace' would remove it)", options.existing, 'train');
  return openRunDirectory(outDir, options.existing ?? (ownCheckpoint ? 'continue' : 'refuse'));
}

/** What a run carries from epoch to epoch. */
interface RunState {
  model: Sequential;
  optimizer: Optimizer;
  position: TrainingPosition;
  metrics: EpochMetrics[];
}

/** The run's state at its start: the model and optimiser given, or as a checkpoint saved them (see resumeState); checked against the data. */
async function startState(options: TrainOptions, checked: CheckedOptions): Promise<RunState> {
  const context = 'train';
  const { model: givenModel, optimizer: givenOptimizer } = options;
  if ((givenModel === undefined) !== (givenOptimizer === undefined)) throw new ParameterError(givenModel ? 'optimizer' : 'model', 'given together with the other', undefined, context);
  const resumed = options.resumeFrom === undefined ? null : await resumeState(options, options.resumeFrom, checked);
  const model = resumed?.model ?? givenModel;
  const optimizer = resumed?.optimizer ?? givenOptimizer;
  if (!model || !optimizer) throw new ParameterError('model', 'given (or resumeFrom, to rebuild it from a checkpoint)', undefined, context);
  if (optimizer.backend !== model.backend) throw new ParameterError('optimizer', "an optimiser on the model's backend", optimizer.backend.name, context);
  const { train: trainSet, test: testSet } = options;
  if (trainSet.features !== model.inFeatures || testSet.features !== model.inFeatures) {
    throw new ParameterError('train', `a dataset of ${model.inFeatures} features (the model's input)`, `${trainSet.features} (test: ${testSet.features})`, context);
  }
  if (trainSet.classes > model.outFeatures) throw new ParameterError('train', `a dataset of at most ${model.outFeatures} classes (the model's outputs)`, trainSet.classes, context);
  return resumed ?? { model, optimizer, position: { epoch: 0, batch: 0, step: 0 }, metrics: [] };
}

/**
 * The state saved in the checkpoint at `resumeFrom` (same seed and batch size as this call): into
 * the model and optimiser given, or rebuilt on `options.backend`; the hooks restored too. A
 * checkpoint whose tensors are not all finite is refused (FormatError).
 */
async function resumeState(options: TrainOptions, resumeFrom: string, checked: CheckedOptions): Promise<RunState> {
  const context = 'train';
  const { seed, batchSize, hooks } = checked;
  const checkpoint: Checkpoint = options.resumeCheckpoint ?? loadCheckpoint(resumeFrom);
  const saved = checkpoint.manifest;
  if (saved.seed !== seed) throw new ParameterError('seed', `the saved run's seed (${JSON.stringify(saved.seed)}) when resuming`, seed, context);
  const savedBatch = saved.run.batchSize;
  if (savedBatch !== undefined && savedBatch !== batchSize) throw new ParameterError('batchSize', `the saved run's batch size (${String(savedBatch)}) when resuming`, batchSize, context);
  let { model, optimizer } = options;
  if (model && optimizer) applyCheckpoint(checkpoint, { model, optimizer, hooks });
  else {
    if (!options.backend) throw new ParameterError('backend', 'given when resuming without a model', undefined, context);
    model = restoreModel(checkpoint, options.backend);
    optimizer = restoreOptimizer(checkpoint, model);
    restoreHooks(checkpoint, hooks);
  }
  const state: RunState = { model, optimizer, position: { ...saved.position }, metrics: savedMetrics(checkpoint) };
  const bad = await firstNonFinite(model, optimizer);
  if (bad) throw new FormatError(`${checkpoint.dir}: ${bad.name} holds ${bad.value}: not a good checkpoint to continue from`, 'tensors');
  return state;
}

/** Where a run's checkpoint and metrics log go (null: nowhere, without an outDir). */
interface RunFiles {
  checkpointDir: string | null;
  metricsPath: string | null;
}

/** The run's files under `outDir`; the log restarts from what the checkpoint knows, dropping lines of epochs it does not hold. */
function startRunFiles(outDir: string | undefined, metrics: readonly EpochMetrics[]): RunFiles {
  if (outDir === undefined) return { checkpointDir: null, metricsPath: null };
  const files = { checkpointDir: join(outDir, CHECKPOINT_DIR), metricsPath: join(outDir, METRICS_FILE) };
  writeMetricsLog(files.metricsPath, metrics);
  return files;
}

/**
 * TrainingDivergedError when a parameter or optimiser state holds a value that is not finite at
 * the epoch's end: the loss of a step is computed before its update, so an update that breaks the
 * weights shows in the next step's loss, or, on the epoch's last step, only here.
 */
async function checkFiniteState(state: RunState, epoch: number, steps: EpochResult, lastGood: string | null): Promise<void> {
  const bad = await firstNonFinite(state.model, state.optimizer);
  if (bad) throw new TrainingDivergedError(Math.max(steps.step - 1, 0), epoch, bad.value, lastGood, bad.name);
}

/** The epoch's record: its training results and the evaluation on `test` (TrainingDivergedError when the test loss is not finite). */
async function evaluateEpoch(state: RunState, test: Dataset, evalBatchSize: number, epoch: number, steps: EpochResult, lastGood: string | null): Promise<EpochMetrics> {
  const evalStart = performance.now();
  const result = await evaluate(state.model, test, evalBatchSize);
  if (!Number.isFinite(result.loss)) throw new TrainingDivergedError(Math.max(steps.step - 1, 0), epoch, result.loss, lastGood, 'the test loss');
  return {
    epoch,
    step: steps.step,
    trainLoss: steps.trainLoss,
    trainAccuracy: steps.trainAccuracy,
    testLoss: result.loss,
    testAccuracy: result.accuracy,
    seconds: steps.seconds,
    evalSeconds: (performance.now() - evalStart) / 1000,
    samplesPerSecond: steps.samples / steps.seconds,
    lr: state.optimizer.lr,
    densities: layerDensities(state.model),
    events: steps.events,
  };
}

/** Records the epoch just done: the checkpoint (when asked for; returns its directory), the log line, `onEpoch`. */
async function recordEpoch(state: RunState, files: RunFiles, record: EpochMetrics, checked: CheckedOptions, options: TrainOptions): Promise<string | null> {
  let saved: string | null = null;
  if (files.checkpointDir && checked.checkpointEvery === 'epoch') {
    const { model, optimizer, position, metrics } = state;
    await saveCheckpoint(files.checkpointDir, { model, optimizer, seed: checked.seed, position, hooks: checked.hooks, metrics, run: { ...options.run, batchSize: checked.batchSize } });
    saved = files.checkpointDir;
  }
  if (files.metricsPath) appendMetricsLog(files.metricsPath, record);
  options.onEpoch?.(record);
  return saved;
}
