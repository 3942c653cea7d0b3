import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reverseGraph } from '../../src/analysis/adapter.js';
import { bfsDistances, bfsSummary } from '../../src/analysis/bfs.js';
import { MultiSourceBFS, popcount, type SearchStrategy } from '../../src/analysis/bfs-bitparallel.js';
import { type CSRGraph, csrFromEdges } from '../../src/graph/csr.js';
import { randomPermutation, resolveRng } from '../../src/random.js';

/** A random simple graph: each pair (each ordered pair, if directed) an edge with probability p. */
function randomGraph(order: number, p: number, directed: boolean, seed: number): CSRGraph {
  const rng = resolveRng({ seed });
  const sources: number[] = [];
  const targets: number[] = [];
  for (let u = 0; u < order; u++) {
    for (let v = directed ? 0 : u + 1; v < order; v++) {
      if (u !== v && rng() < p) {
        sources.push(u);
        targets.push(v);
      }
    }
  }
  return csrFromEdges(order, sources, targets, directed);
}

/** Per-source reached count, distance sum and eccentricity from MultiSourceBFS, batch by batch. */
function multiSource(graph: CSRGraph, sources: Int32Array, words: number, strategy: SearchStrategy) {
  const bfs = new MultiSourceBFS(graph, reverseGraph(graph), words, strategy);
  const eccentricity = new Int32Array(sources.length).fill(-7);
  const distanceSum = new Float64Array(sources.length).fill(-7);
  const reached = new Int32Array(sources.length).fill(-7);
  let totalSum = 0;
  let totalPairs = 0;
  for (let start = 0; start < sources.length; start += bfs.batchSize) {
    const count = Math.min(bfs.batchSize, sources.length - start);
    const totals = bfs.run(sources, start, count, { eccentricity, distanceSum, reached });
    totalSum += totals.distanceSum;
    totalPairs += totals.reachedPairs;
  }
  return { eccentricity, distanceSum, reached, totalSum, totalPairs };
}

const graphCase = fc.record({
  order: fc.integer({ min: 1, max: 300 }),
  // Sparse graphs (disconnected, long paths: push levels) and dense ones (pull levels).
  density: fc.oneof(fc.double({ min: 0, max: 0.03, noNaN: true }), fc.double({ min: 0, max: 0.5, noNaN: true })),
  directed: fc.boolean(),
  seed: fc.integer(),
  // Sources: a random subset in random order, so batches are partial and bits map to arbitrary nodes.
  sourceFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  words: fc.constantFrom(1, 2, 4, 8),
});

describe('MultiSourceBFS agrees with plain BFS', () => {
  it('per source (reached, distance sum, eccentricity) and in total, for every strategy', () => {
    fc.assert(
      fc.property(graphCase, ({ order, density, directed, seed, sourceFraction, words }) => {
        const graph = randomGraph(order, density, directed, seed);
        const count = Math.max(1, Math.round(sourceFraction * order));
        const sources = randomPermutation(resolveRng({ seed: seed + 1 }), order).slice(0, count);
        const expected = Array.from(sources, (s) => bfsSummary(graph, s));
        for (const strategy of ['bit-parallel', 'plain', 'adaptive'] as const) {
          const got = multiSource(graph, sources, words, strategy);
          expect(Array.from(got.reached)).toEqual(expected.map((e) => e.reached));
          expect(Array.from(got.distanceSum)).toEqual(expected.map((e) => e.distanceSum));
          expect(Array.from(got.eccentricity)).toEqual(expected.map((e) => e.eccentricity));
          expect(got.totalSum).toBe(expected.reduce((a, e) => a + e.distanceSum, 0));
          expect(got.totalPairs).toBe(expected.reduce((a, e) => a + e.reached, 0));
        }
      }),
      { numRuns: 150, seed: 20240611 },
    );
  });

  it('totals without per-source outputs (the popcount path) match too', () => {
    fc.assert(
      fc.property(graphCase, ({ order, density, directed, seed, words }) => {
        const graph = randomGraph(order, density, directed, seed);
        const sources = Int32Array.from({ length: order }, (_, i) => i);
        const bfs = new MultiSourceBFS(graph, reverseGraph(graph), words, 'bit-parallel');
        let sum = 0;
        let pairs = 0;
        for (let start = 0; start < order; start += bfs.batchSize) {
          const totals = bfs.run(sources, start, Math.min(bfs.batchSize, order - start));
          sum += totals.distanceSum;
          pairs += totals.reachedPairs;
        }
        let expectedSum = 0;
        let expectedPairs = 0;
        for (let s = 0; s < order; s++) {
          const d = bfsDistances(graph, s);
          for (let v = 0; v < order; v++) {
            if (d[v] > 0) {
              expectedSum += d[v];
              expectedPairs++;
            }
          }
        }
        expect(sum).toBe(expectedSum);
        expect(pairs).toBe(expectedPairs);
      }),
      { numRuns: 100, seed: 7 },
    );
  });

  it('popcount counts the bits of every 32-bit pattern it is given', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (x) => {
        expect(popcount(x)).toBe((x >>> 0).toString(2).split('').filter((c) => c === '1').length);
      }),
    );
  });
});
