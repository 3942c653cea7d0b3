/**
 * The training loop: seeded epochs of minibatch steps on the backend, evaluation each epoch, a
 * JSONL metrics log, atomic checkpoints at epoch ends (and every N steps when asked), exact
 * resumption, and a typed error when training diverges. A run is a task (tasks.ts): classification
 * of a Dataset, or a character-level language model on encoded text. `train` reads as its steps:
 * check the options, lock the output directory, start (or resume) the run's state, then per epoch
 * run the steps, check for divergence, evaluate, and record (checkpoint, log line).
 */
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkInteger, checkNumber } from '../check.js';
import { FormatError, ParameterError } from '../errors.js';
import type { DirectoryLock } from '../lock.js';
import type { Backend } from '../kernels/types.js';
import type { Seed } from '../random.js';
import { loadCheckpoint, saveCheckpoint, type Checkpoint } from './checkpoint.js';
import { applyCheckpoint, restoreHooks, restoreModel, restoreOptimizer } from './checkpoint-restore.js';
import type { TrainingPosition } from './checkpoint-manifest.js';
import { checkDataset, type Dataset } from './data/dataset.js';
import { firstNonFinite } from './divergence.js';
import { runEpoch, type EpochProgress, type EpochResult, type TrainProgress } from './epoch.js';
import { appendMetricsLog, savedMetrics, writeMetricsLog, type ClassificationEpochMetrics, type EpochMetrics, type LanguageModelEpochMetrics } from './epoch-metrics.js';
import { TrainingDivergedError } from './errors.js';
import type { TrainingHook } from './hooks.js';
import type { Sequential } from './layers/sequential.js';
import { layerDensities } from './model.js';
import type { Optimizer } from './optimizers.js';
import { CHECKPOINT_DIR, METRICS_FILE, openRunDirectory, type ExistingRun } from './run-directory.js';
import { classificationTask, textTask, type TextData, type TrainingTask } from './tasks.js';

/** The options of `train` common to every task; `M` is the task's epoch record. */
export interface TrainCommonOptions<M extends EpochMetrics = EpochMetrics> {
  /** The model (required unless resuming: then it may be rebuilt from the checkpoint, with its layouts as saved). */
  model?: Sequential;
  /** Its optimiser (required with `model`; rebuilt from the checkpoint otherwise). */
  optimizer?: Optimizer;
  /** The backend to rebuild the model on when resuming without a model. */
  backend?: Backend;
  /** Total epochs of the run (a resumed run continues up to this many). */
  epochs: number;
  /** Examples per step, or a language model's streams per step (B: each step is B x T characters). */
  batchSize: number;
  /** The run's seed: the order of epoch e depends only on (seed, e). */
  seed: Seed;
  /** Extensions run inside each step, in order (pruning, regrowth, L0 penalties). */
  hooks?: readonly TrainingHook[];
  /**
   * Clip the gradients to this global norm after the hooks' afterBackward and before the
   * optimiser step (`clipGradNorm`; one scalar read a step); 0, the default, leaves them as they are.
   */
  clip?: number;
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
  onEpoch?: (metrics: M) => void;
  /**
   * When to checkpoint (with an outDir): 'epoch' (the default) at every epoch's end; a number N of
   * steps: also after every step that is a multiple of N within an epoch (the epoch's progress is
   * stored with it, so a run resumed there ends the epoch as an uninterrupted one); 'never'.
   */
  checkpointEvery?: 'epoch' | 'never' | number;
  /** A checkpoint directory to continue from (same seed, batch size and, for text, steps as the saved run). */
  resumeFrom?: string;
  /** `resumeFrom`'s checkpoint when the caller has already read it (it is then not read again). */
  resumeCheckpoint?: Checkpoint;
  /** Read the accumulated loss (one device sync) every this many steps (default 50) and at epoch ends; a divergence is reported at most this many steps late, naming its first step. */
  readEvery?: number;
  /** Batch size of evaluation: examples (default 1000), or a language model's streams (default `batchSize`). */
  evalBatchSize?: number;
  /** Show a progress bar on stderr (default: when stderr is a terminal; never otherwise). */
  progressBar?: boolean;
  /** A JSON-safe description of the run stored in checkpoints (e.g. the CLI options). */
  run?: Record<string, unknown>;
}

