import { describe, expect, it } from 'vitest';
import {
  assertConnected,
  connectedComponents,
  isConnected,
  largestComponentGraph,
  stronglyConnectedComponents,
} from '../../src/analysis/components.js';
import { DisconnectedGraphError, EmptyGraphError } from '../../src/analysis/errors.js';
import { type CSRGraph, forEachEdge, toGraphology } from '../../src/graph/csr.js';
import { erdosRenyiCSR } from '../../src/graph/erdos-renyi.js';
import { BlockLayout } from '../../src/patterns/layout.js';
import { resolveRng } from '../../src/random.js';
import { catchError } from '../helpers/expect-error.js';
import { runPythonJSON } from '../helpers/python.js';
import { graphOf, edgeListText } from '../helpers/graphs.js';


/** A random simple digraph with `arcs` distinct arcs (no self-loops): sparse ones have many strong components. */
function randomDigraph(order: number, arcs: number, seed: number): CSRGraph {
  const rng = resolveRng({ seed });
  const seen = new Set<number>();
  const edges: [number, number][] = [];
  while (edges.length < arcs) {
    const u = Math.floor(rng() * order);
    const v = Math.floor(rng() * order);
    if (u === v || seen.has(u * order + v)) continue;
    seen.add(u * order + v);
    edges.push([u, v]);
  }
  return graphOf(order, edges, true);
}


describe('connectedComponents', () => {
  it('labels two triangles and an isolated node, largest first, ties by smallest node', () => {
    // Triangle {4, 5, 6} and triangle {0, 1, 2}; node 3 alone.
    const g = graphOf(7, [[4, 5], [5, 6], [4, 6], [0, 1], [1, 2], [0, 2]], false);
    const result = connectedComponents(g);
    expect(result.count).toBe(3);
    expect(result.sizes).toEqual([3, 3, 1]);
    expect(result.largest).toBe(3);
    expect(Array.from(result.labels)).toEqual([0, 0, 0, 2, 1, 1, 1]);
  });

  it('gives the weak components of a directed graph (arcs followed either way)', () => {
    const g = graphOf(5, [[0, 1], [2, 1], [3, 4]], true);
    const result = connectedComponents(g);
    expect(result.count).toBe(2);
    expect(result.sizes).toEqual([3, 2]);
    expect(Array.from(result.labels)).toEqual([0, 0, 0, 1, 1]);
  });

  it('has no components for the null graph', () => {
    const result = connectedComponents(graphOf(0, [], false));
    expect(result).toMatchObject({ count: 0, sizes: [], largest: 0 });
  });

  it('reads a square layout as a graph on blocks (diagonal ignored)', () => {
    // Blocks 0 <-> 1 and 2 alone, every diagonal block present.
    const layout = BlockLayout.fromPairs({ inBlocks: 3, outBlocks: 3 }, [0, 1, 2, 0, 1], [0, 1, 2, 1, 0]);
    expect(connectedComponents(layout).sizes).toEqual([2, 1]);
    expect(isConnected(layout)).toBe(false);
  });

  it('accepts graphology graphs', () => {
    const graph = toGraphology(graphOf(4, [[0, 1], [2, 3]], false));
    expect(connectedComponents(graph).count).toBe(2);
  });

  it('matches networkx on sparse Erdős-Rényi graphs (component count and sizes)', () => {
    const graphs = [300, 1000, 2500].map((order, i) => erdosRenyiCSR({ order, probability: 1.2 / order, seed: 40 + i }));
    const script = `
import sys, json, networkx as nx
out = []
for block in json.load(sys.stdin):
    G = nx.Graph(); G.add_nodes_from(range(block["n"]))
    G.add_edges_from(tuple(map(int, l.split())) for l in block["edges"].splitlines())
    out.append(sorted((len(c) for c in nx.connected_components(G)), reverse=True))
print(json.dumps(out))`;
    const expected = runPythonJSON<number[][]>(script, JSON.stringify(graphs.map((g) => ({ n: g.order, edges: edgeListText(g) }))));
    graphs.forEach((g, i) => {
      const result = connectedComponents(g);
      expect(result.sizes).toEqual(expected[i]);
      expect(result.count).toBe(expected[i].length);
      // Every edge joins two nodes with the same label.
      forEachEdge(g, (u, v) => expect(result.labels[u]).toBe(result.labels[v]));
    });
  });
});

