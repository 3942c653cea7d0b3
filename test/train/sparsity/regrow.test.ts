import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { averageClustering } from '../../../src/analysis/clustering.js';
import { ParameterError, ShapeError } from '../../../src/errors.js';
import { createCpuBackend, type CpuBackend } from '../../../src/kernels/cpu/cpu-backend.js';
import { layoutToJSONString, parseLayoutJSON } from '../../../src/patterns/json-format.js';
import { BlockLayout } from '../../../src/patterns/layout.js';
import { randomLayout } from '../../../src/patterns/random-layout.js';
import { resolveRng } from '../../../src/random.js';
import { gaussianBlobs } from '../../../src/train/data/synthetic.js';
import { Activation } from '../../../src/train/layers/activation.js';
import { BlockSparseLinear, blockMapOf } from '../../../src/train/layers/block-sparse-linear.js';
import { Sequential } from '../../../src/train/layers/sequential.js';
import { Adam } from '../../../src/train/optimizers.js';
import { regrowBlocks, riglRegrowth, setRegrowth } from '../../../src/train/sparsity/regrow.js';
import { cosineDropFraction } from '../../../src/train/sparsity/schedules.js';
import { block, hostBlockNorms, pairKeys, topIds, trainSteps } from './helpers.js';

/*
 * Prune-and-regrow (SET, RigL) on the CPU backend: nnz stays constant, RigL grows exactly where
 * the dense gradient (computed here on the host) is largest, regrown blocks start from zero with
 * zero optimiser state, and the same seed gives the same layouts.
 */

let backend: CpuBackend;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
});
afterAll(async () => {
  await backend.dispose();
});

const rng = resolveRng({ seed: 'regrow' });
const random = (n: number) => Float32Array.from({ length: n }, () => rng() * 2 - 1);
const data = gaussianBlobs({ n: 48, features: 32, classes: 32, seed: 11, spread: 1 });

/** A square two-layer block-sparse model on 32 features (4 x 4 blocks of 8) and its Adam optimiser. */
function squareModel(seed: number): { model: Sequential; layers: BlockSparseLinear[]; optimizer: Adam } {
  const layers = [0, 1].map((i) => new BlockSparseLinear(backend, randomLayout({ inBlocks: 4, nnz: 10, blockSize: 8, seed: seed + i }), { seed: seed + i }));
  const model = new Sequential([layers[0], new Activation(backend, 'tanh', 32), layers[1]]);
  return { model, layers, optimizer: new Adam(model.parameters(), { lr: 0.01 }) };
}

