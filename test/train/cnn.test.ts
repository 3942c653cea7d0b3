import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParameterError, ResourceError } from '../../src/errors.js';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { buildPatternSpec } from '../../src/patterns/spec.js';
import { buildCNN } from '../../src/train/cnn.js';
import { gaussianBlobs } from '../../src/train/data/synthetic.js';
import { BlockSparseConv2d } from '../../src/train/layers/block-sparse-conv2d.js';
import { describeModel, layerDensities, parameterCount, type LayoutRequest } from '../../src/train/model.js';
import { Adam } from '../../src/train/optimizers.js';
import { gradualPruning } from '../../src/train/sparsity/prune.js';
import { trainSteps } from './sparsity/helpers.js';

/*
 * buildCNN: the layers it makes, the layouts it asks for, what it refuses, and a small CNN that
 * learns (synthetic 8 x 8 images) while its convolutions are pruned.
 */

let backend: CpuBackend;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
});
afterAll(async () => {
  await backend.dispose();
});

describe('buildCNN', () => {
  it('builds image input, a dense stem, block-sparse stages with pooling between them, global pooling and a dense classifier', () => {
    const requests: LayoutRequest[] = [];
    const model = buildCNN(backend, {
      channels: [16, 32], depth: 2, blockSize: 8, seed: 1,
      layout: (request) => {
        requests.push(request);
        return buildPatternSpec('random:density=0.5', { ...request, seed: request.index });
      },
    });
    expect(model.layers.map((l) => l.kind)).toEqual([
      'image-input', 'block-sparse-conv2d', 'channel-norm', 'relu',
      'block-sparse-conv2d', 'channel-norm', 'relu', 'block-sparse-conv2d', 'channel-norm', 'relu',
      'max-pool2d', 'block-sparse-conv2d', 'channel-norm', 'relu', 'block-sparse-conv2d', 'channel-norm', 'relu',
      'global-avg-pool', 'linear',
    ]);
    expect([model.inFeatures, model.outFeatures]).toEqual([784, 10]);
    // Every block-sparse convolution is asked for, in order, over channel blocks; the stem is not.
    expect(requests.map(({ role, index, inBlocks, outBlocks, blockSize }) => [role, index, inBlocks, outBlocks, blockSize])).toEqual([
      ['conv', 0, 2, 2, 8], ['conv', 1, 2, 2, 8], ['conv', 2, 2, 4, 8], ['conv', 3, 4, 4, 8],
    ]);
    // The stem: a dense 3 x 3 convolution from the image's 8 channels (one grey, 7 zero), fixed.
    const stem = model.layers[1] as BlockSparseConv2d;
    expect([stem.layout.inBlocks, stem.layout.outBlocks, stem.layout.nnz, stem.fixedLayout, stem.bias]).toEqual([1, 2, 2, true, null]);
    expect(model.blockSparseLayers()).toHaveLength(4);
    expect(model.blockSparseLayers().every((l) => l instanceof BlockSparseConv2d && l.bias === null && l.geometry.padding[0] === 1)).toBe(true);
    // Parameters: each conv block 9 x 8 x 8 weights, each norm 2 C, the classifier 32 x 10 + 10.
    const blocks = [stem, ...model.blockSparseLayers()].reduce((s, l) => s + l.layout.nnz, 0);
    expect(parameterCount(model)).toBe(blocks * 576 + 2 * (16 + 16 + 16 + 32 + 32) + 32 * 10 + 10);
    expect(layerDensities(model).map((d) => d.density)).toEqual([1, ...model.blockSparseLayers().map((l) => l.layout.density), 1]);
    expect(describeModel(model)[1]).toMatchObject({ kind: 'block-sparse-conv2d', kernel: [3, 3], padding: [1, 1], stride: [1, 1], bias: false, l0: null, fixedLayout: true });
    model.dispose();
  });

  it('makes dense, fixed convolutions without a layout, and gates them with l0 only given one', () => {
    const dense = buildCNN(backend, { channels: [8], blockSize: 8 });
    expect(dense.blockSparseLayers()).toEqual([]);
    expect(dense.layers.filter((l) => l instanceof BlockSparseConv2d).map((l) => (l as BlockSparseConv2d).layout.density)).toEqual([1, 1]);
    dense.dispose();
    const gated = buildCNN(backend, { channels: [8, 16], blockSize: 8, l0: {}, layout: ({ inBlocks, outBlocks, blockSize }) => randomLayout({ inBlocks, outBlocks, density: 1, blockSize, seed: 1 }) });
    expect(gated.blockSparseLayers().map((l) => l.logAlpha !== null)).toEqual([true, true]);
    expect((gated.layers[1] as BlockSparseConv2d).logAlpha).toBeNull();
    gated.dispose();
  });

  it('refuses bad options, naming them', () => {
    const layout = () => randomLayout({ inBlocks: 2, density: 1, blockSize: 8, seed: 1 });
    expect(() => buildCNN(backend, { channels: [12], blockSize: 8 })).toThrow(/channels must be widths that are multiples of the block size 8/);
    expect(() => buildCNN(backend, { channels: [], blockSize: 8 })).toThrow(ParameterError);
    expect(() => buildCNN(backend, { channels: [8, 8, 8, 8, 8, 8], blockSize: 8 })).toThrow(/channels must be at most 5 widths for 28 x 28 images/);
    expect(() => buildCNN(backend, { channels: [8], blockSize: 8, kernel: 2 })).toThrow(/kernel must be an odd size/);
    expect(() => buildCNN(backend, { channels: [8], blockSize: 8, l0: {} })).toThrow(/layout must be given with l0/);
    // A layout of another shape names both.
    expect(() => buildCNN(backend, { channels: [16, 32], blockSize: 8, layout })).toThrow(/layout must be 2 x 4 blocks of 8 for convolution 1 over channel blocks \(16 -> 32 features\) \(got "2 x 2 blocks of 8/);
    expect(() => buildCNN(backend, { channels: [2 ** 20], blockSize: 32 })).toThrow(ResourceError);
  });

  it('learns 8 x 8 images while its convolutions are pruned to half their blocks', async () => {
    const data = gaussianBlobs({ n: 48, features: 64, classes: 3, seed: 'cnn', spread: 1.5 });
    const model = buildCNN(backend, {
      height: 8, width: 8, classes: 3, channels: [16, 16], blockSize: 8, seed: 2,
      layout: ({ inBlocks, outBlocks, blockSize }) => buildPatternSpec('dense', { inBlocks, outBlocks, blockSize }),
    });
    const optimizer = new Adam(model.parameters(), { lr: 0.01 });
    const layers = model.blockSparseLayers();
    const pruning = gradualPruning({ layers, schedule: { initial: 0, final: 0.5, begin: 2, end: 10, frequency: 2 } });
    const { losses } = await trainSteps(model, optimizer, data, 24, [pruning]);
    expect(losses[23]).toBeLessThan(0.5 * losses[0]);
    expect(layers.map((l) => l.layout.nnz)).toEqual([2, 2]);
    expect(layers.map((l) => l.weight.value.shape)).toEqual([[2, 3, 3, 8, 8], [2, 3, 3, 8, 8]]);
    model.dispose();
    optimizer.dispose();
  });
});
