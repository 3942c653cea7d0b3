import { describe, expect, it } from 'vitest';
import { bandedLayout } from '../../src/patterns/banded.js';
import { layoutFromMask } from '../../src/patterns/from-mask.js';
import { transpose } from '../../src/patterns/layout-operations.js';
import { isSymmetric, summarize } from '../../src/patterns/summary.js';
import { picture } from './mask-helpers.js';

describe('summarize', () => {
  it('gives hand-computed values for a small rectangular layout', () => {
    // 4 inputs x 3 outputs; input 2 feeds nothing; output 2 is fed by nothing.
    const layout = layoutFromMask(picture(
      '110',
      '010',
      '000',
      '110',
    ), { blockSize: 16 });
    expect(summarize(layout)).toEqual({
      inBlocks: 4,
      outBlocks: 3,
      blockSize: 16,
      inFeatures: 64,
      outFeatures: 48,
      nnz: 5,
      density: 5 / 12,
      parameters: 5 * 256,
      inDegree: { min: 0, mean: 5 / 3, max: 3 },
      outDegree: { min: 0, mean: 5 / 4, max: 2 },
      symmetric: false,
      diagonalBlocks: 2,
      emptyRows: 1,
      emptyColumns: 1,
      provenance: { generator: 'from-mask', params: { inBlocks: 4, outBlocks: 3, blockSize: 16 }, seed: null },
    });
  });

  it('tells symmetric from asymmetric square layouts', () => {
    const symmetric = layoutFromMask(picture('011', '101', '110'));
    const asymmetric = layoutFromMask(picture('011', '001', '110'));
    expect(summarize(symmetric).symmetric).toBe(true);
    expect(summarize(asymmetric).symmetric).toBe(false);
    expect(summarize(symmetric).diagonalBlocks).toBe(0);
    // Same in- and out-degree sequences but not symmetric: the check looks at blocks, not counts.
    const cycle = layoutFromMask(picture('010', '001', '100'));
    expect(isSymmetric(cycle)).toBe(false);
    expect(isSymmetric(transpose(symmetric))).toBe(true);
  });

  it('is plain JSON', () => {
    const summary = summarize(bandedLayout({ inBlocks: 10, outBlocks: 7, bandwidth: 1 }));
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });

  it('works on a 1e6 x 1e6-block layout without a dense mask', () => {
    const layout = bandedLayout({ inBlocks: 1_000_000, bandwidth: 1 });
    expect(() => layout.toMask()).toThrow(); // far too large to materialise
    const summary = summarize(layout);
    expect(summary.nnz).toBe(3 * 1_000_000 - 2);
    expect(summary.inDegree).toEqual({ min: 2, mean: summary.nnz / 1_000_000, max: 3 });
    expect(summary.symmetric).toBe(true);
    expect(summary.diagonalBlocks).toBe(1_000_000);
    expect(summary.emptyRows).toBe(0);
  });
});
