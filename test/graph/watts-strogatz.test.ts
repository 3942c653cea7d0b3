import { UndirectedGraph } from 'graphology';
import { describe, expect, it } from 'vitest';
import { assertSimple, degreeOf, edgeCount, forEachEdge } from '../../src/graph/csr.js';
import { ringLatticeCSR } from '../../src/graph/ring-lattice.js';
import { wattsStrogatz, wattsStrogatzCSR } from '../../src/graph/watts-strogatz.js';
import { averageClustering } from '../helpers/clustering.js';
import { expectParameterError } from '../helpers/expect-error.js';
import { runPythonJSON } from '../helpers/python.js';
import { nonLatticeEdges } from '../helpers/ring.js';
import { meanAndStandardError } from '../helpers/statistics.js';

describe('wattsStrogatzCSR', () => {
  it('is the ring lattice for rewireProb = 0', () => {
    for (const [order, k] of [[3, 2], [20, 4], [257, 16]]) {
      const ws = wattsStrogatzCSR({ order, k, rewireProb: 0, seed: 1 });
      const ring = ringLatticeCSR({ order, k });
      expect(ws.offsets).toEqual(ring.offsets);
      expect(ws.targets).toEqual(ring.targets);
    }
  });

  it('keeps order*k/2 edges and stays simple for any rewireProb', () => {
    for (const rewireProb of [0, 0.1, 0.5, 1]) {
      for (const [order, k] of [[7, 4], [50, 6], [2000, 16]]) {
        const graph = wattsStrogatzCSR({ order, k, rewireProb, seed: `p=${rewireProb}` });
        assertSimple(graph);
        expect(graph.directed).toBe(false);
        expect(edgeCount(graph)).toBe((order * k) / 2);
        expect(graph.offsets[order]).toBe(order * k);
      }
    }
  });

  it('cannot rewire a complete graph (k = order - 1) and returns it unchanged', () => {
    const graph = wattsStrogatzCSR({ order: 5, k: 4, rewireProb: 1, seed: 3 });
    for (let u = 0; u < 5; u++) expect(degreeOf(graph, u)).toBe(4);
  });

  it('rewires every edge for rewireProb = 1 where it can', () => {
    const graph = wattsStrogatzCSR({ order: 5000, k: 4, rewireProb: 1, seed: 9 });
    // A rewired edge lands on a lattice pair only by chance (about k/order of them).
    expect(nonLatticeEdges(graph, 4)).toBeGreaterThan(0.99 * 10000);
  });

  it('is reproducible: same seed same arrays, another seed another graph, string seeds work', () => {
    const options = { order: 3000, k: 8, rewireProb: 0.2 };
    const a = wattsStrogatzCSR({ ...options, seed: 42 });
    const b = wattsStrogatzCSR({ ...options, seed: 42 });
    const c = wattsStrogatzCSR({ ...options, seed: 43 });
    expect(b.offsets).toEqual(a.offsets);
    expect(b.targets).toEqual(a.targets);
    expect(c.targets).not.toEqual(a.targets);
    const s1 = wattsStrogatzCSR({ ...options, seed: 'small world' });
    const s2 = wattsStrogatzCSR({ ...options, seed: 'small world' });
    expect(s2.targets).toEqual(s1.targets);
    expect(s1.targets).not.toEqual(a.targets);
  });

  it('takes an rng instead of a seed', () => {
    let state = 1;
    const rng = () => ((state = (state * 48271) % 2147483647) - 1) / 2147483646;
    const graph = wattsStrogatzCSR({ order: 100, k: 4, rewireProb: 0.3, rng });
    assertSimple(graph);
    expect(edgeCount(graph)).toBe(200);
  });

  it('rejects bad parameters, naming them', () => {
    const good = { order: 20, k: 4, rewireProb: 0.1 };
    expectParameterError(() => wattsStrogatzCSR({ ...good, k: 5 }), 'k');
    expectParameterError(() => wattsStrogatzCSR({ ...good, k: 20 }), 'k');
    expectParameterError(() => wattsStrogatzCSR({ ...good, k: 22 }), 'k');
    expectParameterError(() => wattsStrogatzCSR({ ...good, k: -2 }), 'k');
    expectParameterError(() => wattsStrogatzCSR({ ...good, k: 4.5 }), 'k');
    expectParameterError(() => wattsStrogatzCSR({ ...good, order: 20.5 }), 'order');
    expectParameterError(() => wattsStrogatzCSR({ ...good, order: -20 }), 'order');
    expectParameterError(() => wattsStrogatzCSR({ ...good, rewireProb: -0.1 }), 'rewireProb');
    expectParameterError(() => wattsStrogatzCSR({ ...good, rewireProb: 1.5 }), 'rewireProb');
    expectParameterError(() => wattsStrogatzCSR({ ...good, rewireProb: Number.NaN }), 'rewireProb');
    expectParameterError(() => wattsStrogatzCSR({ ...good, seed: 1, rng: Math.random }), 'seed');
    expect(() => wattsStrogatzCSR({ ...good, rewireProb: 2 })).toThrow(/wattsStrogatz: rewireProb must be a number in \[0, 1\]/);
  });

  it("agrees with networkx's watts_strogatz_graph in clustering and in the fraction of rewired edges", () => {
    const order = 1000;
    const k = 10;
    const rewireProb = 0.1;
    const seeds = 20;
    const nx = runPythonJSON<{ clustering: number[] }>(`
import json, networkx as nx
print(json.dumps({"clustering": [nx.average_clustering(nx.watts_strogatz_graph(${order}, ${k}, ${rewireProb}, seed=s)) for s in range(${seeds})]}))
`);
    const clustering: number[] = [];
    let rewired = 0;
    for (let s = 0; s < seeds; s++) {
      const graph = wattsStrogatzCSR({ order, k, rewireProb, seed: `nx-${s}` });
      clustering.push(averageClustering(graph));
      rewired += nonLatticeEdges(graph, k);
    }
    const ours = meanAndStandardError(clustering);
    const theirs = meanAndStandardError(nx.clustering);
    // Both near Barrat & Weigt's 3(k-2)/(4(k-1)) (1-p)^3 = 0.486; the two means within 3 combined standard errors.
    expect(Math.abs(ours.mean - 0.486)).toBeLessThan(0.02);
    expect(Math.abs(ours.mean - theirs.mean)).toBeLessThan(3 * Math.hypot(ours.se, theirs.se));
    // Each of the order*k/2 edges rewires with probability p (the few that land back on a lattice pair are not seen).
    const edges = (seeds * order * k) / 2;
    expect(Math.abs(rewired - rewireProb * edges)).toBeLessThan(4 * Math.sqrt(edges * rewireProb * (1 - rewireProb)));
  });

  it('local clustering helper matches closed forms (ring lattice, triangle)', () => {
    expect(averageClustering(ringLatticeCSR({ order: 50, k: 10 }))).toBeCloseTo((3 * 8) / (4 * 9), 12);
    expect(averageClustering(ringLatticeCSR({ order: 3, k: 2 }))).toBe(1);
  });
});

describe('wattsStrogatz (graphology)', () => {
  it('has nodes "0".."n-1" and the CSR edges', () => {
    const csr = wattsStrogatzCSR({ order: 300, k: 6, rewireProb: 0.3, seed: 5 });
    const graph = wattsStrogatz(undefined, { order: 300, k: 6, rewireProb: 0.3, seed: 5 });
    expect(graph.nodes()).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));
    expect(graph.order).toBe(csr.order);
    expect(graph.size).toBe(edgeCount(csr));
    forEachEdge(csr, (u, v) => expect(graph.hasEdge(String(u), String(v))).toBe(true));
    expect(wattsStrogatz(UndirectedGraph, { order: 30, k: 4, rewireProb: 0.5, seed: 1 }).size).toBe(60);
  });
});
