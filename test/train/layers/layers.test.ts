import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShapeError } from '../../../src/errors.js';
import { createCpuBackend, type CpuBackend } from '../../../src/kernels/cpu/cpu-backend.js';
import { BlockLayout } from '../../../src/patterns/layout.js';
import { randomLayout } from '../../../src/patterns/random-layout.js';
import { resolveRng } from '../../../src/random.js';
import { gaussianBlobs } from '../../../src/train/data/synthetic.js';
import { Activation } from '../../../src/train/layers/activation.js';
import { BlockSparseLinear } from '../../../src/train/layers/block-sparse-linear.js';
import type { Layer, Parameter } from '../../../src/train/layers/layer.js';
import { LayerNorm } from '../../../src/train/layers/layer-norm.js';
import { Linear } from '../../../src/train/layers/linear.js';
import { Sequential } from '../../../src/train/layers/sequential.js';
import { Adam, SGD } from '../../../src/train/optimizers.js';
import { gradientCheck as checkGradients, type GradientCheckOptions } from '../../helpers/gradient-check.js';

/*
 * Layers on the CPU backend: finite-difference gradient checks of every layer (the loss is
 * L = sum(Y * R) for a fixed random R, so dL/dY = R), accumulated in float64 on the host from
 * float32 outputs; central differences with h = 1e-2 on float32 have error about
 * (2^-24 * sum |Y R|) / h ~ 1e-4 here, so 1e-2 relative (plus 1e-3 absolute) is a safe bound
 * that still catches a wrong factor or a missing term.
 */

let backend: CpuBackend;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
});
afterAll(async () => {
  await backend.dispose();
});

const rng = resolveRng({ seed: 'layers' });
const random = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);

/** Checks backward's gradients of every parameter (a few coordinates each) and of the input against central differences (test/helpers/gradient-check.ts). */
function gradientCheck(layer: Layer, n: number, options: Omit<GradientCheckOptions, 'rows'> = {}): Promise<void> {
  return checkGradients(backend, layer, rng, { rows: n, ...options });
}

describe('layer gradients (finite differences)', () => {
  it('Linear', async () => {
    const layer = new Linear(backend, 7, 5, { seed: 1 });
    await gradientCheck(layer, 3);
    layer.dispose();
  });

  it('BlockSparseLinear, rectangular with an empty output block, block sizes 8 and 16', async () => {
    const layout = BlockLayout.fromPairs({ inBlocks: 3, outBlocks: 4, blockSize: 8 }, [0, 0, 1, 2], [0, 2, 2, 3]);
    const layer = new BlockSparseLinear(backend, layout, { seed: 2 });
    await gradientCheck(layer, 5);
    layer.dispose();
    const bs16 = new BlockSparseLinear(backend, randomLayout({ inBlocks: 2, density: 0.75, blockSize: 16, seed: 3 }), { seed: 3, bias: false });
    await gradientCheck(bs16, 2);
    bs16.dispose();
  });

  it('BlockSparseLinear with L0 gates (fixed noise), including log alpha', async () => {
    const layout = randomLayout({ inBlocks: 3, density: 0.5, blockSize: 8, seed: 4 });
    const layer = new BlockSparseLinear(backend, layout, { seed: 4, l0: { dropRate: 0.4 } });
    // The same noise in every pass: restore the noise state before each forward.
    const state = layer.noiseState()!;
    await gradientCheck(layer, 4, { before: () => layer.setNoiseState(state) });
    const logAlpha = layer.parameters().find((p) => p.name === 'logAlpha')!;
    expect(logAlpha.grad).not.toBeNull();
    // Training passes draw fresh noise (different gates); evaluation gates are deterministic.
    const x = backend.tensor(random(2 * layer.inFeatures), [2, layer.inFeatures]);
    const y1 = await backend.read(await layer.forward(x, { training: true }));
    const y2 = await backend.read(await layer.forward(x, { training: true }));
    expect(Array.from(y1)).not.toEqual(Array.from(y2));
    layer.setNoiseState(state);
    const y3 = await backend.read(await layer.forward(x, { training: true }));
    layer.setNoiseState(state);
    expect(Array.from(await backend.read(await layer.forward(x, { training: true })))).toEqual(Array.from(y3));
    const e1 = await backend.read(await layer.forward(x, { training: false }));
    const e2 = await backend.read(await layer.forward(x, { training: false }));
    expect(Array.from(e1)).toEqual(Array.from(e2));
    layer.dispose();
  });

  it('the L0 penalty: lambda bs^2 sum sigmoid(log alpha - beta log(-gamma/zeta)), added to the gradient', async () => {
    const layout = randomLayout({ inBlocks: 2, density: 1, blockSize: 8, seed: 5 });
    const layer = new BlockSparseLinear(backend, layout, { seed: 5, l0: { dropRate: 0.3 } });
    const x = backend.tensor(random(2 * 16), [2, 16]);
    const y = await layer.forward(x, { training: true });
    await layer.backward(y);
    const logAlpha = layer.logAlpha!;
    const before = await backend.read(logAlpha.grad!);
    const value = (await backend.read(await layer.addL0Penalty(0.01)))[0];
    const la = await backend.read(logAlpha.value);
    const shift = (2 / 3) * Math.log(0.1 / 1.1);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    let expected = 0;
    for (const a of la) expected += sig(a - shift);
    expect(value).toBeCloseTo(0.01 * 64 * expected, 4);
    const after = await backend.read(logAlpha.grad!);
    for (let b = 0; b < la.length; b++) {
      const s = sig(la[b] - shift);
      expect(after[b] - before[b]).toBeCloseTo(0.01 * 64 * s * (1 - s), 5);
    }
    // Finite differences of the backend's penalty value against its gradient.
    const penalty = await backend.l0Penalty(logAlpha.value);
    const grad = await backend.read(penalty.grad);
    for (const b of [0, 1, 3]) {
      const at = async (delta: number) => {
        const shifted = la.slice();
        shifted[b] += delta;
        const t = backend.tensor(shifted, [la.length]);
        const out = await backend.l0Penalty(t);
        const v = (await backend.read(out.value))[0];
        for (const u of [t, out.value, out.grad]) u.dispose();
        return v;
      };
      const h = 1e-2;
      expect(grad[b]).toBeCloseTo(((await at(h)) - (await at(-h))) / (2 * h), 3);
    }
    penalty.value.dispose();
    penalty.grad.dispose();
    x.dispose();
    y.dispose();
    layer.dispose();
  });

  it('activations (inputs kept away from the ReLU kink) and layer norm', async () => {
    for (const kind of ['gelu', 'tanh'] as const) {
      const layer = new Activation(backend, kind, 6);
      await gradientCheck(layer, 3);
    }
    // ReLU: inputs of magnitude >= 0.05 from 0 never cross it under h = 1e-2.
    const relu = new Activation(backend, 'relu', 6);
    const x = Float32Array.from(random(18), (v) => (v >= 0 ? 0.05 + v : -0.05 + v));
    const xt = backend.tensor(x, [3, 6]);
    const y = await backend.read(await relu.forward(xt, { training: true }));
    expect(Array.from(y)).toEqual(Array.from(x, (v) => Math.max(0, v)));
    const norm = new LayerNorm(backend, 9);
    await gradientCheck(norm, 4, { coords: 4 });
    norm.dispose();
  });
});