/** `train`'s options for classification: train on `train`, test on `test` after every epoch. */
export interface ClassificationTrainOptions extends TrainCommonOptions<ClassificationEpochMetrics> {
  train: Dataset;
  test: Dataset;
  text?: undefined;
}

/** `train`'s options for a character-level language model on `text`. */
export interface TextTrainOptions extends TrainCommonOptions<LanguageModelEpochMetrics> {
  text: TextData;
  train?: undefined;
  test?: undefined;
}

/** Options of `train`: a classification run or a language model's. */
export type TrainOptions = ClassificationTrainOptions | TextTrainOptions;

/** What `train` returns; `M` is the task's epoch record. */
export interface TrainResult<M extends EpochMetrics = EpochMetrics> {
  model: Sequential;
  optimizer: Optimizer;
  /** Every epoch's metrics, including those of the run a resumed one continues. */
  metrics: M[];
  position: TrainingPosition;
  /** Wall seconds of this call. */
  seconds: number;
  /** Training examples (a language model's: characters) per second over this call's epochs (training steps only). */
  samplesPerSecond: number;
}

/**
 * Trains `model` with `optimizer` for `epochs` epochs: on `train` in batches of `batchSize`
 * examples (the last batch of an epoch may be smaller), or on `text` in batches of `batchSize`
 * streams of `text.steps` characters (truncated back-propagation through time: the model's carried
 * state goes on from batch to batch, reset at every epoch's start and around every evaluation).
 * Each step: forward, softmax cross-entropy, backward, every hook's afterBackward, gradient
 * clipping (`clip`), the optimiser step, every hook's afterStep; tensors stay on the backend and
 * the loss and correct count are accumulated there (axpy), read every `readEvery` steps and at
 * the epoch's end. After each epoch: evaluation (on `test`; a language model's bits per character
 * over the whole validation text, and after the last epoch over the whole test text), a
 * checkpoint (atomic) and a line of metrics.jsonl under `outDir`. With `resumeFrom`, the run
 * continues from the checkpoint (at an epoch's end, or within an epoch with `checkpointEvery`
 * steps) and ends with exactly the weights and metrics an uninterrupted run has (same seed,
 * backend and thread count).
 *
 * Divergence, guaranteed: TrainingDivergedError (with the last good checkpoint, or null) when the
 * loss of any step is NaN or infinite (found within `readEvery` steps, naming the first bad step);
 * when at an epoch's end any parameter or optimiser state holds a value that is not finite (read
 * back once per epoch, so an update that broke the weights on the epoch's last step is caught too);
 * or when an evaluated loss (test, or a language model's validation and test) is not finite. These checks run before the epoch's evaluation and
 * checkpoint, so a checkpoint is only ever written from finite state and the one kept is the last
 * good one. A checkpoint to resume from that holds non-finite values is refused (FormatError).
 * Empty data sets are refused (ParameterError).
 */
export async function train(options: ClassificationTrainOptions): Promise<TrainResult<ClassificationEpochMetrics>>;
export async function train(options: TextTrainOptions): Promise<TrainResult<LanguageModelEpochMetrics>>;
export async function train(options: TrainOptions): Promise<TrainResult>;
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
      const resumed = epoch === state.position.epoch && state.position.batch > 0;
      const steps = await runEpoch({
        model: state.model, optimizer: state.optimizer, hooks: checked.hooks, task: checked.task, batchSize: checked.batchSize, seed: checked.seed,
        readEvery: checked.readEvery, epoch, epochs: checked.epochs, startBatch: resumed ? state.position.batch : 0, step: state.position.step,
        progress: resumed ? state.progress : null, lastGood, clip: checked.clip, showBar: checked.showBar, onProgress: options.onProgress,
        checkpointEvery: checked.checkpointSteps,
        ...(files.checkpointDir ? { checkpoint: (position, progress, good) => saveWithin(state, files.checkpointDir!, position, progress, checked, options, good) } : {}),
      });
      lastGood = steps.lastGood;
      trainSamples += steps.samples - (resumed ? (state.progress?.samples ?? 0) : 0);
      trainSeconds += steps.seconds - (resumed ? (state.progress?.seconds ?? 0) : 0);
      await checkFiniteState(state, epoch, steps.step, lastGood);
      const record = await evaluateEpoch(state, checked, epoch, steps, lastGood);
      state.metrics.push(record);
      state.position = { epoch: epoch + 1, batch: 0, step: steps.step };
      state.progress = null;
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
  task: TrainingTask;
  epochs: number;
  batchSize: number;
  readEvery: number;
  evalBatchSize: number;
  checkpointEvery: 'epoch' | 'never';
  /** Steps between checkpoints within an epoch (0: none). */
  checkpointSteps: number;
  clip: number;
  seed: Seed;
  hooks: readonly TrainingHook[];
  showBar: boolean;
}

