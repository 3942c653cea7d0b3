import { UndirectedGraph } from 'graphology';
import { beforeAll, describe, expect, it } from 'vitest';
import { undirectedView } from '../../src/analysis/adapter.js';
import { averageClustering, localClustering, transitivity, triangleCount } from '../../src/analysis/clustering.js';
import { UndirectedOnlyError } from '../../src/analysis/errors.js';
import { barabasiAlbertCSR } from '../../src/graph/barabasi-albert.js';
import { type CSRGraph, csrFromEdges, forEachEdge } from '../../src/graph/csr.js';
import { directedWattsStrogatzCSR } from '../../src/graph/directed-watts-strogatz.js';
import { holmeKimCSR } from '../../src/graph/holme-kim.js';
import { ringLatticeCSR } from '../../src/graph/ring-lattice.js';
import { wattsStrogatzCSR } from '../../src/graph/watts-strogatz.js';
import { BlockLayout } from '../../src/patterns/layout.js';
import { catchError, expectParameterError } from '../helpers/expect-error.js';
import { runPythonJSON } from '../helpers/python.js';
import { FAST_TIER } from '../helpers/tier.js';

/** An undirected graph from a list of [u, v] pairs. */
function undirected(order: number, edges: [number, number][]): CSRGraph {
  return csrFromEdges(order, edges.map((e) => e[0]), edges.map((e) => e[1]), false);
}

/** A directed graph from a list of [u, v] arcs. */
function directed(order: number, arcs: [number, number][]): CSRGraph {
  return csrFromEdges(order, arcs.map((e) => e[0]), arcs.map((e) => e[1]), true);
}

function complete(order: number): CSRGraph {
  const edges: [number, number][] = [];
  for (let u = 0; u < order; u++) for (let v = u + 1; v < order; v++) edges.push([u, v]);
  return undirected(order, edges);
}

function star(leaves: number): CSRGraph {
  return undirected(leaves + 1, Array.from({ length: leaves }, (_, i): [number, number] => [0, i + 1]));
}

function cycle(order: number): CSRGraph {
  return undirected(order, Array.from({ length: order }, (_, i): [number, number] => [i, (i + 1) % order]));
}

/** Two triangles sharing the edge 1-2 ({0,1,2} and {1,2,3}), and a pendant node 4 on 3. */
const KITE = undirected(5, [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3], [3, 4]]);

