import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParameterError, ShapeError } from '../../../src/errors.js';
import { createCpuBackend, type CpuBackend } from '../../../src/kernels/cpu/cpu-backend.js';
import { convOutputSize } from '../../../src/kernels/conv.js';
import { referenceConvForward, referenceConvWeightGrad } from '../../../src/kernels/reference-conv.js';
import { denseLayout } from '../../../src/patterns/dense.js';
import { BlockLayout } from '../../../src/patterns/layout.js';
import { randomLayout } from '../../../src/patterns/random-layout.js';
import { resolveRng } from '../../../src/random.js';
import { Activation } from '../../../src/train/layers/activation.js';
import { BlockSparseConv2d } from '../../../src/train/layers/block-sparse-conv2d.js';
import { BlockSparseLinear } from '../../../src/train/layers/block-sparse-linear.js';
import { ChannelNorm } from '../../../src/train/layers/channel-norm.js';
import { ImageInput } from '../../../src/train/layers/image-input.js';
import type { Layer } from '../../../src/train/layers/layer.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from '../../../src/train/layers/pooling.js';
import { Sequential } from '../../../src/train/layers/sequential.js';
import { Adam } from '../../../src/train/optimizers.js';
import { l0Hook, l0Layout } from '../../../src/train/sparsity/l0.js';
import { pruneBlocks } from '../../../src/train/sparsity/prune.js';
import { regrowBlocks, gradientGrowth } from '../../../src/train/sparsity/regrow.js';
import { gradientCheck as checkGradients, type GradientCheckOptions } from '../../helpers/gradient-check.js';
import { topIds } from '../sparsity/helpers.js';

/*
 * The convolutional layers on the CPU backend: finite-difference gradient checks of every layer
 * (test/helpers/gradient-check.ts, L = sum(Y * R) with dL/dY = R; NHWC inputs), the convolution
 * against the float64 reference, and the sparsity methods (pruning, RigL regrowth, L0) acting on
 * a convolution's [nnz, kh, kw, bs, bs] blocks as they act on a linear layer's.
 */

let backend: CpuBackend;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
});
afterAll(async () => {
  await backend.dispose();
});

const rng = resolveRng({ seed: 'conv-layers' });
const random = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);

/** Gradient check of a layer on an input of `shape` (NHWC, or [N, features]). */
function gradientCheck(layer: Layer, shape: number[], options: Omit<GradientCheckOptions, 'rows' | 'inputShape'> = {}): Promise<void> {
  return checkGradients(backend, layer, rng, { rows: shape[0], inputShape: shape, ...options });
}

/** L2 norms of consecutive blocks of `per` values, in float64 on the host. */
function blockL2(w: ArrayLike<number>, per: number): number[] {
  return Array.from({ length: w.length / per }, (_, b) => {
    let acc = 0;
    for (let i = b * per; i < (b + 1) * per; i++) acc += w[i] * w[i];
    return Math.sqrt(acc);
  });
}

/** A layer's output (evaluation) for an input of `shape`. */
async function run(layer: Layer, x: Float32Array, shape: number[]): Promise<{ y: Float32Array; shape: readonly number[] }> {
  const out = await layer.forward(backend.tensor(x, shape), { training: false });
  return { y: await backend.read(out), shape: out.shape };
}