/** The options' checks that need no model: the data (a task), numbers, the seed (ParameterError). */
function checkTrainOptions(options: TrainOptions): CheckedOptions {
  const context = 'train';
  const text = options.text !== undefined;
  if (text && (options.train !== undefined || options.test !== undefined)) throw new ParameterError('text', 'given without train and test (a run is classification or a language model)', 'all three', context);
  if (!text) {
    checkDataset(options.train!, context);
    checkDataset(options.test!, context);
  }
  const epochs = checkInteger('epochs', options.epochs, 1, 1e9, context);
  const batchSize = checkInteger('batchSize', options.batchSize, 1, Number.MAX_SAFE_INTEGER, context);
  const readEvery = checkInteger('readEvery', options.readEvery ?? 50, 1, Number.MAX_SAFE_INTEGER, context);
  const evalBatchSize = checkInteger('evalBatchSize', options.evalBatchSize ?? (text ? batchSize : 1000), 1, Number.MAX_SAFE_INTEGER, context);
  const every = options.checkpointEvery ?? 'epoch';
  if (!(every === 'epoch' || every === 'never' || (typeof every === 'number' && Number.isSafeInteger(every) && every >= 1))) {
    throw new ParameterError('checkpointEvery', "'epoch', 'never' or a number of steps (an integer >= 1)", every, context);
  }
  const clip = checkNumber('clip', options.clip ?? 0, 0, 1e30, context);
  const seed = options.seed;
  if (!((typeof seed === 'number' && Number.isFinite(seed)) || typeof seed === 'string')) throw new ParameterError('seed', 'a finite number or a string', seed, context);
  const task = text ? textTask(options.text!, batchSize, context) : classificationTask(options.train!, options.test!, context);
  const showBar = options.progressBar ?? process.stderr.isTTY === true;
  return {
    task, epochs, batchSize, readEvery, evalBatchSize, checkpointEvery: every === 'never' ? 'never' : 'epoch', checkpointSteps: typeof every === 'number' ? every : 0,
    clip, seed, hooks: options.hooks ?? [], showBar,
  };
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
  /** The sums of the epoch's steps before `position.batch` (a run resumed within an epoch), or null. */
  progress: EpochProgress | null;
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
  checked.task.checkModel(model, context);
  return resumed ?? { model, optimizer, position: { epoch: 0, batch: 0, step: 0 }, progress: null, metrics: [] };
}

/**
 * The state saved in the checkpoint at `resumeFrom` (same seed, batch size, clipping and, for
 * text, steps and vocabulary as this call): into the model and optimiser given, or rebuilt on
 * `options.backend`; the hooks, the carried state and the epoch's progress restored too. A
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
  const { task, clip } = checked;
  const kind = saved.vocabulary !== null || saved.run.task === 'language-model' ? 'language-model' : 'classification';
  if ((saved.run.task ?? kind) !== task.kind) throw new ParameterError(task.kind === 'classification' ? 'train' : 'text', `the saved run's data (a ${String(saved.run.task ?? kind)} run) when resuming`, task.kind, context);
  if (saved.run.steps !== undefined && saved.run.steps !== task.steps) throw new ParameterError('text.steps', `the saved run's steps (${String(saved.run.steps)}) when resuming`, task.steps, context);
  if (saved.run.clip !== undefined && saved.run.clip !== clip) throw new ParameterError('clip', `the saved run's clip (${String(saved.run.clip)}) when resuming`, clip, context);
  if (saved.vocabulary !== null && task.vocabulary !== null && JSON.stringify(saved.vocabulary.codePoints) !== JSON.stringify(task.vocabulary.codePoints)) {
    throw new ParameterError('text.vocabulary', `the saved run's vocabulary (${saved.vocabulary.codePoints.length} characters) when resuming`, `${task.vocabulary.size} other characters`, context);
  }
  let { model, optimizer } = options;
  if (model && optimizer) applyCheckpoint(checkpoint, { model, optimizer, hooks });
  else {
    if (!options.backend) throw new ParameterError('backend', 'given when resuming without a model', undefined, context);
    model = restoreModel(checkpoint, options.backend);
    optimizer = restoreOptimizer(checkpoint, model);
    restoreHooks(checkpoint, hooks);
  }
  const state: RunState = { model, optimizer, position: { ...saved.position }, progress: saved.progress, metrics: savedMetrics(checkpoint) };
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
 * TrainingDivergedError when a parameter or optimiser state holds a value that is not finite (at
 * an epoch's end, or before a checkpoint within one): the loss of a step is computed before its
 * update, so an update that breaks the weights shows in the next step's loss, or, on the last step
 * before the check, only here.
 */
