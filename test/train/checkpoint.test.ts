import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import { bandedLayout } from '../../src/patterns/banded.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { applyCheckpoint, restoreModel, restoreOptimizer } from '../../src/train/checkpoint-restore.js';
import { gaussianBlobs } from '../../src/train/data/synthetic.js';
import type { TrainingHook } from '../../src/train/hooks.js';
import { BlockSparseLinear } from '../../src/train/layers/block-sparse-linear.js';
import type { Sequential } from '../../src/train/layers/sequential.js';
import { buildCNN } from '../../src/train/cnn.js';
import { BlockSparseConv2d } from '../../src/train/layers/block-sparse-conv2d.js';
import { buildMLP, estimateModelBytes, describeModel } from '../../src/train/model.js';
import { pruneBlocks } from '../../src/train/sparsity/prune.js';
import { Adam, SGD, type Optimizer } from '../../src/train/optimizers.js';

let backend: CpuBackend;
let dir: string;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
  dir = mkdtempSync(join(tmpdir(), 'blocksparse-checkpoint-'));
});
afterAll(async () => {
  await backend.dispose();
});

const data = gaussianBlobs({ n: 64, features: 16, classes: 4, seed: 'ckpt' });

/** A model (middle layer banded, or random when `random`), with L0 gates, after `steps` training steps. */
async function trained(make: (model: Sequential) => Optimizer, steps: number, random = false): Promise<{ model: Sequential; optimizer: Optimizer }> {
  const model = buildMLP(backend, {
    inputs: 16, hidden: [32, 32], classes: 4, blockSize: 8, seed: 3, l0: {},
    layout: ({ inBlocks }) => (random ? randomLayout({ inBlocks, nnz: 7, seed: 1, blockSize: 8 }) : bandedLayout({ inBlocks, bandwidth: 1, blockSize: 8 })),
  });
  const optimizer = make(model);
  const x = backend.tensor(data.images, [64, 16]);
  const labels = backend.tensor(Float32Array.from(data.labels), [64]);
  for (let s = 0; s < steps; s++) {
    const logits = await model.forward(x, { training: true });
    const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
    await model.backward(dlogits);
    await optimizer.step();
    for (const t of [logits, loss, dlogits, correct]) t.dispose();
  }
  x.dispose();
  labels.dispose();
  return { model, optimizer };
}

const read = async (t: { value: unknown } | unknown) => Array.from(await backend.read(t as never));
/** One epoch's metrics record, as the training loop writes it. */
const metricsRecord = (epoch: number, step: number) => ({
  epoch, step, trainLoss: 1.2, trainAccuracy: 0.5, testLoss: 1.3, testAccuracy: 0.4, seconds: 0.1, evalSeconds: 0.01,
  samplesPerSecond: null, lr: 0.01, densities: [{ layer: 2, kind: 'block-sparse-linear', inFeatures: 32, outFeatures: 32, density: 0.625, nnz: 10 }],
  events: [{ hook: 'h', epoch, step, event: 'prune' }],
});
const hook = (count: number): TrainingHook => ({ name: 'h', state: () => ({ count, nested: [1, 'a'] }), restore: () => {} });

