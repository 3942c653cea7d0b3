import { DirectedGraph, UndirectedGraph } from 'graphology';
import ndarray from 'ndarray';
import { describe, expect, it } from 'vitest';
import { csrFromEdges } from '../../src/graph/csr.js';
import { balancedRandomLayout } from '../../src/patterns/balanced-random.js';
import { bandedLayout } from '../../src/patterns/banded.js';
import { blockDiagonalLayout } from '../../src/patterns/block-diagonal.js';
import { denseLayout } from '../../src/patterns/dense.js';
import { diagonalBlockCount } from '../../src/patterns/diagonal.js';
import { layoutFromGraph } from '../../src/patterns/from-graph.js';
import { layoutFromMask } from '../../src/patterns/from-mask.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { isSymmetric } from '../../src/patterns/summary.js';
import { transpose } from '../../src/patterns/layout-operations.js';
import { expectParameterError } from '../helpers/expect-error.js';
import { maskFrom, maskRows, picture } from './mask-helpers.js';

describe('layoutFromGraph', () => {
  // Undirected: 0-1, 1-2, 2-3, 0-2.
  const edges: [number, number][] = [[0, 1], [1, 2], [2, 3], [0, 2]];
  const undirected = csrFromEdges(4, edges.map((e) => e[0]), edges.map((e) => e[1]), false);

  it('gives both (u, v) and (v, u) for an undirected edge, plus the diagonal', () => {
    const layout = layoutFromGraph(undirected, { blockSize: 16 });
    expect(maskRows(layout)).toEqual(picture(
      '1110',
      '1110',
      '1111',
      '0011',
    ));
    expect(layout.blockSize).toBe(16);
    expect(isSymmetric(layout)).toBe(true);
    expect(layout.provenance).toEqual({ generator: 'from-graph', params: { order: 4, directed: false, blockSize: 16, diagonal: true }, seed: null });
  });

  it('leaves out the diagonal when asked', () => {
    const layout = layoutFromGraph(undirected, { diagonal: false });
    expect(maskRows(layout)).toEqual(picture(
      '0110',
      '1010',
      '1101',
      '0010',
    ));
    expect(isSymmetric(layout)).toBe(true);
  });

  it('reads a graphology graph the same way (node i = i-th key)', () => {
    const graph = new UndirectedGraph();
    for (const key of ['a', 'b', 'c', 'd']) graph.addNode(key);
    graph.addEdge('a', 'b');
    graph.addEdge('b', 'c');
    graph.addEdge('c', 'd');
    graph.addEdge('a', 'c');
    expect(layoutFromGraph(graph).equals(layoutFromGraph(undirected))).toBe(true);
  });

  it('gives only (u, v) for a directed arc u -> v: asymmetric', () => {
    const arcs: [number, number][] = [[0, 1], [1, 2], [2, 0], [3, 1]];
    const directed = csrFromEdges(4, arcs.map((a) => a[0]), arcs.map((a) => a[1]), true);
    const layout = layoutFromGraph(directed, { diagonal: false });
    expect(maskRows(layout)).toEqual(picture(
      '0100',
      '0010',
      '1000',
      '0100',
    ));
    expect(isSymmetric(layout)).toBe(false);
    const graph = new DirectedGraph();
    for (let i = 0; i < 4; i++) graph.addNode(String(i));
    for (const [u, v] of arcs) graph.addEdge(String(u), String(v));
    expect(layoutFromGraph(graph, { diagonal: false }).equals(layout)).toBe(true);
    expect(maskRows(layoutFromGraph(graph))).toEqual(picture(
      '1100',
      '0110',
      '1010',
      '0101',
    ));
  });

  it('records a given provenance as is', () => {
    const provenance = { generator: 'watts-strogatz', params: { k: 2 }, seed: 7 };
    expect(layoutFromGraph(undirected, { provenance }).provenance).toEqual(provenance);
  });

  it('rejects what is not a graph, and empty graphs', () => {
    expectParameterError(() => layoutFromGraph({} as never), 'graph');
    expectParameterError(() => layoutFromGraph(new UndirectedGraph()), 'graph');
    expectParameterError(() => layoutFromGraph(undirected, { blockSize: 12 as never }), 'blockSize');
    expectParameterError(() => layoutFromGraph(undirected, { diagonal: 1 as never }), 'diagonal');
  });
});

