import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { degreeStats } from '../../../src/analysis/degrees.js';
import { FormatError, ParameterError } from '../../../src/errors.js';
import { createCpuBackend, type CpuBackend } from '../../../src/kernels/cpu/cpu-backend.js';
import { parseLayoutJSON, layoutToJSONString } from '../../../src/patterns/json-format.js';
import { BlockLayout } from '../../../src/patterns/layout.js';
import { randomLayout } from '../../../src/patterns/random-layout.js';
import { resolveRng } from '../../../src/random.js';
import { gaussianBlobs } from '../../../src/train/data/synthetic.js';
import { Activation } from '../../../src/train/layers/activation.js';
import { BlockSparseLinear } from '../../../src/train/layers/block-sparse-linear.js';
import { Linear } from '../../../src/train/layers/linear.js';
import { Sequential } from '../../../src/train/layers/sequential.js';
import { Adam, SGD } from '../../../src/train/optimizers.js';
import { largestBlocks } from '../../../src/train/sparsity/blocks.js';
import { gradualPruning, pruneBlocks } from '../../../src/train/sparsity/prune.js';
import { blocksToKeep, cubicSparsity, type CubicScheduleOptions } from '../../../src/train/sparsity/schedules.js';
import { block, hostBlockNorms, pairKeys, topIds, trainSteps } from './helpers.js';

/*
 * Block magnitude pruning on the CPU backend, checked against block norms computed on the host:
 * exactly the intended blocks stay, their weights and Adam moments move with them, and the pruned
 * layer computes what the old layer computes with the dropped blocks zeroed.
 */

let backend: CpuBackend;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
});
afterAll(async () => {
  await backend.dispose();
});

const rng = resolveRng({ seed: 'prune' });
const random = (n: number) => Float32Array.from({ length: n }, () => rng() * 2 - 1);

/** A square layer trained one Adam step on random data, so that the optimiser has state. */
async function trainedLayer(): Promise<{ layer: BlockSparseLinear; optimizer: Adam }> {
  const layout = randomLayout({ inBlocks: 6, density: 0.5, blockSize: 8, seed: 3 });
  const layer = new BlockSparseLinear(backend, layout, { seed: 4 });
  const optimizer = new Adam(layer.parameters(), { lr: 0.01 });
  const x = backend.tensor(random(5 * 48), [5, 48]);
  const y = await layer.forward(x, { training: true });
  const dy = backend.tensor(random(5 * 48), [5, 48]);
  await layer.backward(dy);
  await optimizer.step();
  for (const t of [x, y, dy]) t.dispose();
  return { layer, optimizer };
}

describe('largestBlocks', () => {
  it('picks the largest scores, ties to the lower id, NaN last, in ascending id order', () => {
    expect(Array.from(largestBlocks([3, 1, 3, 2, 3], 2))).toEqual([0, 2]);
    expect(Array.from(largestBlocks([3, 1, 3, 2, 3], 4))).toEqual([0, 2, 3, 4]);
    expect(Array.from(largestBlocks([NaN, 0, -1], 2))).toEqual([1, 2]);
    expect(Array.from(largestBlocks([5, 4], 0))).toEqual([]);
    expect(() => largestBlocks([1, 2], 3)).toThrow(ParameterError);
  });
});