describe('checkpoints', () => {
  it('round-trip every parameter, optimiser state, step count, gate-noise state, layout and record', async () => {
    const { model, optimizer } = await trained((m) => new Adam(m.parameters(), { lr: 0.01, weightDecay: 0.1, decoupled: true }), 3);
    const path = join(dir, 'round-trip');
    const position = { epoch: 2, batch: 0, step: 3 };
    await saveCheckpoint(path, { model, optimizer, seed: 'run', position, hooks: [hook(4)], metrics: [metricsRecord(0, 2)], run: { note: 'x' } });
    expect(readdirSync(path).sort()).toEqual(['manifest.json', 'tensors.bin']);
    const checkpoint = loadCheckpoint(path);
    const m = checkpoint.manifest;
    expect(m).toMatchObject({ seed: 'run', position, hooks: { h: { count: 4, nested: [1, 'a'] } }, metrics: [metricsRecord(0, 2)], run: { note: 'x' } });
    expect(m.version).toBe(2);
    expect(m.parameters.every((e) => Number.isInteger(e.crc32))).toBe(true);
    expect(m.optimizer).toMatchObject({ kind: 'adamw', lr: 0.01, weightDecay: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, steps: 3 });
    expect(m.architecture.map((l) => l.kind)).toEqual(['linear', 'activation', 'block-sparse-linear', 'activation', 'linear']);
    expect(m.architecture[2]).toMatchObject({ layout: { provenance: { generator: 'banded' } }, l0: { beta: 2 / 3, gamma: -0.1, zeta: 1.1 } });
    // tensors.bin holds every parameter then the two Adam moments of each, float32
    const count = model.parameters().reduce((s, p) => s + p.value.size, 0);
    expect(readFileSync(join(path, 'tensors.bin')).length).toBe(4 * 3 * count);

    const model2 = restoreModel(checkpoint, backend);
    const optimizer2 = restoreOptimizer(checkpoint, model2);
    expect(optimizer2).toBeInstanceOf(Adam);
    expect((optimizer2 as Adam).decoupled).toBe(true);
    expect(optimizer2.steps).toBe(3);
    const [p1, p2] = [model.parameters(), model2.parameters()];
    expect(p2.map((p) => p.name)).toEqual(p1.map((p) => p.name));
    for (let i = 0; i < p1.length; i++) {
      expect(await read(p2[i].value), p1[i].name).toEqual(await read(p1[i].value));
      expect(optimizer2.stepsOf(p2[i])).toBe(3);
      for (let s = 0; s < 2; s++) expect(await read(optimizer2.state(p2[i])[s])).toEqual(await read(optimizer.state(p1[i])[s]));
    }
    const [gated, gated2] = [model.layers[2] as BlockSparseLinear, model2.layers[2] as BlockSparseLinear];
    expect(gated2.layout.equals(gated.layout)).toBe(true);
    expect(gated2.layout.provenance).toEqual(gated.layout.provenance);
    expect(gated2.noiseState()).toEqual(gated.noiseState());
    model2.dispose();
    optimizer2.dispose();
    model.dispose();
  });

  it('restores the layout saved, not the one a fresh model starts with', async () => {
    // The saved model's middle layer has a different layout (as pruning would leave it).
    const { model, optimizer } = await trained((m) => new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 }), 2, true);
    const path = join(dir, 'changed-layout');
    await saveCheckpoint(path, { model, optimizer, seed: 1, position: { epoch: 1, batch: 0, step: 2 } });
    const checkpoint = loadCheckpoint(path);
    const restored = restoreModel(checkpoint, backend);
    expect((restored.layers[2] as BlockSparseLinear).layout.nnz).toBe(7);
    expect(restoreOptimizer(checkpoint, restored)).toBeInstanceOf(SGD);
    // applying it to a model with the initial (banded) layout names the difference
    const fresh = await trained((m) => new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 }), 0);
    expect(() => applyCheckpoint(checkpoint, fresh)).toThrow(/architecture\[2\]: the checkpoint's layout \(4 x 4 blocks, nnz 7\) differs from the model's \(4 x 4, nnz 10\)/);
    // and a model of the right architecture but another optimiser setting
    const other = await trained((m) => new SGD(m.parameters(), { lr: 0.1, momentum: 0.5 }), 0, true);
    expect(() => applyCheckpoint(checkpoint, other)).toThrow(/optimizer.momentum is 0.9 in the checkpoint but 0.5/);
    for (const m of [model, restored, fresh.model, other.model]) m.dispose();
  });

  it('round-trip a CNN: convolution weights [nnz, kh, kw, bs, bs], a pruned layout, gates, the fixed stem; training goes on bit for bit', async () => {
    const images = gaussianBlobs({ n: 16, features: 36, classes: 3, seed: 'cnn-ckpt' });
    const make = () => buildCNN(backend, {
      height: 6, width: 6, classes: 3, channels: [16, 16], blockSize: 8, seed: 5, l0: {},
      layout: ({ inBlocks, outBlocks, blockSize }) => randomLayout({ inBlocks, outBlocks, density: 1, blockSize, seed: 6 }),
    });
    const x = backend.tensor(images.images, [16, 36]);
    const labels = backend.tensor(Float32Array.from(images.labels), [16]);
    const step = async (m: Sequential, o: Optimizer): Promise<number> => {
      const logits = await m.forward(x, { training: true });
      const { loss, dlogits } = await backend.softmaxCrossEntropy(logits, labels);
      await m.backward(dlogits);
      await o.step();
      return (await backend.read(loss))[0];
    };
    const model = make();
    const optimizer = new Adam(model.parameters(), { lr: 0.01 });
    await step(model, optimizer);
    await pruneBlocks(model.blockSparseLayers()[1], { keep: 3 }, { optimizer });
    await step(model, optimizer);
    const path = join(dir, 'cnn');
    await saveCheckpoint(path, { model, optimizer, seed: 5, position: { epoch: 1, batch: 0, step: 2 } });
    const checkpoint = loadCheckpoint(path);
    expect(checkpoint.manifest.version).toBe(3);
    const kinds = checkpoint.manifest.architecture.map((l) => l.kind);
    expect(kinds.slice(0, 5)).toEqual(['image-input', 'block-sparse-conv2d', 'channel-norm', 'activation', 'block-sparse-conv2d']);
    expect(kinds.slice(-3)).toEqual(['activation', 'global-avg-pool', 'linear']);
    expect(checkpoint.manifest.parameters.find((e) => e.name === '8.weight')?.shape).toEqual([3, 3, 3, 8, 8]);
    const restored = restoreModel(checkpoint, backend);
    const optimizer2 = restoreOptimizer(checkpoint, restored);
    const [p1, p2] = [model.parameters(), restored.parameters()];
    expect(p2.map((p) => [p.name, p.value.shape])).toEqual(p1.map((p) => [p.name, p.value.shape]));
    for (let i = 0; i < p1.length; i++) expect(await read(p2[i].value), p1[i].name).toEqual(await read(p1[i].value));
    const [stem, stem2] = [model.layers[1] as BlockSparseConv2d, restored.layers[1] as BlockSparseConv2d];
    expect([stem2.fixedLayout, stem2.geometry]).toEqual([true, stem.geometry]);
    const [convs, convs2] = [model.blockSparseLayers(), restored.blockSparseLayers()];
    expect(convs2.map((l) => l.layout.nnz)).toEqual([4, 3]);
    expect(convs2[1].layout.provenance).toEqual(convs[1].layout.provenance);
    expect(convs2.map((l) => l.noiseState())).toEqual(convs.map((l) => l.noiseState()));
    // A fresh CNN of the unpruned layouts is not this checkpoint's model.
    const fresh = make();
    expect(() => applyCheckpoint(checkpoint, { model: fresh, optimizer: new Adam(fresh.parameters(), { lr: 0.01 }) })).toThrow(/architecture\[8\]: the checkpoint's layout \(2 x 2 blocks, nnz 3\) differs from the model's \(2 x 2, nnz 4\)/);
    // The next steps give the same losses, to the bit.
    for (let s = 0; s < 2; s++) expect(await step(restored, optimizer2)).toBe(await step(model, optimizer));
    for (const m of [model, restored, fresh]) m.dispose();
    x.dispose();
    labels.dispose();
  });

  it('is atomic: a failure while writing leaves the old checkpoint whole, and no temporary directory', async () => {
    const { model, optimizer } = await trained((m) => new Adam(m.parameters(), { lr: 0.01 }), 1);
    const path = join(dir, 'atomic');
    await saveCheckpoint(path, { model, optimizer, seed: 1, position: { epoch: 1, batch: 0, step: 1 }, hooks: [hook(1)] });
    const before = readFileSync(join(path, 'tensors.bin'));
    const failing: TrainingHook = { name: 'h', state: () => { throw new Error('disk on fire'); } };
    await expect(saveCheckpoint(path, { model, optimizer, seed: 1, position: { epoch: 2, batch: 0, step: 2 }, hooks: [failing] })).rejects.toThrow('disk on fire');
    expect(loadCheckpoint(path).manifest.position.epoch).toBe(1);
    expect(readFileSync(join(path, 'tensors.bin')).equals(before)).toBe(true);
    expect(readdirSync(dir).filter((name) => name.includes('atomic'))).toEqual(['atomic']);
    // A commit interrupted between its two renames leaves the old checkpoint at <dir>.previous, which is read.
    renameSync(path, `${path}.previous`);
    expect(loadCheckpoint(path).manifest.position.epoch).toBe(1);
    await saveCheckpoint(path, { model, optimizer, seed: 1, position: { epoch: 3, batch: 0, step: 3 }, hooks: [hook(1)] });
    expect(loadCheckpoint(path).manifest.position.epoch).toBe(3);
    expect(existsSync(`${path}.previous`)).toBe(false);
    model.dispose();
  });

  it('names what is wrong with a damaged checkpoint', async () => {
    const { model, optimizer } = await trained((m) => new Adam(m.parameters(), { lr: 0.01 }), 1);
    const path = join(dir, 'damaged');
    await saveCheckpoint(path, { model, optimizer, seed: 1, position: { epoch: 1, batch: 0, step: 1 } });
    const manifestPath = join(path, 'manifest.json');
    const good = readFileSync(manifestPath, 'utf8');
    const damage = (edit: (m: Record<string, any>) => void) => {
      const m = JSON.parse(good);
      edit(m);
      writeFileSync(manifestPath, JSON.stringify(m));
    };
    const expectFormat = (field: string, message: RegExp) => {
      const error = (() => { try { loadCheckpoint(path); return null; } catch (e) { return e; } })();
      expect(error).toBeInstanceOf(FormatError);
      expect((error as FormatError).field).toBe(field);
      expect((error as Error).message).toMatch(message);
    };
    damage((m) => (m.version = 99));
    expectFormat('version', /unsupported checkpoint version 99/);
    damage((m) => (m.parameters[1].length = 5));
    expectFormat('parameters[1]', /length 5 is not the product of shape \[32\]/);
    damage((m) => (m.architecture[2].layout.colIdx[0] = 99));
    expectFormat('architecture[2].layout.colIdx', /architecture\[2\]\.layout: colIdx/);
    damage((m) => (m.optimizer.kind = 'rmsprop'));
    expectFormat('optimizer.kind', /sgd, adam or adamw/);
    writeFileSync(manifestPath, good.slice(0, 100));
    expectFormat('manifest', /not valid JSON/);
    writeFileSync(manifestPath, good);
    truncateSync(join(path, 'tensors.bin'), 100);
    expectFormat('tensors', /tensors.bin holds 100 bytes but the manifest says \d+/);
    model.dispose();
  });
});

