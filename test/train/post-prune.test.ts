import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/kernels/types.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { BlockSparseLayer } from '../../src/train/layers/block-sparse-layer.js';
import { Linear } from '../../src/train/layers/linear.js';
import type { Sequential } from '../../src/train/layers/sequential.js';
import { buildCNN } from '../../src/train/cnn.js';
import { buildCharLSTM } from '../../src/train/language-model.js';
import { buildMLP } from '../../src/train/model.js';
import { pruneTrainedModel } from '../../src/train/post-prune.js';
import { cpuBackendsForTests } from '../helpers/cpu.js';

const makeBackend = cpuBackendsForTests();

/** Evaluation-mode logits of a model on x [rows, inFeatures]. */
async function logits(model: Sequential, x: Float32Array, rows: number): Promise<Float32Array> {
  const input = model.backend.tensor(x, [rows, model.inFeatures]);
  const out = await model.forward(input, { training: false });
  const values = Float32Array.from(await model.backend.read(out));
  input.dispose();
  out.dispose();
  return values;
}

function inputs(rows: number, features: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: rows * features }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
}

function expectClose(actual: Float32Array, expected: ArrayLike<number>, tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i])));
  expect(worst).toBeLessThan(tolerance);
}

/** A plain reference MLP forward: dense W [in, out] per layer (zeros where pruned), bias, relu between. */
function referenceMLP(layers: { w: Float32Array; b: Float32Array; in: number; out: number }[], x: Float32Array, rows: number): Float64Array {
  let h = Float64Array.from(x);
  layers.forEach((layer, l) => {
    const y = new Float64Array(rows * layer.out);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < layer.out; j++) {
        let sum = layer.b[j];
        for (let i = 0; i < layer.in; i++) sum += h[r * layer.in + i] * layer.w[i * layer.out + j];
        y[r * layer.out + j] = l < layers.length - 1 ? Math.max(0, sum) : sum;
      }
    }
    h = y;
  });
  return h;
}

/** Keeps, in a dense W [in, out], the `keep` bs x bs blocks of largest Frobenius norm (ties to the lower row-major block id) and zeroes the rest. */
function keepLargestBlocks(w: Float32Array, inFeatures: number, outFeatures: number, bs: number, keep: number): Float32Array {
  const [ib, ob] = [inFeatures / bs, outFeatures / bs];
  const norms: { id: number; norm: number }[] = [];
  for (let c = 0; c < ib; c++) {
    for (let k = 0; k < ob; k++) {
      let sum = 0;
      for (let i = 0; i < bs; i++) for (let j = 0; j < bs; j++) sum += w[(c * bs + i) * outFeatures + k * bs + j] ** 2;
      norms.push({ id: c * ob + k, norm: Math.fround(Math.sqrt(sum)) });
    }
  }
  norms.sort((a, b) => b.norm - a.norm || a.id - b.id);
  const kept = new Set(norms.slice(0, keep).map((n) => n.id));
  const out = Float32Array.from(w);
  for (let c = 0; c < ib; c++) {
    for (let k = 0; k < ob; k++) {
      if (kept.has(c * ob + k)) continue;
      for (let i = 0; i < bs; i++) for (let j = 0; j < bs; j++) out[(c * bs + i) * outFeatures + k * bs + j] = 0;
    }
  }
  return out;
}

async function denseWeights(backend: Backend, model: Sequential) {
  return Promise.all(
    model.layers.filter((l): l is Linear => l instanceof Linear).map(async (l) => ({
      w: Float32Array.from(await backend.read(l.weight.value)), b: Float32Array.from(await backend.read(l.bias!.value)), in: l.inFeatures, out: l.outFeatures,
    })),
  );
}

