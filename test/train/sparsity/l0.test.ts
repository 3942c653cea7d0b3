import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { degreeStats } from '../../../src/analysis/degrees.js';
import { ParameterError } from '../../../src/errors.js';
import { createCpuBackend, type CpuBackend } from '../../../src/kernels/cpu/cpu-backend.js';
import { layoutToJSONString, parseLayoutJSON } from '../../../src/patterns/json-format.js';
import { randomLayout } from '../../../src/patterns/random-layout.js';
import { resolveRng } from '../../../src/random.js';
import { gaussianBlobs } from '../../../src/train/data/synthetic.js';
import { Activation } from '../../../src/train/layers/activation.js';
import { BlockSparseLinear } from '../../../src/train/layers/block-sparse-linear.js';
import { Linear } from '../../../src/train/layers/linear.js';
import { Sequential } from '../../../src/train/layers/sequential.js';
import { Adam } from '../../../src/train/optimizers.js';
import { l0ExpectedDensity, l0Hook, l0Layout, l0Prune } from '../../../src/train/sparsity/l0.js';
import { block, pairKeys, trainSteps } from './helpers.js';

/*
 * L0 hard-concrete gates per block (Louizos, Welling & Kingma 2018) on the CPU backend: the
 * penalty drives the expected density down during training, and the learned layout is exactly
 * the blocks whose deterministic gate min(1, max(0, sigmoid(log alpha) (zeta - gamma) + gamma)) is
 * above 0, i.e. log alpha > log(-gamma / zeta) = log(0.1 / 1.1) with the defaults.
 */

let backend: CpuBackend;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
});
afterAll(async () => {
  await backend.dispose();
});

const rng = resolveRng({ seed: 'l0' });
const random = (n: number) => Float32Array.from({ length: n }, () => rng() * 2 - 1);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const BETA = 2 / 3;
const GAMMA = -0.1;
const ZETA = 1.1;
/** P(gate != 0) for log alpha a (eq. 12 of the paper). */
const openProbability = (a: number) => sigmoid(a - BETA * Math.log(-GAMMA / ZETA));
/** The test-time gate sigmoid(a) (zeta - gamma) + gamma is above 0 exactly when a > log(-gamma / zeta) (about -2.398). */
const THRESHOLD = Math.log(-GAMMA / ZETA);

describe('l0Hook', () => {
  it('with a large lambda the expected density falls in a short training run, and the hook returns the penalty', async () => {
    const data = gaussianBlobs({ n: 64, features: 32, classes: 4, seed: 3, spread: 1.5 });
    const gated = new BlockSparseLinear(backend, randomLayout({ inBlocks: 4, density: 0.75, blockSize: 8, seed: 4 }), { seed: 4, l0: { dropRate: 0.3 } });
    const model = new Sequential([gated, new Activation(backend, 'relu', 32), new Linear(backend, 32, 4, { seed: 5 })]);
    const optimizer = new Adam(model.parameters(), { lr: 0.05 });
    const lambda = 0.005;
    const hook = l0Hook({ layers: [gated], lambda });
    expect(hook.lambda).toBe(lambda);

    // The penalty the hook returns, against the closed form on the host.
    const logAlpha = await backend.read(gated.logAlpha!.value);
    const x = backend.tensor(data.images, [64, 32]);
    const y = await model.forward(x, { training: true });
    await model.backward(y);
    const penalty = (await hook.afterBackward!({ step: 0, epoch: 0, model, optimizer, backend, loss: y }))!;
    const expectedPenalty = lambda * 64 * logAlpha.reduce((sum, a) => sum + openProbability(a), 0);
    expect((await backend.read(penalty))[0]).toBeCloseTo(expectedPenalty, 3);
    penalty.dispose();
    y.dispose();
    x.dispose();

    const before = await l0ExpectedDensity(gated);
    expect(before).toBeCloseTo(logAlpha.reduce((sum, a) => sum + openProbability(a), 0) / 16, 5);
    const { losses } = await trainSteps(model, optimizer, data, 100, [hook]);
    const after = await l0ExpectedDensity(gated);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(after).toBeLessThan(before - 0.1);
    // Blocks whose gates closed leave the learned layout.
    const learned = await l0Layout(gated, { lambda, step: 100 });
    const trained = await backend.read(gated.logAlpha!.value);
    const keys = pairKeys(gated.layout);
    expect(pairKeys(learned)).toEqual(Array.from(trained.keys()).filter((b) => trained[b] > THRESHOLD).map((b) => keys[b]));
    expect(learned.nnz).toBeGreaterThan(0);
    expect(learned.nnz).toBeLessThan(gated.layout.nnz);
    optimizer.dispose();
    model.dispose();
  });

  it('rejects layers without gates and a negative lambda', () => {
    const plain = new BlockSparseLinear(backend, randomLayout({ inBlocks: 2, density: 1, blockSize: 8, seed: 1 }), { seed: 1 });
    const gated = new BlockSparseLinear(backend, randomLayout({ inBlocks: 2, density: 1, blockSize: 8, seed: 1 }), { seed: 1, l0: {} });
    expect(() => l0Hook({ layers: [plain], lambda: 1 })).toThrow(/l0 gates/);
    expect(() => l0Hook({ layers: [gated], lambda: -1 })).toThrow(ParameterError);
    plain.dispose();
    gated.dispose();
  });
});

