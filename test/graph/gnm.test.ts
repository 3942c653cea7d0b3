import { describe, expect, it } from 'vitest';
import { UndirectedGraph } from 'graphology';
import { assertSimple, edgeCount, forEachEdge, fromGraphology } from '../../src/graph/csr.js';
import { gnm, gnmCSR } from '../../src/graph/gnm.js';
import { resolveRng } from '../../src/random.js';
import { expectParameterError } from '../helpers/expect-error.js';

describe('gnmCSR', () => {
  it('has exactly m edges, from none to all pairs, sparse and dense', () => {
    const order = 40;
    const pairs = (order * (order - 1)) / 2; // 780
    for (const size of [0, 1, 10, 389, 390, 391, 700, 779, 780]) {
      const graph = gnmCSR({ order, size, seed: size });
      assertSimple(graph);
      expect(graph.order).toBe(order);
      expect(edgeCount(graph), `size ${size}`).toBe(size);
    }
    expect(edgeCount(gnmCSR({ order, size: pairs, seed: 1 }))).toBe(pairs);
    expect(edgeCount(gnmCSR({ order: 0, size: 0, seed: 1 }))).toBe(0);
    expect(edgeCount(gnmCSR({ order: 1, size: 0, seed: 1 }))).toBe(0);
    expect(edgeCount(gnmCSR({ order: 2, size: 1, seed: 1 }))).toBe(1);
  });

  it('includes each pair with frequency m/N, in the sparse and in the dense (complement) regime', () => {
    // 8 nodes, N = 28 pairs; m = 5 (sparse path) and m = 23 (dense path), 3000 graphs each.
    // A pair's count is Binomial(3000, m/N) across independent graphs.
    const order = 8;
    const pairs = 28;
    const draws = 3000;
    for (const size of [5, 23]) {
      const rng = resolveRng({ seed: `uniform ${size}` });
      const hits = new Float64Array(order * order);
      for (let d = 0; d < draws; d++) forEachEdge(gnmCSR({ order, size, rng }), (u, v) => hits[u * order + v]++);
      const p = size / pairs;
      const sd = Math.sqrt(draws * p * (1 - p));
      let chiSquare = 0;
      for (let u = 0; u < order; u++) {
        for (let v = u + 1; v < order; v++) {
          expect(Math.abs(hits[u * order + v] - draws * p), `m = ${size}, pair ${u}-${v}`).toBeLessThan(4.5 * sd);
          chiSquare += (hits[u * order + v] - draws * p) ** 2 / (draws * p * (1 - p));
        }
      }
      // With the edge count fixed the 28 counts have 27 degrees of freedom (and a slightly smaller
      // variance); 27 + 5 sqrt(54) is a generous upper bound.
      expect(chiSquare).toBeLessThan(27 + 5 * Math.sqrt(54));
    }
  });

  it('draws every 2-edge graph on 4 nodes equally often', () => {
    // C(6, 2) = 15 graphs, 6000 draws: each count is Binomial(6000, 1/15), sd 19.3.
    const rng = resolveRng({ seed: 'graphs' });
    const counts = new Map<string, number>();
    for (let d = 0; d < 6000; d++) {
      const edges: string[] = [];
      forEachEdge(gnmCSR({ order: 4, size: 2, rng }), (u, v) => edges.push(`${u}${v}`));
      const key = edges.join(',');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(15);
    for (const count of counts.values()) expect(Math.abs(count - 400)).toBeLessThan(4.5 * 19.3);
  });

  it('is reproducible, and its graphology view is the same graph', () => {
    const a = gnmCSR({ order: 500, size: 2000, seed: 5 });
    const b = gnmCSR({ order: 500, size: 2000, seed: 5 });
    const c = gnmCSR({ order: 500, size: 2000, seed: 6 });
    expect(b.targets).toEqual(a.targets);
    expect(c.targets).not.toEqual(a.targets);
    const graph = gnm(UndirectedGraph, { order: 500, size: 2000, seed: 5 });
    expect(graph.size).toBe(2000);
    expect(fromGraphology(graph).csr.targets).toEqual(a.targets);
  });

  it('raises ParameterError naming the bad parameter', () => {
    expectParameterError(() => gnmCSR({ order: -1, size: 0 }), 'order');
    expectParameterError(() => gnmCSR({ order: 10, size: 46 }), 'size');
    expectParameterError(() => gnmCSR({ order: 10, size: -1 }), 'size');
    expectParameterError(() => gnmCSR({ order: 10, size: 3.5 }), 'size');
    expectParameterError(() => gnmCSR({ order: 1, size: 1 }), 'size');
  });
});