async function checkFiniteState(state: RunState, epoch: number, step: number, lastGood: string | null): Promise<void> {
  const bad = await firstNonFinite(state.model, state.optimizer);
  if (bad) throw new TrainingDivergedError(Math.max(step - 1, 0), epoch, bad.value, lastGood, bad.name);
}

/** The epoch's record: its training results and the task's evaluation (TrainingDivergedError when an evaluated loss is not finite). */
async function evaluateEpoch(state: RunState, checked: CheckedOptions, epoch: number, steps: EpochResult, lastGood: string | null): Promise<EpochMetrics> {
  const evalStart = performance.now();
  const evaluation = await checked.task.evaluate(state.model, { batchSize: checked.evalBatchSize, final: epoch === checked.epochs - 1 });
  for (const { loss, what } of [evaluation, ...(evaluation.also ? [evaluation.also] : [])]) {
    if (!Number.isFinite(loss)) throw new TrainingDivergedError(Math.max(steps.step - 1, 0), epoch, loss, lastGood, what);
  }
  return checked.task.record({
    epoch, step: steps.step, steps, evaluation, evalSeconds: (performance.now() - evalStart) / 1000, lr: state.optimizer.lr,
    densities: layerDensities(state.model), clipping: checked.clip > 0,
  });
}

/** What every checkpoint of the run records besides the model's state: its settings as `train` checks them on resume. */
function runRecord(checked: CheckedOptions, options: TrainOptions): Record<string, unknown> {
  const { task } = checked;
  return checkpointRunRecord(options.run ?? {}, { batchSize: checked.batchSize, steps: task.kind === 'language-model' ? task.steps : null, clip: checked.clip });
}

/**
 * The run record a checkpoint holds: the run's description, and what `train` checks on resume
 * (the batch size; a language model's task and steps; the clip when on). Also for checkpoints
 * written outside the loop (a pruned or imported model) that a run then continues.
 */
export function checkpointRunRecord(run: Record<string, unknown>, shape: { batchSize: number; steps: number | null; clip: number }): Record<string, unknown> {
  return { ...run, batchSize: shape.batchSize, ...(shape.steps !== null ? { task: 'language-model', steps: shape.steps } : {}), ...(shape.clip > 0 ? { clip: shape.clip } : {}) };
}

/** A checkpoint within an epoch (after checking the state is finite); returns its directory. */
async function saveWithin(state: RunState, dir: string, position: TrainingPosition, progress: EpochProgress, checked: CheckedOptions, options: TrainOptions, lastGood: string | null): Promise<string> {
  await checkFiniteState(state, position.epoch, position.step, lastGood);
  const { model, optimizer, metrics } = state;
  await saveCheckpoint(dir, {
    model, optimizer, seed: checked.seed, position, progress, hooks: checked.hooks, metrics, run: runRecord(checked, options), vocabulary: checked.task.vocabulary,
  });
  return dir;
}

/** Records the epoch just done: the checkpoint (when asked for; returns its directory), the log line, `onEpoch`. */
async function recordEpoch(state: RunState, files: RunFiles, record: EpochMetrics, checked: CheckedOptions, options: TrainOptions): Promise<string | null> {
  let saved: string | null = null;
  if (files.checkpointDir && checked.checkpointEvery === 'epoch') {
    const { model, optimizer, position, metrics } = state;
    await saveCheckpoint(files.checkpointDir, {
      model, optimizer, seed: checked.seed, position, hooks: checked.hooks, metrics, run: runRecord(checked, options), vocabulary: checked.task.vocabulary,
    });
    saved = files.checkpointDir;
  }
  if (files.metricsPath) appendMetricsLog(files.metricsPath, record);
  (options.onEpoch as ((metrics: EpochMetrics) => void) | undefined)?.(record);
  return saved;
}
