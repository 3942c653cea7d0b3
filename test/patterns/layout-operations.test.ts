import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParameterError, ShapeError } from '../../src/errors.js';
import { bandedLayout } from '../../src/patterns/banded.js';
import { diagonalBlockCount } from '../../src/patterns/diagonal.js';
import { layoutFromMask } from '../../src/patterns/from-mask.js';
import { intersection, permutations, permute, transpose, union, withDiagonal, withoutDiagonal } from '../../src/patterns/layout-operations.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { isSymmetric } from '../../src/patterns/summary.js';
import { maskFrom, maskRows, picture, sortedDegrees, transposeRows } from './mask-helpers.js';

/** An arbitrary 0/1 mask with 1..10 rows and columns. */
const maskArb = fc
  .tuple(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 10 }))
  .chain(([r, c]) => fc.array(fc.array(fc.integer({ min: 0, max: 1 }), { minLength: c, maxLength: c }), { minLength: r, maxLength: r }));

/** Two arbitrary masks of the same shape. */
const maskPairArb = fc
  .tuple(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 10 }))
  .chain(([r, c]) => {
    const one = fc.array(fc.array(fc.integer({ min: 0, max: 1 }), { minLength: c, maxLength: c }), { minLength: r, maxLength: r });
    return fc.tuple(one, one);
  });

