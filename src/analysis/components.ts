import { type CSRGraph } from '../graph/csr.js';
import { type AnalysisInput, analysisGraph, reverseGraph } from './adapter.js';
import { type Connectivity, DisconnectedGraphError, EmptyGraphError } from './errors.js';
import { checkAnalysisMemory } from './resources.js';

/**
 * Components of a graph. Component ids are ranks by size: `sizes[c]` is the size of component c,
 * in decreasing order (ties: the component holding the smaller node first), and `labels[v]` is
 * the component of node v, so label 0 is the largest component. `labels` is a typed array (left
 * out of JSON output); the other fields are plain numbers.
 */
export interface ComponentsResult {
  /** Number of components (0 for the null graph). */
  count: number;
  /** Component sizes, largest first. */
  sizes: number[];
  /** Size of the largest component (0 for the null graph). */
  largest: number;
  /** `labels[v]`: the component of node v (an index into `sizes`). */
  labels: Int32Array;
}

/**
 * The connected components of a graph, as networkx's `connected_components`; for a directed graph
 * the weakly connected components (`weakly_connected_components`: arcs followed either way).
 * Union-find over the edges, O(m α(n)), no recursion.
 */
export function connectedComponents(input: AnalysisInput): ComponentsResult {
  const graph = analysisGraph(input);
  const { order, offsets, targets } = graph;
  // parent, raw, root labels, labels, and the ranking's three arrays of up to `order` components.
  checkAnalysisMemory('connected components', graph, 28 * order, order);
  const parent = new Int32Array(order);
  for (let v = 0; v < order; v++) parent[v] = v;
  const find = (v: number): number => {
    while (parent[v] !== v) {
      parent[v] = parent[parent[v]]; // path halving
      v = parent[v];
    }
    return v;
  };
  for (let u = 0; u < order; u++) {
    for (let i = offsets[u]; i < offsets[u + 1]; i++) {
      const a = find(u);
      const b = find(targets[i]);
      if (a !== b) {
        if (a < b) parent[b] = a;
        else parent[a] = b;
      }
    }
  }
  const raw = new Int32Array(order);
  const rootLabel = new Int32Array(order).fill(-1);
  let count = 0;
  for (let v = 0; v < order; v++) {
    const r = find(v);
    if (rootLabel[r] < 0) rootLabel[r] = count++;
    raw[v] = rootLabel[r];
  }
  return rankBySize(raw, count);
}

/**
 * The strongly connected components of a directed graph, as networkx's
 * `strongly_connected_components` (for an undirected graph: its connected components). Tarjan's
 * algorithm with an explicit stack (no recursion, so graphs of millions of nodes are fine), O(n + m).
 */
export function stronglyConnectedComponents(input: AnalysisInput): ComponentsResult {
  const graph = analysisGraph(input);
  if (!graph.directed) return connectedComponents(graph);
  const { order, offsets, targets } = graph;
  checkAnalysisMemory('strongly connected components', graph, 41 * order, order);
  const index = new Int32Array(order).fill(-1);
  const low = new Int32Array(order);
  const onStack = new Uint8Array(order);
  const stack = new Int32Array(order);
  const callNode = new Int32Array(order);
  const callEdge = new Int32Array(order);
  const raw = new Int32Array(order);
  let sp = 0;
  let next = 0;
  let count = 0;
  for (let root = 0; root < order; root++) {
    if (index[root] >= 0) continue;
    let depth: number;
    index[root] = low[root] = next++;
    stack[sp++] = root;
    onStack[root] = 1;
    callNode[0] = root;
    callEdge[0] = offsets[root];
    depth = 1;
    while (depth > 0) {
      const v = callNode[depth - 1];
      const e = callEdge[depth - 1];
      if (e < offsets[v + 1]) {
        callEdge[depth - 1] = e + 1;
        const w = targets[e];
        if (index[w] < 0) {
          index[w] = low[w] = next++;
          stack[sp++] = w;
          onStack[w] = 1;
          callNode[depth] = w;
          callEdge[depth] = offsets[w];
          depth++;
        } else if (onStack[w] && index[w] < low[v]) {
          low[v] = index[w];
        }
        continue;
      }
      depth--;
      if (low[v] === index[v]) {
        let w: number;
        do {
          w = stack[--sp];
          onStack[w] = 0;
          raw[w] = count;
        } while (w !== v);
        count++;
      }
      if (depth > 0) {
        const u = callNode[depth - 1];
        if (low[v] < low[u]) low[u] = low[v];
      }
    }
  }
  return rankBySize(raw, count);
}

