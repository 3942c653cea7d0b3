import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { batchCount } from '../../src/train/data/batches.js';
import type { Dataset } from '../../src/train/data/dataset.js';
import { gaussianBlobs } from '../../src/train/data/synthetic.js';
import { TrainingDivergedError } from '../../src/train/errors.js';
import type { TrainingHook } from '../../src/train/hooks.js';
import { l0Hook } from '../../src/train/sparsity/l0.js';
import type { Sequential } from '../../src/train/layers/sequential.js';
import type { EpochMetrics } from '../../src/train/epoch-metrics.js';
import { train } from '../../src/train/loop.js';
import { buildMLP, layerDensities, parameterCount } from '../../src/train/model.js';
import { Adam, type Optimizer } from '../../src/train/optimizers.js';
import { trainingStateBits } from '../helpers/training-state.js';

/*
 * The training loop on the CPU backend with one thread (the same arithmetic in the same order on
 * every run), on Gaussian blobs: 240 examples of 16 features in 4 classes, an MLP 16 -> 32 -> 32 -> 4
 * whose middle layer is block-sparse (4 x 4 blocks of 8, 10 present) with L0 gates, trained by Adam.
 */

let backend: CpuBackend;
let dir: string;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
  dir = mkdtempSync(join(tmpdir(), 'blocksparse-loop-'));
});
afterAll(async () => {
  await backend.dispose();
});

const blobs = gaussianBlobs({ n: 240, features: 16, classes: 4, seed: 'loop', spread: 2 });
const split = (from: number, to: number): Dataset => ({
  ...blobs,
  images: blobs.images.slice(from * 16, to * 16),
  labels: blobs.labels.slice(from, to),
  n: to - from,
});
const trainSet = split(0, 200);
const testSet = split(200, 240);
const BATCH = 32; // 7 batches an epoch, the last of 8 examples

function makeModel(): { model: Sequential; optimizer: Optimizer } {
  const model = buildMLP(backend, {
    inputs: 16, hidden: [32, 32], classes: 4, blockSize: 8, seed: 5, l0: { dropRate: 0.3 },
    layout: ({ inBlocks, outBlocks, blockSize }) => randomLayout({ inBlocks, outBlocks, blockSize, nnz: 10, seed: 9 }),
  });
  return { model, optimizer: new Adam(model.parameters(), { lr: 0.01, weightDecay: 1e-3, decoupled: true }) };
}

/** A hook with state: counts steps and reports an event every 5 steps (its state must survive a resume). */
function counterHook(): TrainingHook & { count: number } {
  const hook = {
    name: 'counter',
    count: 0,
    async afterStep() {
      hook.count++;
      return hook.count % 5 === 0 ? { count: hook.count } : undefined;
    },
    state: () => ({ count: hook.count }),
    restore: (state: unknown) => {
      hook.count = (state as { count: number }).count;
    },
  };
  return hook;
}

const snapshot = (model: Sequential, optimizer: Optimizer) => trainingStateBits(backend, model, optimizer);

const withoutTimes = (m: EpochMetrics) => ({ ...m, seconds: 0, evalSeconds: 0, samplesPerSecond: 0, charactersPerSecond: 0 });