describe('pruneBlocks', () => {
  for (const norm of ['l2', 'max'] as const) {
    it(`keeps exactly the ${norm}-largest blocks, with their weights, Adam moments and outputs`, async () => {
      const { layer, optimizer } = await trainedLayer();
      const old = layer.layout;
      const bs = old.blockSize;
      const w = await backend.read(layer.weight.value);
      const [m, v] = await Promise.all(optimizer.state(layer.weight).map((t) => backend.read(t)));
      const norms = hostBlockNorms(w, bs, norm);
      const keep = 7;
      const expected = topIds(norms, keep);
      const x = backend.tensor(random(3 * 48), [3, 48]);
      // The old layer with the dropped blocks zeroed, run through the same kernel on the old layout.
      const zeroed = w.slice();
      for (let b = 0; b < old.nnz; b++) if (!expected.includes(b)) zeroed.fill(0, b * bs * bs, (b + 1) * bs * bs);
      const zeroedW = backend.tensor(zeroed, [old.nnz, bs, bs]);
      const before = await backend.read(await backend.addBias(await backend.forward(old, x, zeroedW), layer.bias!.value));

      const result = await pruneBlocks(layer, { keep }, { norm, optimizer });
      expect(layer.layout).toBe(result.layout);
      expect(result.layout.nnz).toBe(keep);
      expect(Array.from(result.kept)).toEqual(expected);
      const oldKeys = pairKeys(old);
      expect(pairKeys(result.layout)).toEqual(expected.map((b) => oldKeys[b]));
      const w2 = await backend.read(layer.weight.value);
      const [m2, v2] = await Promise.all(optimizer.state(layer.weight).map((t) => backend.read(t)));
      expect(layer.weight.value.shape).toEqual([keep, bs, bs]);
      expect(optimizer.state(layer.weight).map((t) => t.shape)).toEqual([[keep, bs, bs], [keep, bs, bs]]);
      expected.forEach((b, j) => {
        expect(block(w2, j, bs)).toEqual(block(w, b, bs));
        expect(block(m2, j, bs)).toEqual(block(m, b, bs));
        expect(block(v2, j, bs)).toEqual(block(v, b, bs));
      });
      expect(layer.weight.grad).toBeNull();
      const y = await layer.forward(x, { training: false });
      const after = await backend.read(y);
      for (let i = 0; i < after.length; i++) expect(after[i]).toBeCloseTo(before[i], 5);
      // The layer keeps training on its new layout with the remapped state.
      const y2 = await layer.forward(x, { training: true });
      await layer.backward(y2);
      await optimizer.step();
      expect(layer.weight.grad!.shape).toEqual([keep, bs, bs]);

      const { generator, params, sources } = result.layout.provenance;
      expect(generator).toBe('pruned');
      expect(params).toMatchObject({ method: 'magnitude', norm, keep, step: null });
      expect(params.sparsity).toBeCloseTo(1 - keep / old.nnz, 12);
      expect(sources).toEqual([old.provenance]);
      // A valid layout that round-trips through the JSON format and that the analysis tools read.
      const copy = parseLayoutJSON(layoutToJSONString(result.layout));
      expect(copy.equals(result.layout)).toBe(true);
      expect(copy.provenance).toEqual(result.layout.provenance);
      expect(result.layout.isSquare).toBe(true);
      expect(degreeStats(result.layout)).toBeDefined();
      for (const t of [x, zeroedW, y, y2]) t.dispose();
      optimizer.dispose();
      layer.dispose();
    });
  }

  it('turns a sparsity into a block count as blocksToKeep does, and rejects bad targets', async () => {
    const { layer, optimizer } = await trainedLayer();
    const nnz = layer.layout.nnz;
    await pruneBlocks(layer, { sparsity: 0.4 }, { optimizer });
    expect(layer.layout.nnz).toBe(blocksToKeep(nnz, 0.4));
    await expect(pruneBlocks(layer, { keep: layer.layout.nnz + 1 })).rejects.toThrow(ParameterError);
    await expect(pruneBlocks(layer, { sparsity: 1.5 })).rejects.toThrow(/sparsity/);
    await expect(pruneBlocks(layer, { keep: 1 }, { norm: 'l1' as never })).rejects.toThrow(/norm/);
    optimizer.dispose();
    layer.dispose();
  });

  it('breaks ties by block id', async () => {
    const layout = BlockLayout.fromPairs({ inBlocks: 2, outBlocks: 3, blockSize: 8 }, [0, 0, 1, 1, 1], [0, 2, 0, 1, 2]);
    const layer = new BlockSparseLinear(backend, layout, { seed: 1, bias: false });
    const w = new Float32Array(5 * 64);
    [1, 2, 2, 0.5, 2].forEach((value, b) => w.fill(value, b * 64, (b + 1) * 64));
    layer.weight.value.dispose();
    layer.weight.value = backend.tensor(w, [5, 8, 8]);
    const { kept } = await pruneBlocks(layer, { keep: 2 }, { norm: 'max' });
    expect(Array.from(kept)).toEqual([1, 2]);
    expect(pairKeys(layer.layout)).toEqual(['0,2', '1,0']);
    layer.dispose();
  });
});

