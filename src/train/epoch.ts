/**
 * One epoch of training: the seeded batches of the epoch, each a step (forward, loss, backward,
 * hooks, the optimiser), with the loss and correct count accumulated on the backend and read every
 * `readEvery` steps and at the end.
 */
import { performance } from 'node:perf_hooks';
import type { Tensor } from '../kernels/types.js';
import { progressBar, type Progress } from '../progress.js';
import type { Seed } from '../random.js';
import { batchCount, batches, type Batch } from './data/batches.js';
import type { Dataset } from './data/dataset.js';
import { StepLosses } from './divergence.js';
import type { HookEvent } from './epoch-metrics.js';
import type { StepContext, TrainingHook } from './hooks.js';
import type { Sequential } from './layers/sequential.js';
import type { Optimizer } from './optimizers.js';

/** Where a run is, reported after every step. */
export interface TrainProgress {
  epoch: number;
  epochs: number;
  /** Batches of this epoch done. */
  batch: number;
  batches: number;
  step: number;
}

/** What one epoch of training runs with. */
export interface EpochPlan {
  model: Sequential;
  optimizer: Optimizer;
  hooks: readonly TrainingHook[];
  data: Dataset;
  batchSize: number;
  seed: Seed;
  readEvery: number;
  epoch: number;
  epochs: number;
  /** The batch to start at (a resumed epoch starts where its checkpoint was) and the run's step count there. */
  startBatch: number;
  step: number;
  /** The last good checkpoint (or null), named by a divergence error. */
  lastGood: string | null;
  showBar: boolean;
  onProgress?: (progress: TrainProgress) => void;
}

/** What an epoch's training steps did. */
export interface EpochResult {
  /** Steps done over the run at the end of the epoch. */
  step: number;
  samples: number;
  trainLoss: number;
  trainAccuracy: number;
  /** Seconds of the training steps. */
  seconds: number;
  events: HookEvent[];
}

/** Runs the training steps of one epoch; TrainingDivergedError when a step's loss is not finite. */
export async function runEpoch(plan: EpochPlan): Promise<EpochResult> {
  const { model, data, epoch, epochs } = plan;
  const backend = model.backend;
  const started = performance.now();
  const events: HookEvent[] = [];
  const losses = new StepLosses(backend, epoch, plan.lastGood);
  const correctSum = backend.zeros([1]);
  const batchesPerEpoch = batchCount(data.n, plan.batchSize);
  let samples = 0;
  let step = plan.step;
  let batchIndex = plan.startBatch;
  let trainLoss: number;
  let trainCorrect: number;
  // One bar per epoch, cleared at its end, so that per-epoch log lines stay readable.
  const bar: Progress | null = plan.showBar ? progressBar(`epoch ${epoch + 1}/${epochs}`, process.stderr) : null;
  try {
    for (const batch of batches(data, { batchSize: plan.batchSize, seed: plan.seed, epoch, startBatch: plan.startBatch })) {
      await trainStep(plan, batch, step, { losses, correctSum, events });
      samples += batch.size;
      step++;
      batchIndex++;
      if (losses.unread >= plan.readEvery) await losses.read(step);
      bar?.update(batchIndex, batchesPerEpoch);
      plan.onProgress?.({ epoch, epochs, batch: batchIndex, batches: batchesPerEpoch, step });
    }
    trainLoss = (await losses.read(step)) / Math.max(samples, 1);
    [trainCorrect] = await backend.read(correctSum);
  } finally {
    bar?.stop();
    losses.dispose();
    correctSum.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  return { step, samples, trainLoss, trainAccuracy: trainCorrect / Math.max(samples, 1), seconds, events };
}

/**
 * One step on `batch`: forward, softmax cross-entropy, backward, every hook's afterBackward (what
 * it returns is added to the loss), the optimiser step, every hook's afterStep (its event kept);
 * the loss and correct count are added to the epoch's sums on the backend.
 */
async function trainStep(plan: EpochPlan, batch: Batch, step: number, sums: { losses: StepLosses; correctSum: Tensor; events: HookEvent[] }): Promise<void> {
  const { model, optimizer, hooks, epoch } = plan;
  const backend = model.backend;
  const x = backend.tensor(batch.x, [batch.size, plan.data.features]);
  const labels = backend.tensor(Float32Array.from(batch.y), [batch.size]);
  const logits = await model.forward(x, { training: true });
  const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
  logits.dispose();
  await model.backward(dlogits);
  for (const t of [dlogits, x, labels]) t.dispose();
  const context: StepContext = { step, epoch, model, optimizer, backend, loss };
  for (const hook of hooks) {
    const extra = await hook.afterBackward?.(context);
    if (extra) {
      await backend.axpy(1, extra, loss);
      extra.dispose();
    }
  }
  await optimizer.step();
  for (const hook of hooks) {
    const event = await hook.afterStep?.(context);
    if (event) sums.events.push({ ...event, hook: hook.name, epoch, step });
  }
  await sums.losses.add(loss, batch.size, step);
  await backend.axpy(1, correct, sums.correctSum);
  correct.dispose();
}
