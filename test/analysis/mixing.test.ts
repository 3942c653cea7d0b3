import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DiagonalMode, mixingDepth } from '../../src/analysis/mixing.js';
import { ShapeError } from '../../src/errors.js';
import { ringLatticeCSR } from '../../src/graph/ring-lattice.js';
import { blockDiagonalLayout } from '../../src/patterns/block-diagonal.js';
import { denseLayout } from '../../src/patterns/dense.js';
import { layoutFromGraph } from '../../src/patterns/from-graph.js';
import { BlockLayout } from '../../src/patterns/layout.js';
import { expectParameterError } from '../helpers/expect-error.js';

/** A ring-lattice layout: block (c, k) for ring distance 1..k/2, and (c, c) when `diagonal`. */
function ringLayout(order: number, k: number, diagonal = true): BlockLayout {
  return layoutFromGraph(ringLatticeCSR({ order, k }), { diagonal });
}

function layoutFromMask(n: number, mask: boolean[][]): BlockLayout {
  const rows: number[] = [];
  const cols: number[] = [];
  for (let c = 0; c < n; c++) {
    for (let k = 0; k < n; k++) {
      if (!mask[c][k]) continue;
      rows.push(c);
      cols.push(k);
    }
  }
  return BlockLayout.fromPairs({ inBlocks: n, outBlocks: n }, rows, cols);
}

/** The shift c -> c + s (mod n) as a permutation layout. */
function shiftLayout(n: number, s: number): BlockLayout {
  const rows = Array.from({ length: n }, (_, c) => c);
  return BlockLayout.fromPairs({ inBlocks: n, outBlocks: n }, rows, rows.map((c) => (((c + s) % n) + n) % n));
}

/**
 * Plain reference: dense boolean matrices, R_L = R_{L-1} M_{(L-1) mod p}, until R_L is all ones
 * or (R_L, L mod p) repeats (then it never will be) or `horizon` steps. Returns the fraction of
 * ones after each step and the first full step (or null).
 */
function denseReference(layouts: BlockLayout[], mode: DiagonalMode, horizon: number): { fractions: number[]; depth: number | null; repeats: boolean } {
  const n = layouts[0].inBlocks;
  const matrices = layouts.map((layout) =>
    Array.from({ length: n }, (_, c) =>
      Array.from({ length: n }, (_, k) => (c === k && mode !== 'keep' ? mode === 'add' : layout.has(c, k))),
    ),
  );
  let reach = Array.from({ length: n }, (_, c) => Array.from({ length: n }, (_, k) => c === k));
  const seen = new Set<string>();
  const fractions: number[] = [];
  for (let step = 1; step <= horizon; step++) {
    const m = matrices[(step - 1) % matrices.length];
    reach = reach.map((row) => Array.from({ length: n }, (_, k) => row.some((on, j) => on && m[j][k])));
    const ones = reach.flat().filter(Boolean).length;
    fractions.push(ones / (n * n));
    if (ones === n * n) return { fractions, depth: step, repeats: false };
    const key = `${step % matrices.length}:${reach.map((row) => row.map(Number).join('')).join('|')}`;
    if (seen.has(key)) return { fractions, depth: null, repeats: true };
    seen.add(key);
  }
  return { fractions, depth: null, repeats: false };
}

