import { ParameterError } from '../errors.js';
import type { CSRGraph } from '../graph/csr.js';
import { type AnalysisInput, analysisGraph } from './adapter.js';
import { directedTriangleCounts, trianglesPerNode } from './triangles.js';
import { UndirectedOnlyError } from './errors.js';

/** Options of `averageClustering`. */
export interface AverageClusteringOptions {
  /**
   * true (default, networkx's average_clustering): the mean over all nodes, nodes of degree < 2
   * counting 0. false: the mean over nodes with at least two distinct neighbours only, as igraph's
   * transitivity_avglocal_undirected(mode="nan"). This is not networkx's count_zeros=False, which
   * drops every node whose clustering is 0 (also nodes of degree >= 2 in no triangle).
   */
  countZeros?: boolean;
}

/** Triangle counts of an undirected graph. */
export interface TriangleCountResult {
  /** Number of triangles in the graph. */
  total: number;
  /** Triangles through each node (networkx's `triangles`). */
  perNode: Int32Array;
}

/**
 * Triangles of an undirected graph, in total and through each node (networkx's `triangles`),
 * counted by degree ordering in O(m^1.5). Directed graphs raise UndirectedOnlyError, as networkx
 * does; count on `undirectedView(graph)` for the underlying undirected graph.
 */
export function triangleCount(input: AnalysisInput): TriangleCountResult {
  const graph = analysisGraph(input);
  if (graph.directed) throw new UndirectedOnlyError('triangleCount');
  const perNode = trianglesPerNode(graph);
  let sum = 0;
  for (let u = 0; u < perNode.length; u++) sum += perNode[u];
  return { total: sum / 3, perNode };
}

/**
 * Local clustering coefficient of every node, as networkx's `clustering`.
 *
 * Undirected: c(u) = 2 T(u) / (d(u) (d(u) - 1)), the fraction of pairs of u's neighbours that are
 * linked, with T(u) the triangles through u; 0 for degree < 2.
 *
 * Directed (Fagiolo 2007 [1], networkx's clustering of a DiGraph): c(u) = t(u) / (2 (d_tot(u)
 * (d_tot(u) - 1) - 2 d_rec(u))) with t(u) = ((A + A^T)^3)_uu the directed triangles through u,
 * d_tot the in- plus out-degree and d_rec the number of reciprocated neighbours; 0 when t(u) = 0.
 *
 * [1] G. Fagiolo, Clustering in complex directed networks, Phys. Rev. E 76, 026107 (2007).
 */
export function localClustering(input: AnalysisInput): Float64Array {
  const graph = analysisGraph(input);
  const result = new Float64Array(graph.order);
  if (graph.directed) {
    const { cycles, totalDegree, reciprocalDegree } = directedTriangleCounts(graph);
    for (let u = 0; u < graph.order; u++) {
      const t = cycles[u];
      const d = totalDegree[u];
      result[u] = t === 0 ? 0 : t / ((d * (d - 1) - 2 * reciprocalDegree[u]) * 2);
    }
    return result;
  }
  const triangles = trianglesPerNode(graph);
  const { offsets } = graph;
  for (let u = 0; u < graph.order; u++) {
    const t = triangles[u];
    const d = offsets[u + 1] - offsets[u];
    result[u] = t === 0 ? 0 : (2 * t) / (d * (d - 1));
  }
  return result;
}

/**
 * Average clustering coefficient: the mean of `localClustering` (networkx's average_clustering;
 * Fagiolo's directed clustering for a directed graph). With `countZeros: false` the mean runs
 * over the nodes with at least two distinct neighbours (in the underlying undirected graph, for a
 * directed one), as igraph's transitivity_avglocal_undirected(mode="nan") -- see
 * AverageClusteringOptions. Raises ParameterError for a graph with no node (networkx divides by
 * zero) or, with countZeros false, with no node of two or more neighbours.
 */
export function averageClustering(input: AnalysisInput, options: AverageClusteringOptions = {}): number {
  const countZeros = options.countZeros ?? true;
  if (typeof countZeros !== 'boolean') throw new ParameterError('countZeros', 'a boolean', countZeros, 'averageClustering');
  const graph = analysisGraph(input);
  let sum = 0;
  let count = 0;
  if (!graph.directed) {
    // The undirected case without the intermediate array (this is the benchmarked path).
    const triangles = trianglesPerNode(graph);
    const { offsets } = graph;
    for (let u = 0; u < graph.order; u++) {
      const t = triangles[u];
      const d = offsets[u + 1] - offsets[u];
      if (t !== 0) sum += (2 * t) / (d * (d - 1));
      if (countZeros || d >= 2) count++;
    }
  } else {
    const local = localClustering(graph);
    const neighbours = countZeros ? null : distinctNeighbourCounts(graph);
    for (let u = 0; u < graph.order; u++) {
      if (neighbours && neighbours[u] < 2) continue;
      sum += local[u];
      count++;
    }
  }
  if (count === 0) {
    const allowed = countZeros ? 'a graph with at least one node' : 'a graph with a node of two or more neighbours (countZeros: false)';
    throw new ParameterError('graph', allowed, `${graph.order} nodes`, 'averageClustering');
  }
  return sum / count;
}

/**
 * Transitivity, networkx's `transitivity`: 3 * triangles / connected triples (pairs of edges
 * sharing a node), 0 if there is no triangle.
 *
 * For a directed graph networkx applies the same code to out-neighbours, and so do we: the
 * fraction of out-wedges (v -> w, v -> x; w != x, ordered) closed by the arc w -> x, that is
 * transitive triples / sum over v of d_out(v) (d_out(v) - 1).
 */
export function transitivity(input: AnalysisInput): number {
  const graph = analysisGraph(input);
  if (graph.directed) {
    const { transitiveTriples, outWedges } = directedTriangleCounts(graph);
    return transitiveTriples === 0 ? 0 : transitiveTriples / outWedges;
  }
  const triangles = trianglesPerNode(graph);
  const { offsets } = graph;
  let closed = 0; // 2 * triangles at each node, summed
  let wedges = 0; // d (d - 1), summed
  for (let u = 0; u < graph.order; u++) {
    const d = offsets[u + 1] - offsets[u];
    closed += 2 * triangles[u];
    wedges += d * (d - 1);
  }
  return closed === 0 ? 0 : closed / wedges;
}

/** Number of distinct neighbours (in or out) of each node. */
function distinctNeighbourCounts(graph: CSRGraph): Int32Array {
  const { order, offsets, targets } = graph;
  const counts = new Int32Array(order);
  for (let u = 0; u < order; u++) counts[u] = offsets[u + 1] - offsets[u];
  if (!graph.directed) return counts;
  // Add in-neighbours that are not out-neighbours: for each arc u -> v without v -> u, v gains u.
  for (let u = 0; u < order; u++) {
    for (let i = offsets[u]; i < offsets[u + 1]; i++) {
      const v = targets[i];
      if (!rowHas(targets, offsets[v], offsets[v + 1], u)) counts[v]++;
    }
  }
  return counts;
}

/** Whether the sorted slice targets[lo, hi) holds x. */
function rowHas(targets: Int32Array, lo: number, hi: number, x: number): boolean {
  hi--;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const y = targets[mid];
    if (y === x) return true;
    if (y < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
