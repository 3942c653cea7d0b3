import { describe, expect, it } from 'vitest';
import { assertSimple, type CSRGraph, edgeCount, forEachEdge, hasEdge } from '../../src/graph/csr.js';
import { newmanWattsStrogatz, newmanWattsStrogatzCSR } from '../../src/graph/newman-watts-strogatz.js';
import { ringLatticeCSR } from '../../src/graph/ring-lattice.js';
import { expectParameterError } from '../helpers/expect-error.js';
import { runPythonJSON } from '../helpers/python.js';
import { nonLatticeEdges } from '../helpers/ring.js';
import { meanAndStandardError } from '../helpers/statistics.js';

function containsRing(graph: CSRGraph, k: number): boolean {
  let all = true;
  forEachEdge(ringLatticeCSR({ order: graph.order, k }), (u, v) => {
    if (!hasEdge(graph, u, v) || !hasEdge(graph, v, u)) all = false;
  });
  return all;
}

describe('newmanWattsStrogatzCSR', () => {
  it('is the ring lattice for shortcutProb = 0', () => {
    const graph = newmanWattsStrogatzCSR({ order: 64, k: 6, shortcutProb: 0, seed: 1 });
    const ring = ringLatticeCSR({ order: 64, k: 6 });
    expect(graph.offsets).toEqual(ring.offsets);
    expect(graph.targets).toEqual(ring.targets);
  });

  it('keeps every lattice edge and adds only shortcuts: edges = order*k/2 + shortcuts', () => {
    for (const shortcutProb of [0.1, 0.5, 1]) {
      for (const [order, k] of [[9, 4], [200, 6], [3000, 10]]) {
        const graph = newmanWattsStrogatzCSR({ order, k, shortcutProb, seed: order });
        assertSimple(graph);
        expect(containsRing(graph, k)).toBe(true);
        expect(edgeCount(graph)).toBe((order * k) / 2 + nonLatticeEdges(graph, k));
      }
    }
  });

  it('adds about shortcutProb * order*k/2 shortcuts (within 4 sd)', () => {
    const [order, k, shortcutProb, seeds] = [1000, 10, 0.1, 20];
    let shortcuts = 0;
    for (let s = 0; s < seeds; s++) shortcuts += nonLatticeEdges(newmanWattsStrogatzCSR({ order, k, shortcutProb, seed: s }), k);
    const trials = (seeds * order * k) / 2;
    expect(Math.abs(shortcuts - shortcutProb * trials)).toBeLessThan(4 * Math.sqrt(trials * shortcutProb * (1 - shortcutProb)));
  });

  it("matches networkx's degree spread: mean degree variance within 3 combined standard errors", () => {
    const [order, k, shortcutProb, seeds] = [1000, 10, 0.3, 20];
    const variance = (degrees: number[]): number => {
      const mean = degrees.reduce((a, b) => a + b, 0) / degrees.length;
      return degrees.reduce((a, b) => a + (b - mean) ** 2, 0) / degrees.length;
    };
    const theirs = runPythonJSON<number[][]>(`
import json, networkx as nx
print(json.dumps([[d for _, d in nx.newman_watts_strogatz_graph(${order}, ${k}, ${shortcutProb}, seed=s).degree()] for s in range(${seeds})]))
`).map((degrees) => variance(degrees));
    const ours: number[] = [];
    for (let s = 0; s < seeds; s++) {
      const graph = newmanWattsStrogatzCSR({ order, k, shortcutProb, seed: `v${s}` });
      ours.push(variance(Array.from({ length: order }, (_, u) => graph.offsets[u + 1] - graph.offsets[u])));
    }
    const a = meanAndStandardError(ours);
    const b = meanAndStandardError(theirs);
    expect(Math.abs(a.mean - b.mean)).toBeLessThan(3 * Math.hypot(a.se, b.se));
  });

  it('is reproducible and rejects bad parameters', () => {
    const a = newmanWattsStrogatzCSR({ order: 500, k: 4, shortcutProb: 0.2, seed: 'x' });
    const b = newmanWattsStrogatzCSR({ order: 500, k: 4, shortcutProb: 0.2, seed: 'x' });
    const c = newmanWattsStrogatzCSR({ order: 500, k: 4, shortcutProb: 0.2, seed: 'y' });
    expect(b.targets).toEqual(a.targets);
    expect(c.targets).not.toEqual(a.targets);
    expectParameterError(() => newmanWattsStrogatzCSR({ order: 10, k: 3, shortcutProb: 0.1 }), 'k');
    expectParameterError(() => newmanWattsStrogatzCSR({ order: 10, k: 10, shortcutProb: 0.1 }), 'k');
    expectParameterError(() => newmanWattsStrogatzCSR({ order: 1, k: 2, shortcutProb: 0.1 }), 'order');
    expectParameterError(() => newmanWattsStrogatzCSR({ order: 10, k: 2, shortcutProb: 1.01 }), 'shortcutProb');
  });

  it('graphology output has nodes "0".."n-1" and the CSR size', () => {
    const csr = newmanWattsStrogatzCSR({ order: 100, k: 4, shortcutProb: 0.5, seed: 2 });
    const graph = newmanWattsStrogatz(undefined, { order: 100, k: 4, shortcutProb: 0.5, seed: 2 });
    expect(graph.nodes()).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
    expect(graph.order).toBe(100);
    expect(graph.size).toBe(edgeCount(csr));
  });
});