describe('checkpoints read for inference (parametersOnly)', () => {
  it('read the parameters alone, restore the same model, and leave the optimiser state unread', async () => {
    const { model, optimizer } = await trained((m) => new Adam(m.parameters(), { lr: 0.01 }), 2);
    const path = join(dir, 'parameters-only');
    await saveCheckpoint(path, { model, optimizer, seed: 1, position: { epoch: 1, batch: 0, step: 2 } });
    const whole = loadCheckpoint(path);
    const partial = loadCheckpoint(path, { parametersOnly: true });
    const { parameters, optimizer: saved } = whole.manifest;
    const end = Math.max(...parameters.map((e) => e.offset + 4 * e.length));
    expect(partial.parametersOnly).toBe(true);
    expect(partial.values.length).toBe(end / 4);
    expect(whole.values.length).toBeGreaterThan(end / 4 + 2 * parameters.reduce((n, e) => n + e.length, 0) - 1); // Adam's two moments follow
    const x = backend.tensor(data.images.subarray(0, 16 * 5), [5, 16]);
    const logits = async (m: Sequential) => {
      const y = await m.forward(x, { training: false });
      const values = await read(y);
      y.dispose();
      return values;
    };
    const fromWhole = restoreModel(whole, backend);
    const fromPartial = restoreModel(partial, backend);
    expect(await logits(fromPartial)).toEqual(await logits(fromWhole));
    expect(() => restoreOptimizer(partial, fromPartial)).toThrow(/parametersOnly/);

    // A damaged byte in the optimiser state: the whole read refuses it, the parameters' read does not reach it.
    const bytes = readFileSync(join(path, 'tensors.bin'));
    const slot = saved.state[0].slots[0];
    bytes[slot.offset + 1] ^= 0xff;
    writeFileSync(join(path, 'tensors.bin'), bytes);
    expect(() => loadCheckpoint(path)).toThrow(/checksum of optimizer\.state\[0\]\.slots\[0\]/);
    expect(loadCheckpoint(path, { parametersOnly: true }).values.length).toBe(end / 4);
    // A damaged parameter is refused by both.
    bytes[parameters[0].offset] ^= 0xff;
    writeFileSync(join(path, 'tensors.bin'), bytes);
    expect(() => loadCheckpoint(path, { parametersOnly: true })).toThrow(/checksum of parameters\[0\]/);

    // The memory an inference model needs: its values alone, a quarter of Adam training's (values, gradients, two moments) but the layouts' tables.
    const records = describeModel(model);
    const adam = estimateModelBytes(records);
    const inference = estimateModelBytes(records, { kind: 'none' });
    const values = 4 * parameters.reduce((n, e) => n + e.length, 0);
    expect(adam.bytes - inference.bytes).toBe(3 * values);
    x.dispose();
    for (const m of [model, fromWhole, fromPartial]) m.dispose();
    optimizer.dispose();
  });
});
