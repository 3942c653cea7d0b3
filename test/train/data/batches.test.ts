import { describe, expect, it } from 'vitest';
import { batchCount, batches, epochOrder, gatherBatch } from '../../../src/train/data/batches.js';
import type { Dataset } from '../../../src/train/data/dataset.js';
import { expectParameterError } from '../../helpers/expect-error.js';
import { runPythonJSON } from '../../helpers/python.js';

/** A dataset whose example i is [i, i + 0.25, i + 0.5] with label i mod 4, so rows can be traced. */
function tracedDataset(n: number): Dataset {
  const features = 3;
  const images = new Float32Array(n * features);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < features; f++) images[i * features + f] = i + f / 4;
    labels[i] = i % 4;
  }
  return { images, labels, n, features, classes: 4, classNames: ['a', 'b', 'c', 'd'] };
}

function sorted(values: Iterable<number>): number[] {
  return [...values].sort((a, b) => a - b);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

const data = tracedDataset(103);

describe('epochOrder', () => {
  it('is a permutation of 0..n-1 that depends only on (seed, epoch)', () => {
    const order = epochOrder(103, { seed: 7, epoch: 2 });
    expect(order).toBeInstanceOf(Int32Array);
    expect(sorted(order)).toEqual(range(103));
    expect(epochOrder(103, { seed: 7, epoch: 2 })).toEqual(order);
    expect(epochOrder(103, { seed: '7', epoch: 2 })).toEqual(order);
    expect(epochOrder(103, { seed: 7, epoch: 3 })).not.toEqual(order);
    expect(epochOrder(103, { seed: 8, epoch: 2 })).not.toEqual(order);
    expect(epochOrder(0, { seed: 7, epoch: 0 })).toEqual(new Int32Array(0));
  });

  it('gives each epoch a different order', () => {
    const orders = range(20).map((epoch) => Array.from(epochOrder(50, { seed: 'run', epoch })).join(','));
    expect(new Set(orders).size).toBe(20);
  });

  it('is the same on every machine: an independent Python port of Alea and Fisher-Yates draws the same orders', () => {
    // seedrandom's Alea (Baagoe) is exact in IEEE doubles; Python floats are IEEE doubles too.
    const cases: [string | number, number, number][] = [
      [42, 3, 12],
      ['run-a', 0, 12],
      [0.5, 17, 40],
      ['', 1000000, 25],
    ];
    const python = runPythonJSON<number[][]>(`
import json
def mash_factory():
    state = {'n': 0xefc8249d}
    def mash(data):
        n = state['n']
        for ch in data:
            n += ord(ch)
            h = 0.02519603282416938 * n
            n = int(h) % 2**32
            h -= n
            h *= n
            n = int(h) % 2**32
            h -= n
            n += h * 4294967296.0
        state['n'] = n
        return (int(n) % 2**32) * 2.3283064365386963e-10
    return mash
def alea(seed):
    mash = mash_factory()
    s = [mash(' '), mash(' '), mash(' ')]
    c = 1
    for k in range(3):
        s[k] -= mash(seed)
        if s[k] < 0: s[k] += 1
    def nxt():
        nonlocal c
        t = 2091639 * s[0] + c * 2.3283064365386963e-10
        s[0], s[1] = s[1], s[2]
        c = int(t)
        s[2] = t - c
        return s[2]
    return nxt
def js_string(seed):
    if isinstance(seed, str): return seed
    return str(int(seed)) if float(seed).is_integer() else repr(seed)
out = []
for seed, epoch, n in ${JSON.stringify(cases)}:
    rng = alea(js_string(seed) + '#epoch' + str(epoch))
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rng() * (i + 1))
        perm[i], perm[j] = perm[j], perm[i]
    out.append(perm)
print(json.dumps(out))
`);
    cases.forEach(([seed, epoch, n], k) => expect(Array.from(epochOrder(n, { seed, epoch }))).toEqual(python[k]));
    // Pinned as well, so that a change of the derivation shows up here.
    expect(Array.from(epochOrder(12, { seed: 42, epoch: 3 }))).toEqual([0, 11, 6, 4, 10, 3, 2, 9, 8, 5, 7, 1]);
  });

  it('checks its arguments', () => {
    expectParameterError(() => epochOrder(-1, { seed: 1, epoch: 0 }), 'n');
    expectParameterError(() => epochOrder(10, { seed: 1, epoch: -1 }), 'epoch');
    expectParameterError(() => epochOrder(10, { seed: 1, epoch: 1.5 }), 'epoch');
    expectParameterError(() => epochOrder(10, { epoch: 0 } as { seed: number; epoch: number }), 'seed');
    expectParameterError(() => epochOrder(10, { seed: Number.NaN, epoch: 0 }), 'seed');
  });
});

describe('batches', () => {
  it('visits every example exactly once per epoch, in epochOrder, keeping the last partial batch', () => {
    const all = [...batches(data, { batchSize: 10, seed: 3, epoch: 1 })];
    expect(all.map((b) => b.size)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3]);
    expect(all.length).toBe(batchCount(103, 10));
    const visited = all.flatMap((b) => Array.from(b.indices));
    expect(sorted(visited)).toEqual(range(103));
    expect(visited).toEqual(Array.from(epochOrder(103, { seed: 3, epoch: 1 })));
  });

  it('gathers each example’s row and label: x is [size, features], y is [size]', () => {
    for (const batch of batches(data, { batchSize: 16, seed: 'gather', epoch: 0 })) {
      expect(batch.x).toBeInstanceOf(Float32Array);
      expect(batch.x.length).toBe(batch.size * 3);
      expect(batch.y).toBeInstanceOf(Uint8Array);
      expect(batch.y.length).toBe(batch.size);
      batch.indices.forEach((i, r) => {
        expect(Array.from(batch.x.subarray(r * 3, r * 3 + 3))).toEqual([i, i + 0.25, i + 0.5]);
        expect(batch.y[r]).toBe(i % 4);
      });
    }
  });

  it('same seed and epoch give the same batches; another epoch gives another order', () => {
    const run = (epoch: number) => [...batches(data, { batchSize: 32, seed: 11, epoch })];
    expect(run(4)).toEqual(run(4));
    expect(run(5).map((b) => Array.from(b.indices))).not.toEqual(run(4).map((b) => Array.from(b.indices)));
  });

  it('resuming at epoch e reproduces its order without running the earlier epochs', () => {
    const uninterrupted: number[][] = [];
    for (let epoch = 0; epoch < 6; epoch++) {
      uninterrupted.push([...batches(data, { batchSize: 25, seed: 'resume', epoch })].flatMap((b) => Array.from(b.indices)));
    }
    const resumed = [...batches(data, { batchSize: 25, seed: 'resume', epoch: 5 })].flatMap((b) => Array.from(b.indices));
    expect(resumed).toEqual(uninterrupted[5]);
    // Within an epoch: startBatch k yields batches k.. of the same order.
    const tail = [...batches(data, { batchSize: 25, seed: 'resume', epoch: 5, startBatch: 3 })];
    expect(tail.map((b) => b.size)).toEqual([25, 3]);
    expect(tail.flatMap((b) => Array.from(b.indices))).toEqual(uninterrupted[5].slice(75));
    expect([...batches(data, { batchSize: 25, seed: 'resume', epoch: 5, startBatch: 5 })]).toEqual([]);
  });

  it('dropLast drops the partial last batch only', () => {
    const dropped = [...batches(data, { batchSize: 10, seed: 3, epoch: 1, dropLast: true })];
    expect(dropped.map((b) => b.size)).toEqual(new Array(10).fill(10));
    expect(dropped.flatMap((b) => Array.from(b.indices))).toEqual(Array.from(epochOrder(103, { seed: 3, epoch: 1 })).slice(0, 100));
    expect([...batches(tracedDataset(40), { batchSize: 10, seed: 3, dropLast: true })].map((b) => b.size)).toEqual([10, 10, 10, 10]);
    expect([...batches(data, { batchSize: 200, seed: 3, dropLast: true })]).toEqual([]);
    expect([...batches(data, { batchSize: 200, seed: 3 })].map((b) => b.size)).toEqual([103]);
  });

  it("shuffle: false keeps the dataset's order and needs no seed", () => {
    const all = [...batches(data, { batchSize: 50, shuffle: false })];
    expect(all.map((b) => Array.from(b.indices))).toEqual([range(50), range(100).slice(50), [100, 101, 102]]);
    expect(Array.from(all[2].x)).toEqual([100, 100.25, 100.5, 101, 101.25, 101.5, 102, 102.25, 102.5]);
  });

  it('a batch is a copy: writing to it leaves the dataset alone', () => {
    const [first] = batches(data, { batchSize: 4, shuffle: false });
    first.x.fill(-1);
    first.y.fill(9);
    expect(data.images[0]).toBe(0);
    expect(data.labels[1]).toBe(1);
  });

  it('batchCount is ceil(n / b), or floor with dropLast', () => {
    expect([batchCount(103, 10), batchCount(103, 10, true), batchCount(100, 10), batchCount(100, 10, true), batchCount(0, 5), batchCount(3, 5, true)]).toEqual([11, 10, 10, 10, 0, 0]);
  });

  it('checks options when called, before the first batch', () => {
    expectParameterError(() => batches(data, { batchSize: 0, seed: 1 }), 'batchSize');
    expectParameterError(() => batches(data, { batchSize: 10 }), 'seed');
    expectParameterError(() => batches(data, { batchSize: 10, seed: 1, epoch: -1 }), 'epoch');
    expectParameterError(() => batches(data, { batchSize: 10, seed: 1, startBatch: 12 }), 'startBatch');
    expectParameterError(() => batches(data, { batchSize: 10, seed: 1, dropLast: 'yes' as unknown as boolean }), 'dropLast');
    expectParameterError(() => batches({ ...data, labels: data.labels.subarray(1) }, { batchSize: 10, seed: 1 }), 'dataset.labels');
    expectParameterError(() => batches({ ...data, classes: 3, classNames: ['a', 'b', 'c'] }, { batchSize: 10, seed: 1 }), 'dataset.labels[3]');
    expectParameterError(() => gatherBatch(data, Int32Array.of(0, 103)), 'indices[1]');
  });
});