describe('gradualPruning', () => {
  it('prunes at the schedule steps to blocksToKeep(initial nnz, s_t) in a small training run', async () => {
    const data = gaussianBlobs({ n: 48, features: 32, classes: 4, seed: 5, spread: 1.5 });
    const first = new BlockSparseLinear(backend, randomLayout({ inBlocks: 4, outBlocks: 8, density: 0.75, blockSize: 8, seed: 6 }), { seed: 6 });
    const second = new BlockSparseLinear(backend, randomLayout({ inBlocks: 8, density: 0.5, blockSize: 8, seed: 7 }), { seed: 7 });
    const model = new Sequential([first, new Activation(backend, 'relu', 64), second, new Activation(backend, 'relu', 64), new Linear(backend, 64, 4, { seed: 8 })]);
    const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const schedule: CubicScheduleOptions = { initial: 0.1, final: 0.75, begin: 2, end: 8, frequency: 2 };
    const hook = gradualPruning({ layers: [first, second], schedule, norm: 'l2' });
    const initial = [first.layout.nnz, second.layout.nnz];
    const seen: number[][] = [];
    const { losses, events } = await trainSteps(model, optimizer, data, 11, [hook], {
      after: () => {
        seen.push([first.layout.nnz, second.layout.nnz]);
      },
    });
    const expected: number[][] = [];
    let current = initial;
    for (let step = 0; step < 11; step++) {
      if ([2, 4, 6, 8].includes(step)) current = initial.map((n) => blocksToKeep(n, cubicSparsity(step, schedule)));
      expected.push(current);
    }
    expect(seen).toEqual(expected);
    expect(seen[10]).toEqual(initial.map((n) => Math.round(0.25 * n)));
    expect(events.map((e) => e.step)).toEqual([2, 4, 6, 8]);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[10]).toBeLessThan(losses[0]);
    // Provenance: one source, the layout before pruning began, and the schedule.
    const provenance = second.layout.provenance;
    expect(provenance.generator).toBe('pruned');
    expect(provenance.params).toEqual({ method: 'magnitude', norm: 'l2', sparsity: 0.75, step: 8, schedule });
    expect(provenance.sources).toEqual([{ ...randomLayout({ inBlocks: 8, density: 0.5, blockSize: 8, seed: 7 }).provenance }]);
    // Checkpoint state round trip: a hook made after pruning, restored, continues from the initial counts.
    const state = JSON.parse(JSON.stringify(hook.state!()));
    expect(state.initialNnz).toEqual(initial);
    const resumed = gradualPruning({ layers: [first, second], schedule });
    resumed.restore!(state);
    expect(resumed.state!()).toEqual(state);
    expect(() => resumed.restore!({ initialNnz: [1], sources: [] })).toThrow(FormatError);
    optimizer.dispose();
    model.dispose();
  });

  it('checks its options', () => {
    const layer = new BlockSparseLinear(backend, randomLayout({ inBlocks: 2, density: 1, blockSize: 8, seed: 1 }), { seed: 1 });
    const schedule = { initial: 0, final: 0.5, begin: 0, end: 4, frequency: 2 };
    expect(() => gradualPruning({ layers: [], schedule })).toThrow(/layers/);
    expect(() => gradualPruning({ layers: [layer, layer], schedule })).toThrow(/layers\[1\]/);
    expect(() => gradualPruning({ layers: [layer], schedule: { ...schedule, end: 5 } })).toThrow(/end/);
    layer.dispose();
  });
});