describe('layoutFromMask', () => {
  const rows = picture(
    '10110',
    '01000',
    '00001',
  );

  it('round-trips nested arrays (numbers and booleans) through toMask', () => {
    const layout = layoutFromMask(rows);
    expect([layout.inBlocks, layout.outBlocks, layout.nnz]).toEqual([3, 5, 5]);
    expect(maskRows(layout)).toEqual(rows);
    expect(layoutFromMask(rows.map((r) => r.map((v) => v === 1))).equals(layout)).toBe(true);
    expect(layoutFromMask(rows.map((r) => Uint8Array.from(r))).equals(layout)).toBe(true);
  });

  it('round-trips random masks', () => {
    let state = 12345;
    const next = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const [r, c] of [[1, 1], [1, 7], [7, 1], [9, 13], [16, 16]]) {
      const mask = maskFrom(r, c, () => next() < 0.3);
      expect(maskRows(layoutFromMask(mask))).toEqual(mask);
    }
  });

  it('reads ndarrays: C order, transposed views and Fortran strides', () => {
    const flat = Uint8Array.from(rows.flat());
    const c = layoutFromMask(ndarray(flat, [3, 5]));
    expect(maskRows(c)).toEqual(rows);
    // The transposed view [5, 3] of the same data is the transposed layout.
    expect(layoutFromMask(ndarray(flat, [3, 5]).transpose(1, 0)).equals(transpose(c))).toBe(true);
    // Column-major storage of the same mask.
    const fortran = new Float64Array(15);
    for (let i = 0; i < 3; i++) for (let k = 0; k < 5; k++) fortran[k * 3 + i] = rows[i][k];
    expect(layoutFromMask(ndarray(fortran, [3, 5], [1, 3])).equals(c)).toBe(true);
    // Negative strides: the rows read bottom to top.
    expect(maskRows(layoutFromMask(ndarray(flat, [3, 5]).step(-1, 1)))).toEqual([...rows].reverse());
    // A plain-array store and a strided slice (every other column).
    expect(maskRows(layoutFromMask(ndarray(rows.flat(), [3, 5]).step(1, 2)))).toEqual(rows.map((r) => [r[0], r[2], r[4]]));
  });

  it('rejects values other than 0/1, naming the position', () => {
    for (const bad of [2, -1, 0.5, Number.NaN, '1', null]) {
      const mask = rows.map((r) => [...r]) as unknown[][];
      mask[1][2] = bad;
      const error = expectParameterError(() => layoutFromMask(mask as number[][]), 'mask[1][2]');
      expect(error.message).toContain('mask[1][2]');
    }
    const data = Float32Array.from(rows.flat());
    data[7] = 0.5;
    expectParameterError(() => layoutFromMask(ndarray(data, [3, 5])), 'mask[1][2]');
  });

  it('rejects ragged, empty and non-2-D masks', () => {
    expectParameterError(() => layoutFromMask([[1, 0], [1]]), 'mask[1]');
    expectParameterError(() => layoutFromMask([]), 'mask');
    expectParameterError(() => layoutFromMask([[]]), 'mask');
    expectParameterError(() => layoutFromMask(ndarray(new Uint8Array(8), [2, 2, 2])), 'mask');
    expectParameterError(() => layoutFromMask([1, 0] as never), 'mask[0]');
  });
});

describe('denseLayout', () => {
  it('has every block, or every block but the diagonal', () => {
    const dense = denseLayout({ inBlocks: 3, outBlocks: 4 });
    expect(maskRows(dense)).toEqual(maskFrom(3, 4, () => true));
    expect(dense.provenance).toEqual({ generator: 'dense', params: { inBlocks: 3, outBlocks: 4, blockSize: 32, diagonal: true }, seed: null });
    expect(maskRows(denseLayout({ inBlocks: 3, outBlocks: 4, diagonal: false }))).toEqual(maskFrom(3, 4, (c, k) => c !== k));
    expect(denseLayout({ inBlocks: 5 }).nnz).toBe(25);
  });

  it('checks its shape', () => {
    expectParameterError(() => denseLayout({ inBlocks: 0 }), 'inBlocks');
    expectParameterError(() => denseLayout({ inBlocks: 2, outBlocks: 1.5 }), 'outBlocks');
    expectParameterError(() => denseLayout({ inBlocks: 2 ** 20, outBlocks: 2 ** 20 }), 'inBlocks * outBlocks');
  });
});