describe('convolutional layer gradients (finite differences)', () => {
  it('BlockSparseConv2d 3 x 3, padding 1, with a bias, on a rectangular layout with an empty output block', async () => {
    const layout = BlockLayout.fromPairs({ inBlocks: 2, outBlocks: 3, blockSize: 8 }, [0, 0, 1], [0, 2, 2]);
    const layer = new BlockSparseConv2d(backend, layout, { kernel: 3, padding: 1, seed: 1 });
    expect(layer.weight.value.shape).toEqual([3, 3, 3, 8, 8]);
    await gradientCheck(layer, [2, 5, 4, 16]);
    layer.dispose();
  });

  it('BlockSparseConv2d with stride, dilation and a rectangular kernel, blocks of 16, no bias', async () => {
    const layout = randomLayout({ inBlocks: 2, outBlocks: 1, density: 1, blockSize: 16, seed: 2 });
    const layer = new BlockSparseConv2d(backend, layout, { kernel: [3, 2], stride: 2, padding: [1, 0], dilation: [1, 2], bias: false, seed: 2 });
    expect(layer.parameters().map((p) => p.name)).toEqual(['weight']);
    await gradientCheck(layer, [2, 5, 6, 32]);
    layer.dispose();
  });

  it('BlockSparseConv2d with L0 gates (fixed noise), including log alpha', async () => {
    const layer = new BlockSparseConv2d(backend, randomLayout({ inBlocks: 2, density: 0.75, blockSize: 8, seed: 3 }), { kernel: 3, padding: 1, seed: 3, l0: { dropRate: 0.3 } });
    const state = layer.noiseState()!;
    await gradientCheck(layer, [2, 4, 4, 16], { before: () => layer.setNoiseState(state) });
    expect(layer.logAlpha!.grad).not.toBeNull();
    layer.dispose();
  });

  it('pooling, channel norm and the image input', async () => {
    // Max pooling: inputs spread over [-10, 10] so that h = 1e-2 never changes a window's maximum here.
    await gradientCheck(new MaxPool2d(backend, 3, { kernel: 2 }), [2, 5, 4, 3], { inputScale: 10 });
    await gradientCheck(new MaxPool2d(backend, 3, { kernel: 3, stride: 2, padding: 1 }), [1, 5, 5, 3], { inputScale: 10 });
    await gradientCheck(new AvgPool2d(backend, 3, { kernel: 3, stride: 2, padding: 1 }), [2, 5, 4, 3]);
    await gradientCheck(new GlobalAvgPool(backend, 5), [2, 3, 4, 5]);
    const norm = new ChannelNorm(backend, 8);
    await gradientCheck(norm, [2, 3, 2, 8], { coords: 4 });
    norm.dispose();
    const input = new ImageInput(backend, { height: 3, width: 4, inChannels: 2, channels: 8 });
    await gradientCheck(input, [2, 24]);
    input.dispose();
  });
});

