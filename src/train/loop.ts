/**
 * The training loop: seeded epochs of minibatch steps on the backend, evaluation each epoch, a
 * JSONL metrics log, atomic checkpoints at epoch ends, exact resumption, and a typed error when
 * training diverges. A run directory is locked for the whole run (one writer) and is not taken
 * over from another run unless asked.
 */
import { closeSync, constants as fsConstants, fstatSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { asFileError, writeFileAtomic } from '../atomic-write.js';
import { checkInteger, checkOneOf } from '../check.js';
import { FileError, FormatError, ParameterError } from '../errors.js';
import { lockDirectory, LOCK_FILE, type DirectoryLock } from '../lock.js';
import { printable } from '../printable.js';
import type { Backend, Tensor } from '../kernels/types.js';
import type { Seed } from '../random.js';
import { progressBar, type Progress } from '../progress.js';
import { applyCheckpoint, loadCheckpoint, restoreHooks, restoreModel, restoreOptimizer, saveCheckpoint, type Checkpoint } from './checkpoint.js';
import type { TrainingPosition } from './checkpoint-manifest.js';
import { batchCount, batches } from './data/batches.js';
import { checkDataset, type Dataset } from './data/dataset.js';
import { TrainingDivergedError } from './errors.js';
import type { StepContext, TrainingHook } from './hooks.js';
import type { Sequential } from './layers/sequential.js';
import { layerDensities, type LayerDensity } from './model.js';
import type { Optimizer } from './optimizers.js';

/** The file names a run writes under its `outDir`. */
export const METRICS_FILE = 'metrics.jsonl';
/** The checkpoint directory's name inside a run directory. */
export const CHECKPOINT_DIR = 'checkpoint';
/** The summary the CLI writes into a run directory. */
export const SUMMARY_FILE = 'summary.json';

/** The names of a run's files in its directory: what marks a directory as holding a run, and what starting over removes. */
const RUN_FILE = /^(checkpoint|checkpoint\.previous|metrics\.jsonl|summary\.json|(l0-)?layout-\d+\.json)$/;
const RUN_MARKERS = new Set([CHECKPOINT_DIR, `${CHECKPOINT_DIR}.previous`, METRICS_FILE, SUMMARY_FILE]);

/**
 * What to do with a run directory that already holds files: `refuse` (FileError), `replace` (start
 * over: the old run's files, checkpoint/, metrics.jsonl, summary.json and layout files, are
 * removed; other files are left alone), or `continue` (the run in it is being resumed).
 */
export type ExistingRun = 'refuse' | 'replace' | 'continue';

/**
 * Creates (if needed) and locks the run directory `dir` for a training run, then applies `existing`
 * to what it holds. The lock (lock file `.blocksparse.lock`, next to checkpoint/, so that the
 * checkpoint's commit renames are not in its way) is held until `release()` or the process exits;
 * a second writer gets a LockError naming the holder's pid. With `refuse`, a directory holding
 * anything but the lock file is refused with a FileError that says whether it holds a run.
 */
export function openRunDirectory(dir: string, existing: ExistingRun = 'refuse'): DirectoryLock {
  if (typeof dir !== 'string' || dir.length === 0) throw new ParameterError('outDir', 'a non-empty path', dir, 'train');
  checkOneOf('existing', existing, ['refuse', 'replace', 'continue'] as const, 'train');
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw asFileError(dir, 'create the directory', error);
  }
  if (!statSync(dir).isDirectory()) throw new FileError(dir, 'not a directory: a run directory is needed');
  const lock = lockDirectory(dir, 'training run');
  try {
    const entries = readdirSync(dir).filter((name) => name !== LOCK_FILE).sort();
    if (existing === 'refuse' && entries.length > 0) {
      const run = entries.filter((name) => RUN_MARKERS.has(name));
      throw new FileError(
        dir,
        run.length > 0
          ? `already holds a training run (${run.join(', ')}): continue it with --resume, or start over with --force (its files are replaced)`
          : `is not empty (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, e.g. "${printable(entries[0])}"): choose a new or empty directory, or give --force to write the run into it`,
      );
    }
    if (existing === 'replace') {
      for (const name of entries) {
        if (!RUN_FILE.test(name)) continue;
        try {
          rmSync(join(dir, name), { recursive: true, force: true });
        } catch (error) {
          throw asFileError(join(dir, name), 'remove (starting the run over)', error);
        }
      }
    }
    return lock;
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** An event a hook returned from afterStep, with where it happened. */
export interface HookEvent {
  hook: string;
  epoch: number;
  step: number;
  [key: string]: unknown;
}

/** One line of metrics.jsonl: an epoch's results. */
export interface EpochMetrics {
  epoch: number;
  /** Steps done over the run at the end of the epoch. */
  step: number;
  /** Mean over the epoch's examples of the batch loss (including what hooks added, e.g. an L0 penalty). */
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  /** Seconds of the epoch's training steps (evaluation not included). */
  seconds: number;
  evalSeconds: number;
  /** Training examples per second of `seconds`. */
  samplesPerSecond: number;
  lr: number;
  densities: LayerDensity[];
  events: HookEvent[];
}

/** Where a run is, reported after every step. */
export interface TrainProgress {
  epoch: number;
  epochs: number;
  /** Batches of this epoch done. */
  batch: number;
  batches: number;
  step: number;
}

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

/** The mean loss and accuracy of `model` on `dataset` in evaluation mode (deterministic gates), reading the device once. */
export async function evaluate(model: Sequential, dataset: Dataset, batchSize = 1000): Promise<{ loss: number; accuracy: number }> {
  checkInteger('batchSize', batchSize, 1, Number.MAX_SAFE_INTEGER, 'evaluate');
  const backend = model.backend;
  const lossSum = backend.zeros([1]);
  const correctSum = backend.zeros([1]);
  try {
    for (const batch of batches(dataset, { batchSize, shuffle: false })) {
      const x = backend.tensor(batch.x, [batch.size, dataset.features]);
      const labels = backend.tensor(Float32Array.from(batch.y), [batch.size]);
      const logits = await model.forward(x, { training: false });
      const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
      await backend.axpy(batch.size, loss, lossSum);
      await backend.axpy(1, correct, correctSum);
      for (const t of [x, labels, logits, loss, dlogits, correct]) t.dispose();
    }
    const [loss] = await backend.read(lossSum);
    const [correct] = await backend.read(correctSum);
    return { loss: loss / dataset.n, accuracy: correct / dataset.n };
  } finally {
    lossSum.dispose();
    correctSum.dispose();
  }
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
  const context = 'train';
  const started = performance.now();
  checkDataset(options.train, context);
  checkDataset(options.test, context);
  const epochs = checkInteger('epochs', options.epochs, 1, 1e9, context);
  const batchSize = checkInteger('batchSize', options.batchSize, 1, Number.MAX_SAFE_INTEGER, context);
  const readEvery = checkInteger('readEvery', options.readEvery ?? 50, 1, Number.MAX_SAFE_INTEGER, context);
  const evalBatchSize = checkInteger('evalBatchSize', options.evalBatchSize ?? 1000, 1, Number.MAX_SAFE_INTEGER, context);
  const checkpointEvery = checkOneOf('checkpointEvery', options.checkpointEvery ?? 'epoch', ['epoch', 'never'] as const, context);
  const seed = options.seed;
  if (!((typeof seed === 'number' && Number.isFinite(seed)) || typeof seed === 'string')) throw new ParameterError('seed', 'a finite number or a string', seed, context);
  const hooks = options.hooks ?? [];
  const trainSet = options.train;
  if (trainSet.n === 0) throw new ParameterError('train', 'a data set of at least one example', 'an empty one (n = 0)', context);
  if (options.test.n === 0) throw new ParameterError('test', 'a data set of at least one example', 'an empty one (n = 0)', context);

  const outDir = options.outDir;
  let lock: DirectoryLock | null = null;
  if (outDir !== undefined && !options.outDirOpened) {
    const ownCheckpoint = options.resumeFrom !== undefined && resolve(options.resumeFrom) === resolve(outDir, CHECKPOINT_DIR);
    if (ownCheckpoint && options.existing === 'replace') throw new ParameterError('existing', "'continue' or 'refuse' when resuming from outDir's own checkpoint ('replace' would remove it)", options.existing, context);
    lock = openRunDirectory(outDir, options.existing ?? (ownCheckpoint ? 'continue' : 'refuse'));
  }
  try {
    return await runEpochs(options, { started, epochs, batchSize, readEvery, evalBatchSize, checkpointEvery, seed, hooks });
  } finally {
    lock?.release();
  }
}

interface CheckedOptions {
  started: number;
  epochs: number;
  batchSize: number;
  readEvery: number;
  evalBatchSize: number;
  checkpointEvery: 'epoch' | 'never';
  seed: Seed;
  hooks: readonly TrainingHook[];
}

async function runEpochs(options: TrainOptions, checked: CheckedOptions): Promise<TrainResult> {
  const context = 'train';
  const { started, epochs, batchSize, readEvery, evalBatchSize, checkpointEvery, seed, hooks } = checked;
  const trainSet = options.train;
  let model = options.model;
  let optimizer = options.optimizer;
  let position: TrainingPosition = { epoch: 0, batch: 0, step: 0 };
  let metrics: EpochMetrics[] = [];
  if ((model === undefined) !== (optimizer === undefined)) throw new ParameterError(model ? 'optimizer' : 'model', 'given together with the other', undefined, context);
  if (options.resumeFrom !== undefined) {
    const checkpoint = options.resumeCheckpoint ?? loadCheckpoint(options.resumeFrom);
    const saved = checkpoint.manifest;
    if (saved.seed !== seed) throw new ParameterError('seed', `the saved run's seed (${JSON.stringify(saved.seed)}) when resuming`, seed, context);
    const savedBatch = saved.run.batchSize;
    if (savedBatch !== undefined && savedBatch !== batchSize) throw new ParameterError('batchSize', `the saved run's batch size (${String(savedBatch)}) when resuming`, batchSize, context);
    if (model && optimizer) applyCheckpoint(checkpoint, { model, optimizer, hooks });
    else {
      if (!options.backend) throw new ParameterError('backend', 'given when resuming without a model', undefined, context);
      model = restoreModel(checkpoint, options.backend);
      optimizer = restoreOptimizer(checkpoint, model);
      restoreHooks(checkpoint, hooks);
    }
    position = { ...saved.position };
    metrics = savedMetrics(checkpoint);
    const bad = await firstNonFinite(model, optimizer);
    if (bad) throw new FormatError(`${checkpoint.dir}: ${bad.name} holds ${bad.value}: not a good checkpoint to continue from`, 'tensors');
  }
  if (!model || !optimizer) throw new ParameterError('model', 'given (or resumeFrom, to rebuild it from a checkpoint)', undefined, context);
  const backend = model.backend;
  if (optimizer.backend !== backend) throw new ParameterError('optimizer', "an optimiser on the model's backend", optimizer.backend.name, context);
  if (trainSet.features !== model.inFeatures || options.test.features !== model.inFeatures) {
    throw new ParameterError('train', `a dataset of ${model.inFeatures} features (the model's input)`, `${trainSet.features} (test: ${options.test.features})`, context);
  }
  if (trainSet.classes > model.outFeatures) throw new ParameterError('train', `a dataset of at most ${model.outFeatures} classes (the model's outputs)`, trainSet.classes, context);

  const outDir = options.outDir;
  const checkpointDir = outDir === undefined ? null : join(outDir, CHECKPOINT_DIR);
  const metricsPath = outDir === undefined ? null : join(outDir, METRICS_FILE);
  if (outDir !== undefined && metricsPath) {
    // The log restarts from what the checkpoint knows, dropping lines of epochs it does not hold.
    writeFileAtomic(metricsPath, metrics.map((m) => `${JSON.stringify(m)}\n`).join(''));
  }
  let lastGood: string | null = options.resumeFrom ?? null;

  const showBar = options.progressBar ?? process.stderr.isTTY === true;
  const batchesPerEpoch = batchCount(trainSet.n, batchSize);
  let trainSamples = 0;
  let trainSeconds = 0;
  for (let epoch = position.epoch; epoch < epochs; epoch++) {
    const startBatch = epoch === position.epoch ? position.batch : 0;
    const epochStart = performance.now();
    const events: HookEvent[] = [];
    const lossSum = backend.zeros([1]);
    const correctSum = backend.zeros([1]);
    const pending: { loss: Tensor; step: number }[] = [];
    let samples = 0;
    let step = position.step;
    let batchIndex = startBatch;
    const checkLoss = async (): Promise<number> => {
      const [sum] = await backend.read(lossSum);
      if (!Number.isFinite(sum)) {
        for (const { loss, step: at } of pending) {
          const [value] = await backend.read(loss);
          if (!Number.isFinite(value)) throw new TrainingDivergedError(at, epoch, value, lastGood);
        }
        throw new TrainingDivergedError(pending[0]?.step ?? step, epoch, sum, lastGood);
      }
      for (const { loss } of pending) loss.dispose();
      pending.length = 0;
      return sum;
    };
    let trainLoss: number;
    let trainCorrect: number;
    // One bar per epoch, cleared at its end, so that per-epoch log lines stay readable.
    const bar: Progress | null = showBar ? progressBar(`epoch ${epoch + 1}/${epochs}`, process.stderr) : null;
    try {
      for (const batch of batches(trainSet, { batchSize, seed, epoch, startBatch })) {
        const x = backend.tensor(batch.x, [batch.size, trainSet.features]);
        const labels = backend.tensor(Float32Array.from(batch.y), [batch.size]);
        const logits = await model.forward(x, { training: true });
        const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
        logits.dispose();
        await model.backward(dlogits);
        for (const t of [dlogits, x, labels]) t.dispose();
        const stepContext: StepContext = { step, epoch, model, optimizer, backend, loss };
        for (const hook of hooks) {
          const extra = await hook.afterBackward?.(stepContext);
          if (extra) {
            await backend.axpy(1, extra, loss);
            extra.dispose();
          }
        }
        await optimizer.step();
        for (const hook of hooks) {
          const event = await hook.afterStep?.(stepContext);
          if (event) events.push({ ...event, hook: hook.name, epoch, step });
        }
        await backend.axpy(batch.size, loss, lossSum);
        await backend.axpy(1, correct, correctSum);
        correct.dispose();
        pending.push({ loss, step });
        samples += batch.size;
        step++;
        batchIndex++;
        if (pending.length >= readEvery) await checkLoss();
        bar?.update(batchIndex, batchesPerEpoch);
        options.onProgress?.({ epoch, epochs, batch: batchIndex, batches: batchesPerEpoch, step });
      }
      trainLoss = (await checkLoss()) / Math.max(samples, 1);
      [trainCorrect] = await backend.read(correctSum);
    } finally {
      bar?.stop();
      for (const { loss } of pending) loss.dispose();
      lossSum.dispose();
      correctSum.dispose();
    }
    const seconds = (performance.now() - epochStart) / 1000;
    trainSamples += samples;
    trainSeconds += seconds;
    // The loss of a step is computed before its update: an update that breaks the weights shows in
    // the next step's loss, or, on the epoch's last step, only here.
    const lastStep = Math.max(step - 1, 0);
    const bad = await firstNonFinite(model, optimizer);
    if (bad) throw new TrainingDivergedError(lastStep, epoch, bad.value, lastGood, bad.name);
    const evalStart = performance.now();
    const test = await evaluate(model, options.test, evalBatchSize);
    if (!Number.isFinite(test.loss)) throw new TrainingDivergedError(lastStep, epoch, test.loss, lastGood, 'the test loss');
    const record: EpochMetrics = {
      epoch,
      step,
      trainLoss,
      trainAccuracy: trainCorrect / Math.max(samples, 1),
      testLoss: test.loss,
      testAccuracy: test.accuracy,
      seconds,
      evalSeconds: (performance.now() - evalStart) / 1000,
      samplesPerSecond: samples / seconds,
      lr: optimizer.lr,
      densities: layerDensities(model),
      events,
    };
    metrics.push(record);
    position = { epoch: epoch + 1, batch: 0, step };
    if (checkpointDir && checkpointEvery === 'epoch') {
      await saveCheckpoint(checkpointDir, { model, optimizer, seed, position, hooks, metrics, run: { ...options.run, batchSize } });
      lastGood = checkpointDir;
    }
    if (metricsPath) appendLine(metricsPath, `${JSON.stringify(record)}\n`);
    options.onEpoch?.(record);
  }
  return {
    model,
    optimizer,
    metrics,
    position,
    seconds: (performance.now() - started) / 1000,
    samplesPerSecond: trainSeconds > 0 ? trainSamples / trainSeconds : 0,
  };
}

/** The first parameter or optimiser state holding a value that is not finite, with that value; null when all are finite. Reads every tensor back (one sync each). */
async function firstNonFinite(model: Sequential, optimizer: Optimizer): Promise<{ name: string; value: number } | null> {
  const optimized = new Set(optimizer.parameters);
  for (const p of model.parameters()) {
    const tensors: [string, Tensor][] = [[`parameter ${p.name}`, p.value]];
    if (optimized.has(p)) optimizer.state(p).forEach((t, i) => tensors.push([`the optimiser state ${i} of ${p.name}`, t]));
    for (const [name, tensor] of tensors) {
      const values = await tensor.backend.read(tensor);
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i])) return { name, value: values[i] };
      }
    }
  }
  return null;
}

