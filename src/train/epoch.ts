/**
 * One epoch of training: the task's batches of the epoch, each a step (forward, loss, backward,
 * hooks, gradient clipping, the optimiser), with the loss and correct count accumulated on the
 * backend and read every `readEvery` steps and at the end; a checkpoint every `checkpointEvery`
 * steps within the epoch when asked for.
 */
import { performance } from 'node:perf_hooks';
import type { Tensor } from '../kernels/types.js';
import { progressBar, type Progress } from '../progress.js';
import type { Seed } from '../random.js';
import type { EpochProgress, TrainingPosition } from './checkpoint-manifest.js';
import { StepLosses } from './divergence.js';
import { clipGradNorm } from './gradient-clipping.js';
import type { HookEvent, StepContext, TrainingHook } from './hooks.js';
import type { Sequential } from './layers/sequential.js';
import type { Optimizer } from './optimizers.js';
import type { EpochTraining, StepBatch, TrainingTask } from './tasks.js';

/** Where a run is, reported after every step. */
export interface TrainProgress {
  epoch: number;
  epochs: number;
  /** Batches of this epoch done. */
  batch: number;
  batches: number;
  step: number;
}

export type { EpochProgress } from './checkpoint-manifest.js';

/** What one epoch of training runs with. */
export interface EpochPlan {
  model: Sequential;
  optimizer: Optimizer;
  hooks: readonly TrainingHook[];
  task: TrainingTask;
  batchSize: number;
  seed: Seed;
  readEvery: number;
  epoch: number;
  epochs: number;
  /** The batch to start at (a resumed epoch starts where its checkpoint was) and the run's step count there. */
  startBatch: number;
  step: number;
  /** The sums of the epoch's steps before `startBatch` (a resumed epoch), or null. */
  progress: EpochProgress | null;
  /** The last good checkpoint (or null), named by a divergence error; updated by checkpoints within the epoch. */
  lastGood: string | null;
  /** Clip the gradients' global norm to this (0: off). */
  clip: number;
  /** Checkpoint after every step that is a multiple of this (0: never within an epoch; the epoch's last step is left to the epoch's end). */
  checkpointEvery: number;
  /** Saves a checkpoint at `position` with the epoch's progress (`lastGood`: the last good checkpoint so far); returns its directory. */
  checkpoint?: (position: TrainingPosition, progress: EpochProgress, lastGood: string | null) => Promise<string>;
  showBar: boolean;
  onProgress?: (progress: TrainProgress) => void;
}

/** What an epoch's training steps did. */
export interface EpochResult extends EpochTraining {
  /** Steps done over the run at the end of the epoch. */
  step: number;
  /** The last good checkpoint at the epoch's end (a checkpoint within the epoch, or the plan's). */
  lastGood: string | null;
}

/** The running sums of an epoch. */
interface EpochSums {
  losses: StepLosses;
  correctSum: Tensor;
  events: HookEvent[];
  clippedSteps: number;
}

/**
 * Runs the training steps of one epoch; TrainingDivergedError when a step's loss is not finite.
 * The task's startEpoch runs first unless the epoch is resumed from a checkpoint within it.
 */
export async function runEpoch(plan: EpochPlan): Promise<EpochResult> {
  const { model, task, epoch, epochs } = plan;
  const backend = model.backend;
  const started = performance.now();
  const saved = plan.progress;
  const sums: EpochSums = {
    losses: new StepLosses(backend, epoch, plan.lastGood, saved?.loss ?? 0),
    correctSum: backend.tensor(Float32Array.of(saved?.correct ?? 0), [1]),
    events: [...(saved?.events ?? [])],
    clippedSteps: saved?.clippedSteps ?? 0,
  };
  const batchesPerEpoch = task.batchesPerEpoch(plan.batchSize);
  let samples = saved?.samples ?? 0;
  let step = plan.step;
  let batchIndex = plan.startBatch;
  let lastGood = plan.lastGood;
  let trainLoss: number;
  let trainCorrect: number;
  // Checkpoints within the epoch are not training time.
  let checkpointSeconds = 0;
  const elapsed = () => (saved?.seconds ?? 0) + (performance.now() - started) / 1000 - checkpointSeconds;
  if (plan.startBatch === 0) task.startEpoch(model);
  // One bar per epoch, cleared at its end, so that per-epoch log lines stay readable.
  const bar: Progress | null = plan.showBar ? progressBar(`epoch ${epoch + 1}/${epochs}`, process.stderr) : null;
  try {
    for (const batch of task.batches({ batchSize: plan.batchSize, seed: plan.seed, epoch, startBatch: plan.startBatch })) {
      await trainStep(plan, batch, step, sums);
      samples += batch.rows;
      step++;
      batchIndex++;
      if (sums.losses.unread >= plan.readEvery) await sums.losses.read(step);
      if (plan.checkpoint && plan.checkpointEvery > 0 && step % plan.checkpointEvery === 0 && batchIndex < batchesPerEpoch) {
        const loss = await sums.losses.read(step);
        const [correct] = await backend.read(sums.correctSum);
        const progress: EpochProgress = { samples, loss, correct, seconds: elapsed(), clippedSteps: sums.clippedSteps, events: [...sums.events] };
        const saving = performance.now();
        lastGood = await plan.checkpoint({ epoch, batch: batchIndex, step }, progress, lastGood);
        checkpointSeconds += (performance.now() - saving) / 1000;
        sums.losses.lastGood = lastGood;
      }
      bar?.update(batchIndex, batchesPerEpoch);
      plan.onProgress?.({ epoch, epochs, batch: batchIndex, batches: batchesPerEpoch, step });
    }
    trainLoss = (await sums.losses.read(step)) / Math.max(samples, 1);
    [trainCorrect] = await backend.read(sums.correctSum);
  } finally {
    bar?.stop();
    sums.losses.dispose();
    sums.correctSum.dispose();
  }
  return {
    step, samples, trainLoss, trainAccuracy: trainCorrect / Math.max(samples, 1), seconds: elapsed(), events: sums.events, clippedSteps: sums.clippedSteps, lastGood,
  };
}

/**
 * One step on `batch`: forward (with the batch's time steps), softmax cross-entropy, backward,
 * every hook's afterBackward (what it returns is added to the loss), gradient clipping (when on),
 * the optimiser step, every hook's afterStep (its event kept); the loss and correct count are
 * added to the epoch's sums on the backend.
 */
async function trainStep(plan: EpochPlan, batch: StepBatch, step: number, sums: EpochSums): Promise<void> {
  const { model, optimizer, hooks, epoch } = plan;
  const backend = model.backend;
  const x = backend.tensor(batch.x, [batch.rows, batch.features]);
  const labels = backend.tensor(batch.labels, [batch.rows]);
  const logits = await model.forward(x, { training: true, steps: batch.steps });
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
  if (plan.clip > 0 && (await clipGradNorm(optimizer.parameters, plan.clip)).clipped) sums.clippedSteps++;
  await optimizer.step();
  for (const hook of hooks) {
    const event = await hook.afterStep?.(context);
    if (event) sums.events.push({ ...event, hook: hook.name, epoch, step });
  }
  await sums.losses.add(loss, batch.rows, step);
  await backend.axpy(1, correct, sums.correctSum);
  correct.dispose();
}
