import Graph from 'graphology';
import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import { ParameterError } from '../errors.js';

/**
 * A compact, read-only adjacency view for hot loops: the out-neighbours of node u are
 * `targets[offsets[u] .. offsets[u+1])`, sorted ascending. Undirected graphs store each edge in
 * both directions. Nodes are 0..order-1.
 */
export interface CSRGraph {
  readonly order: number;
  readonly directed: boolean;
  readonly offsets: Int32Array;
  readonly targets: Int32Array;
}

/** Number of edges: arcs for a directed graph, unordered pairs for an undirected one. */
export function edgeCount(graph: CSRGraph): number {
  return graph.directed ? graph.targets.length : graph.targets.length / 2;
}

/** Out-degree of node u (the degree, for an undirected graph). */
export function degreeOf(graph: CSRGraph, u: number): number {
  return graph.offsets[u + 1] - graph.offsets[u];
}

/** Whether the arc u -> v exists (binary search in u's sorted row). */
export function hasEdge(graph: CSRGraph, u: number, v: number): boolean {
  let lo = graph.offsets[u];
  let hi = graph.offsets[u + 1] - 1;
  const t = graph.targets;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const x = t[mid];
    if (x === v) return true;
    if (x < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/**
 * Builds a CSR graph from an edge list (`sources[i]`, `targets[i]`), i < count. For undirected
 * graphs each pair is given once and stored both ways. Rows come out sorted. The caller promises
 * a simple graph (no duplicate edges); `assertSimple` checks that the result has none.
 */
export function csrFromEdges(
  order: number,
  sources: ArrayLike<number>,
  targets: ArrayLike<number>,
  directed: boolean,
  count: number = sources.length,
): CSRGraph {
  const offsets = new Int32Array(order + 1);
  for (let i = 0; i < count; i++) {
    offsets[sources[i] + 1]++;
    if (!directed) offsets[targets[i] + 1]++;
  }
  for (let u = 0; u < order; u++) offsets[u + 1] += offsets[u];
  const out = new Int32Array(offsets[order]);
  const fill = offsets.slice(0, order);
  for (let i = 0; i < count; i++) {
    const s = sources[i];
    const t = targets[i];
    out[fill[s]++] = t;
    if (!directed) out[fill[t]++] = s;
  }
  sortRows(offsets, out);
  return { order, directed, offsets, targets: out };
}

/** Sorts each row of a CSR adjacency in place (insertion sort: rows are short). */
export function sortRows(offsets: Int32Array, targets: Int32Array): void {
  const order = offsets.length - 1;
  for (let u = 0; u < order; u++) {
    const start = offsets[u];
    const end = offsets[u + 1];
    if (end - start > 64) {
      targets.subarray(start, end).sort();
      continue;
    }
    for (let i = start + 1; i < end; i++) {
      const x = targets[i];
      let j = i - 1;
      while (j >= start && targets[j] > x) {
        targets[j + 1] = targets[j];
        j--;
      }
      targets[j + 1] = x;
    }
  }
}

/** Throws if the graph has a self-loop or a repeated edge (useful in tests and after building). */
export function assertSimple(graph: CSRGraph): void {
  const { order, offsets, targets } = graph;
  for (let u = 0; u < order; u++) {
    for (let i = offsets[u]; i < offsets[u + 1]; i++) {
      if (targets[i] === u) throw new ParameterError('graph', 'a simple graph (no self-loops)', `self-loop at ${u}`);
      if (i > offsets[u] && targets[i] === targets[i - 1]) {
        throw new ParameterError('graph', 'a simple graph (no repeated edges)', `edge ${u}-${targets[i]} twice`);
      }
    }
  }
}

/** Iterates each edge once: (u, v) with u < v for undirected graphs, every arc for directed ones. */
export function forEachEdge(graph: CSRGraph, callback: (u: number, v: number) => void): void {
  const { order, offsets, targets, directed } = graph;
  for (let u = 0; u < order; u++) {
    for (let i = offsets[u]; i < offsets[u + 1]; i++) {
      const v = targets[i];
      if (directed || u < v) callback(u, v);
    }
  }
}

/**
 * A graphology graph with nodes "0".."order-1" (added in order) and the CSR's edges, following
 * graphology-generators' conventions. `GraphClass` defaults to an undirected or directed Graph.
 */
export function toGraphology<G extends AbstractGraph = AbstractGraph>(graph: CSRGraph, GraphClass?: GraphConstructor): G {
  const Ctor = (GraphClass ?? Graph) as unknown as GraphConstructor;
  const result = GraphClass ? new Ctor() : new Ctor({ type: graph.directed ? 'directed' : 'undirected' });
  for (let u = 0; u < graph.order; u++) result.addNode(u);
  forEachEdge(graph, (u, v) => {
    if (graph.directed) result.addDirectedEdge(u, v);
    else if (result.type === 'directed') {
      result.addDirectedEdge(u, v);
      result.addDirectedEdge(v, u);
    } else result.addUndirectedEdge(u, v);
  });
  return result as unknown as G;
}

/** The CSR view of a graphology graph, with `keys[i]` the key of node i (in graph.nodes() order). */
export function fromGraphology(graph: AbstractGraph): { csr: CSRGraph; keys: string[] } {
  const keys = graph.nodes();
  const index = new Map<string, number>();
  keys.forEach((k, i) => index.set(k, i));
  const directed = graph.type === 'directed' || (graph.type === 'mixed' && graph.directedSize > 0);
  const sources: number[] = [];
  const targets: number[] = [];
  graph.forEachEdge((_edge, _attrs, source, target, _sa, _ta, undirected) => {
    const s = index.get(source)!;
    const t = index.get(target)!;
    if (s === t) throw new ParameterError('graph', 'a graph without self-loops', `self-loop at node ${source}`);
    sources.push(s);
    targets.push(t);
    if (directed && undirected) {
      sources.push(t);
      targets.push(s);
    }
  });
  const csr = csrFromEdges(keys.length, sources, targets, directed);
  return { csr: dedupeRows(csr), keys };
}

/** Removes repeated targets within each row (multigraph -> simple graph). */
function dedupeRows(graph: CSRGraph): CSRGraph {
  const { order, offsets, targets } = graph;
  const newOffsets = new Int32Array(order + 1);
  const out = new Int32Array(targets.length);
  let w = 0;
  for (let u = 0; u < order; u++) {
    for (let i = offsets[u]; i < offsets[u + 1]; i++) {
      if (i > offsets[u] && targets[i] === targets[i - 1]) continue;
      out[w++] = targets[i];
    }
    newOffsets[u + 1] = w;
  }
  return { order, directed: graph.directed, offsets: newOffsets, targets: w === targets.length ? out : out.slice(0, w) };
}
