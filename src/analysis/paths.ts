import { checkInteger, checkOneOf } from '../check.js';
import { type RandomOptions, randomPermutation, resolveRng } from '../random.js';
import { type AnalysisInput, analysisGraph } from './adapter.js';
import { assertConnected } from './components.js';
import { EmptyGraphError } from './errors.js';
import { subjectOf } from './resources.js';
import { resolveWorkers, runSweep, type SweepOptions } from './worker-pool.js';

/** What to do when some node cannot reach another. */
export type DisconnectedMode = 'error' | 'reachable';

/** Options of `averageShortestPathLength`. */
export interface PathLengthOptions extends SweepOptions {
  /**
   * `'error'` (default): raise DisconnectedGraphError, as networkx. `'reachable'`: average over
   * the ordered pairs (u, v) with v reachable from u only, as igraph's `unconn=True`, and report how
   * many pairs were left out in `unreachablePairs`.
   */
  disconnected?: DisconnectedMode;
}

/** Options of `sampledAveragePathLength`: the number of random `sources` and their seed. */
export interface SampledPathLengthOptions extends PathLengthOptions, RandomOptions {
  /** Number of distinct source nodes, drawn uniformly at random, an integer in [2, order]. */
  sources: number;
}

/** An average shortest path length, exact or estimated. */
export interface PathLengthResult {
  /** Mean hop distance over the pairs counted (NaN if there are none: an edgeless graph with 'reachable'). */
  value: number;
  /** true for the exact mean over all pairs, false for an estimate from sampled sources. */
  exact: boolean;
  /** Ordered pairs (u, v), u != v, averaged over. */
  pairs: number;
  /** Ordered pairs (u, v), u != v, with no path from u to v (among the sampled sources' pairs for an estimate). */
  unreachablePairs: number;
  /** Standard error of an estimate (0 when every node is a source); absent for exact results. */
  standardError?: number;
  /** Number of sampled sources; absent for exact results. */
  sources?: number;
  directed: boolean;
  order: number;
  /** Threads that ran the searches (1: the calling thread). */
  threads: number;
  /** How it was computed, in words. */
  method: string;
}

/**
 * The average shortest path length, exactly: the mean of d(u, v) over all ordered pairs of
 * distinct nodes (networkx's `average_shortest_path_length`, unweighted), with distances along
 * arcs for a directed graph. a = sum d(u, v) / (n (n - 1)); 0 for a single node.
 *
 * Computed by bit-parallel breadth-first search from every node, up to 256 sources per pass
 * (see MultiSourceBFS), on `workers` threads (default: all cores; graphs under 2,048 nodes, or
 * workers = 1, run in the calling thread). `onProgress(done, total)` reports sources done.
 *
 * Raises EmptyGraphError for the null graph, and DisconnectedGraphError (with the number of
 * connected components, or of strongly connected components for a directed graph) when some pair
 * has no path, unless `disconnected: 'reachable'`, which averages over the pairs that have one.
 * (networkx 3 raises for directed graphs that are not strongly connected; networkx 2.8 only
 * checks weak connectivity and then divides the reachable distances by n (n - 1); we follow
 * networkx 3.) Raises ParameterError for a bad option.
 */
export async function averageShortestPathLength(input: AnalysisInput, options: PathLengthOptions = {}): Promise<PathLengthResult> {
  const context = 'averageShortestPathLength';
  const graph = analysisGraph(input);
  const mode = checkOneOf('disconnected', options.disconnected ?? 'error', ['error', 'reachable'] as const, context);
  const workers = resolveWorkers(options.workers, context);
  const n = graph.order;
  if (n === 0) throw new EmptyGraphError('average shortest path length');
  const base = { exact: true, directed: graph.directed, order: n };
  if (n === 1) return { ...base, value: 0, pairs: 0, unreachablePairs: 0, threads: 1, method: 'single node' };
  if (mode === 'error') assertConnected(graph, 'average shortest path length');

  const sources = new Int32Array(n);
  for (let v = 0; v < n; v++) sources[v] = v;
  const sweep = await runSweep({ graph, sources, metric: 'average shortest path length', subject: subjectOf(input, graph) }, workers, options.onProgress, options.onEstimate);
  return {
    ...base,
    value: sweep.distanceSum / sweep.reachedPairs,
    pairs: sweep.reachedPairs,
    unreachablePairs: n * (n - 1) - sweep.reachedPairs,
    threads: sweep.threads,
    method: `bit-parallel BFS from all ${n} nodes`,
  };
}

/**
 * An estimate of the average shortest path length from `sources` source nodes drawn uniformly
 * without replacement (seeded by `seed` or `rng`): BFS from each (bit-parallel), then the mean of
 * d(s, v) over the sampled pairs (s, v), v != s (v reachable from s for 'reachable'). The result
 * says `exact: false` and carries a standard error across sources (the spread of the per-source
 * means, with the finite-population correction 1 - sources/order, so it is 0 when every node is a
 * source; for 'reachable' the ratio estimator's linearised error). With sources = order it equals
 * the exact value.
 *
 * Raises EmptyGraphError for the null graph, DisconnectedGraphError as
 * `averageShortestPathLength` does (checked on the whole graph, not only the sample), and
 * ParameterError for `sources` outside [2, order] (1 for a single node) or another bad option.
 */
export async function sampledAveragePathLength(input: AnalysisInput, options: SampledPathLengthOptions): Promise<PathLengthResult> {
  const context = 'sampledAveragePathLength';
  const graph = analysisGraph(input);
  const n = graph.order;
  if (n === 0) throw new EmptyGraphError('average shortest path length');
  const count = checkInteger('sources', options.sources, Math.min(2, n), n, context);
  const mode = checkOneOf('disconnected', options.disconnected ?? 'error', ['error', 'reachable'] as const, context);
  const workers = resolveWorkers(options.workers, context);
  const rng = resolveRng(options, context);
  const base = { exact: false, directed: graph.directed, order: n, sources: count };
  if (n === 1) {
    return { ...base, value: 0, pairs: 0, unreachablePairs: 0, standardError: 0, threads: 1, method: 'single node' };
  }
  if (mode === 'error') assertConnected(graph, 'average shortest path length');

  const sources = randomPermutation(rng, n).slice(0, count).sort();
  const sweep = await runSweep(
    { graph, sources, perSource: true, metric: 'sampled average shortest path length', subject: subjectOf(input, graph) },
    workers,
    options.onProgress,
    options.onEstimate,
  );
  const sums = sweep.distanceSums!;
  const reached = sweep.reached!;
  const value = sweep.distanceSum / sweep.reachedPairs;
  // Linearised ratio estimator: residuals e_s = (t_s - value * c_s) / mean(c); for a connected
  // graph (c_s = n - 1) this is the plain standard error of the per-source means.
  const meanReached = sweep.reachedPairs / count;
  let squares = 0;
  for (let i = 0; i < count; i++) {
    const e = (sums[i] - value * reached[i]) / meanReached;
    squares += e * e;
  }
  const correction = 1 - count / n;
  const standardError = sweep.reachedPairs > 0 ? Math.sqrt((correction * squares) / (count - 1) / count) : NaN;
  return {
    ...base,
    value,
    pairs: sweep.reachedPairs,
    unreachablePairs: count * (n - 1) - sweep.reachedPairs,
    standardError,
    threads: sweep.threads,
    method: `bit-parallel BFS from ${count} random nodes (estimate)`,
  };
}