describe('l0Layout', () => {
  it('keeps exactly the blocks whose test-time gate is above 0, with provenance, and l0Prune removes the others', async () => {
    const layout = randomLayout({ inBlocks: 4, nnz: 10, blockSize: 8, seed: 9 });
    const layer = new BlockSparseLinear(backend, layout, { seed: 9, l0: {} });
    // Closed (gate 0), open (gate 1) and in between, on both sides of the threshold (about -2.398).
    const logAlpha = Float32Array.of(-10, 5, -2.5, 0, -2.3, 3, -8, -1, 2, -3);
    layer.logAlpha!.value.dispose();
    layer.logAlpha!.value = backend.tensor(logAlpha, [10]);
    const open = Array.from(logAlpha.keys()).filter((b) => logAlpha[b] > THRESHOLD);
    expect(open).toEqual([1, 3, 4, 5, 7, 8]);

    const learned = await l0Layout(layer, { lambda: 0.5, step: 123 });
    const keys = pairKeys(layout);
    expect(pairKeys(learned)).toEqual(open.map((b) => keys[b]));
    expect(learned.provenance).toEqual({ generator: 'l0', params: { lambda: 0.5, beta: BETA, gamma: GAMMA, zeta: ZETA, step: 123 }, sources: [layout.provenance] });
    expect(layer.layout).toBe(layout);
    expect((await l0Layout(layer)).provenance.params).toMatchObject({ lambda: null, step: null });
    expect(parseLayoutJSON(layoutToJSONString(learned)).equals(learned)).toBe(true);
    expect(degreeStats(learned)).toBeDefined();

    // Removing the closed blocks changes nothing at evaluation: their gates were 0.
    const optimizer = new Adam(layer.parameters(), { lr: 0.01 });
    const x = backend.tensor(random(3 * 32), [3, 32]);
    const yBefore = await backend.read(await layer.forward(x, { training: false }));
    const w = await backend.read(layer.weight.value);
    const pruned = await l0Prune(layer, { optimizer, lambda: 0.5, step: 123 });
    expect(pruned.equals(learned)).toBe(true);
    expect(layer.layout).toBe(pruned);
    const w2 = await backend.read(layer.weight.value);
    open.forEach((b, j) => expect(block(w2, j, 8)).toEqual(block(w, b, 8)));
    expect(Array.from(await backend.read(layer.logAlpha!.value))).toEqual(open.map((b) => logAlpha[b]));
    const yAfter = await backend.read(await layer.forward(x, { training: false }));
    for (let i = 0; i < yAfter.length; i++) expect(yAfter[i]).toBeCloseTo(yBefore[i], 5);
    x.dispose();
    optimizer.dispose();
    layer.dispose();
  });

  it('rejects a layer without gates', async () => {
    const plain = new BlockSparseLinear(backend, randomLayout({ inBlocks: 2, density: 1, blockSize: 8, seed: 1 }), { seed: 1 });
    await expect(l0Layout(plain)).rejects.toThrow(/l0 gates/);
    await expect(l0ExpectedDensity(plain)).rejects.toThrow(ParameterError);
    plain.dispose();
  });
});