describe('convolutional layers', () => {
  it('BlockSparseConv2d computes the reference convolution plus a bias per channel', async () => {
    const layout = randomLayout({ inBlocks: 2, outBlocks: 3, density: 0.5, blockSize: 8, seed: 5 });
    const layer = new BlockSparseConv2d(backend, layout, { kernel: 3, stride: 2, padding: 1, seed: 5 });
    const x = random(2 * 7 * 6 * 16);
    const { y, shape } = await run(layer, x, [2, 7, 6, 16]);
    const outputSize = convOutputSize(layer.geometry, [7, 6]);
    expect(shape).toEqual([2, ...outputSize, 24]);
    const w = await backend.read(layer.weight.value);
    const bias = await backend.read(layer.bias!.value);
    const ref = referenceConvForward(layout, layer.geometry, { n: 2, inputSize: [7, 6], outputSize, channels: [16, 24] }, x, w);
    for (let i = 0; i < ref.length; i++) expect(Math.abs(y[i] - (ref[i] + bias[i % 24]))).toBeLessThanOrEqual(1e-5);
    layer.dispose();
  });

  it('a 1 x 1 convolution is the block-sparse linear layer applied at every position', async () => {
    const layout = randomLayout({ inBlocks: 2, density: 0.5, blockSize: 8, seed: 6 });
    const conv = new BlockSparseConv2d(backend, layout, { kernel: 1, seed: 6 });
    const linear = new BlockSparseLinear(backend, layout, { seed: 7 });
    // The same weights: [nnz, 1, 1, bs, bs] holds what [nnz, bs, bs] holds.
    linear.weight.value = await backend.copy(conv.weight.value, linear.weight.value.shape);
    linear.bias!.value = await backend.copy(conv.bias!.value);
    const x = random(2 * 3 * 3 * 16);
    const a = await run(conv, x, [2, 3, 3, 16]);
    const b = await run(linear, x, [18, 16]);
    expect(a.shape).toEqual([2, 3, 3, 16]);
    expect(Array.from(a.y)).toEqual(Array.from(b.y));
    conv.dispose();
    linear.dispose();
  });

  it('initialises each output channel from its real fan-in, kh kw bs x (blocks feeding it), as nn.Conv2d', async () => {
    const layout = BlockLayout.fromPairs({ inBlocks: 3, outBlocks: 3, blockSize: 8 }, [0, 1, 2, 0], [0, 0, 0, 1]);
    const layer = new BlockSparseConv2d(backend, layout, { kernel: 3, seed: 8 });
    const w = await backend.read(layer.weight.value);
    const bias = await backend.read(layer.bias!.value);
    const per = 9 * 64;
    const { cols } = layout.pairs();
    const fanIn = layout.inDegrees();
    for (let b = 0; b < layout.nnz; b++) {
      const bound = 1 / Math.sqrt(9 * 8 * fanIn[cols[b]]);
      const block = w.subarray(b * per, (b + 1) * per);
      expect(Math.max(...block.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...block.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    }
    // Output block 2 is fed by nothing: a zero bias.
    expect(Array.from(bias.subarray(16, 24))).toEqual(new Array(8).fill(0));
    expect(Math.max(...bias.subarray(0, 8).map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(9 * 8 * 3));
    layer.dispose();
  });

  it('a convolution and the activation after it run fused in Sequential, with the results of the layers one by one', async () => {
    const make = () => [
      new BlockSparseConv2d(backend, randomLayout({ inBlocks: 2, density: 0.75, blockSize: 8, seed: 9 }), { kernel: 3, padding: 1, seed: 9 }),
      new Activation(backend, 'relu', 16),
      new GlobalAvgPool(backend, 16),
    ];
    const fused = new Sequential(make());
    const plain = new Sequential(make(), { fuse: false });
    expect([fused.fused(0), plain.fused(0)]).toEqual([true, false]);
    const x = backend.tensor(random(2 * 4 * 4 * 16), [2, 4, 4, 16]);
    const results = [];
    for (const model of [fused, plain]) {
      const y = await model.forward(x, { training: true });
      await model.backward(backend.tensor(random(y.size).fill(0.5), y.shape));
      results.push({ y: await backend.read(y), grads: await Promise.all(model.parameters().map((p) => backend.read(p.grad!))) });
    }
    expect(Array.from(results[0].y)).toEqual(Array.from(results[1].y));
    const [weightA, biasA] = results[0].grads;
    const [weightB, biasB] = results[1].grads;
    expect(Array.from(weightA)).toEqual(Array.from(weightB));
    // The bias gradient is summed in another order: equal to rounding.
    biasA.forEach((v, i) => expect(Math.abs(v - biasB[i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v))));
    fused.dispose();
    plain.dispose();
  });

  it('lists a fixed layout nowhere the sparsity methods look, and refuses L0 gates on it', () => {
    const stem = new BlockSparseConv2d(backend, denseLayout({ inBlocks: 1, outBlocks: 2, blockSize: 8 }), { kernel: 3, padding: 1, fixedLayout: true, seed: 1 });
    const conv = new BlockSparseConv2d(backend, randomLayout({ inBlocks: 2, density: 0.5, blockSize: 8, seed: 1 }), { kernel: 3, padding: 1, seed: 2 });
    const model = new Sequential([stem, new ChannelNorm(backend, 16), conv]);
    expect(model.blockSparseLayers()).toEqual([conv]);
    expect(() => new BlockSparseConv2d(backend, denseLayout({ inBlocks: 1, outBlocks: 1, blockSize: 8 }), { kernel: 1, fixedLayout: true, l0: {} })).toThrow(ParameterError);
    model.dispose();
  });

  it('rejects inputs of the wrong shape, naming both', async () => {
    const layer = new BlockSparseConv2d(backend, randomLayout({ inBlocks: 2, density: 1, blockSize: 8, seed: 1 }), { kernel: 3 });
    await expect(layer.forward(backend.zeros([2, 16]), { training: false })).rejects.toThrow(/BlockSparseConv2d: input has shape \[2, 16\] but the layer needs NHWC \[N, H, W, 16\]/);
    await expect(layer.forward(backend.zeros([1, 2, 2, 16]), { training: false })).rejects.toThrow(ShapeError); // the 3 x 3 kernel does not fit 2 x 2
    await expect(new MaxPool2d(backend, 4, { kernel: 2 }).forward(backend.zeros([1, 4, 4, 3]), { training: false })).rejects.toThrow(/MaxPool2d: input has shape \[1, 4, 4, 3\]/);
    await expect(new ImageInput(backend, { height: 2, width: 2, channels: 8 }).forward(backend.zeros([3, 5]), { training: false })).rejects.toThrow(/needs \[N, 4\]/);
    expect(() => new ImageInput(backend, { height: 2, width: 2, inChannels: 3, channels: 2 })).toThrow(ParameterError);
    expect(() => new MaxPool2d(backend, 4, { kernel: 2, padding: 2 })).toThrow(ParameterError);
    layer.dispose();
  });

  it('lays flattened images out as NHWC with the data in the first channels and zeros elsewhere', async () => {
    const input = new ImageInput(backend, { height: 2, width: 3, channels: 8 });
    const x = Float32Array.from({ length: 12 }, (_, i) => i + 1);
    const { y, shape } = await run(input, x, [2, 6]);
    expect(shape).toEqual([2, 2, 3, 8]);
    for (let p = 0; p < 12; p++) expect(Array.from(y.subarray(8 * p, 8 * p + 8))).toEqual([p + 1, 0, 0, 0, 0, 0, 0, 0]);
    input.dispose();
  });
});

describe('sparsity methods on convolutions', () => {
  /** A 3 x 3 convolution trained one Adam step, so that the optimiser has state. */
  async function trainedConv(l0 = false): Promise<{ layer: BlockSparseConv2d; optimizer: Adam; x: Float32Array; dy: Float32Array }> {
    const layout = randomLayout({ inBlocks: 4, density: 0.5, blockSize: 8, seed: 11 });
    const layer = new BlockSparseConv2d(backend, layout, { kernel: 3, padding: 1, seed: 11, ...(l0 ? { l0: {} } : {}) });
    const optimizer = new Adam(layer.parameters(), { lr: 0.01 });
    const x = random(2 * 4 * 4 * 32);
    const dy = random(2 * 4 * 4 * 32);
    await layer.forward(backend.tensor(x, [2, 4, 4, 32]), { training: true });
    await layer.backward(backend.tensor(dy, [2, 4, 4, 32]));
    await optimizer.step();
    return { layer, optimizer, x, dy };
  }

  it('pruning keeps the largest blocks of [kh, kw, bs, bs] with their weights and Adam moments', async () => {
    const { layer, optimizer } = await trainedConv();
    const per = 9 * 64;
    const w = await backend.read(layer.weight.value);
    const [m] = await Promise.all(optimizer.state(layer.weight).map((t) => backend.read(t)));
    const norms = blockL2(w, per);
    const keep = 3;
    const result = await pruneBlocks(layer, { keep }, { optimizer });
    expect(Array.from(result.kept)).toEqual(topIds(norms, keep));
    expect(layer.weight.value.shape).toEqual([keep, 3, 3, 8, 8]);
    expect(optimizer.state(layer.weight).map((t) => t.shape)).toEqual([[keep, 3, 3, 8, 8], [keep, 3, 3, 8, 8]]);
    const [w2, m2] = [await backend.read(layer.weight.value), await backend.read(optimizer.state(layer.weight)[0])];
    result.kept.forEach((id, j) => {
      expect(Array.from(w2.subarray(j * per, (j + 1) * per))).toEqual(Array.from(w.subarray(id * per, (id + 1) * per)));
      expect(Array.from(m2.subarray(j * per, (j + 1) * per))).toEqual(Array.from(m.subarray(id * per, (id + 1) * per)));
    });
    expect(layer.layout.nnz).toBe(keep);
    expect(layer.layout.provenance.generator).toBe('pruned');
    layer.dispose();
  });

  it('RigL regrows where the dense weight gradient of the convolution is largest', async () => {
    const { layer, optimizer, x, dy } = await trainedConv();
    layer.recordDenseGradNorms = true;
    await layer.forward(backend.tensor(x, [2, 4, 4, 32]), { training: true });
    await layer.backward(backend.tensor(dy, [2, 4, 4, 32]));
    // The norms of every (c, k) block's gradient, from the float64 reference on the dense layout.
    const dense = denseLayout({ inBlocks: 4, outBlocks: 4, blockSize: 8 });
    const shape = { n: 2, inputSize: [4, 4] as [number, number], outputSize: [4, 4] as [number, number], channels: [32, 32] as [number, number] };
    const refNorms = blockL2(referenceConvWeightGrad(dense, layer.geometry, shape, x, dy).dw, 9 * 64);
    const scores = await backend.read(layer.takeDenseGradNorms()!);
    refNorms.forEach((v, i) => expect(Math.abs(scores[i] - v)).toBeLessThanOrEqual(1e-4 * (1 + v)));
    const before = layer.layout;
    // The two blocks of smallest weight norm go; of the blocks then absent, the two largest scores grow.
    const survivors = topIds(blockL2(await backend.read(layer.weight.value), 9 * 64), before.nnz - 2);
    const { rows, cols } = before.pairs();
    const occupied = new Set(survivors.map((id) => rows[id] * 4 + cols[id]));
    const candidates = Array.from({ length: 16 }, (_, d) => d).filter((d) => !occupied.has(d));
    const expected = topIds(candidates.map((d) => scores[d]), 2).map((i) => candidates[i]);
    const result = await regrowBlocks(layer, 2, gradientGrowth(scores), { optimizer });
    expect(layer.layout.nnz).toBe(before.nnz);
    expect(Array.from(result.grown).sort((a, b) => a - b)).toEqual(expected);
    // Grown blocks start at zero.
    const w = await backend.read(layer.weight.value);
    for (const d of result.grown) {
      const id = layer.layout.blockId(Math.floor(d / 4), d % 4);
      expect(Math.max(...w.subarray(id * 576, (id + 1) * 576).map(Math.abs))).toBe(0);
    }
    layer.dispose();
  });

  it('L0 weighs each block by its kh kw bs^2 weights and learns a layout', async () => {
    const { layer } = await trainedConv(true);
    const hook = l0Hook({ lambda: 1e-3 });
    const model = new Sequential([layer]);
    const penalty = await hook.afterBackward!({ step: 0, epoch: 0, model, optimizer: new Adam(layer.parameters(), { lr: 0 }), backend, loss: backend.zeros([1]) });
    const { value } = await backend.l0Penalty(layer.logAlpha!.value, layer.hardConcrete!);
    const expected = (await backend.read(value))[0] * 1e-3 * 9 * 64;
    expect(Math.abs((await backend.read(penalty as never))[0] - expected)).toBeLessThanOrEqual(1e-6 * expected);
    // Close every gate but the first two: the learned layout keeps those blocks.
    const logAlpha = new Float32Array(layer.layout.nnz).fill(-10);
    logAlpha[0] = logAlpha[1] = 10;
    layer.logAlpha!.value = backend.tensor(logAlpha, [layer.layout.nnz]);
    const learned = await l0Layout(layer, { lambda: 1e-3, step: 1 });
    expect(learned.nnz).toBe(2);
    expect(learned.provenance.generator).toBe('l0');
    model.dispose();
  });
});