describe('clustering closed forms', () => {
  it('gives 3(K-2)/(4(K-1)) at every node of a ring lattice, and as transitivity', () => {
    // Valid while no two neighbours of a node are linked around the far side: order > 3K/2.
    for (const [order, k] of [[7, 4], [13, 8], [40, 6], [100, 16], [1000, 10]]) {
      const expected = (3 * (k - 2)) / (4 * (k - 1));
      const local = localClustering(ringLatticeCSR({ order, k }));
      for (const c of local) expect(c).toBeCloseTo(expected, 14);
      expect(averageClustering(ringLatticeCSR({ order, k }))).toBeCloseTo(expected, 14);
      expect(transitivity(ringLatticeCSR({ order, k }))).toBeCloseTo(expected, 14);
      // T = c * k (k - 1) / 2 = 3 k (k - 2) / 8 triangles through every node
      const { total, perNode } = triangleCount(ringLatticeCSR({ order, k }));
      expect(perNode.every((t) => t === (3 * k * (k - 2)) / 8)).toBe(true);
      expect(total).toBe((order * perNode[0]) / 3);
    }
  });

  it('gives 1 on complete graphs, with C(n-1, 2) triangles per node', () => {
    for (const order of [3, 4, 10, 33]) {
      const graph = complete(order);
      expect([...localClustering(graph)]).toEqual(new Array(order).fill(1));
      expect(averageClustering(graph)).toBe(1);
      expect(transitivity(graph)).toBe(1);
      const { total, perNode } = triangleCount(graph);
      expect([...perNode]).toEqual(new Array(order).fill(((order - 1) * (order - 2)) / 2));
      expect(total).toBe((order * (order - 1) * (order - 2)) / 6);
    }
  });

  it('gives 0 on stars and on cycles longer than 3 (triangle-free)', () => {
    for (const graph of [star(1), star(2), star(9), cycle(4), cycle(5), cycle(50)]) {
      expect(localClustering(graph).every((c) => c === 0)).toBe(true);
      expect(averageClustering(graph)).toBe(0);
      expect(transitivity(graph)).toBe(0);
      expect(triangleCount(graph).total).toBe(0);
    }
    expect(averageClustering(cycle(3))).toBe(1);
  });

  it('gives the hand-computed values on a small graph', () => {
    expect([...localClustering(KITE)]).toEqual([1, 2 / 3, 2 / 3, 1 / 3, 0]);
    expect([...triangleCount(KITE).perNode]).toEqual([1, 2, 2, 1, 0]);
    expect(triangleCount(KITE).total).toBe(2);
    expect(averageClustering(KITE)).toBeCloseTo(8 / 15, 15);
    // 2 triangles, 10 connected triples (1 + 3 + 3 + 3 + 0)
    expect(transitivity(KITE)).toBeCloseTo(0.6, 15);
  });

  it('leaves nodes of degree < 2 out of the mean with countZeros: false, but keeps degree >= 2 zeros', () => {
    expect(averageClustering(KITE, { countZeros: false })).toBeCloseTo(2 / 3, 15);
    // A triangle 0-1-2 with a path 2-3-4-5 and an isolated node 6: nodes 3, 4 have degree 2 and
    // clustering 0 (they count), node 5 a leaf and node 6 isolated (they do not).
    const graph = undirected(7, [[0, 1], [1, 2], [0, 2], [2, 3], [3, 4], [4, 5]]);
    const local = [1, 1, 1 / 3, 0, 0, 0, 0];
    expect([...localClustering(graph)]).toEqual(local);
    expect(averageClustering(graph)).toBeCloseTo((2 + 1 / 3) / 7, 15);
    expect(averageClustering(graph, { countZeros: false })).toBeCloseTo((2 + 1 / 3) / 5, 15);
  });

  it('reads symmetric layouts (diagonal ignored) and graphology graphs as the same graph', () => {
    const ring = ringLatticeCSR({ order: 24, k: 6 });
    const rows: number[] = [];
    const cols: number[] = [];
    for (let u = 0; u < ring.order; u++) {
      rows.push(u);
      cols.push(u); // the diagonal block, which the analysis ignores
      for (let i = ring.offsets[u]; i < ring.offsets[u + 1]; i++) {
        rows.push(u);
        cols.push(ring.targets[i]);
      }
    }
    const layout = BlockLayout.fromPairs({ inBlocks: 24, outBlocks: 24 }, rows, cols);
    expect(averageClustering(layout)).toBeCloseTo(0.6, 14);
    const graph = new UndirectedGraph();
    for (let u = 0; u < 5; u++) graph.addNode(String(u));
    forEachEdge(KITE, (u, v) => graph.addEdge(String(u), String(v)));
    expect(transitivity(graph)).toBeCloseTo(0.6, 15);
  });

  it('raises typed errors for what is undefined', () => {
    expectParameterError(() => averageClustering(undirected(0, [])), 'graph');
    expect(averageClustering(star(5), { countZeros: false })).toBe(0); // the hub has degree 5 and clustering 0: it counts
    expectParameterError(() => averageClustering(undirected(3, [[0, 1]]), { countZeros: false }), 'graph');
    expectParameterError(() => averageClustering(KITE, { countZeros: 'no' as unknown as boolean }), 'countZeros');
    const error = catchError(() => triangleCount(directed(3, [[0, 1], [1, 2], [2, 0]])));
    expect(error).toBeInstanceOf(UndirectedOnlyError);
    expect((error as UndirectedOnlyError).metric).toBe('triangleCount');
    expect(transitivity(undirected(0, []))).toBe(0);
    expect(localClustering(undirected(0, [])).length).toBe(0);
  });
});

describe('directed clustering (Fagiolo 2007, networkx)', () => {
  it('gives the hand-computed values on a 3-cycle with a pendant arc', () => {
    // 0 -> 1 -> 2 -> 0 and 0 -> 3: node 0 has t = 2, d_tot = 3, no reciprocal arc: 2 / (2 * 6).
    const graph = directed(4, [[0, 1], [1, 2], [2, 0], [0, 3]]);
    expect([...localClustering(graph)]).toEqual([1 / 6, 0.5, 0.5, 0]);
    // out-wedges: node 0 has 2 (1,3 ordered both ways), closed by 1 -> 3? no; 3 -> 1? no.
    expect(transitivity(graph)).toBe(0);
    expect(averageClustering(graph, { countZeros: false })).toBeCloseTo((1 / 6 + 1) / 3, 15);
    // A transitive triangle 0 -> 1, 0 -> 2, 1 -> 2: one closed out-wedge out of two.
    expect(transitivity(directed(3, [[0, 1], [0, 2], [1, 2]]))).toBe(0.5);
  });

  it('equals the undirected value on a graph with every arc reciprocated', () => {
    const ring = ringLatticeCSR({ order: 30, k: 6 });
    const both = { ...ring, directed: true };
    const expected = localClustering(ring);
    const got = localClustering(both);
    for (let u = 0; u < ring.order; u++) expect(got[u]).toBeCloseTo(expected[u], 15);
  });
});

interface Reference {
  local: number[];
  average: number;
  averageNoLowDegree: number;
  transitivity: number;
  triangles: number[] | null;
}

