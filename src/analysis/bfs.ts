import { type CSRGraph } from '../graph/csr.js';

/**
 * Hop distances from `source` along the rows of `graph` (out-arcs for a directed graph), by plain
 * breadth-first search: `distances[v]` = d(source, v), -1 where v is unreachable. The reference
 * the bit-parallel search is checked against, and the single BFS the diameter bounds need.
 * `distances` and `queue` (length >= order) may be passed in to reuse memory.
 */
export function bfsDistances(
  graph: CSRGraph,
  source: number,
  distances: Int32Array = new Int32Array(graph.order),
  queue: Int32Array = new Int32Array(graph.order),
): Int32Array {
  const { offsets, targets } = graph;
  distances.fill(-1, 0, graph.order);
  distances[source] = 0;
  queue[0] = source;
  let head = 0;
  let tail = 1;
  while (head < tail) {
    const u = queue[head++];
    const next = distances[u] + 1;
    for (let i = offsets[u]; i < offsets[u + 1]; i++) {
      const v = targets[i];
      if (distances[v] < 0) {
        distances[v] = next;
        queue[tail++] = v;
      }
    }
  }
  return distances;
}

/** What one BFS from a source sees: nodes reached (the source not counted), sum of their distances, largest distance. */
export interface SourceSummary {
  reached: number;
  distanceSum: number;
  eccentricity: number;
}

/** Reached count, distance sum and eccentricity (over reached nodes) of a BFS from `source`. */
export function bfsSummary(graph: CSRGraph, source: number): SourceSummary {
  const distances = bfsDistances(graph, source);
  let reached = 0;
  let distanceSum = 0;
  let eccentricity = 0;
  for (let v = 0; v < graph.order; v++) {
    const d = distances[v];
    if (d > 0) {
      reached++;
      distanceSum += d;
      if (d > eccentricity) eccentricity = d;
    }
  }
  return { reached, distanceSum, eccentricity };
}
