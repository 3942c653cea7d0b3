import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { restoreModel } from '../../src/train/checkpoint-restore.js';
import { CharVocabulary } from '../../src/train/data/char-vocabulary.js';
import type { LanguageModelEpochMetrics } from '../../src/train/epoch-metrics.js';
import type { TrainingHook } from '../../src/train/hooks.js';
import { buildCharLSTM, gateSharedLayout } from '../../src/train/language-model.js';
import { describeModel } from '../../src/train/model.js';
import type { Sequential } from '../../src/train/layers/sequential.js';
import { train } from '../../src/train/loop.js';
import { Adam, type Optimizer } from '../../src/train/optimizers.js';
import { l0Hook } from '../../src/train/sparsity/l0.js';
import { gradualPruning } from '../../src/train/sparsity/prune.js';
import { riglRegrowth, setRegrowth } from '../../src/train/sparsity/regrow.js';
import type { TextData } from '../../src/train/tasks.js';
import { FAST_TIER } from '../helpers/tier.js';
import { tempDir } from '../helpers/temp-dir.js';
import { trainingStateBits } from '../helpers/training-state.js';

/*
 * A character-level LSTM trained through `train({ text })` on the CPU backend (one thread: the same
 * bytes every run), on a periodic text, "hello world\n" repeated: it learns it to a small fraction
 * of a bit per character, and a run interrupted within an epoch and resumed from its checkpoint
 * ends with the bytes of an uninterrupted one.
 */

const dir = tempDir('blocksparse-lm-train-');
let backend: CpuBackend;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
});
afterAll(async () => {
  await backend.dispose();
});

const PERIOD = 'hello world\n';
const corpus = PERIOD.repeat(175); // 2100 characters
const vocabulary = CharVocabulary.fromTexts([corpus]);
const encoded = vocabulary.encode(corpus);
/** 1500 characters to train on, 300 to validate, 300 to test. */
const text: TextData = { train: encoded.subarray(0, 1500), validation: encoded.subarray(1500, 1800), test: encoded.subarray(1800), steps: 8, vocabulary };

/**
 * The text's unigram entropy in closed form: in each period of 12 characters 'l' appears 3 times,
 * 'o' twice and 7 others once, so H = log2 12 - (3 log2 3 + 2 log2 2) / 12 = 3.0220552 bits.
 */
const UNIGRAM_ENTROPY = Math.log2(12) - (3 * Math.log2(3) + 2) / 12;

function makeModel(): { model: Sequential; optimizer: Optimizer } {
  const model = buildCharLSTM(backend, {
    symbols: vocabulary.size, embedding: 8, hidden: [16, 16], blockSize: 8, seed: 5, sparseInput: true, l0: { lrScale: 10 },
    layout: ({ role, index, inBlocks, outBlocks, blockSize }) => randomLayout({ inBlocks, outBlocks, blockSize, nnz: role === 'input' ? Math.min(inBlocks, outBlocks) : 3, seed: `${role}${index}` }),
  });
  return { model, optimizer: new Adam(model.parameters(), { lr: 0.02 }) };
}

/** Stops the run (as a crash would) after the step `at` (counted from 0), before anything else is written. */
function interruptAt(at: number): TrainingHook {
  return {
    name: 'interrupt',
    async afterStep({ step }) {
      if (step === at) throw new Error('interrupted');
    },
  };
}

const snapshot = (model: Sequential, optimizer: Optimizer) => trainingStateBits(backend, model, optimizer);

const withoutTimes = (m: LanguageModelEpochMetrics) => ({ ...m, seconds: 0, evalSeconds: 0, charactersPerSecond: 0 });

