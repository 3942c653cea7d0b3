/**
 * The training loop: seeded epochs of minibatch steps on the backend, evaluation each epoch, a
 * JSONL metrics log, atomic checkpoints at epoch ends, exact resumption, and a typed error when
 * the loss diverges.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { asFileError, writeFileAtomic } from '../atomic-write.js';
import { checkInteger, checkOneOf } from '../check.js';
import { ParameterError } from '../errors.js';
import type { Backend, Tensor } from '../kernels/types.js';
import type { Seed } from '../random.js';
import { progressBar, type Progress } from '../progress.js';
import { applyCheckpoint, loadCheckpoint, restoreHooks, restoreModel, restoreOptimizer, saveCheckpoint, type TrainingPosition } from './checkpoint.js';
import { batchCount, batches } from './data/batches.js';
import { checkDataset, type Dataset } from './data/dataset.js';
import { TrainingDivergedError } from './errors.js';
import type { StepContext, TrainingHook } from './hooks.js';
import type { Sequential } from './layers/sequential.js';
import { layerDensities, type LayerDensity } from './model.js';
import type { Optimizer } from './optimizers.js';

/** The file names a run writes under its `outDir`. */
export const METRICS_FILE = 'metrics.jsonl';
export const CHECKPOINT_DIR = 'checkpoint';

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
  /** Where metrics.jsonl and checkpoint/ go (nothing is written without it). */
  outDir?: string;
  /** Called after every step. */
  onProgress?: (progress: TrainProgress) => void;
  /** Called with each epoch's metrics, after its checkpoint. */
  onEpoch?: (metrics: EpochMetrics) => void;
  /** When to checkpoint (default 'epoch' with an outDir). */
  checkpointEvery?: 'epoch' | 'never';
  /** A checkpoint directory to continue from (same seed and batch size as the saved run). */
  resumeFrom?: string;
  /** Read the accumulated loss (one device sync) every this many steps (default 50) and at epoch ends. */
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
 * metrics.jsonl under `outDir`. A NaN or infinite loss raises TrainingDivergedError naming the
 * first bad step; no checkpoint is written after it, so the last good one stays. With
 * `resumeFrom`, the run continues from the checkpoint and ends with exactly the weights an
 * uninterrupted run has (same seed, backend and thread count).
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

  let model = options.model;
  let optimizer = options.optimizer;
  let position: TrainingPosition = { epoch: 0, batch: 0, step: 0 };
  let metrics: EpochMetrics[] = [];
  if ((model === undefined) !== (optimizer === undefined)) throw new ParameterError(model ? 'optimizer' : 'model', 'given together with the other', undefined, context);
  if (options.resumeFrom !== undefined) {
    const checkpoint = loadCheckpoint(options.resumeFrom);
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
    metrics = saved.metrics as EpochMetrics[];
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
    try {
      mkdirSync(outDir, { recursive: true });
    } catch (error) {
      throw asFileError(outDir, 'create the directory', error);
    }
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
    const evalStart = performance.now();
    const test = await evaluate(model, options.test, evalBatchSize);
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
    if (metricsPath) {
      try {
        appendFileSync(metricsPath, `${JSON.stringify(record)}\n`);
      } catch (error) {
        throw asFileError(metricsPath, 'append to', error);
      }
    }
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
