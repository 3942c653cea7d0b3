import { describe, expect, it } from 'vitest';
import { UndirectedGraph } from 'graphology';
import { barabasiAlbert, barabasiAlbertCSR } from '../../src/graph/barabasi-albert.js';
import { assertSimple, csrFromEdges, degreeOf, edgeCount, fromGraphology, hasEdge, type CSRGraph } from '../../src/graph/csr.js';
import { expectParameterError } from '../helpers/expect-error.js';
import { runPythonJSON } from '../helpers/python.js';

/** Fraction of nodes with degree >= k, for each k in ks. */
function degreeTail(graph: CSRGraph, ks: number[]): number[] {
  return ks.map((k) => {
    let count = 0;
    for (let u = 0; u < graph.order; u++) if (degreeOf(graph, u) >= k) count++;
    return count / graph.order;
  });
}

/** P(K >= k) = m(m+1)/(k(k+1)) for k >= m: the tail of p_k = 2m(m+1)/(k(k+1)(k+2)). */
const tailClosedForm = (m: number, k: number): number => (m * (m + 1)) / (k * (k + 1));

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('barabasiAlbertCSR', () => {
  it('has m*(n-m) edges, is simple, and grows from the star on m+1 nodes', () => {
    for (const [order, m] of [[2, 1], [10, 1], [10, 9], [500, 3], [1000, 7]]) {
      const graph = barabasiAlbertCSR({ order, m, seed: order + m });
      expect(graph.order).toBe(order);
      expect(graph.directed).toBe(false);
      assertSimple(graph);
      expect(edgeCount(graph)).toBe(m * (order - m));
      // networkx's star_graph(m): node 0 joined to 1..m; nodes added later have >= m neighbours.
      for (let v = 1; v <= m; v++) expect(hasEdge(graph, 0, v)).toBe(true);
      for (let u = m + 1; u < order; u++) expect(degreeOf(graph, u)).toBeGreaterThanOrEqual(m);
      // Each new node u links to m older nodes, never to later ones at its arrival: its
      // neighbours below u number exactly m.
      for (let u = m + 1; u < order; u++) {
        let older = 0;
        for (let i = graph.offsets[u]; i < graph.offsets[u + 1]; i++) if (graph.targets[i] < u) older++;
        expect(older).toBe(m);
      }
    }
  });

  it('gives the same arrays for the same seed and different ones for different seeds', () => {
    const a = barabasiAlbertCSR({ order: 300, m: 2, seed: 'ba' });
    const b = barabasiAlbertCSR({ order: 300, m: 2, seed: 'ba' });
    const c = barabasiAlbertCSR({ order: 300, m: 2, seed: 'other' });
    expect(b.offsets).toEqual(a.offsets);
    expect(b.targets).toEqual(a.targets);
    expect(c.targets).not.toEqual(a.targets);
  });

  it('keeps the edges of an initial graph and adds m edges per new node', () => {
    // A 5-cycle plus a chord, grown to 200 nodes with m = 3.
    const initialGraph = csrFromEdges(5, [0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 0, 2], false);
    const graph = barabasiAlbertCSR({ order: 200, m: 3, initialGraph, seed: 4 });
    assertSimple(graph);
    expect(edgeCount(graph)).toBe(6 + 3 * (200 - 5));
    for (let u = 0; u < 5; u++) {
      for (let i = initialGraph.offsets[u]; i < initialGraph.offsets[u + 1]; i++) {
        expect(hasEdge(graph, u, initialGraph.targets[i])).toBe(true);
      }
    }
    // No new edges among the initial nodes: node 5 is the first new one.
    for (let u = 0; u < 5; u++) {
      for (let v = u + 1; v < 5; v++) expect(hasEdge(graph, u, v)).toBe(hasEdge(initialGraph, u, v));
    }
    // An initial graph of the full order is returned as it is.
    const same = barabasiAlbertCSR({ order: 5, m: 2, initialGraph, seed: 1 });
    expect(same.targets).toEqual(initialGraph.targets);
  });

  it('returns the graphology view of the same graph', () => {
    const graph = barabasiAlbert(UndirectedGraph, { order: 100, m: 2, seed: 9 });
    const csr = barabasiAlbertCSR({ order: 100, m: 2, seed: 9 });
    expect(graph.order).toBe(100);
    expect(graph.size).toBe(2 * 98);
    expect(graph.nodes()).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
    const back = fromGraphology(graph).csr;
    expect(back.offsets).toEqual(csr.offsets);
    expect(back.targets).toEqual(csr.targets);
    expect(barabasiAlbert(undefined, { order: 100, m: 2, seed: 9 }).type).toBe('undirected');
  });

  it('raises ParameterError naming the bad parameter', () => {
    expectParameterError(() => barabasiAlbertCSR({ order: 1, m: 1 }), 'order');
    expectParameterError(() => barabasiAlbertCSR({ order: 10.5, m: 1 }), 'order');
    expectParameterError(() => barabasiAlbertCSR({ order: 10, m: 0 }), 'm');
    expectParameterError(() => barabasiAlbertCSR({ order: 10, m: 10 }), 'm');
    expectParameterError(() => barabasiAlbertCSR({ order: 10, m: 2.5 }), 'm');
    expectParameterError(() => barabasiAlbertCSR({ order: 10, m: 2, seed: 1, rng: Math.random }), 'seed');
    const triangle = csrFromEdges(3, [0, 1, 2], [1, 2, 0], false);
    expectParameterError(() => barabasiAlbertCSR({ order: 10, m: 4, initialGraph: triangle }), 'initialGraph'); // fewer than m nodes
    expectParameterError(() => barabasiAlbertCSR({ order: 2, m: 1, initialGraph: triangle }), 'initialGraph'); // more than order
    const directed = csrFromEdges(3, [0, 1, 2], [1, 2, 0], true);
    expectParameterError(() => barabasiAlbertCSR({ order: 10, m: 2, initialGraph: directed }), 'initialGraph');
    // 4 isolated nodes cannot give m = 2 distinct targets (networkx would loop forever).
    const isolated = csrFromEdges(4, [], [], false);
    expectParameterError(() => barabasiAlbertCSR({ order: 10, m: 2, initialGraph: isolated }), 'initialGraph');
    expectParameterError(() => barabasiAlbert((() => 1) as never, { order: 10, m: 2 }), 'GraphClass');
  });

  it('has the degree tail P(K >= k) = m(m+1)/(k(k+1)) of the BA model', () => {
    // n = 50,000, m = 3, one graph. Binomial standard errors sqrt(P(1-P)/n) over-estimate the
    // spread of a BA tail across seeds (measured: 0.55-0.8 of it, the degrees summing to 2mn), so
    // 4 of them is a generous noise bound; 3% of P allows for the finite-size bias (measured at
    // n = 30,000 over 40 seeds: under 0.4% for k <= 30, 1.7% at k = 40; networkx's own: 2.7%).
    // A uniform-attachment graph would have P(K >= 40) ~ 1e-9, far outside.
    const n = 50_000;
    const m = 3;
    const ks = range(6, 40);
    const tail = degreeTail(barabasiAlbertCSR({ order: n, m, seed: 2024 }), ks);
    ks.forEach((k, i) => {
      const expected = tailClosedForm(m, k);
      const tolerance = 4 * Math.sqrt((expected * (1 - expected)) / n) + 0.03 * expected;
      expect(Math.abs(tail[i] - expected), `k = ${k}: ${tail[i]} vs ${expected}`).toBeLessThan(tolerance);
    });
  });

  it('matches the degree tail of networkx barabasi_albert_graph', () => {
    // Pooled over 4 graphs of 30,000 nodes on each side; the difference of two pooled fractions
    // has binomial standard error sqrt(2 P(1-P)/(4n)) (an over-estimate, see above); we allow 4 of
    // them plus 3% of P for the finite-size biases of the two implementations.
    const n = 30_000;
    const m = 3;
    const seeds = 4;
    const ks = [3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40];
    const theirs = runPythonJSON<number[]>(`
import json, networkx as nx, numpy as np
ks = ${JSON.stringify(ks)}
tails = np.zeros(len(ks))
for seed in range(${seeds}):
    d = np.array([deg for _, deg in nx.barabasi_albert_graph(${n}, ${m}, seed=seed).degree()])
    tails += np.array([np.mean(d >= k) for k in ks])
print(json.dumps((tails / ${seeds}).tolist()))
`);
    const ours = ks.map(() => 0);
    for (let seed = 0; seed < seeds; seed++) {
      degreeTail(barabasiAlbertCSR({ order: n, m, seed }), ks).forEach((p, i) => (ours[i] += p / seeds));
    }
    ks.forEach((k, i) => {
      const p = tailClosedForm(m, k);
      const tolerance = 4 * Math.sqrt((2 * p * (1 - p)) / (seeds * n)) + 0.03 * p;
      expect(Math.abs(ours[i] - theirs[i]), `k = ${k}: ours ${ours[i]}, networkx ${theirs[i]}`).toBeLessThan(tolerance);
    });
    // Both have minimum degree m: nobody below.
    expect(ours[0]).toBe(1);
    expect(theirs[0]).toBe(1);
  });
});