describe.skipIf(FAST_TIER)('training a character-level LSTM', () => {
  it('learns a periodic text to far below its unigram entropy; reports bits per character over the whole held-out texts', async () => {
    expect(UNIGRAM_ENTROPY).toBeCloseTo(3.0220552, 6);
    const { model, optimizer } = makeModel();
    const out = join(dir, 'learn');
    // Evaluated as one stream: every stream starts from a zero state, and its first characters cost
    // bits that no model of this text can save (after a lone "l" comes "l", "o" or "d").
    const result = await train({ model, optimizer, text, epochs: 4, batchSize: 4, seed: 1, clip: 1, evalBatchSize: 1, hooks: [l0Hook({ lambda: 1e-5 })], outDir: out });
    // floor((1499 / 4 - 8 + 1) / 8) = 45 batches of 4 x 8 characters an epoch
    expect(result.metrics.map((m) => m.step)).toEqual([45, 90, 135, 180]);
    const last = result.metrics[3];
    expect(last.validationBpc).toBeLessThan(0.25);
    expect(last.validationBpc).toBeLessThan(UNIGRAM_ENTROPY / 10);
    expect(last.testBpc).toBeLessThan(0.25);
    expect(result.metrics.slice(0, 3).map((m) => m.testBpc)).toEqual([null, null, null]);
    expect(last.trainBpc).toBeCloseTo(last.trainLoss / Math.LN2, 12);
    expect(last.validationBpc).toBeCloseTo(last.validationLoss / Math.LN2, 12);
    expect(result.metrics[0].trainBpc).toBeGreaterThan(last.trainBpc);
    expect(last.clippedSteps).toBeGreaterThanOrEqual(0);
    expect(result.samplesPerSecond).toBeGreaterThan(0);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.validationBpc)).toEqual(result.metrics.map((m) => m.validationBpc));
    expect(lines[3]).toMatchObject({ epoch: 3, step: 180, testBpc: last.testBpc });
    const checkpoint = loadCheckpoint(join(out, 'checkpoint'));
    expect(checkpoint.manifest.vocabulary).toEqual(vocabulary.toJSON());
    expect(checkpoint.manifest.run).toMatchObject({ batchSize: 4, task: 'language-model', steps: 8, clip: 1 });
    // The evaluation resets the carried state: none at an epoch's end.
    expect(checkpoint.manifest.state).toEqual([]);
    model.dispose();
    optimizer.dispose();
  }, 60_000);

  it('interrupted within an epoch and resumed from its checkpoint, ends with the bytes and metrics of an uninterrupted run', async () => {
    const common = { text, epochs: 2, batchSize: 4, seed: 9, clip: 0.1, checkpointEvery: 7 } as const;
    const a = makeModel();
    const runA = await train({ ...a, ...common, hooks: [l0Hook({ lambda: 1e-4 }), interruptAt(-1)], outDir: join(dir, 'a') });
    const expected = await snapshot(a.model, a.optimizer);

    // Stopped after step 60 (epoch 1, batch 15): the last checkpoint is at step 56 (epoch 1, batch 11), its state carried.
    const b = makeModel();
    await expect(train({ ...b, ...common, hooks: [l0Hook({ lambda: 1e-4 }), interruptAt(60)], outDir: join(dir, 'b') })).rejects.toThrow('interrupted');
    const saved = loadCheckpoint(join(dir, 'b', 'checkpoint'));
    expect(saved.manifest.position).toEqual({ epoch: 1, batch: 11, step: 56 });
    expect(saved.manifest.progress).toMatchObject({ samples: 11 * 32, correct: expect.any(Number) });
    expect(saved.manifest.state.map((s) => s.h.shape)).toEqual([[4, 16], [4, 16]]);
    expect(saved.manifest.metrics).toHaveLength(1);

    // Resumed twice: with the model rebuilt from the checkpoint, and into a fresh model.
    const rebuilt = await train({ ...common, backend, hooks: [l0Hook({ lambda: 1e-4 }), interruptAt(-1)], resumeFrom: join(dir, 'b', 'checkpoint'), outDir: join(dir, 'c') });
    const fresh = makeModel();
    const into = await train({ ...fresh, ...common, hooks: [l0Hook({ lambda: 1e-4 }), interruptAt(-1)], resumeFrom: join(dir, 'b', 'checkpoint') });
    for (const run of [rebuilt, into]) {
      const got = await snapshot(run.model, run.optimizer);
      expect([...got.keys()]).toEqual([...expected.keys()]);
      for (const [name, value] of expected) expect(got.get(name), name).toEqual(value);
      expect(run.metrics.map(withoutTimes)).toEqual(runA.metrics.map(withoutTimes));
    }
    expect(runA.metrics[1].clippedSteps).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'c', 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    for (const m of [a.model, rebuilt.model, fresh.model]) m.dispose();
  }, 60_000);

  it('refuses a resume with other steps, clipping or vocabulary, naming it', async () => {
    const resumeFrom = join(dir, 'b', 'checkpoint');
    const common = { backend, epochs: 2, batchSize: 4, seed: 9, clip: 0.1, hooks: [l0Hook({ lambda: 1e-4 }), interruptAt(-1)], resumeFrom };
    await expect(train({ ...common, text: { ...text, steps: 4 } })).rejects.toThrow(/text\.steps must be the saved run's steps \(8\)/);
    await expect(train({ ...common, clip: 1, text })).rejects.toThrow(/clip must be the saved run's clip \(0\.1\)/);
    const other = CharVocabulary.fromTexts([`${corpus}!`]);
    await expect(train({ ...common, text: { ...text, vocabulary: other } })).rejects.toThrow(/text\.vocabulary must be the saved run's vocabulary \(9 characters\)/);
  });

  it('prunes the LSTMs\' block-sparse weights through Sequential.blockSparseLayers', async () => {
    const { model, optimizer } = makeModel();
    const layers = model.blockSparseLayers();
    const before = layers.map((l) => l.layout.nnz);
    expect(before).toEqual([4, 12, 8, 12]);
    const pruning = () => gradualPruning({ layers, schedule: { initial: 0, final: 0.5, begin: 0, end: 20, frequency: 10 } });
    const out = join(dir, 'pruned');
    const result = await train({ model, optimizer, text, epochs: 1, batchSize: 4, seed: 2, hooks: [pruning()], outDir: out });
    expect(layers.map((l) => l.layout.nnz)).toEqual([2, 6, 4, 6]);
    expect(result.metrics[0].events.map((e) => e.step)).toEqual([10, 20]);
    expect(result.metrics[0].densities.filter((d) => d.part === 'recurrent').map((d) => d.nnz)).toEqual([6, 6]);
    // Each gate is pruned on its own blocks, so the layouts are no longer shared, but for the second
    // LSTM's input weights, which kept block (0, 0) in all four gates and nothing else.
    expect(layers.map((l) => gateSharedLayout(l.layout)?.nnz ?? null)).toEqual([null, null, 1, null]);
    // The checkpoint rebuilds them as pruned.
    const restored = restoreModel(loadCheckpoint(join(out, 'checkpoint')), backend);
    expect(restored.blockSparseLayers().every((l, i) => l.layout.equals(layers[i].layout))).toBe(true);
    expect(describeModel(restored)).toEqual(describeModel(model));
    restored.dispose();
    model.dispose();
    optimizer.dispose();
  });

  it('regrows the LSTMs\' block-sparse weights (RigL from the dense gradient over all steps, SET at random), keeping each layer\'s block count', async () => {
    for (const method of ['rigl', 'set'] as const) {
      const { model, optimizer } = makeModel();
      const layers = model.blockSparseLayers();
      const before = layers.map((l) => l.layout);
      const hook = method === 'rigl' ? riglRegrowth({ layers, every: 5, alpha: 0.5, end: 100 }) : setRegrowth({ layers, every: 5, dropFraction: 0.5, seed: 3 });
      const result = await train({ model, optimizer, text, epochs: 1, batchSize: 4, seed: 2, hooks: [hook], outDir: join(dir, `regrown-${method}`) });
      expect(Number.isFinite(result.metrics[0].trainLoss)).toBe(true);
      expect(result.metrics[0].events.length, method).toBeGreaterThan(0);
      expect(layers.map((l) => l.layout.nnz), method).toEqual(before.map((l) => l.nnz));
      // Blocks moved in at least one layer (input or recurrent, 2 x 8 blocks each).
      expect(layers.some((l, i) => !l.layout.equals(before[i])), method).toBe(true);
      const restored = restoreModel(loadCheckpoint(join(dir, `regrown-${method}`, 'checkpoint')), backend);
      expect(restored.blockSparseLayers().every((l, i) => l.layout.equals(layers[i].layout)), method).toBe(true);
      restored.dispose();
      model.dispose();
      optimizer.dispose();
    }
  });
});