describe('models and optimisers', () => {
  it('a block-sparse MLP overfits a small batch (Adam), and the loss falls with SGD + momentum too', async () => {
    const data = gaussianBlobs({ n: 64, features: 32, classes: 4, seed: 7, spread: 1.5 });
    for (const make of [(ps: Parameter[]) => new Adam(ps, { lr: 0.01 }), (ps: Parameter[]) => new SGD(ps, { lr: 0.1, momentum: 0.9 })]) {
      const model = new Sequential([
        new BlockSparseLinear(backend, randomLayout({ inBlocks: 4, outBlocks: 8, density: 0.5, blockSize: 8, seed: 8 }), { seed: 8 }),
        new Activation(backend, 'relu', 64),
        new Linear(backend, 64, 4, { seed: 9 }),
      ]);
      const optimizer = make(model.parameters());
      const x = backend.tensor(data.images, [64, 32]);
      const labels = backend.tensor(Float32Array.from(data.labels), [64]);
      const losses: number[] = [];
      let correct = 0;
      for (let step = 0; step < 150; step++) {
        const logits = await model.forward(x, { training: true });
        const out = await backend.softmaxCrossEntropy(logits, labels);
        await model.backward(out.dlogits);
        await optimizer.step();
        losses.push((await backend.read(out.loss))[0]);
        correct = (await backend.read(out.correct))[0];
        for (const t of [logits, out.loss, out.dlogits, out.correct]) t.dispose();
      }
      expect(losses[losses.length - 1]).toBeLessThan(0.1 * losses[0]);
      if (optimizer instanceof Adam) expect(correct).toBe(64);
      x.dispose();
      labels.dispose();
      optimizer.dispose();
      model.dispose();
    }
  });

  it('fuses each bias with the activation after it, with the results of the layers run one by one', async () => {
    const build = (fuse: boolean) => new Sequential([
      new Linear(backend, 20, 48, { seed: 1 }),
      new Activation(backend, 'gelu', 48),
      new BlockSparseLinear(backend, randomLayout({ inBlocks: 3, outBlocks: 3, density: 0.6, blockSize: 16, seed: 2 }), { seed: 3 }),
      new Activation(backend, 'tanh', 48),
      new Linear(backend, 48, 5, { seed: 4 }),
    ], { fuse });
    const [fused, plain] = [build(true), build(false)];
    expect([0, 1, 2, 3, 4].map((i) => fused.fused(i))).toEqual([true, false, true, false, false]);
    expect([0, 1, 2, 3, 4].some((i) => plain.fused(i))).toBe(false);
    const x = backend.tensor(random(37 * 20), [37, 20]);
    const dy = backend.tensor(random(37 * 5), [37, 5]);
    const outputs: Float32Array[][] = [];
    for (const model of [fused, plain]) {
      const optimizer = new Adam(model.parameters(), { lr: 0.01 });
      const values: Float32Array[] = [];
      for (let step = 0; step < 3; step++) {
        const y = await model.forward(x, { training: true });
        values.push(await backend.read(y));
        y.dispose();
        await model.backward(dy);
        for (const p of model.parameters()) values.push(await backend.read(p.grad!));
        await optimizer.step();
      }
      values.push(await backend.read(await model.forward(x, { training: false })));
      outputs.push(values);
      optimizer.dispose();
    }
    // The forward passes are the same floats; the bias gradients are sums in another order.
    expect(outputs[0][0]).toEqual(outputs[1][0]);
    outputs[0].forEach((a, k) => {
      const b = outputs[1][k];
      expect(a.length).toBe(b.length);
      a.forEach((v, i) => expect(Math.abs(v - b[i]), `output ${k}[${i}]`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(b[i]))));
    });
    // backward needs a training forward pass first, fused or not
    await fused.forward(x, { training: false });
    await expect(fused.backward(dy)).rejects.toThrow(ShapeError);
    fused.dispose();
    plain.dispose();
  });

  it('names its parameters by layer, and decays weights only', () => {
    const model = new Sequential([new Linear(backend, 4, 8, { seed: 1 }), new LayerNorm(backend, 8), new Linear(backend, 8, 2, { seed: 2, bias: false })]);
    expect(model.parameters().map((p) => `${p.name}:${p.decay}`)).toEqual(['0.weight:true', '0.bias:false', '1.gain:false', '1.bias:false', '2.weight:true']);
    model.dispose();
  });

  it('rejects mismatched widths and inputs, naming both shapes', async () => {
    expect(() => new Sequential([new Linear(backend, 4, 8, { seed: 1 }), new Linear(backend, 6, 2, { seed: 1 })])).toThrow(/layer 1 \(linear\) takes 6 features but layer 0 \(linear\) gives 8/);
    const layer = new BlockSparseLinear(backend, randomLayout({ inBlocks: 2, density: 1, blockSize: 8, seed: 1 }), { seed: 1 });
    const x = backend.tensor(new Float32Array(10), [1, 10]);
    await expect(layer.forward(x, { training: true })).rejects.toThrow(ShapeError);
    await expect(layer.forward(x, { training: true })).rejects.toThrow(/input has shape \[1, 10\] but the layer needs \[N, 16\]/);
    await expect(layer.backward(x)).rejects.toThrow(/needs a training forward pass/);
    layer.dispose();
  });
});