/**
 * Whether every node reaches every other: networkx's `is_connected` for undirected graphs and
 * `is_strongly_connected` for directed ones (the connectivity that finite path lengths need).
 * Raises EmptyGraphError for the null graph, as networkx.
 */
export function isConnected(input: AnalysisInput): boolean {
  const graph = analysisGraph(input);
  if (graph.order === 0) throw new EmptyGraphError('connectivity');
  if (reachCount(graph, 0) !== graph.order) return false;
  return !graph.directed || reachCount(reverseGraph(graph), 0) === graph.order;
}

/**
 * Raises DisconnectedGraphError (naming `metric` and the number of components) unless every node
 * reaches every other: connected for undirected graphs, strongly connected for directed ones.
 */
export function assertConnected(graph: CSRGraph, metric: string): void {
  if (graph.order === 0 || isConnected(graph)) return;
  if (graph.directed) throw new DisconnectedGraphError(stronglyConnectedComponents(graph).count, 'strong', metric);
  throw new DisconnectedGraphError(connectedComponents(graph).count, 'weak', metric);
}

/**
 * The subgraph induced by the largest component (weak, or `connectivity: 'strong'` for strongly
 * connected components of a directed graph), with its nodes renumbered 0.. in increasing order
 * of their original ids: `nodes[i]` is the original id of new node i.
 */
export function largestComponentGraph(
  input: AnalysisInput,
  connectivity: Connectivity = 'weak',
): { graph: CSRGraph; nodes: Int32Array } {
  const graph = analysisGraph(input);
  const { labels, largest } = connectivity === 'strong' ? stronglyConnectedComponents(graph) : connectedComponents(graph);
  const nodes = new Int32Array(largest);
  const newId = new Int32Array(graph.order).fill(-1);
  for (let v = 0, w = 0; v < graph.order; v++) {
    if (labels[v] === 0) {
      nodes[w] = v;
      newId[v] = w++;
    }
  }
  const offsets = new Int32Array(largest + 1);
  let size = 0;
  for (let i = 0; i < largest; i++) {
    const v = nodes[i];
    for (let e = graph.offsets[v]; e < graph.offsets[v + 1]; e++) if (newId[graph.targets[e]] >= 0) size++;
    offsets[i + 1] = size;
  }
  const targets = new Int32Array(size);
  for (let i = 0, w = 0; i < largest; i++) {
    const v = nodes[i];
    // Renumbering keeps the order of ids, so rows stay sorted.
    for (let e = graph.offsets[v]; e < graph.offsets[v + 1]; e++) {
      const t = newId[graph.targets[e]];
      if (t >= 0) targets[w++] = t;
    }
  }
  return { graph: { order: largest, directed: graph.directed, offsets, targets }, nodes };
}

/** Nodes reachable from `source` along rows (the source included), by BFS. */
function reachCount(graph: CSRGraph, source: number): number {
  const { order, offsets, targets } = graph;
  checkAnalysisMemory('connectivity', graph, 5 * order, order);
  const seen = new Uint8Array(order);
  const queue = new Int32Array(order);
  let head = 0;
  let tail = 0;
  queue[tail++] = source;
  seen[source] = 1;
  while (head < tail) {
    const u = queue[head++];
    for (let i = offsets[u]; i < offsets[u + 1]; i++) {
      const v = targets[i];
      if (!seen[v]) {
        seen[v] = 1;
        queue[tail++] = v;
      }
    }
  }
  return tail;
}

/** Relabels components 0..count-1 by decreasing size, ties by smallest node. */
function rankBySize(raw: Int32Array, count: number): ComponentsResult {
  const size = new Int32Array(count);
  const first = new Int32Array(count).fill(-1);
  for (let v = 0; v < raw.length; v++) {
    if (first[raw[v]] < 0) first[raw[v]] = v;
    size[raw[v]]++;
  }
  const order = Array.from({ length: count }, (_, c) => c).sort((a, b) => size[b] - size[a] || first[a] - first[b]);
  const rank = new Int32Array(count);
  order.forEach((c, r) => (rank[c] = r));
  const labels = new Int32Array(raw.length);
  for (let v = 0; v < raw.length; v++) labels[v] = rank[raw[v]];
  const sizes = order.map((c) => size[c]);
  return { count, sizes, largest: count > 0 ? sizes[0] : 0, labels };
}
