import ndarray from 'ndarray';
import { describe, expect, it } from 'vitest';
import { FAST_TIER } from './helpers/tier.js';
// The kernel and training examples of the manual (docs/kernels.md and docs/training.md, moved there
// from the README), through the package's public entry point.
import { Activation, Adam, BlockSparseLinear, buildPattern, getBackend, Linear, Sequential } from '../src/index.js';

describe('README kernel and training examples', () => {
  it('runs the three products on the auto backend', async () => {
    const layout = buildPattern('watts-strogatz', { blocks: 16, blockSize: 32, seed: 1, params: { k: 4, p: 0.1 } });
    const backend = await getBackend('auto', { log: () => {} });
    try {
      const X = backend.tensor(new Float32Array(8 * layout.inFeatures).fill(1), [8, layout.inFeatures]);
      const W = backend.tensor(ndarray(new Float32Array(layout.nnz * 32 * 32).fill(0.5), [layout.nnz, 32, 32]));
      const Y = await backend.forward(layout, X, W);
      // Every output feature sums 32 inputs of 1 times 0.5 over each input block feeding it (fan-in 5: k = 4 plus the diagonal).
      const y = await backend.read(Y);
      const fanIn = layout.inDegrees();
      for (let j = 0; j < layout.outFeatures; j += 37) expect(y[j]).toBe(16 * fanIn[Math.floor(j / 32)]);
      const dX = await backend.backwardData(layout, Y, W);
      expect(dX.shape).toEqual([8, layout.inFeatures]);
      const { dw } = await backend.weightGrad(layout, X, Y);
      expect((await backend.readNdarray(dw)).shape).toEqual([layout.nnz, 32, 32]);
    } finally {
      await backend.dispose();
    }
  });

  it('trains a model with a block-sparse hidden layer', async () => {
    const backend = await getBackend('cpu', { threads: 1 });
    try {
      const layout = buildPattern('watts-strogatz', { blocks: 8, blockSize: 8, seed: 1, params: { k: 4, p: 0.1 } });
      const model = new Sequential([
        new Linear(backend, 12, 64, { seed: 1 }), new Activation(backend, 'relu', 64),
        new BlockSparseLinear(backend, layout, { seed: 2 }), new Activation(backend, 'relu', 64),
        new Linear(backend, 64, 3, { seed: 3 }),
      ]);
      const optimizer = new Adam(model.parameters(), { lr: 1e-2 });
      const x = backend.tensor(Float32Array.from({ length: 6 * 12 }, (_v, i) => Math.sin(i)), [6, 12]);
      const labels = backend.tensor(new Float32Array([0, 1, 2, 0, 1, 2]), [6]);
      const losses: number[] = [];
      for (let step = 0; step < 40; step++) {
        const logits = await model.forward(x, { training: true });
        const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
        await model.backward(dlogits);
        await optimizer.step();
        losses.push((await backend.read(loss))[0]);
        for (const t of [logits, loss, dlogits, correct]) t.dispose();
      }
      expect(losses[0]).toBeCloseTo(Math.log(3), 0);
      expect(losses[39]).toBeLessThan(0.2 * losses[0]);
      model.dispose();
      optimizer.dispose();
    } finally {
      await backend.dispose();
    }
  });
});

describe.skipIf(FAST_TIER)('README training-loop example', () => {
  it('prunes during train() and records the provenance', async () => {
    const { buildMLP, train, Adam, gradualPruning, loadFashionMNIST, buildPatternSpec, BlockSparseLinear } = await import('../src/index.js');
    const backend = await getBackend('cpu', { threads: 1 });
    try {
      const model = buildMLP(backend, { hidden: [64, 64], blockSize: 16, seed: 1,
        layout: ({ inBlocks, outBlocks, blockSize }) => buildPatternSpec('dense', { inBlocks, outBlocks, blockSize }) });
      const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
      const layers = model.layers.filter((l): l is InstanceType<typeof BlockSparseLinear> => l instanceof BlockSparseLinear);
      await train({
        model, optimizer, train: loadFashionMNIST({ split: 'train', limit: 256 }), test: loadFashionMNIST({ split: 'test', limit: 100 }),
        epochs: 1, batchSize: 32, seed: 1,
        hooks: [gradualPruning({ layers, schedule: { initial: 0, final: 0.5, begin: 0, end: 6, frequency: 2 } })],
      });
      expect(layers[0].layout.nnz).toBe(8);
      expect(layers[0].layout.provenance).toMatchObject({ generator: 'pruned', params: { method: 'magnitude' } });
      model.dispose();
      optimizer.dispose();
    } finally {
      await backend.dispose();
    }
  });
});