describe('learning-rate scale and sparse input layers', () => {
  it('scales a parameter learning rate (SGD moves lrScale times as far)', async () => {
    const layer = new Linear(backend, 3, 2, { seed: 4 });
    const before = await backend.read(layer.weight.value);
    const x = backend.tensor(random(2 * 3), [2, 3]);
    const y = await layer.forward(x, { training: true });
    await layer.backward(y);
    const grad = await backend.read(layer.weight.grad!);
    layer.weight.lrScale = 3;
    await new SGD(layer.parameters(), { lr: 0.1 }).step();
    const after = await backend.read(layer.weight.value);
    for (let i = 0; i < before.length; i++) expect(after[i]).toBeCloseTo(before[i] - 0.3 * grad[i], 6);
    layer.dispose();
  });

  it('builds a block-sparse input layer when the block size divides the inputs', async () => {
    const { buildMLP } = await import('../../../src/train/model.js');
    const { buildPatternSpec } = await import('../../../src/patterns/spec.js');
    const layout = (r: { inBlocks: number; outBlocks: number; blockSize: 8 | 16 | 32 }) => buildPatternSpec('random:density=0.5', { ...r, seed: 1 });
    const model = buildMLP(backend, { hidden: [64], blockSize: 16, sparseInput: true, layout, seed: 1 });
    const first = model.layers[0] as BlockSparseLinear;
    expect(first).toBeInstanceOf(BlockSparseLinear);
    expect([first.layout.inBlocks, first.layout.outBlocks]).toEqual([49, 4]);
    model.dispose();
    expectParameterNamed(() => buildMLP(backend, { hidden: [64], blockSize: 32, sparseInput: true, layout, seed: 1 }), 'inputs');
  });
});

function expectParameterNamed(fn: () => unknown, parameter: string): void {
  try {
    fn();
    expect.unreachable();
  } catch (error) {
    expect((error as { parameter?: string }).parameter).toBe(parameter);
  }
}