describe('stronglyConnectedComponents', () => {
  it('finds a 3-cycle, a 2-cycle and the arc between them', () => {
    const g = graphOf(5, [[0, 1], [1, 2], [2, 0], [2, 3], [3, 4], [4, 3]], true);
    const result = stronglyConnectedComponents(g);
    expect(result.count).toBe(2);
    expect(result.sizes).toEqual([3, 2]);
    expect(Array.from(result.labels)).toEqual([0, 0, 0, 1, 1]);
    expect(connectedComponents(g).count).toBe(1);
  });

  it('matches networkx (strong and weak counts and sizes) on sparse random digraphs', () => {
    const graphs = [
      randomDigraph(200, 260, 1),
      randomDigraph(500, 700, 2),
      randomDigraph(1500, 2400, 3),
    ];
    const script = `
import sys, json, networkx as nx
out = []
for block in json.load(sys.stdin):
    G = nx.DiGraph(); G.add_nodes_from(range(block["n"]))
    G.add_edges_from(tuple(map(int, l.split())) for l in block["edges"].splitlines())
    out.append({
        "strong": sorted((len(c) for c in nx.strongly_connected_components(G)), reverse=True),
        "weak": sorted((len(c) for c in nx.weakly_connected_components(G)), reverse=True),
    })
print(json.dumps(out))`;
    const expected = runPythonJSON<{ strong: number[]; weak: number[] }[]>(
      script,
      JSON.stringify(graphs.map((g) => ({ n: g.order, edges: edgeListText(g) }))),
    );
    graphs.forEach((g, i) => {
      const strong = stronglyConnectedComponents(g);
      expect(strong.sizes).toEqual(expected[i].strong);
      expect(strong.count).toBeGreaterThan(10);
      expect(connectedComponents(g).sizes).toEqual(expected[i].weak);
      // Nodes on a common cycle share a label: check u -> v -> u pairs.
      forEachEdge(g, (u, v) => {
        if (g.targets.subarray(g.offsets[v], g.offsets[v + 1]).includes(u)) expect(strong.labels[u]).toBe(strong.labels[v]);
      });
    });
  });

  it('handles a million-node cycle and path without recursion', () => {
    const n = 1_000_000;
    const offsets = new Int32Array(n + 1);
    const targets = new Int32Array(n);
    for (let v = 0; v < n; v++) {
      offsets[v + 1] = v + 1;
      targets[v] = (v + 1) % n;
    }
    const cycle: CSRGraph = { order: n, directed: true, offsets, targets };
    expect(stronglyConnectedComponents(cycle).count).toBe(1);
    expect(isConnected(cycle)).toBe(true);
    const pathOffsets = offsets.slice();
    pathOffsets[n] = n - 1; // drop the arc n-1 -> 0
    const path: CSRGraph = { order: n, directed: true, offsets: pathOffsets, targets: targets.subarray(0, n - 1) };
    const result = stronglyConnectedComponents(path);
    expect(result.count).toBe(n);
    expect(result.largest).toBe(1);
    expect(connectedComponents(path).count).toBe(1);
    expect(isConnected(path)).toBe(false);
  });
});

describe('isConnected and assertConnected', () => {
  it('uses strong connectivity for directed graphs', () => {
    expect(isConnected(graphOf(3, [[0, 1], [1, 2]], true))).toBe(false);
    expect(isConnected(graphOf(3, [[0, 1], [1, 2], [2, 0]], true))).toBe(true);
    expect(isConnected(graphOf(3, [[0, 1], [1, 2]], false))).toBe(true);
    expect(isConnected(graphOf(1, [], false))).toBe(true);
  });

  it('raises EmptyGraphError for the null graph, as networkx', () => {
    expect(catchError(() => isConnected(graphOf(0, [], false)))).toBeInstanceOf(EmptyGraphError);
  });

  it('names the number of components in DisconnectedGraphError', () => {
    const weak = catchError(() => assertConnected(graphOf(5, [[0, 1], [2, 3]], false), 'test metric')) as DisconnectedGraphError;
    expect(weak).toBeInstanceOf(DisconnectedGraphError);
    expect(weak.components).toBe(3);
    expect(weak.connectivity).toBe('weak');
    expect(weak.code).toBe('E_DISCONNECTED');
    expect(weak.message).toContain('3 connected components');
    const strong = catchError(() => assertConnected(graphOf(3, [[0, 1], [1, 2]], true), 'test metric')) as DisconnectedGraphError;
    expect(strong.components).toBe(3);
    expect(strong.connectivity).toBe('strong');
    expect(strong.message).toContain('3 strongly connected components');
  });
});

describe('largestComponentGraph', () => {
  it('extracts the giant component of an Erdős-Rényi graph, renumbered in order', () => {
    const g = erdosRenyiCSR({ order: 2000, probability: 2 / 2000, seed: 5 });
    const { graph, nodes } = largestComponentGraph(g);
    const components = connectedComponents(g);
    expect(graph.order).toBe(components.largest);
    expect(isConnected(graph)).toBe(true);
    // Same edges among the kept nodes, in new numbering.
    let edges = 0;
    forEachEdge(g, (u, v) => {
      if (components.labels[u] === 0) edges++;
      else expect(components.labels[v]).not.toBe(0);
    });
    expect(graph.targets.length / 2).toBe(edges);
    for (let i = 1; i < nodes.length; i++) expect(nodes[i]).toBeGreaterThan(nodes[i - 1]);
  });

  it('extracts the largest strongly connected component', () => {
    const g = graphOf(5, [[0, 1], [1, 2], [2, 0], [2, 3], [3, 4], [4, 3]], true);
    const { graph, nodes } = largestComponentGraph(g, 'strong');
    expect(Array.from(nodes)).toEqual([0, 1, 2]);
    expect(Array.from(graph.targets)).toEqual([1, 2, 0]);
  });
});