/** A sparser directed graph with one-way arcs, reciprocal pairs and nodes of low degree. */
function mixedDirected(): CSRGraph {
  const arcs: [number, number][] = [];
  forEachEdge(barabasiAlbertCSR({ order: 400, m: 2, seed: 'dir' }), (u, v) => {
    const r = (u * 31 + v * 17) % 5;
    if (r < 2) arcs.push([u, v]);
    else if (r < 4) arcs.push([v, u]);
    else arcs.push([u, v], [v, u]);
  });
  return directed(400, arcs);
}

const CASES: Record<string, CSRGraph> = {
  'Watts-Strogatz n=1500 k=10': wattsStrogatzCSR({ order: 1500, k: 10, rewireProb: 0.1, seed: 'ws' }),
  'Watts-Strogatz n=300 k=4 p=0.6': wattsStrogatzCSR({ order: 300, k: 4, rewireProb: 0.6, seed: 'ws2' }),
  'Barabasi-Albert n=2000 m=4 (hubs: the degree ordering matters)': barabasiAlbertCSR({ order: 2000, m: 4, seed: 'ba' }),
  'Holme-Kim n=1500 m=3 (many triangles)': holmeKimCSR({ order: 1500, m: 3, triangleProb: 0.8, seed: 'hk' }),
  'Holme-Kim n=800 m=1 (leaves)': holmeKimCSR({ order: 800, m: 1, triangleProb: 0.5, seed: 'hk1' }),
  'directed Watts-Strogatz n=800 k=8': directedWattsStrogatzCSR({ order: 800, k: 8, rewireProb: 0.3, seed: 'dws' }),
  'directed, mixed one-way and reciprocal arcs': mixedDirected(),
  'underlying undirected graph of a directed Watts-Strogatz graph': undirectedView(
    directedWattsStrogatzCSR({ order: 500, k: 6, rewireProb: 0.2, seed: 'u' }),
  ),
};

/**
 * networkx 2.8's clustering, average_clustering, transitivity and triangles of each graph (one
 * Python run); for countZeros false, igraph's transitivity_avglocal_undirected(mode="nan") on
 * undirected graphs and, on directed ones, the mean over nodes with two or more distinct neighbours.
 */
function references(graphs: CSRGraph[]): Reference[] {
  const payload = graphs.map((graph) => {
    const edges: number[] = [];
    forEachEdge(graph, (u, v) => edges.push(u, v));
    return { order: graph.order, directed: graph.directed, edges };
  });
  return runPythonJSON<Reference[]>(
    `
import json, sys
import networkx as nx, igraph as ig

def reference(n, directed, e):
    pairs = list(zip(e[0::2], e[1::2]))
    G = nx.DiGraph() if directed else nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from(pairs)
    local = nx.clustering(G)
    out = {"local": [local[u] for u in range(n)], "average": nx.average_clustering(G), "transitivity": nx.transitivity(G)}
    if directed:
        U = G.to_undirected()
        kept = [local[u] for u in range(n) if U.degree(u) >= 2]
        out["averageNoLowDegree"] = sum(kept) / len(kept)
        out["triangles"] = None
    else:
        out["averageNoLowDegree"] = ig.Graph(n=n, edges=pairs).transitivity_avglocal_undirected(mode="nan")
        t = nx.triangles(G)
        out["triangles"] = [t[u] for u in range(n)]
    return out

print(json.dumps([reference(g["order"], g["directed"], g["edges"]) for g in json.load(sys.stdin)]))
`,
    JSON.stringify(payload),
  );
}

describe.skipIf(FAST_TIER)('agreement with networkx and igraph', () => {
  const names = Object.keys(CASES);
  let refs: Reference[] = [];
  beforeAll(() => {
    refs = references(names.map((name) => CASES[name]));
  });

  it.each(names)('on %s', (name) => {
    const graph = CASES[name];
    const ref = refs[names.indexOf(name)];
    const local = localClustering(graph);
    expect(local.length).toBe(ref.local.length);
    let worst = 0;
    for (let u = 0; u < graph.order; u++) worst = Math.max(worst, Math.abs(local[u] - ref.local[u]));
    expect(worst).toBeLessThanOrEqual(1e-12);
    expect(averageClustering(graph)).toBeCloseTo(ref.average, 12);
    expect(averageClustering(graph, { countZeros: false })).toBeCloseTo(ref.averageNoLowDegree, 12);
    expect(transitivity(graph)).toBeCloseTo(ref.transitivity, 12);
    if (graph.directed) {
      expect(ref.triangles).toBeNull();
      expect(catchError(() => triangleCount(graph))).toBeInstanceOf(UndirectedOnlyError);
    } else {
      const { total, perNode } = triangleCount(graph);
      expect([...perNode]).toEqual(ref.triangles);
      expect(total).toBe(ref.triangles!.reduce((a, b) => a + b, 0) / 3);
    }
  });
});
