import Graph, { DirectedGraph, UndirectedGraph } from 'graphology';
import type { GraphConstructor } from 'graphology-types';
import { describe, expect, it } from 'vitest';
import { assertSimple, degreeOf, edgeCount, forEachEdge } from '../../src/graph/csr.js';
import { directedWattsStrogatz, directedWattsStrogatzCSR } from '../../src/graph/directed-watts-strogatz.js';
import { expectParameterError } from '../helpers/expect-error.js';

describe('directedWattsStrogatzCSR', () => {
  it('rewireProb = 0: arcs from u to its k nearest ring neighbours', () => {
    const graph = directedWattsStrogatzCSR({ order: 6, k: 4, rewireProb: 0, seed: 1 });
    expect(graph.directed).toBe(true);
    const rows = Array.from({ length: 6 }, (_, u) => Array.from(graph.targets.subarray(graph.offsets[u], graph.offsets[u + 1])));
    expect(rows).toEqual([
      [1, 2, 4, 5],
      [0, 2, 3, 5],
      [0, 1, 3, 4],
      [1, 2, 4, 5],
      [0, 2, 3, 5],
      [0, 1, 3, 4],
    ]);
  });

  it('keeps out-degree exactly k, no self-loops or repeated arcs; in-degrees vary', () => {
    for (const rewireProb of [0.1, 0.5, 1]) {
      for (const [order, k] of [[5, 2], [7, 6], [300, 8], [5000, 16]]) {
        const graph = directedWattsStrogatzCSR({ order, k, rewireProb, seed: order });
        assertSimple(graph);
        expect(edgeCount(graph)).toBe(order * k);
        const inDegree = new Int32Array(order);
        for (let u = 0; u < order; u++) expect(degreeOf(graph, u)).toBe(k);
        forEachEdge(graph, (_u, v) => inDegree[v]++);
        if (order >= 300) expect(Math.max(...inDegree)).toBeGreaterThan(k);
      }
    }
  });

  it('rewires each arc with probability rewireProb (within 4 sd)', () => {
    const [order, k, rewireProb] = [2000, 10, 0.3];
    let longArcs = 0;
    for (let seed = 0; seed < 5; seed++) {
      forEachEdge(directedWattsStrogatzCSR({ order, k, rewireProb, seed }), (u, v) => {
        const d = Math.abs(u - v);
        if (Math.min(d, order - d) > k / 2) longArcs++;
      });
    }
    const trials = 5 * order * k;
    expect(Math.abs(longArcs - rewireProb * trials)).toBeLessThan(4 * Math.sqrt(trials * rewireProb * (1 - rewireProb)));
  });

  it('is reproducible and rejects bad parameters', () => {
    const a = directedWattsStrogatzCSR({ order: 400, k: 6, rewireProb: 0.4, seed: 'd' });
    const b = directedWattsStrogatzCSR({ order: 400, k: 6, rewireProb: 0.4, seed: 'd' });
    const c = directedWattsStrogatzCSR({ order: 400, k: 6, rewireProb: 0.4, seed: 'e' });
    expect(b.targets).toEqual(a.targets);
    expect(c.targets).not.toEqual(a.targets);
    expectParameterError(() => directedWattsStrogatzCSR({ order: 10, k: 1, rewireProb: 0.1 }), 'k');
    expectParameterError(() => directedWattsStrogatzCSR({ order: 10, k: 4, rewireProb: 2 }), 'rewireProb');
    expectParameterError(() => directedWattsStrogatz(UndirectedGraph, { order: 10, k: 4, rewireProb: 0.1 }), 'GraphClass');
  });

  it('graphology output: a directed graph with nodes "0".."n-1" and order*k arcs', () => {
    const graph = directedWattsStrogatz(undefined, { order: 50, k: 4, rewireProb: 0.2, seed: 3 });
    expect(graph.type).toBe('directed');
    expect(graph.nodes()).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    expect(graph.size).toBe(200);
    expect(directedWattsStrogatz(DirectedGraph, { order: 50, k: 4, rewireProb: 0.2, seed: 3 }).size).toBe(200);
    // graphology's default export is the mixed Graph class (typed as the module under NodeNext).
    const MixedGraph = Graph as unknown as GraphConstructor;
    expect(directedWattsStrogatz(MixedGraph, { order: 50, k: 4, rewireProb: 0.2, seed: 3 }).directedSize).toBe(200);
  });
});
