import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { DirectedGraph, UndirectedGraph } from 'graphology';
import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import { assertSimple, edgeCount, forEachEdge, fromGraphology, hasEdge } from '../../src/graph/csr.js';
import { erdosRenyi, erdosRenyiCSR } from '../../src/graph/erdos-renyi.js';
import { resolveRng, type Rng } from '../../src/random.js';
import { expectParameterError } from '../helpers/expect-error.js';

// graphology-generators is CommonJS; its typings declare a default export that Node's ESM loader
// does not produce, so load it with require.
const graphologyErdosRenyi = createRequire(import.meta.url)('graphology-generators/random/erdos-renyi') as {
  sparse(GraphClass: GraphConstructor, options: { order: number; probability: number; rng: Rng }): AbstractGraph;
};

describe('erdosRenyiCSR', () => {
  it('has a binomial edge count: mean n(n-1)/2 p and variance n(n-1)/2 p(1-p)', () => {
    const order = 200;
    const probability = 0.05;
    const pairs = (order * (order - 1)) / 2;
    const draws = 200;
    const counts = Array.from({ length: draws }, (_, seed) => {
      const graph = erdosRenyiCSR({ order, probability, seed });
      return edgeCount(graph);
    });
    const mean = counts.reduce((a, b) => a + b, 0) / draws;
    const sd = Math.sqrt(counts.reduce((a, b) => a + (b - mean) ** 2, 0) / (draws - 1));
    const expectedMean = pairs * probability;
    const expectedSd = Math.sqrt(pairs * probability * (1 - probability));
    // The sample mean has standard error sd/sqrt(draws); the sample sd about sd/sqrt(2(draws-1)).
    expect(Math.abs(mean - expectedMean)).toBeLessThan((4 * expectedSd) / Math.sqrt(draws));
    expect(Math.abs(sd / expectedSd - 1)).toBeLessThan(4 / Math.sqrt(2 * (draws - 1)));
  });

  it('includes every pair with probability p (no pair favoured by the skipping)', () => {
    // 45 pairs of 10 nodes over 4000 graphs: each count is Binomial(4000, 0.3), sd 29.
    const order = 10;
    const probability = 0.3;
    const draws = 4000;
    const hits = new Float64Array(order * order);
    const rng = resolveRng({ seed: 'pairs' });
    for (let d = 0; d < draws; d++) forEachEdge(erdosRenyiCSR({ order, probability, rng }), (u, v) => hits[u * order + v]++);
    const sd = Math.sqrt(draws * probability * (1 - probability));
    for (let u = 0; u < order; u++) {
      for (let v = u + 1; v < order; v++) {
        expect(Math.abs(hits[u * order + v] - draws * probability), `pair ${u}-${v}`).toBeLessThan(4.5 * sd);
      }
    }
  });

  it('gives the empty graph for p = 0 and the complete graph for p = 1', () => {
    const empty = erdosRenyiCSR({ order: 50, probability: 0, seed: 1 });
    expect(empty.order).toBe(50);
    expect(edgeCount(empty)).toBe(0);
    const complete = erdosRenyiCSR({ order: 50, probability: 1, seed: 1 });
    expect(edgeCount(complete)).toBe(1225);
    assertSimple(complete);
    expect(edgeCount(erdosRenyiCSR({ order: 0, probability: 0.5, seed: 1 }))).toBe(0);
    expect(edgeCount(erdosRenyiCSR({ order: 1, probability: 1, seed: 1 }))).toBe(0);
  });

  it('has no self-loops or repeated edges', () => {
    for (const probability of [0.001, 0.1, 0.5, 0.9, 0.999]) {
      const graph = erdosRenyiCSR({ order: 300, probability, seed: probability });
      assertSimple(graph);
      expect(graph.directed).toBe(false);
    }
  });

  it('gives the same CSR and graphology graph for the same seed', () => {
    const csr = erdosRenyiCSR({ order: 400, probability: 0.02, seed: 'same' });
    const graph = erdosRenyi(UndirectedGraph, { order: 400, probability: 0.02, seed: 'same' });
    expect(graph.order).toBe(400);
    expect(graph.size).toBe(edgeCount(csr));
    const back = fromGraphology(graph).csr;
    expect(back.offsets).toEqual(csr.offsets);
    expect(back.targets).toEqual(csr.targets);
    // A directed class gets every edge both ways.
    const directed = erdosRenyi(DirectedGraph, { order: 400, probability: 0.02, seed: 'same' });
    expect(directed.size).toBe(2 * edgeCount(csr));
    const other = erdosRenyiCSR({ order: 400, probability: 0.02, seed: 'other' });
    expect(other.targets).not.toEqual(csr.targets);
  });

  it("is graphology-generators' erdosRenyi.sparse for the same rng (undirected)", () => {
    for (const [order, probability] of [[300, 0.03], [100, 0.5], [60, 1]]) {
      const theirs = graphologyErdosRenyi.sparse(UndirectedGraph, { order, probability, rng: resolveRng({ seed: order }) });
      const ours = erdosRenyiCSR({ order, probability, seed: order });
      expect(theirs.size).toBe(edgeCount(ours));
      theirs.forEachEdge((_e, _a, source, target) => expect(hasEdge(ours, Number(source), Number(target))).toBe(true));
    }
  });

  it('handles tiny p on many nodes (gaps beyond 2^31 pairs)', () => {
    // n = 100,000 has 5e9 pairs; p = 1e-9 gives Poisson(5) edges per graph: 200 over 40 graphs.
    const order = 100_000;
    const probability = 1e-9;
    let total = 0;
    for (let seed = 0; seed < 40; seed++) {
      const graph = erdosRenyiCSR({ order, probability, seed });
      assertSimple(graph);
      total += edgeCount(graph);
    }
    const expected = 40 * ((order * (order - 1)) / 2) * probability;
    expect(Math.abs(total - expected)).toBeLessThan(4 * Math.sqrt(expected));
  });

  it('raises ParameterError naming the bad parameter', () => {
    expectParameterError(() => erdosRenyiCSR({ order: -1, probability: 0.5 }), 'order');
    expectParameterError(() => erdosRenyiCSR({ order: 2.5, probability: 0.5 }), 'order');
    expectParameterError(() => erdosRenyiCSR({ order: 2 ** 27 + 1, probability: 1e-12 }), 'order');
    expectParameterError(() => erdosRenyiCSR({ order: 10, probability: 1.01 }), 'probability');
    expectParameterError(() => erdosRenyiCSR({ order: 10, probability: -0.01 }), 'probability');
    expectParameterError(() => erdosRenyiCSR({ order: 10, probability: Number.NaN }), 'probability');
    expectParameterError(() => erdosRenyiCSR({ order: 10, probability: 0.5, rng: 3 as never }), 'rng');
    expectParameterError(() => erdosRenyi({} as never, { order: 10, probability: 0.5 }), 'GraphClass');
  });
});