describe('BlockSparseLinear.setBlocks', () => {
  it('carries kept blocks over and starts new ones at zero, with zero Adam moments and fresh gate logits', async () => {
    const layout = BlockLayout.fromPairs({ inBlocks: 3, outBlocks: 3, blockSize: 8 }, [0, 1, 1, 2], [0, 0, 2, 1]);
    const layer = new BlockSparseLinear(backend, layout, { seed: 2, l0: { dropRate: 0.2 } });
    const optimizer = new Adam(layer.parameters(), { lr: 0.01 });
    const x = backend.tensor(random(4 * 24), [4, 24]);
    await layer.backward(await layer.forward(x, { training: true }));
    await optimizer.step();
    const w = await backend.read(layer.weight.value);
    const logAlpha = await backend.read(layer.logAlpha!.value);
    const [m, v] = await Promise.all(optimizer.state(layer.weight).map((t) => backend.read(t)));
    const [ma] = await Promise.all(optimizer.state(layer.logAlpha!).map((t) => backend.read(t)));
    expect(m.some((value) => value !== 0)).toBe(true);

    // Keep (1,2) and (0,0); add (2,2) and (0,1).
    const next = BlockLayout.fromPairs({ inBlocks: 3, outBlocks: 3, blockSize: 8 }, [0, 0, 1, 2], [0, 1, 2, 2]);
    const map = blockMapOf(layout, next);
    expect(Array.from(map.kept)).toEqual([0, -1, 2, -1]);
    await layer.setBlocks(next, map, optimizer);
    expect(layer.layout).toBe(next);
    const w2 = await backend.read(layer.weight.value);
    const [m2, v2] = await Promise.all(optimizer.state(layer.weight).map((t) => backend.read(t)));
    const logAlpha2 = await backend.read(layer.logAlpha!.value);
    const [ma2] = await Promise.all(optimizer.state(layer.logAlpha!).map((t) => backend.read(t)));
    const zeros = new Float32Array(64);
    map.kept.forEach((old, j) => {
      expect(block(w2, j, 8)).toEqual(old >= 0 ? block(w, old, 8) : zeros);
      expect(block(m2, j, 8)).toEqual(old >= 0 ? block(m, old, 8) : zeros);
      expect(block(v2, j, 8)).toEqual(old >= 0 ? block(v, old, 8) : zeros);
      expect(logAlpha2[j]).toBe(old >= 0 ? logAlpha[old] : Math.fround(Math.log(0.8 / 0.2)));
      expect(ma2[j]).toBe(old >= 0 ? ma[old] : 0);
    });
    expect(layer.weight.grad).toBeNull();
    expect(layer.logAlpha!.grad).toBeNull();
    // The gated layer trains on: the gate stream now draws 4 values a pass.
    const y = await layer.forward(x, { training: true });
    await layer.backward(y);
    await optimizer.step();
    expect(layer.logAlpha!.grad!.shape).toEqual([4]);

    await expect(layer.setBlocks(randomLayout({ inBlocks: 3, outBlocks: 2, density: 1, blockSize: 8, seed: 1 }))).rejects.toThrow(ShapeError);
    await expect(layer.setBlocks(layout, { kept: Int32Array.of(0, 0, 1, 2) })).rejects.toThrow(/distinct/);
    await expect(layer.setBlocks(layout, { kept: Int32Array.of(0, 1, 2) })).rejects.toThrow(ParameterError);
    for (const t of [x, y]) t.dispose();
    optimizer.dispose();
    layer.dispose();
  });

  it('records the dense gradient block norms X^T dY over every (c, k) when asked', async () => {
    const layout = randomLayout({ inBlocks: 2, outBlocks: 3, nnz: 3, blockSize: 8, seed: 5 });
    const layer = new BlockSparseLinear(backend, layout, { seed: 5 });
    const n = 5;
    const xs = random(n * 16);
    const dys = random(n * 24);
    const x = backend.tensor(xs, [n, 16]);
    const dy = backend.tensor(dys, [n, 24]);
    await layer.forward(x, { training: true });
    await layer.backward(dy);
    expect(layer.denseGradNorms).toBeNull();
    layer.recordDenseGradNorms = true;
    await layer.forward(x, { training: true });
    await layer.backward(dy);
    const norms = await backend.read(layer.denseGradNorms!);
    expect(norms.length).toBe(6);
    for (let c = 0; c < 2; c++) {
      for (let k = 0; k < 3; k++) {
        let sum = 0;
        for (let i = 0; i < 8; i++) {
          for (let j = 0; j < 8; j++) {
            let g = 0;
            for (let r = 0; r < n; r++) g += xs[r * 16 + c * 8 + i] * dys[r * 24 + k * 8 + j];
            sum += g * g;
          }
        }
        expect(norms[c * 3 + k]).toBeCloseTo(Math.sqrt(sum), 4);
      }
    }
    const taken = layer.takeDenseGradNorms()!;
    expect(layer.denseGradNorms).toBeNull();
    taken.dispose();
    x.dispose();
    dy.dispose();
    layer.dispose();
  });
});

describe('regrowBlocks', () => {
  it('rejects a growth rule that picks a present block or the wrong count', async () => {
    const layer = new BlockSparseLinear(backend, randomLayout({ inBlocks: 3, nnz: 5, blockSize: 8, seed: 1 }), { seed: 1 });
    const present = layer.layout.pairs();
    const presentDense = present.rows[0] * 3 + present.cols[0];
    await expect(regrowBlocks(layer, 1, () => Int32Array.of(presentDense))).rejects.toThrow(/absent/);
    await expect(regrowBlocks(layer, 2, (candidates) => candidates.slice(0, 1))).rejects.toThrow(/2 dense block ids/);
    await expect(regrowBlocks(layer, 6, (candidates) => candidates)).rejects.toThrow(/drop/);
    layer.dispose();
  });
});

