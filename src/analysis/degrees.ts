import { type AnalysisInput, analysisGraph } from './adapter.js';
import { EmptyGraphError } from './errors.js';

/** Summary of one degree sequence. */
export interface DegreeSummary {
  min: number;
  max: number;
  mean: number;
  /** Population variance: the mean of (degree - mean)^2 over all nodes. */
  variance: number;
  /** Population standard deviation, sqrt(variance). */
  sd: number;
  /** `histogram[d]`: number of nodes of degree d, for d = 0..max (networkx's `degree_histogram`). */
  histogram: number[];
}

/** Degree statistics: `degree` for undirected graphs, `inDegree` and `outDegree` for directed ones. */
export type DegreeStatsResult =
  | { directed: false; order: number; edges: number; degree: DegreeSummary }
  | { directed: true; order: number; edges: number; inDegree: DegreeSummary; outDegree: DegreeSummary };

/**
 * Degree statistics of a graph: histogram (as networkx's `degree_histogram`), min, max, mean and
 * population variance / standard deviation over all nodes. Directed graphs get in- and
 * out-degrees separately (their means are equal: edges / order). Raises EmptyGraphError for the
 * null graph (no degree to summarise).
 */
export function degreeStats(input: AnalysisInput): DegreeStatsResult {
  const graph = analysisGraph(input);
  const { order, offsets, targets } = graph;
  if (order === 0) throw new EmptyGraphError('degree statistics');
  const out = new Int32Array(order);
  for (let v = 0; v < order; v++) out[v] = offsets[v + 1] - offsets[v];
  if (!graph.directed) return { directed: false, order, edges: targets.length / 2, degree: summarise(out) };
  const inDeg = new Int32Array(order);
  for (let i = 0; i < targets.length; i++) inDeg[targets[i]]++;
  return { directed: true, order, edges: targets.length, inDegree: summarise(inDeg), outDegree: summarise(out) };
}

/** Histogram and moments of a non-empty degree sequence (two passes, so the variance is accurate). */
function summarise(degrees: Int32Array): DegreeSummary {
  let min = degrees[0];
  let max = degrees[0];
  let sum = 0;
  for (let v = 0; v < degrees.length; v++) {
    const d = degrees[v];
    if (d < min) min = d;
    if (d > max) max = d;
    sum += d;
  }
  const mean = sum / degrees.length;
  const counts = new Float64Array(max + 1);
  let squares = 0;
  for (let v = 0; v < degrees.length; v++) {
    const d = degrees[v];
    counts[d]++;
    squares += (d - mean) * (d - mean);
  }
  const variance = squares / degrees.length;
  return { min, max, mean, variance, sd: Math.sqrt(variance), histogram: Array.from(counts) };
}