describe('randomLayout', () => {
  const shapes: [number, number][] = [[1, 1], [1, 6], [6, 1], [7, 3], [3, 7], [10, 10], [50, 40]];

  it('has exactly nnz blocks, with or without the diagonal, for many shapes and counts', () => {
    for (const [inBlocks, outBlocks] of shapes) {
      const total = inBlocks * outBlocks;
      const d = Math.min(inBlocks, outBlocks);
      for (const diagonal of [true, false]) {
        const lo = diagonal ? d : 0;
        const hi = diagonal ? total : total - d;
        for (const nnz of new Set([lo, hi, Math.floor((lo + hi) / 2), Math.min(hi, lo + 1), Math.floor(lo + (hi - lo) * 0.9)])) {
          const layout = randomLayout({ inBlocks, outBlocks, nnz, diagonal, seed: `${inBlocks}x${outBlocks}:${nnz}` });
          expect(layout.nnz).toBe(nnz);
          expect(diagonalBlockCount(layout)).toBe(diagonal ? d : 0);
          expect([layout.inBlocks, layout.outBlocks]).toEqual([inBlocks, outBlocks]);
        }
      }
    }
  });

  it('turns density into round(density * blocks)', () => {
    const layout = randomLayout({ inBlocks: 30, outBlocks: 20, density: 0.123, seed: 1 });
    expect(layout.nnz).toBe(Math.round(0.123 * 600));
    expect(layout.provenance).toEqual({
      generator: 'random',
      params: { inBlocks: 30, outBlocks: 20, blockSize: 32, nnz: 74, density: 0.123, diagonal: true },
      seed: 1,
    });
  });

  it('is reproducible from its seed, and seeds differ', () => {
    const a = randomLayout({ inBlocks: 40, nnz: 200, seed: 'a' });
    expect(randomLayout({ inBlocks: 40, nnz: 200, seed: 'a' }).equals(a)).toBe(true);
    expect(randomLayout({ inBlocks: 40, nnz: 200, seed: 'b' }).equals(a)).toBe(false);
    // Without a seed, a fresh one is drawn and recorded: the layout can be rebuilt from it.
    const fresh = randomLayout({ inBlocks: 40, nnz: 200 });
    const seed = fresh.provenance.seed;
    expect(typeof seed).toBe('number');
    expect(randomLayout({ inBlocks: 40, nnz: 200, seed: seed as number }).equals(fresh)).toBe(true);
    // With an rng the seed is unknown: null.
    expect(randomLayout({ inBlocks: 4, nnz: 6, rng: () => 0.5 }).provenance.seed).toBeNull();
  });

  it('samples the off-diagonal positions uniformly', () => {
    // 3 x 3 without the diagonal, 2 blocks: each of the 15 pairs of the 6 cells equally likely.
    const counts = new Map<string, number>();
    const draws = 3000;
    for (let s = 0; s < draws; s++) {
      const key = maskRows(randomLayout({ inBlocks: 3, nnz: 2, diagonal: false, seed: s })).flat().join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(15);
    for (const count of counts.values()) expect(Math.abs(count - draws / 15)).toBeLessThan(70); // ~5 sd
    // Dense side (complement sampling): 3 x 3 with 8 of 9 blocks, diagonal on: 1 of 6 left out.
    const left = new Map<string, number>();
    for (let s = 0; s < 1200; s++) {
      const key = maskRows(randomLayout({ inBlocks: 3, nnz: 8, seed: s })).flat().join('');
      left.set(key, (left.get(key) ?? 0) + 1);
    }
    expect(left.size).toBe(6);
    for (const count of left.values()) expect(Math.abs(count - 200)).toBeLessThan(70);
    // Sparse side (the i.i.d.-stream sampler, used when at most a quarter of the positions are
    // taken): 4 x 4 without the diagonal, 3 of the 12 cells, 220 subsets; chi-square, df 219.
    const triples = new Map<string, number>();
    const trials = 220 * 30;
    for (let s = 0; s < trials; s++) {
      const layout = randomLayout({ inBlocks: 4, nnz: 3, diagonal: false, seed: `t${s}` });
      const key = Array.from(layout.rowPtr).join(',') + '|' + Array.from(layout.colIdx).join(',');
      triples.set(key, (triples.get(key) ?? 0) + 1);
    }
    expect(triples.size).toBe(220);
    let chi2 = 0;
    for (const count of triples.values()) chi2 += (count - 30) ** 2 / 30;
    expect(chi2).toBeLessThan(219 + 5 * Math.sqrt(2 * 219));
  });

  it('handles huge sparse shapes without touching every block', () => {
    const layout = randomLayout({ inBlocks: 1_000_000, outBlocks: 1_000_000, nnz: 1_100_000, seed: 3 });
    expect(layout.nnz).toBe(1_100_000);
    expect(diagonalBlockCount(layout)).toBe(1_000_000);
    const tall = randomLayout({ inBlocks: 3_000_000, outBlocks: 2_000_000, nnz: 50_000, diagonal: false, seed: 4 });
    expect(tall.nnz).toBe(50_000);
    expect(diagonalBlockCount(tall)).toBe(0);
    // Positions beyond 2^32 are reachable (the rows past 2^32 / 2e6 = 2147).
    let late = 0;
    for (let c = 2200; c < tall.inBlocks; c++) late += tall.rowPtr[c + 1] - tall.rowPtr[c];
    expect(late).toBeGreaterThan(40_000);
  });

  it('raises for impossible or ambiguous counts', () => {
    expectParameterError(() => randomLayout({ inBlocks: 4, nnz: 3 }), 'nnz'); // cannot hold the 4 diagonal blocks
    expectParameterError(() => randomLayout({ inBlocks: 4, nnz: 17 }), 'nnz');
    expectParameterError(() => randomLayout({ inBlocks: 4, nnz: 13, diagonal: false }), 'nnz');
    expectParameterError(() => randomLayout({ inBlocks: 4, nnz: 5, density: 0.3 }), 'nnz');
    expectParameterError(() => randomLayout({ inBlocks: 4 }), 'nnz');
    expectParameterError(() => randomLayout({ inBlocks: 4, density: 0.1 }), 'density'); // round(1.6) = 2 < 4
    expectParameterError(() => randomLayout({ inBlocks: 4, density: 1.5 }), 'density');
    expectParameterError(() => randomLayout({ inBlocks: 4, nnz: 4.5 }), 'nnz');
  });
});

describe('balancedRandomLayout', () => {
  function check(inBlocks: number, outBlocks: number, fanIn: number, diagonal: boolean, seed: number): void {
    const layout = balancedRandomLayout({ inBlocks, outBlocks, fanIn, diagonal, seed });
    const inDegrees = layout.inDegrees();
    for (let k = 0; k < outBlocks; k++) expect(inDegrees[k]).toBe(fanIn);
    const share = (fanIn * outBlocks) / inBlocks;
    for (const d of layout.outDegrees()) expect(d === Math.floor(share) || d === Math.ceil(share)).toBe(true);
    expect(diagonalBlockCount(layout)).toBe(diagonal ? Math.min(inBlocks, outBlocks) : 0);
  }

  it('gives every output exactly fanIn inputs and balanced fan-outs: square', () => {
    for (const fanIn of [1, 2, 5, 19, 20]) check(20, 20, fanIn, true, fanIn);
    for (const fanIn of [1, 2, 5, 19]) check(20, 20, fanIn, false, fanIn);
  });

  it('... and rectangular, both ways, with and without the diagonal', () => {
    for (const [inBlocks, outBlocks] of [[12, 30], [30, 12], [7, 5], [5, 7], [2, 9], [9, 2], [31, 17]]) {
      for (const diagonal of [true, false]) {
        const max = diagonal ? inBlocks : inBlocks - 1;
        for (const fanIn of new Set([1, 2, Math.ceil(max / 2), max].filter((f) => f <= max))) {
          for (let seed = 0; seed < 3; seed++) check(inBlocks, outBlocks, fanIn, diagonal, seed);
        }
      }
    }
  });

  it('is reproducible and records its parameters', () => {
    const a = balancedRandomLayout({ inBlocks: 16, fanIn: 4, seed: 9 });
    expect(balancedRandomLayout({ inBlocks: 16, fanIn: 4, seed: 9 }).equals(a)).toBe(true);
    expect(balancedRandomLayout({ inBlocks: 16, fanIn: 4, seed: 10 }).equals(a)).toBe(false);
    expect(a.provenance).toEqual({
      generator: 'balanced-random',
      params: { inBlocks: 16, outBlocks: 16, blockSize: 32, fanIn: 4, diagonal: true },
      seed: 9,
    });
  });

  it('raises when the fan-in cannot be met', () => {
    expectParameterError(() => balancedRandomLayout({ inBlocks: 5, outBlocks: 8, fanIn: 6 }), 'fanIn');
    expectParameterError(() => balancedRandomLayout({ inBlocks: 5, fanIn: 5, diagonal: false }), 'fanIn');
    expectParameterError(() => balancedRandomLayout({ inBlocks: 5, fanIn: 0 }), 'fanIn');
    expectParameterError(() => balancedRandomLayout({ inBlocks: 1, fanIn: 1, diagonal: false }), 'fanIn');
  });
});

describe('bandedLayout', () => {
  it('square: |c - k| <= bandwidth', () => {
    expect(maskRows(bandedLayout({ inBlocks: 5, bandwidth: 1 }))).toEqual(picture(
      '11000',
      '11100',
      '01110',
      '00111',
      '00011',
    ));
    expect(maskRows(bandedLayout({ inBlocks: 5, bandwidth: 1, diagonal: false }))).toEqual(picture(
      '01000',
      '10100',
      '01010',
      '00101',
      '00010',
    ));
    expect(maskRows(bandedLayout({ inBlocks: 4, bandwidth: 0 }))).toEqual(maskFrom(4, 4, (c, k) => c === k));
  });

  it('wrap: circular distance', () => {
    expect(maskRows(bandedLayout({ inBlocks: 6, bandwidth: 1, wrap: true }))).toEqual(picture(
      '110001',
      '111000',
      '011100',
      '001110',
      '000111',
      '100011',
    ));
    expect(maskRows(bandedLayout({ inBlocks: 5, bandwidth: 2, wrap: true }))).toEqual(maskFrom(5, 5, () => true));
    for (let n = 1; n <= 9; n++) {
      for (let bw = 0; bw < n; bw++) {
        const circular = (c: number, k: number): boolean => Math.min(Math.abs(c - k), n - Math.abs(c - k)) <= bw;
        expect(maskRows(bandedLayout({ inBlocks: n, bandwidth: bw, wrap: true }))).toEqual(maskFrom(n, n, circular));
        expect(maskRows(bandedLayout({ inBlocks: n, bandwidth: bw }))).toEqual(maskFrom(n, n, (c, k) => Math.abs(c - k) <= bw));
      }
    }
  });

  it('rectangular: the band follows the scaled diagonal', () => {
    // 4 x 8: input c overlaps outputs 2c and 2c+1; the diagonal blocks (i, i) are added.
    expect(maskRows(bandedLayout({ inBlocks: 4, outBlocks: 8, bandwidth: 0 }))).toEqual(picture(
      '11000000',
      '01110000',
      '00101100',
      '00010011',
    ));
    expect(maskRows(bandedLayout({ inBlocks: 4, outBlocks: 8, bandwidth: 1, diagonal: false }))).toEqual(picture(
      '01100000',
      '00111000',
      '00011110',
      '00000111',
    ));
    // 8 x 4: inputs 2k and 2k+1 feed output k.
    expect(maskRows(bandedLayout({ inBlocks: 8, outBlocks: 4, bandwidth: 0, diagonal: false }))).toEqual(picture(
      '0000',
      '1000',
      '0100',
      '0100',
      '0010',
      '0010',
      '0001',
      '0001',
    ));
    // 3 x 5: row c covers [5c/3, 5(c+1)/3): outputs 0-1, 1-3, 3-4.
    expect(maskRows(bandedLayout({ inBlocks: 3, outBlocks: 5, bandwidth: 0 }))).toEqual(picture(
      '11000',
      '01110',
      '00111',
    ));
  });

  it('raises for wrap on a rectangle and out-of-range bandwidths', () => {
    expectParameterError(() => bandedLayout({ inBlocks: 4, outBlocks: 6, bandwidth: 1, wrap: true }), 'wrap');
    expectParameterError(() => bandedLayout({ inBlocks: 4, bandwidth: 4 }), 'bandwidth');
    expectParameterError(() => bandedLayout({ inBlocks: 4, bandwidth: -1 }), 'bandwidth');
    expectParameterError(() => bandedLayout({ inBlocks: 4, bandwidth: 1, wrap: 'yes' as never }), 'wrap');
  });
});

describe('blockDiagonalLayout', () => {
  it('builds dense diagonal groups', () => {
    expect(maskRows(blockDiagonalLayout({ inBlocks: 6, groups: 3, diagonal: false }))).toEqual(picture(
      '010000',
      '100000',
      '000100',
      '001000',
      '000001',
      '000010',
    ));
    // 4 x 6 in 2 groups: rows 0-1 -> columns 0-2, rows 2-3 -> columns 3-5; (2, 2) added as a diagonal block.
    expect(maskRows(blockDiagonalLayout({ inBlocks: 4, outBlocks: 6, groups: 2 }))).toEqual(picture(
      '111000',
      '111000',
      '001111',
      '000111',
    ));
    expect(blockDiagonalLayout({ inBlocks: 8, groups: 1 }).nnz).toBe(64);
    expect(blockDiagonalLayout({ inBlocks: 8, groups: 8 }).nnz).toBe(8);
  });

  it('requires groups to divide both sides', () => {
    const error = expectParameterError(() => blockDiagonalLayout({ inBlocks: 4, outBlocks: 6, groups: 3 }), 'groups');
    expect(error.message).toContain('4');
    expectParameterError(() => blockDiagonalLayout({ inBlocks: 4, groups: 0 }), 'groups');
    expectParameterError(() => blockDiagonalLayout({ inBlocks: 4, groups: 8 }), 'groups');
  });
});