describe('setRegrowth', () => {
  async function run(seed: number, steps: number, hookSeed: number | string) {
    const { model, layers, optimizer } = squareModel(seed);
    const hook = setRegrowth({ layers, every: 2, dropFraction: 0.3, seed: hookSeed });
    const nnz: number[][] = [];
    const { events } = await trainSteps(model, optimizer, data, steps, [hook], { after: () => void nnz.push(layers.map((l) => l.layout.nnz)) });
    return { model, layers, optimizer, hook, nnz, events };
  }

  it('keeps nnz constant, moves blocks every `every` steps, and repeats itself for a seed', async () => {
    const a = await run(20, 7, 'set');
    const b = await run(20, 7, 'set');
    const c = await run(20, 7, 'other');
    expect(a.nnz.every((counts) => counts[0] === 10 && counts[1] === 10)).toBe(true);
    expect(a.events.map((e) => e.step)).toEqual([2, 4, 6]);
    const start = randomLayout({ inBlocks: 4, nnz: 10, blockSize: 8, seed: 20 });
    expect(a.layers[0].layout.equals(start)).toBe(false);
    expect(a.layers.map((l) => pairKeys(l.layout))).toEqual(b.layers.map((l) => pairKeys(l.layout)));
    expect(a.layers.map((l) => pairKeys(l.layout))).not.toEqual(c.layers.map((l) => pairKeys(l.layout)));
    const { generator, params, seed, sources } = a.layers[0].layout.provenance;
    expect(generator).toBe('regrown');
    expect(params).toMatchObject({ method: 'set', norm: 'l2', dropFraction: 0.3, every: 2, step: 6, dropped: 3, grown: 3, updates: 3 });
    expect(seed).toBe('set');
    expect(sources).toEqual([start.provenance]);
    // Square layers stay square, valid, and readable by the analysis tools.
    const layout = a.layers[0].layout;
    expect(parseLayoutJSON(layoutToJSONString(layout)).equals(layout)).toBe(true);
    expect(Number.isFinite(averageClustering(layout))).toBe(true);
    for (const r of [a, b, c]) {
      r.optimizer.dispose();
      r.model.dispose();
    }
  });

  it('resumes from its saved state exactly', async () => {
    const whole = await run(30, 8, 7);
    const { model, layers, optimizer } = squareModel(30);
    const firstHook = setRegrowth({ layers, every: 2, dropFraction: 0.3, seed: 7 });
    await trainSteps(model, optimizer, data, 5, [firstHook]);
    const saved = JSON.parse(JSON.stringify(firstHook.state!()));
    const resumed = setRegrowth({ layers, every: 2, dropFraction: 0.3, seed: 'ignored' });
    resumed.restore!(saved);
    await trainSteps(model, optimizer, data, 3, [resumed], { first: 5 });
    expect(layers.map((l) => pairKeys(l.layout))).toEqual(whole.layers.map((l) => pairKeys(l.layout)));
    for (const r of [whole, { model, optimizer }]) {
      r.optimizer.dispose();
      r.model.dispose();
    }
  });
});