const EPOCH_NUMBERS = ['trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy', 'seconds', 'evalSeconds', 'samplesPerSecond', 'lr'] as const;

/**
 * The metrics a checkpoint carries, checked to be the epoch records this loop writes (one per
 * epoch done, in order, finite numbers) and rebuilt from their known fields, so that the log a
 * resumed run rewrites holds nothing else; FormatError naming the record otherwise.
 */
function savedMetrics(checkpoint: Checkpoint): EpochMetrics[] {
  const { metrics, position } = checkpoint.manifest;
  const where = `${checkpoint.dir}: metrics`;
  if (metrics.length !== position.epoch) throw new FormatError(`${where} holds ${metrics.length} records but the run has done ${position.epoch} epochs`, 'metrics');
  let lastStep = 0;
  return metrics.map((value, i): EpochMetrics => {
    const bad = (why: string) => new FormatError(`${where}[${i}] is not an epoch record written by train: ${why}`, `metrics[${i}]`);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('not an object');
    const m = value as Record<string, unknown>;
    if (m.epoch !== i) throw bad(`epoch is ${printable(String(m.epoch))}, not ${i}`);
    if (!Number.isSafeInteger(m.step) || (m.step as number) < lastStep || (m.step as number) > position.step) {
      throw bad(`step is ${printable(String(m.step))}, not an integer in [${lastStep}, ${position.step}]`);
    }
    lastStep = m.step as number;
    for (const key of EPOCH_NUMBERS) if (typeof m[key] !== 'number' || !Number.isFinite(m[key])) throw bad(`${key} is not a finite number`);
    if (!Array.isArray(m.densities) || !m.densities.every((d) => typeof d === 'object' && d !== null && !Array.isArray(d))) throw bad('densities is not a list of objects');
    if (!Array.isArray(m.events) || !m.events.every((e) => typeof e === 'object' && e !== null && typeof (e as HookEvent).hook === 'string')) throw bad('events is not a list of hook events');
    const record = { epoch: i, step: lastStep } as EpochMetrics;
    for (const key of EPOCH_NUMBERS) record[key] = m[key] as number;
    record.densities = m.densities as LayerDensity[];
    record.events = m.events as HookEvent[];
    return record;
  });
}

/**
 * Appends `line` to the regular file at `path`, never through a symbolic link (O_NOFOLLOW) and not
 * to a file without write permission (as writeFileAtomic refuses); FileError otherwise.
 */
function appendLine(path: string, line: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_NOFOLLOW);
    const info = fstatSync(fd);
    if (!info.isFile()) throw new FileError(path, 'cannot append: not a regular file');
    if ((info.mode & 0o222) === 0) throw new FileError(path, 'cannot append: the file is read-only');
    const bytes = Buffer.from(line, 'utf8');
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  } catch (error) {
    if (error instanceof FileError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new FileError(path, 'cannot append: a symbolic link (a run never writes through one)');
    throw asFileError(path, 'append to', error);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