describe('train', () => {
  it('learns the blobs, logs one JSONL line per epoch, checkpoints at each epoch end', async () => {
    const { model, optimizer } = makeModel();
    const out = join(dir, 'plain');
    const progress: number[] = [];
    const result = await train({
      model, optimizer, train: trainSet, test: testSet, epochs: 3, batchSize: BATCH, seed: 1, outDir: out, readEvery: 3,
      hooks: [l0Hook({ lambda: 1e-4 })], onProgress: (p) => progress.push(p.step),
    });
    expect(progress).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(result.metrics.map((m) => m.step)).toEqual([7, 14, 21]);
    expect(result.metrics[2].trainAccuracy).toBeGreaterThan(0.9);
    expect(result.metrics[2].testAccuracy).toBeGreaterThan(0.85);
    expect(result.metrics[2].trainLoss).toBeLessThan(result.metrics[0].trainLoss);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatchObject({ epoch: 1, step: 14, densities: [{ layer: 0, density: 1 }, { layer: 2, density: 10 / 16, nnz: 10 }, { layer: 4, density: 1 }] });
    expect(lines[0].testAccuracy).toBe(result.metrics[0].testAccuracy);
    const checkpoint = loadCheckpoint(join(out, 'checkpoint'));
    expect(checkpoint.manifest.position).toEqual({ epoch: 3, batch: 0, step: 21 });
    expect(checkpoint.manifest.metrics).toHaveLength(3);
    // 16*32 + 32, 10 blocks of 8x8 + 32, 32*4 + 4
    expect(parameterCount(model)).toBe(16 * 32 + 32 + 10 * 64 + 32 + 32 * 4 + 4);
    expect(layerDensities(model).map((d) => d.density)).toEqual([1, 10 / 16, 1]);
    model.dispose();
    optimizer.dispose();
  });

  it('resumed from a checkpoint, ends with exactly the weights, optimiser state and metrics of an uninterrupted run', async () => {
    // Uninterrupted: 3 epochs.
    const a = makeModel();
    const hookA = counterHook();
    const runA = await train({ ...a, train: trainSet, test: testSet, epochs: 3, batchSize: BATCH, seed: 7, hooks: [l0Hook({ lambda: 1e-3 }), hookA], outDir: join(dir, 'a'), readEvery: 4 });
    const expected = await snapshot(a.model, a.optimizer);

    // Interrupted after 2 epochs, then resumed twice: into a fresh model, and with the model rebuilt from the checkpoint.
    const b = makeModel();
    await train({ ...b, train: trainSet, test: testSet, epochs: 2, batchSize: BATCH, seed: 7, hooks: [l0Hook({ lambda: 1e-3 }), counterHook()], outDir: join(dir, 'b') });
    b.model.dispose();
    const c = makeModel();
    const hookC = counterHook();
    const resumed = await train({
      ...c, train: trainSet, test: testSet, epochs: 3, batchSize: BATCH, seed: 7, hooks: [l0Hook({ lambda: 1e-3 }), hookC], readEvery: 2,
      resumeFrom: join(dir, 'b', 'checkpoint'), outDir: join(dir, 'c'),
    });
    const rebuilt = await train({
      backend, train: trainSet, test: testSet, epochs: 3, batchSize: BATCH, seed: 7, hooks: [l0Hook({ lambda: 1e-3 }), counterHook()],
      resumeFrom: join(dir, 'b', 'checkpoint'),
    });

    for (const run of [resumed, rebuilt]) {
      const got = await snapshot(run.model, run.optimizer);
      expect([...got.keys()]).toEqual([...expected.keys()]);
      for (const [name, bits] of expected) expect(got.get(name), name).toEqual(bits);
      expect(run.optimizer.steps).toBe(21);
      expect(run.metrics.map(withoutTimes)).toEqual(runA.metrics.map(withoutTimes));
    }
    expect(hookC.count).toBe(hookA.count);
    expect(runA.metrics[2].events).toEqual([{ hook: 'counter', epoch: 2, step: 14, count: 15 }, { hook: 'counter', epoch: 2, step: 19, count: 20 }]);
    // the resumed run's log holds all three epochs: two from the checkpoint, one new
    expect(readFileSync(join(dir, 'c', 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    for (const run of [a, c, rebuilt]) run.model.dispose();
  });

  it('stops with TrainingDivergedError naming the first NaN step, and keeps the last good checkpoint', async () => {
    const { model, optimizer } = makeModel();
    const out = join(dir, 'nan');
    // Step 9 (epoch 1, batch 2) gets a NaN added to its loss; the loss is read every 4 steps, at step 12.
    const poison: TrainingHook = {
      name: 'poison',
      async afterBackward({ step }) {
        return step === 9 ? backend.tensor(new Float32Array([Number.NaN]), [1]) : undefined;
      },
    };
    const error = await train({ model, optimizer, train: trainSet, test: testSet, epochs: 3, batchSize: BATCH, seed: 2, hooks: [poison], outDir: out, readEvery: 4 })
      .then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingDivergedError);
    expect(error).toMatchObject({ step: 9, epoch: 1, checkpoint: join(out, 'checkpoint') });
    expect(Number.isNaN((error as TrainingDivergedError).loss)).toBe(true);
    expect((error as Error).message).toMatch(/loss is NaN at step 9 \(epoch 1\)/);
    const kept = loadCheckpoint(join(out, 'checkpoint'));
    expect(kept.manifest.position).toEqual({ epoch: 1, batch: 0, step: batchCount(200, BATCH) });
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(out, 'checkpoint.previous'))).toBe(false);
    model.dispose();
  });

  it('checkpoints every N steps within an epoch: a divergence keeps the last one, and a run resumed from it ends as an uninterrupted one', async () => {
    // 'poison' adds a NaN to the loss of step 9 (epoch 1, batch 2) when armed; the same hook, unarmed, in every run.
    const poison = (armed: boolean): TrainingHook => ({
      name: 'poison',
      async afterBackward({ step }) {
        return armed && step === 9 ? backend.tensor(new Float32Array([Number.NaN]), [1]) : undefined;
      },
    });
    const common = { train: trainSet, test: testSet, epochs: 2, batchSize: BATCH, seed: 4, checkpointEvery: 3, readEvery: 4 } as const;
    const a = makeModel();
    const runA = await train({ ...a, ...common, hooks: [l0Hook({ lambda: 1e-3 }), counterHook(), poison(false)], outDir: join(dir, 'within-a') });
    const expected = await snapshot(a.model, a.optimizer);

    const b = makeModel();
    const out = join(dir, 'within-b');
    const error = await train({ ...b, ...common, hooks: [l0Hook({ lambda: 1e-3 }), counterHook(), poison(true)], outDir: out }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingDivergedError);
    expect(error).toMatchObject({ step: 9, epoch: 1, checkpoint: join(out, 'checkpoint') });
    // Checkpoints after 3 and 6 steps, 7 (epoch 0's end) and 9: the last is 2 batches into epoch 1.
    const kept = loadCheckpoint(join(out, 'checkpoint'));
    expect(kept.manifest.position).toEqual({ epoch: 1, batch: 2, step: 9 });
    expect(kept.manifest.version).toBe(3);
    expect(kept.manifest.progress).toMatchObject({ samples: 2 * BATCH, clippedSteps: 0 });

    const c = makeModel();
    const resumed = await train({ ...c, ...common, hooks: [l0Hook({ lambda: 1e-3 }), counterHook(), poison(false)], resumeFrom: join(out, 'checkpoint'), outDir: out });
    const got = await snapshot(resumed.model, resumed.optimizer);
    for (const [name, bits] of expected) expect(got.get(name), name).toEqual(bits);
    expect(resumed.metrics.map(withoutTimes)).toEqual(runA.metrics.map(withoutTimes));
    for (const m of [a.model, b.model, c.model]) m.dispose();
  });

  it('refuses a resume with another seed or batch size, naming it', async () => {
    const resumeFrom = join(dir, 'b', 'checkpoint');
    const common = { backend, train: trainSet, test: testSet, epochs: 3, hooks: [l0Hook({ lambda: 1e-3 }), counterHook()], resumeFrom };
    await expect(train({ ...common, batchSize: BATCH, seed: 8 })).rejects.toThrow(/seed must be the saved run's seed \(7\)/);
    await expect(train({ ...common, batchSize: 16, seed: 7 })).rejects.toThrow(/batchSize must be the saved run's batch size \(32\)/);
    await expect(train({ ...common, batchSize: BATCH, seed: 7, hooks: [] })).rejects.toThrow(/hook "l0-penalty"|state of hook/);
  });
});