describe('mixingDepth', () => {
  it('reaches a ring lattice with the diagonal in ceil(floor(n/2) / (k/2)) steps, the reach growing by k/2 a side per step', () => {
    // With the diagonal, after L steps output k depends on the inputs within ring distance L k/2:
    // min(n, L k + 1) of them, all of them once L k/2 >= floor(n/2).
    for (const [n, k, depth] of [
      [64, 6, 11],
      [65, 4, 16],
      [4096, 64, 64],
    ]) {
      const result = mixingDepth(ringLayout(n, k));
      expect(Math.ceil(Math.floor(n / 2) / (k / 2))).toBe(depth);
      expect(result.depth).toBe(depth);
      expect(result.status).toBe('mixed');
      expect(result.fractions).toEqual(Array.from({ length: depth }, (_, i) => Math.min(n, (i + 1) * k + 1) / n));
      // Adding the diagonal to the diagonal-free ring is the same thing.
      if (n < 1000) expect(mixingDepth(ringLayout(n, k, false), { diagonal: 'add' }).fractions).toEqual(result.fractions);
    }
  });

  it('without the diagonal: a ring with k >= 4 loses only the first step; an even cycle never mixes (period 2)', () => {
    const ring = mixingDepth(ringLayout(64, 6), { diagonal: 'remove' });
    expect(ring.depth).toBe(11);
    expect(ring.fractions[0]).toBe(6 / 64);
    expect(ring.fractions.slice(1)).toEqual(mixingDepth(ringLayout(64, 6)).fractions.slice(1));

    const cycle = mixingDepth(ringLayout(8, 2, false), { compareDiagonal: true });
    expect(cycle.status).toBe('never');
    expect(cycle.depth).toBeNull();
    expect(cycle.reason).toMatch(/periodic with period 2/);
    expect(cycle.withoutDiagonal!.status).toBe('never');
    expect(cycle.withDiagonal!.depth).toBe(4);
    expect(cycle.withDiagonal!.diagonal).toBe('add');
    // An odd cycle is aperiodic: it mixes without the diagonal too, after n - 1 steps.
    expect(mixingDepth(ringLayout(9, 2, false)).depth).toBe(8);
  });

  it('mixes a dense layout in one step, and in two without its diagonal', () => {
    expect(mixingDepth(denseLayout({ inBlocks: 7 }))).toMatchObject({ depth: 1, fractions: [1], status: 'mixed', reason: null });
    const noDiagonal = mixingDepth(denseLayout({ inBlocks: 5, diagonal: false }));
    expect(noDiagonal.fractions).toEqual([20 / 25, 1]);
    expect(noDiagonal.depth).toBe(2);
    // Two blocks without the diagonal swap places forever.
    expect(mixingDepth(denseLayout({ inBlocks: 2, diagonal: false })).status).toBe('never');
    expect(mixingDepth(denseLayout({ inBlocks: 1 })).depth).toBe(1);
  });

  it('never mixes the identity, a block-diagonal layout, or nothing at all, and says why', () => {
    const identity = shiftLayout(6, 0);
    const result = mixingDepth(identity, { maxSteps: 50 });
    expect(result).toMatchObject({ depth: null, status: 'never', fractions: [1 / 6] });
    expect(result.reason).toMatch(/not strongly connected/);
    expect(mixingDepth(identity, { diagonal: 'remove' }).reason).toMatch(/no blocks/);

    const groups = mixingDepth(blockDiagonalLayout({ inBlocks: 8, groups: 2 }));
    expect(groups.status).toBe('never');
    expect(groups.fractions.at(-1)).toBe(0.5);
    expect(groups.reason).toMatch(/input block 0 never reaches output block 4/);
    expect(mixingDepth(BlockLayout.fromPairs({ inBlocks: 1, outBlocks: 1 }, [], [])).status).toBe('never');
  });

  it('distinguishes "not within maxSteps" from "never"', () => {
    const slow = mixingDepth(ringLayout(64, 2), { maxSteps: 10 });
    expect(slow.status).toBe('not-reached');
    expect(slow.fractions).toHaveLength(10);
    expect(slow.reason).toMatch(/maxSteps = 10.*primitive/);
    expect(mixingDepth(ringLayout(64, 2), { maxSteps: 32 }).depth).toBe(32);
  });

  it('cycles through a list of layouts: step i uses layouts[i % length]', () => {
    const n = 12;
    const a = shiftLayout(n, 1);
    const b = ringLayout(n, 2);
    const listed = mixingDepth([a, b]);
    const unrolled = mixingDepth(Array.from({ length: 40 }, (_, i) => (i % 2 ? b : a)));
    expect(listed.fractions).toEqual(unrolled.fractions);
    expect(listed.depth).toBe(unrolled.depth);
    expect(listed.layers).toBe(2);
    expect(listed.depth).toBe(denseReference([a, b], 'keep', 100).depth);
    // A shift and its inverse undo each other: the dependencies repeat every two steps.
    const back = mixingDepth([shiftLayout(n, 3), shiftLayout(n, -3)]);
    expect(back.status).toBe('never');
    expect(back.fractions).toEqual([1 / n, 1 / n, 1 / n]);
    // One shift alone is periodic (period n).
    expect(mixingDepth(shiftLayout(n, 1)).reason).toMatch(/periodic with period 12/);
  });

  it('matches dense boolean matrix products on random small layouts (property)', () => {
    const mask = (n: number) => fc.array(fc.array(fc.boolean(), { minLength: n, maxLength: n }), { minLength: n, maxLength: n });
    const arbitrary = fc.integer({ min: 1, max: 7 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        masks: fc.array(mask(n), { minLength: 1, maxLength: 3 }),
        mode: fc.constantFrom<DiagonalMode>('keep', 'add', 'remove'),
        maxSteps: fc.integer({ min: 1, max: 40 }),
      }),
    );
    fc.assert(
      fc.property(arbitrary, ({ n, masks, mode, maxSteps }) => {
        const layouts = masks.map((m) => layoutFromMask(n, m));
        const result = mixingDepth(layouts, { diagonal: mode, maxSteps });
        const reference = denseReference(layouts, mode, 2000);
        expect(result.fractions).toEqual(reference.fractions.slice(0, result.fractions.length));
        if (result.status === 'mixed') expect(result.depth).toBe(reference.depth);
        if (result.status === 'not-reached') {
          expect(result.fractions).toHaveLength(maxSteps);
          expect(reference.depth === null || reference.depth > maxSteps).toBe(true);
        }
        if (result.status === 'never') expect(reference.depth).toBeNull();
        if (reference.depth !== null && reference.depth <= maxSteps) expect(result.depth).toBe(reference.depth);
        if (mode === 'add') {
          for (let i = 1; i < result.fractions.length; i++) expect(result.fractions[i]).toBeGreaterThanOrEqual(result.fractions[i - 1]);
        }
      }),
      { numRuns: 400, seed: 42 },
    );
  });

  it('returns plain JSON and checks its input', () => {
    const result = mixingDepth(ringLayout(16, 4), { compareDiagonal: true });
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
    expect(result).toMatchObject({ blocks: 16, layers: 1, maxSteps: 64, diagonal: 'keep' });
    expect(() => mixingDepth(denseLayout({ inBlocks: 4, outBlocks: 6 }))).toThrow(ShapeError);
    expect(() => mixingDepth([ringLayout(16, 4), ringLayout(12, 4)])).toThrow(ShapeError);
    expectParameterError(() => mixingDepth([]), 'input');
    expectParameterError(() => mixingDepth(ringLayout(16, 4), { maxSteps: 0 }), 'maxSteps');
    expectParameterError(() => mixingDepth(ringLayout(16, 4), { diagonal: 'on' as DiagonalMode }), 'diagonal');
    expectParameterError(() => mixingDepth(ringLayout(16, 4), { compareDiagonal: 'yes' as unknown as boolean }), 'compareDiagonal');
  });
});