describe('transpose', () => {
  it('swaps rows and columns', () => {
    const layout = layoutFromMask(picture('110', '001'));
    const t = transpose(layout);
    expect(maskRows(t)).toEqual(picture('10', '10', '01'));
    expect(t.provenance).toEqual({ generator: 'transpose', params: {}, sources: [layout.provenance] });
  });

  it('is the mask transpose, and transposing twice gives the layout back', () => {
    fc.assert(
      fc.property(maskArb, (mask) => {
        const layout = layoutFromMask(mask, { blockSize: 8 });
        expect(maskRows(transpose(layout))).toEqual(transposeRows(mask));
        expect(transpose(transpose(layout)).equals(layout)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('union and intersection', () => {
  it('agree with the element-wise OR / AND of the masks', () => {
    fc.assert(
      fc.property(maskPairArb, ([a, b]) => {
        const la = layoutFromMask(a);
        const lb = layoutFromMask(b);
        expect(maskRows(union(la, lb))).toEqual(a.map((row, c) => row.map((x, k) => x | b[c][k])));
        expect(maskRows(intersection(la, lb))).toEqual(a.map((row, c) => row.map((x, k) => x & b[c][k])));
      }),
      { numRuns: 300 },
    );
  });

  it('agree with the masks on larger random layouts', () => {
    const a = randomLayout({ inBlocks: 60, outBlocks: 45, nnz: 700, seed: 1 });
    const b = randomLayout({ inBlocks: 60, outBlocks: 45, nnz: 900, diagonal: false, seed: 2 });
    const ma = a.toMask();
    const mb = b.toMask();
    const u = union(a, b);
    const i = intersection(a, b);
    expect(Array.from(u.toMask())).toEqual(Array.from(ma, (x, n) => x | mb[n]));
    expect(Array.from(i.toMask())).toEqual(Array.from(ma, (x, n) => x & mb[n]));
    expect(u.nnz + i.nnz).toBe(a.nnz + b.nnz);
    expect(u.provenance).toEqual({ generator: 'union', params: {}, sources: [a.provenance, b.provenance] });
    expect(i.provenance.generator).toBe('intersection');
  });

  it('raise ShapeError naming both shapes and block sizes', () => {
    const a = randomLayout({ inBlocks: 4, outBlocks: 5, nnz: 6, seed: 1 });
    const b = randomLayout({ inBlocks: 5, outBlocks: 4, nnz: 6, seed: 1 });
    expect(() => union(a, b)).toThrow(ShapeError);
    expect(() => intersection(a, b)).toThrow(/4 x 5 blocks of 32 vs 5 x 4 blocks of 32/);
    expect(() => union(a, a.withBlockSize(16))).toThrow(/4 x 5 blocks of 32 vs 4 x 5 blocks of 16/);
  });
});

describe('withDiagonal / withoutDiagonal', () => {
  it('add or remove exactly the diagonal blocks', () => {
    fc.assert(
      fc.property(maskArb, (mask) => {
        const layout = layoutFromMask(mask);
        const d = Math.min(layout.inBlocks, layout.outBlocks);
        expect(maskRows(withDiagonal(layout))).toEqual(mask.map((row, c) => row.map((x, k) => (c === k ? 1 : x))));
        expect(maskRows(withoutDiagonal(layout))).toEqual(mask.map((row, c) => row.map((x, k) => (c === k ? 0 : x))));
        expect(diagonalBlockCount(withDiagonal(layout))).toBe(d);
      }),
      { numRuns: 200 },
    );
    const layout = layoutFromMask(picture('10', '00', '01'));
    expect(withDiagonal(layout).provenance).toEqual({ generator: 'with-diagonal', params: {}, sources: [layout.provenance] });
    expect(withoutDiagonal(layout).provenance.generator).toBe('without-diagonal');
  });
});

describe('permute', () => {
  it('relabels a square layout as a graph: (c, k) -> (p[c], p[k])', () => {
    const layout = randomLayout({ inBlocks: 30, nnz: 150, seed: 3 });
    const permuted = permute(layout, { seed: 11 });
    const { rowPerm, colPerm, seed } = permutations(layout, { seed: 11 });
    expect(colPerm).toBe(rowPerm);
    expect(seed).toBe(11);
    for (let c = 0; c < 30; c++) for (let k = 0; k < 30; k++) expect(permuted.has(rowPerm[c], rowPerm[k])).toBe(layout.has(c, k));
    expect(permuted.nnz).toBe(layout.nnz);
    expect(diagonalBlockCount(permuted)).toBe(30); // the diagonal maps to itself
    expect(permuted.equals(layout)).toBe(false);
    expect(permute(layout, { seed: 11 }).equals(permuted)).toBe(true);
    expect(permuted.provenance).toEqual({
      generator: 'permute',
      params: { samePermutation: true, explicit: false },
      seed: 11,
      sources: [layout.provenance],
    });
  });

  it('keeps a symmetric layout symmetric', () => {
    const banded = bandedLayout({ inBlocks: 25, bandwidth: 2 });
    expect(isSymmetric(permute(banded, { seed: 'x' }))).toBe(true);
  });

  it('preserves nnz and the degree multisets, square or rectangular', () => {
    fc.assert(
      fc.property(maskArb, fc.integer(), (mask, seed) => {
        const layout = layoutFromMask(mask);
        const permuted = permute(layout, { seed });
        expect(permuted.nnz).toBe(layout.nnz);
        expect(sortedDegrees(permuted.inDegrees())).toEqual(sortedDegrees(layout.inDegrees()));
        expect(sortedDegrees(permuted.outDegrees())).toEqual(sortedDegrees(layout.outDegrees()));
        const { rowPerm, colPerm } = permutations(layout, { seed });
        expect(maskRows(permuted)).toEqual(
          maskFrom(layout.inBlocks, layout.outBlocks, (c, k) => mask[rowPerm.indexOf(c)][colPerm.indexOf(k)] === 1),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('applies explicit permutations', () => {
    const layout = layoutFromMask(picture('100', '011'));
    const permuted = permute(layout, { rowPerm: [1, 0], colPerm: [2, 0, 1] });
    // (0,0) -> (1,2); (1,1) -> (0,0); (1,2) -> (0,1)
    expect(maskRows(permuted)).toEqual(picture('110', '001'));
    expect(permuted.provenance.seed).toBeNull();
    expect(permuted.provenance.params).toEqual({ samePermutation: false, explicit: true });
  });

  it('raises for bad permutations and mixed options', () => {
    const square = layoutFromMask(picture('10', '01'));
    const rect = layoutFromMask(picture('100', '011'));
    expect(() => permute(square, { rowPerm: [0, 0] })).toThrow(ParameterError);
    expect(() => permute(square, { rowPerm: [0, 2] })).toThrow(/rowPerm/);
    expect(() => permute(square, { rowPerm: [0] })).toThrow(/rowPerm/);
    expect(() => permute(rect, { rowPerm: [1, 0] })).toThrow(/colPerm/);
    expect(() => permute(square, { rowPerm: [1, 0], seed: 1 })).toThrow(/seed/);
  });
});
