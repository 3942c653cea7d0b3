import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import type { Backend } from '../../src/kernels/types.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { gaussianBlobs } from '../../src/train/data/synthetic.js';
import { Activation } from '../../src/train/layers/activation.js';
import { BlockSparseLinear } from '../../src/train/layers/block-sparse-linear.js';
import { LayerNorm } from '../../src/train/layers/layer-norm.js';
import { Linear } from '../../src/train/layers/linear.js';
import { Sequential } from '../../src/train/layers/sequential.js';
import { Adam } from '../../src/train/optimizers.js';
import { resolveRng } from '../../src/random.js';
import { buildCNN } from '../../src/train/cnn.js';
import { BlockSparseConv2d } from '../../src/train/layers/block-sparse-conv2d.js';
import { gradientCheck } from '../helpers/gradient-check.js';
import { gpuOrSkip, webgpuForTests } from '../helpers/webgpu.js';

/*
 * The same model trained on the WebGPU backend (lavapipe on machines without a GPU) and on the
 * CPU backend from the same initial weights and data: the losses agree step by step. Float32
 * sums in different orders drift apart slowly, so the check is 1e-3 relative over 20 Adam steps
 * (a wrong gradient or update moves the loss by far more within a few steps).
 */


async function losses(backend: Backend): Promise<number[]> {
  const data = gaussianBlobs({ n: 48, features: 32, classes: 3, seed: 11, spread: 1.5 });
  const model = new Sequential([
    new BlockSparseLinear(backend, randomLayout({ inBlocks: 4, outBlocks: 4, density: 0.5, blockSize: 8, seed: 12 }), { seed: 13, l0: { dropRate: 0.2 } }),
    new LayerNorm(backend, 32),
    new Activation(backend, 'gelu', 32),
    new Linear(backend, 32, 3, { seed: 14 }),
  ]);
  const optimizer = new Adam(model.parameters(), { lr: 0.01, weightDecay: 0.01, decoupled: true });
  const x = backend.tensor(data.images, [48, 32]);
  const labels = backend.tensor(Float32Array.from(data.labels), [48]);
  const out: number[] = [];
  const gated = model.layers[0] as BlockSparseLinear;
  const noise = gated.noiseState()!;
  for (let step = 0; step < 20; step++) {
    gated.setNoiseState(noise); // the same gate noise on both backends
    const logits = await model.forward(x, { training: true });
    const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
    await model.backward(dlogits);
    await gated.addL0Penalty(1e-4).then((t) => t.dispose());
    await optimizer.step();
    out.push((await backend.read(loss))[0]);
    for (const t of [logits, loss, dlogits, correct]) t.dispose();
  }
  model.dispose();
  optimizer.dispose();
  return out;
}

/** A small CNN (8 x 8 images, two stages, L0-gated block-sparse convolutions) trained 12 Adam steps: the loss of each. */
async function cnnLosses(backend: Backend): Promise<number[]> {
  const data = gaussianBlobs({ n: 24, features: 64, classes: 3, seed: 21, spread: 1.5 });
  const model = buildCNN(backend, {
    height: 8, width: 8, classes: 3, channels: [16, 16], blockSize: 8, seed: 22, l0: { dropRate: 0.2 },
    layout: ({ inBlocks, outBlocks, blockSize }) => randomLayout({ inBlocks, outBlocks, density: 0.75, blockSize, seed: 23 }),
  });
  const optimizer = new Adam(model.parameters(), { lr: 0.01 });
  const x = backend.tensor(data.images, [24, 64]);
  const labels = backend.tensor(Float32Array.from(data.labels), [24]);
  const gated = model.blockSparseLayers();
  const noise = gated.map((l) => l.noiseState()!);
  const out: number[] = [];
  for (let step = 0; step < 12; step++) {
    gated.forEach((l, i) => l.setNoiseState(noise[i]));
    const logits = await model.forward(x, { training: true });
    const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
    await model.backward(dlogits);
    for (const l of gated) await l.addL0Penalty(1e-4).then((t) => t.dispose());
    await optimizer.step();
    out.push((await backend.read(loss))[0]);
    for (const t of [logits, loss, dlogits, correct]) t.dispose();
  }
  model.dispose();
  optimizer.dispose();
  return out;
}

describe('training on WebGPU', () => {
  const gpuBackend = webgpuForTests('training test');

  it('gives the CPU backend\'s losses step by step (block-sparse with L0 gates, layer norm, GELU, AdamW)', async (context) => {
    const gpu = gpuOrSkip(gpuBackend, context);
    if (!gpu) return;
    const cpu = await createCpuBackend({ threads: 1 });
    const expected = await losses(cpu);
    await cpu.dispose();
    const actual = await losses(gpu);
    expect(expected[19]).toBeLessThan(0.5 * expected[0]);
    for (let i = 0; i < 20; i++) expect(Math.abs(actual[i] - expected[i]), `step ${i}: webgpu ${actual[i]}, cpu ${expected[i]}`).toBeLessThanOrEqual(1e-3 * Math.abs(expected[i]));
  }, 120_000);

  it('trains a CNN with the CPU backend\'s losses step by step (block-sparse convolutions with L0 gates, channel norm, pooling)', async (context) => {
    const gpu = gpuOrSkip(gpuBackend, context);
    if (!gpu) return;
    const cpu = await createCpuBackend({ threads: 1 });
    const expected = await cnnLosses(cpu);
    await cpu.dispose();
    const actual = await cnnLosses(gpu);
    expect(expected[11]).toBeLessThan(0.7 * expected[0]);
    for (let i = 0; i < 12; i++) expect(Math.abs(actual[i] - expected[i]), `step ${i}: webgpu ${actual[i]}, cpu ${expected[i]}`).toBeLessThanOrEqual(1e-3 * Math.abs(expected[i]));
  }, 180_000);

  it('passes the convolution layer\'s finite-difference gradient check (stride 2, L0 gates)', async (context) => {
    const gpu = gpuOrSkip(gpuBackend, context);
    if (!gpu) return;
    const layer = new BlockSparseConv2d(gpu, randomLayout({ inBlocks: 2, density: 0.75, blockSize: 8, seed: 24 }), { kernel: 3, stride: 2, padding: 1, seed: 24, l0: { dropRate: 0.3 } });
    const state = layer.noiseState()!;
    await gradientCheck(gpu, layer, resolveRng({ seed: 'webgpu-conv' }), { rows: 2, inputShape: [2, 5, 5, 16], before: () => layer.setNoiseState(state) });
    layer.dispose();
  }, 120_000);
});