describe('riglRegrowth', () => {
  it('drops the smallest-norm blocks and grows exactly where the host-computed dense gradient is largest', async () => {
    // One layer, logits straight out of it, so that the dense gradient is X^T dlogits.
    const layer = new BlockSparseLinear(backend, randomLayout({ inBlocks: 4, nnz: 10, blockSize: 8, seed: 40 }), { seed: 40 });
    const model = new Sequential([layer]);
    const optimizer = new Adam(model.parameters(), { lr: 0.01 });
    const hook = riglRegrowth({ layers: [layer], every: 3, alpha: 0.3, end: 30 });
    expect(layer.recordDenseGradNorms).toBe(true);
    const x = backend.tensor(data.images, [data.n, 32]);
    const labels = backend.tensor(Float32Array.from(data.labels), [data.n]);
    let checked = 0;
    let moved = 0;
    for (let step = 0; step < 10; step++) {
      const logits = await model.forward(x, { training: true });
      const out = await backend.softmaxCrossEntropy(logits, labels);
      const dy = await backend.read(out.dlogits);
      await model.backward(out.dlogits);
      await optimizer.step();
      const context = { step, epoch: 0, model, optimizer, backend, loss: out.loss };
      const old = layer.layout;
      const updating = step > 0 && step % 3 === 0;
      expect(layer.denseGradNorms !== null).toBe(updating || step === 0);
      if (!updating) {
        expect(await hook.afterStep!(context)).toBeUndefined();
        expect(layer.layout).toBe(old);
      } else {
        // The host's reference: dense gradient block norms, weight block norms after the step.
        const dense = new Float64Array(16);
        for (let c = 0; c < 4; c++) {
          for (let k = 0; k < 4; k++) {
            let sum = 0;
            for (let i = 0; i < 8; i++) {
              for (let j = 0; j < 8; j++) {
                let g = 0;
                for (let r = 0; r < data.n; r++) g += data.images[r * 32 + c * 8 + i] * dy[r * 32 + k * 8 + j];
                sum += g * g;
              }
            }
            dense[c * 4 + k] = Math.sqrt(sum);
          }
        }
        const w = await backend.read(layer.weight.value);
        const norms = hostBlockNorms(w, 8, 'l2');
        const drop = Math.round(cosineDropFraction(step, { alpha: 0.3, end: 30 }) * 10);
        const survivors = topIds(norms, 10 - drop);
        const { rows, cols } = old.pairs();
        const occupied = new Set(survivors.map((b) => rows[b] * 4 + cols[b]));
        const candidates = Array.from({ length: 16 }, (_, d) => d).filter((d) => !occupied.has(d));
        const grown = topIds(candidates.map((d) => dense[d]), drop).map((i) => candidates[i]);
        const expected = [...occupied, ...grown].sort((p, q) => p - q).map((d) => `${Math.floor(d / 4)},${d % 4}`);

        const event = await hook.afterStep!(context);
        expect(event).toMatchObject({ event: 'rigl-regrowth', step, nnz: [10] });
        expect(drop).toBeGreaterThan(0);
        expect(pairKeys(layer.layout)).toEqual(expected);
        if (pairKeys(layer.layout).join() !== pairKeys(old).join()) moved++;
        expect(layer.layout.nnz).toBe(10);
        // Grown blocks start at zero with zero Adam moments; survivors keep theirs.
        const w2 = await backend.read(layer.weight.value);
        const [m2] = await Promise.all(optimizer.state(layer.weight).map((t) => backend.read(t)));
        const next = layer.layout.pairs();
        for (let j = 0; j < 10; j++) {
          const d = next.rows[j] * 4 + next.cols[j];
          if (occupied.has(d)) expect(block(w2, j, 8)).toEqual(block(w, old.blockId(next.rows[j], next.cols[j]), 8));
          else {
            expect(block(w2, j, 8).every((value) => value === 0)).toBe(true);
            expect(block(m2, j, 8).every((value) => value === 0)).toBe(true);
          }
        }
        expect(layer.layout.provenance.params).toMatchObject({ method: 'rigl', alpha: 0.3, every: 3, end: 30, step, dropped: drop, grown: drop });
        checked++;
      }
      // Dense gradients are recorded only for the steps that update.
      expect(layer.recordDenseGradNorms).toBe((step + 1) % 3 === 0);
      for (const t of [logits, out.loss, out.dlogits, out.correct]) t.dispose();
    }
    expect(checked).toBe(3);
    expect(moved).toBeGreaterThan(0);
    expect(layer.layout.provenance.params.updates).toBe(3);
    x.dispose();
    labels.dispose();
    optimizer.dispose();
    model.dispose();
  });

  it('keeps nnz constant in training and gives the same layouts on a rerun', async () => {
    const layouts: string[][][] = [];
    for (let run = 0; run < 2; run++) {
      const { model, layers, optimizer } = squareModel(50);
      const hook = riglRegrowth({ layers, every: 2, alpha: 0.5, end: 9 });
      const { events, losses } = await trainSteps(model, optimizer, data, 10, [hook]);
      expect(events.map((e) => e.step)).toEqual([2, 4, 6, 8]);
      expect(layers.map((l) => l.layout.nnz)).toEqual([10, 10]);
      expect(losses.every(Number.isFinite)).toBe(true);
      layouts.push(layers.map((l) => pairKeys(l.layout)));
      optimizer.dispose();
      model.dispose();
    }
    expect(layouts[0]).toEqual(layouts[1]);
  });

  it('checks its options', () => {
    const layer = new BlockSparseLinear(backend, randomLayout({ inBlocks: 2, density: 1, blockSize: 8, seed: 1 }), { seed: 1 });
    expect(() => riglRegrowth({ layers: [layer], every: 0, alpha: 0.3, end: 10 })).toThrow(/every/);
    expect(() => riglRegrowth({ layers: [layer], every: 1, alpha: 1.5, end: 10 })).toThrow(/alpha/);
    expect(() => setRegrowth({ layers: [layer], every: 1, dropFraction: -0.1, seed: 1 })).toThrow(/dropFraction/);
    layer.dispose();
  });
});
