import { DirectedGraph, UndirectedGraph } from 'graphology';
import { describe, expect, it } from 'vitest';
import { assertSimple, degreeOf, edgeCount, forEachEdge } from '../../src/graph/csr.js';
import { ringLattice, ringLatticeCSR } from '../../src/graph/ring-lattice.js';
import { expectParameterError } from '../helpers/expect-error.js';
import { runPythonJSON } from '../helpers/python.js';

function edgeList(graph: Parameters<typeof forEachEdge>[0]): [number, number][] {
  const edges: [number, number][] = [];
  forEachEdge(graph, (u, v) => edges.push([u, v]));
  return edges;
}

describe('ringLatticeCSR', () => {
  it('joins each node to its k nearest ring neighbours (6 nodes, k = 4)', () => {
    const graph = ringLatticeCSR({ order: 6, k: 4 });
    expect(edgeList(graph)).toEqual([
      [0, 1], [0, 2], [0, 4], [0, 5],
      [1, 2], [1, 3], [1, 5],
      [2, 3], [2, 4],
      [3, 4], [3, 5],
      [4, 5],
    ]);
    expect(Array.from(graph.targets.subarray(graph.offsets[0], graph.offsets[1]))).toEqual([1, 2, 4, 5]);
  });

  it('has degree k everywhere, order*k/2 edges, sorted simple rows', () => {
    for (const [order, k] of [[3, 2], [4, 2], [7, 6], [10, 4], [101, 16], [1000, 10]]) {
      const graph = ringLatticeCSR({ order, k });
      assertSimple(graph);
      expect(graph.directed).toBe(false);
      expect(edgeCount(graph)).toBe((order * k) / 2);
      for (let u = 0; u < order; u++) expect(degreeOf(graph, u)).toBe(k);
    }
  });

  it('k = order - 1 (odd order) is the complete graph', () => {
    expect(edgeCount(ringLatticeCSR({ order: 9, k: 8 }))).toBe(36);
  });

  it("equals networkx's watts_strogatz_graph(n, k, 0)", () => {
    const cases: [number, number][] = [[5, 2], [8, 4], [13, 6], [40, 10]];
    const expected = runPythonJSON<[number, number][][]>(`
import json, networkx as nx
cases = ${JSON.stringify(cases)}
print(json.dumps([sorted(tuple(sorted(e)) for e in nx.watts_strogatz_graph(n, k, 0).edges()) for n, k in cases]))
`);
    cases.forEach(([order, k], i) => expect(edgeList(ringLatticeCSR({ order, k }))).toEqual(expected[i]));
  });

  it('rejects bad parameters, naming them', () => {
    expectParameterError(() => ringLatticeCSR({ order: 10, k: 3 }), 'k');
    expectParameterError(() => ringLatticeCSR({ order: 10, k: 10 }), 'k');
    expectParameterError(() => ringLatticeCSR({ order: 10, k: 0 }), 'k');
    expectParameterError(() => ringLatticeCSR({ order: 10, k: 2.5 }), 'k');
    expectParameterError(() => ringLatticeCSR({ order: 2, k: 2 }), 'order');
    expectParameterError(() => ringLatticeCSR({ order: -5, k: 2 }), 'order');
    expectParameterError(() => ringLatticeCSR({ order: 10.5, k: 2 }), 'order');
    expect(() => ringLatticeCSR({ order: 10, k: 3 })).toThrow(/k must be an even integer in \[2, 9\]/);
  });
});

describe('ringLattice (graphology)', () => {
  it('has nodes "0".."n-1" and the CSR edges', () => {
    const graph = ringLattice(undefined, { order: 12, k: 4 });
    expect(graph.type).toBe('undirected');
    expect(graph.nodes()).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
    expect(graph.order).toBe(12);
    expect(graph.size).toBe(24);
    expect(graph.hasEdge('0', '11')).toBe(true);
    expect(graph.hasEdge('0', '3')).toBe(false);
  });

  it('takes a Graph class, and rejects anything else', () => {
    expect(ringLattice(UndirectedGraph, { order: 6, k: 2 }).size).toBe(6);
    expect(ringLattice(DirectedGraph, { order: 6, k: 2 }).size).toBe(12); // each edge as two arcs
    expectParameterError(() => ringLattice((() => 1) as never, { order: 6, k: 2 }), 'GraphClass');
  });
});
