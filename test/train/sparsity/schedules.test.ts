import { describe, expect, it } from 'vitest';
import { blocksToKeep, cosineDropFraction, cubicSparsity, isPruningStep } from '../../../src/train/sparsity/schedules.js';
import { erkAllocation } from '../../../src/train/sparsity/erk.js';
import { resolveRng } from '../../../src/random.js';
import { expectParameterError } from '../../helpers/expect-error.js';

const schedule = { initial: 0, final: 0.9, begin: 100, end: 200, frequency: 10 };

describe('cubic sparsity schedule (Zhu & Gupta)', () => {
  it('has the closed-form values at known steps, held between pruning steps', () => {
    expect(cubicSparsity(0, schedule)).toBe(0);
    expect(cubicSparsity(99, schedule)).toBe(0);
    expect(cubicSparsity(100, schedule)).toBe(0); // s_i
    // t = 150: s_f + (s_i - s_f)(1 - 50/100)^3 = 0.9 - 0.9/8
    expect(cubicSparsity(150, schedule)).toBeCloseTo(0.7875, 15);
    expect(cubicSparsity(159, schedule)).toBeCloseTo(0.7875, 15);
    // t = 110: 0.9 - 0.9 * 0.9^3
    expect(cubicSparsity(110, schedule)).toBeCloseTo(0.9 - 0.9 * 0.729, 15);
    expect(cubicSparsity(200, schedule)).toBe(0.9);
    expect(cubicSparsity(10_000, schedule)).toBe(0.9);
    const fromHalf = { ...schedule, initial: 0.5 };
    expect(cubicSparsity(100, fromHalf)).toBe(0.5);
    expect(cubicSparsity(150, fromHalf)).toBeCloseTo(0.9 - 0.4 / 8, 15);
  });

  it('never decreases and prunes exactly at t0 + k dt', () => {
    let last = 0;
    for (let t = 0; t <= 250; t++) {
      const s = cubicSparsity(t, schedule);
      expect(s).toBeGreaterThanOrEqual(last);
      last = s;
      expect(isPruningStep(t, schedule)).toBe(t >= 100 && t <= 200 && t % 10 === 0);
    }
  });

  it('rejects bad schedules, naming the parameter', () => {
    expectParameterError(() => cubicSparsity(0, { ...schedule, end: 205 }), 'end');
    expectParameterError(() => cubicSparsity(0, { ...schedule, end: 100 }), 'end');
    expectParameterError(() => cubicSparsity(0, { ...schedule, final: 1 }), 'final');
    expectParameterError(() => cubicSparsity(0, { ...schedule, initial: 0.95 }), 'final');
    expectParameterError(() => cubicSparsity(0, { ...schedule, frequency: 0 }), 'frequency');
    expectParameterError(() => cubicSparsity(-1, schedule), 'step');
  });
});

describe('RigL cosine drop fraction and block counts', () => {
  it('decays from alpha to 0 over a half cosine', () => {
    expect(cosineDropFraction(0, { alpha: 0.3, end: 1000 })).toBeCloseTo(0.3, 15);
    expect(cosineDropFraction(500, { alpha: 0.3, end: 1000 })).toBeCloseTo(0.15, 15);
    expect(cosineDropFraction(250, { alpha: 0.3, end: 1000 })).toBeCloseTo(0.15 * (1 + Math.SQRT1_2), 15);
    expect(cosineDropFraction(1000, { alpha: 0.3, end: 1000 })).toBeCloseTo(0, 15);
    expect(cosineDropFraction(1001, { alpha: 0.3, end: 1000 })).toBe(0);
    expectParameterError(() => cosineDropFraction(0, { alpha: 1.5, end: 10 }), 'alpha');
  });

  it('keeps round((1 - s) nnz) blocks', () => {
    expect(blocksToKeep(100, 0.25)).toBe(75);
    expect(blocksToKeep(10, 0.95)).toBe(1); // 0.5 rounds up
    expect(blocksToKeep(10, 1)).toBe(0);
    expectParameterError(() => blocksToKeep(10, 1.1), 'sparsity');
  });
});

describe('ERK density allocation', () => {
  it('gives densities proportional to (in + out) / (in out), meeting the budget (closed form)', () => {
    // eps = 70 / (0.2 * 100 + 0.125 * 400) = 1
    const [a, b] = erkAllocation([{ inBlocks: 10, outBlocks: 10 }, { inBlocks: 10, outBlocks: 40 }], 0.14);
    expect(a).toEqual({ density: 0.2, blocks: 20, dense: false });
    expect(b).toEqual({ density: 0.125, blocks: 50, dense: false });
  });

  it('makes a layer dense when its density would exceed 1, and re-solves over the rest', () => {
    const [tiny, big] = erkAllocation([{ inBlocks: 2, outBlocks: 2 }, { inBlocks: 100, outBlocks: 100 }], 0.5);
    expect(tiny).toEqual({ density: 1, blocks: 4, dense: true });
    expect(big.blocks).toBe(5002 - 4);
  });

  it('equal layers get the target density; block counts always sum to the budget', () => {
    const same = erkAllocation([{ inBlocks: 16, outBlocks: 16 }, { inBlocks: 16, outBlocks: 16 }], 0.25);
    expect(same.map((x) => x.blocks)).toEqual([64, 64]);
    const rng = resolveRng({ seed: 'erk' });
    for (let trial = 0; trial < 200; trial++) {
      const layers = Array.from({ length: 1 + Math.floor(rng() * 5) }, () => ({ inBlocks: 1 + Math.floor(rng() * 60), outBlocks: 1 + Math.floor(rng() * 60) }));
      const density = Math.max(0.01, rng());
      const total = layers.reduce((s, l) => s + l.inBlocks * l.outBlocks, 0);
      const out = erkAllocation(layers, density);
      expect(out.reduce((s, x) => s + x.blocks, 0)).toBe(Math.round(density * total));
      out.forEach((x, i) => {
        expect(x.blocks).toBeGreaterThanOrEqual(0);
        expect(x.blocks).toBeLessThanOrEqual(layers[i].inBlocks * layers[i].outBlocks);
      });
    }
  });

  it('rejects bad input, naming the parameter', () => {
    expectParameterError(() => erkAllocation([], 0.5), 'layers');
    expectParameterError(() => erkAllocation([{ inBlocks: 0, outBlocks: 3 }], 0.5), 'layers[0].inBlocks');
    expectParameterError(() => erkAllocation([{ inBlocks: 3, outBlocks: 3 }], 0), 'density');
  });
});

describe('ERK for a parameter budget', () => {
  it('turns a weight budget into the ERK block counts', async () => {
    const { erkAllocationForBudget } = await import('../../../src/train/sparsity/erk.js');
    // 70 blocks of 8 x 8 = 4480 weights over 500 blocks: density 0.14, the closed form above.
    const out = erkAllocationForBudget([{ inBlocks: 10, outBlocks: 10 }, { inBlocks: 10, outBlocks: 40 }], { parameters: 4480, blockSize: 8 });
    expect(out.map((x) => x.blocks)).toEqual([20, 50]);
    expectParameterError(() => erkAllocationForBudget([{ inBlocks: 2, outBlocks: 2 }], { parameters: 300, blockSize: 8 }), 'parameters');
  });
});