describe('pruneTrainedModel: block magnitude pruning after training', () => {
  it('cuts a dense MLP into blocks and keeps each hidden weight\'s largest blocks, as a plain reference does', async () => {
    const backend = await makeBackend({ threads: 1 });
    const dense = buildMLP(backend, { inputs: 32, hidden: [48, 32], classes: 5, seed: 4 });
    const x = inputs(7, 32);
    const weights = await denseWeights(backend, dense);

    // Sparsity 0: the same function, every weight but the output layer now blocks of 16 (48 = 3 x 16).
    const whole = await pruneTrainedModel(dense, { sparsity: 0, blockSize: 16 });
    expect(whole.model.layers.map((l) => l.kind)).toEqual(['block-sparse-linear', 'relu', 'block-sparse-linear', 'relu', 'linear']);
    expect(whole.weights.map((w) => [w.blocksBefore, w.blocksAfter, w.blocks, w.blockSize, w.wasDense])).toEqual([[6, 6, 6, 16, true], [6, 6, 6, 16, true]]);
    expectClose(await logits(whole.model, x, 7), await logits(dense, x, 7));
    whole.model.dispose();

    // Sparsity 0.5 with blocks of 8: round(0.5 x 24) = 12 blocks kept in each weight.
    const half = await pruneTrainedModel(dense, { sparsity: 0.5, blockSize: 8 });
    expect(half.weights.map((w) => [w.blocksBefore, w.blocksAfter, w.blocks, w.blockSize])).toEqual([[24, 12, 24, 8], [24, 12, 24, 8]]);
    const expected = referenceMLP(
      weights.map((w, i) => (i < 2 ? { ...w, w: keepLargestBlocks(w.w, w.in, w.out, 8, 12) } : w)),
      x,
      7,
    );
    expectClose(await logits(half.model, x, 7), expected, 1e-5);
    const layer = half.model.layers[0] as BlockSparseLayer;
    expect(layer.layout.provenance).toMatchObject({ generator: 'pruned', params: { method: 'magnitude', norm: 'l2', sparsity: 0.5, keep: 12, after: 'training' } });
    expect(layer.layout.provenance.sources?.[0]).toMatchObject({ generator: 'dense' });
    // The given model is untouched.
    expectClose(await logits(dense, x, 7), referenceMLP(weights, x, 7));
    half.model.dispose();
    dense.dispose();
  });

  it('prunes block-sparse weights further (never regrowing), and folds test-time L0 gates into the blocks', async () => {
    const backend = await makeBackend({ threads: 1 });
    const layout = (r: { inBlocks: number; outBlocks: number; blockSize: 8 | 16 | 32 }) => randomLayout({ ...r, density: 0.5, seed: 2 });
    const gated = buildMLP(backend, { inputs: 32, hidden: [32, 32], classes: 3, blockSize: 8, layout, sparseInput: true, l0: { dropRate: 0.5 }, seed: 9 });
    const sparse = gated.layers.filter((l): l is BlockSparseLayer => l instanceof BlockSparseLayer);
    // Gate logits from fully closed to fully open, so that folding matters.
    for (const l of sparse) {
      const n = l.layout.nnz;
      const values = Float32Array.from({ length: n }, (_, i) => -6 + (12 * i) / Math.max(1, n - 1));
      l.logAlpha!.value.dispose();
      l.logAlpha!.value = backend.tensor(values, [n]);
    }
    const x = inputs(5, 32, 3);
    const same = await pruneTrainedModel(gated, { sparsity: 0 });
    expect((same.model.layers[0] as BlockSparseLayer).logAlpha).toBeNull();
    expect(same.weights.map((w) => [w.blocksBefore, w.blocksAfter])).toEqual(sparse.map((l) => [l.layout.nnz, l.layout.nnz]));
    expectClose(await logits(same.model, x, 5), await logits(gated, x, 5));
    same.model.dispose();

    const pruned = await pruneTrainedModel(gated, { sparsity: 0.75 });
    // 16 blocks in each weight; round(0.25 x 16) = 4 kept (fewer than present).
    expect(pruned.weights.map((w) => w.blocksAfter)).toEqual([4, 4]);
    for (const l of pruned.model.blockSparseLayers()) expect(l.layout.nnz).toBe(4);
    pruned.model.dispose();
    gated.dispose();
  });

  it('keeps a CNN\'s and an LSTM\'s function at sparsity 0 and prunes their convolutions and gate weights', async () => {
    const backend = await makeBackend({ threads: 1 });
    const cnn = buildCNN(backend, { height: 8, width: 8, channels: [16, 32], blockSize: 8, classes: 4, seed: 5 });
    const images = inputs(3, 64, 7);
    const cut = await pruneTrainedModel(cnn, { sparsity: 0 });
    expectClose(await logits(cut.model, images, 3), await logits(cnn, images, 3), 1e-4);
    cut.model.dispose();
    const pruned = await pruneTrainedModel(cnn, { sparsity: 0.5 });
    // The stem stays fixed and dense; the two convolutions after it are pruned.
    expect(pruned.weights.map((w) => [w.blocks, w.blocksAfter])).toEqual([[4, 2], [8, 4]]);
    pruned.model.dispose();
    cnn.dispose();

    const lstm = buildCharLSTM(backend, { symbols: 11, embedding: 16, hidden: [16], blockSize: 8, seed: 6 });
    const chars = Float32Array.from([1, 4, 9, 2]);
    const lstmCut = await pruneTrainedModel(lstm, { sparsity: 0 });
    expectClose(await logits(lstmCut.model, chars, 4), await logits(lstm, chars, 4), 1e-5);
    lstmCut.model.dispose();
    const lstmPruned = await pruneTrainedModel(lstm, { sparsity: 0.5, blockSize: 8 });
    expect(lstmPruned.weights.map((w) => [w.part, w.blocks, w.blocksAfter])).toEqual([['input', 16, 8], ['recurrent', 16, 8]]);
    lstmPruned.model.dispose();
    lstm.dispose();
  });

  it('names bad input', async () => {
    const backend = await makeBackend({ threads: 1 });
    const model = buildMLP(backend, { inputs: 16, hidden: [16], classes: 2 });
    await expect(pruneTrainedModel(model, { sparsity: 1 })).rejects.toThrow(/sparsity must be a number in \[0, 1\)/);
    await expect(pruneTrainedModel(model, { sparsity: -0.1 })).rejects.toThrow(/sparsity/);
    await expect(pruneTrainedModel(model, { sparsity: 0.5, blockSize: 12 as 8 })).rejects.toThrow(/blockSize/);
    const tiny = buildMLP(backend, { inputs: 3, hidden: [5], classes: 2 });
    await expect(pruneTrainedModel(tiny, { sparsity: 0.5 })).rejects.toThrow(/model must be a model with a weight to prune/);
    model.dispose();
    tiny.dispose();
  });
});
