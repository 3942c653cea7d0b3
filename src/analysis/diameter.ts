import { type CSRGraph } from '../graph/csr.js';
import { type AnalysisInput, analysisGraph } from './adapter.js';
import { bfsDistances } from './bfs.js';
import { assertConnected } from './components.js';
import { EmptyGraphError } from './errors.js';
import { measuredEstimate, secondsSince, type TimeEstimate } from '../estimate.js';
import { checkAnalysisMemory, type ResourceSubject, subjectOf } from './resources.js';
import { resolveWorkers, runSweep, type SweepOptions } from './worker-pool.js';

/** A graph's diameter: the largest eccentricity. */
export interface DiameterResult {
  value: number;
  exact: true;
  /** Breadth-first searches run (n for the all-pairs method). */
  bfsCount: number;
  /** How it was computed, in words. */
  method: string;
}

/**
 * The eccentricity of every node, as networkx's `eccentricity`: ecc(v) = max over u of d(v, u),
 * along arcs for a directed graph. Exact, by bit-parallel BFS from every node (on `workers`
 * threads; see `averageShortestPathLength`). Raises DisconnectedGraphError if the graph is not
 * connected (not strongly connected, for a directed graph), where networkx raises "Found infinite
 * path length". The null graph gives an empty array.
 */
export async function eccentricity(input: AnalysisInput, options: SweepOptions = {}): Promise<Int32Array> {
  const graph = analysisGraph(input);
  const workers = resolveWorkers(options.workers, 'eccentricity');
  if (graph.order === 0) return new Int32Array(0);
  assertConnected(graph, 'eccentricity');
  return (await allEccentricities(graph, workers, 'eccentricity', subjectOf(input, graph), options)).eccentricity;
}

/**
 * The diameter, the largest eccentricity (networkx's `diameter`), exactly. Undirected graphs use
 * Takes and Kosters' BoundingDiameters [1]: each BFS from a node v bounds every node's
 * eccentricity by max(d(v, w), ecc(v) - d(v, w)) <= ecc(w) <= ecc(v) + d(v, w), and the diameter
 * between the best lower bound and min(2 ecc(v)); nodes that can no longer move either bound are
 * dropped, and the next BFS alternates between the node with the smallest lower and the largest
 * upper bound (ties: highest degree). On small-world graphs this takes a handful of BFS instead of
 * n. Directed graphs (where those bounds do not hold) use all-pairs bit-parallel BFS: n searches,
 * 256 at a time, on `workers` threads. `onProgress(done, total)` reports nodes settled.
 *
 * Raises EmptyGraphError for the null graph and DisconnectedGraphError if the graph is not
 * connected (not strongly connected, for a directed graph): the diameter is infinite.
 *
 * [1] F. W. Takes and W. A. Kosters, Determining the diameter of small world networks, CIKM 2011,
 *     1191-1196, doi:10.1145/2063576.2063748.
 */
export async function diameter(input: AnalysisInput, options: SweepOptions = {}): Promise<DiameterResult> {
  const graph = analysisGraph(input);
  const workers = resolveWorkers(options.workers, 'diameter');
  if (graph.order === 0) throw new EmptyGraphError('diameter');
  assertConnected(graph, 'diameter');
  if (graph.directed) {
    const { eccentricity: ecc } = await allEccentricities(graph, workers, 'diameter', subjectOf(input, graph), options);
    let value = 0;
    for (let v = 0; v < ecc.length; v++) if (ecc[v] > value) value = ecc[v];
    return { value, exact: true, bfsCount: graph.order, method: 'all-pairs bit-parallel BFS (directed graph)' };
  }
  return boundingDiameter(graph, workers, subjectOf(input, graph), options);
}

/** Eccentricities from a bit-parallel sweep over all nodes. */
async function allEccentricities(
  graph: CSRGraph,
  workers: number,
  metric: string,
  subject: ResourceSubject,
  options: SweepOptions,
): Promise<{ eccentricity: Int32Array }> {
  const sources = new Int32Array(graph.order);
  for (let v = 0; v < graph.order; v++) sources[v] = v;
  const sweep = await runSweep({ graph, sources, eccentricity: true, metric, subject }, workers, options.onProgress, options.onEstimate);
  return { eccentricity: sweep.eccentricity! };
}

/**
 * A 256-source bit-parallel pass costs about as much as this many single BFS (measured on
 * Watts-Strogatz graphs, k = 16); used to decide when to stop bounding and sweep the rest.
 */
const BFS_PER_PASS = 10;

/**
 * The most BoundingDiameters can cost, from the first BFS's time: at most BFS_PER_PASS BFS per
 * 256 nodes before it sweeps, and a sweep of at most n sources costs about as much again.
 */
function announceBound(onEstimate: ((estimate: TimeEstimate) => void) | undefined, firstBfs: number, n: number): void {
  if (!onEstimate) return;
  const most = 2 * BFS_PER_PASS * Math.ceil(n / 256);
  onEstimate(measuredEstimate(firstBfs, 1, most, 'breadth-first searches', 1, true));
}

/**
 * BoundingDiameters on a connected undirected graph (see `diameter`). On graphs whose
 * eccentricities are all close (Watts-Strogatz: radius 5, diameter 7) the bounds settle few nodes
 * per BFS (networkx's implementation needs 2,480 BFS on WS(4096, 16, 0.1)); so once the BFS run
 * have cost as much as a bit-parallel sweep from the remaining candidates would, the candidates'
 * eccentricities are computed by that sweep instead (ski-rental: at most about twice the better
 * of the two). Exact either way: every node dropped has eccentricity <= the lower bound.
 */
async function boundingDiameter(graph: CSRGraph, workers: number, subject: ResourceSubject, options: SweepOptions): Promise<DiameterResult> {
  const { onProgress, onEstimate } = options;
  const { order: n, offsets } = graph;
  checkAnalysisMemory('diameter', subject, 20 * n, n);
  const lower = new Int32Array(n);
  const upper = new Int32Array(n).fill(n);
  const candidates = new Int32Array(n);
  for (let v = 0; v < n; v++) candidates[v] = v;
  let candidateCount = n;
  const distances = new Int32Array(n);
  const queue = new Int32Array(n);
  const degree = (v: number): number => offsets[v + 1] - offsets[v];
  let lowerBound = 0; // Δ_L: the largest eccentricity lower bound (a real path length)
  let upperBound = Infinity; // Δ_U
  let bfsCount = 0;
  let high = false;
  // Start from a highest-degree node: central nodes give tight upper bounds.
  let current = 0;
  for (let v = 1; v < n; v++) if (degree(v) > degree(current)) current = v;

  while (candidateCount > 0 && lowerBound < upperBound) {
    const started = performance.now();
    bfsDistances(graph, current, distances, queue);
    bfsCount++;
    if (bfsCount === 1) announceBound(onEstimate, secondsSince(started), n);
    const ecc = distances[queue[n - 1]]; // the last node dequeued is a farthest one
    lowerBound = Math.max(lowerBound, ecc);
    upperBound = Math.min(upperBound, 2 * ecc);
    let maxUpper = 0;
    for (let j = 0; j < candidateCount; j++) {
      const w = candidates[j];
      const d = distances[w];
      const lo = Math.max(lower[w], d, ecc - d);
      const up = Math.min(upper[w], ecc + d);
      lower[w] = lo;
      upper[w] = up;
      if (lo > lowerBound) lowerBound = lo;
      if (up > maxUpper) maxUpper = up;
    }
    // Nodes dropped earlier have upper <= Δ_L, so the candidates' largest upper bound (or Δ_L) bounds the diameter.
    upperBound = Math.min(upperBound, Math.max(maxUpper, lowerBound));
    let kept = 0;
    for (let j = 0; j < candidateCount; j++) {
      const w = candidates[j];
      const settled = lower[w] === upper[w] || (upper[w] <= lowerBound && 2 * lower[w] >= upperBound);
      if (!settled) candidates[kept++] = w;
    }
    candidateCount = kept;
    onProgress?.(n - candidateCount, n);
    if (candidateCount === 0 || lowerBound >= upperBound) break;
    if (bfsCount >= BFS_PER_PASS * Math.ceil(candidateCount / 256)) {
      const settled = n - candidateCount;
      const sweep = await runSweep(
        { graph, sources: candidates.slice(0, candidateCount), eccentricity: true, metric: 'diameter', subject },
        workers,
        (done) => onProgress?.(settled + done, n),
      );
      for (let j = 0; j < candidateCount; j++) lowerBound = Math.max(lowerBound, sweep.eccentricity![j]);
      return {
        value: lowerBound,
        exact: true,
        bfsCount: bfsCount + candidateCount,
        method: `BoundingDiameters (Takes & Kosters 2011): ${bfsCount} BFS, then bit-parallel BFS from the ${candidateCount} candidates left`,
      };
    }
    high = !high;
    current = candidates[0];
    for (let j = 1; j < candidateCount; j++) {
      const w = candidates[j];
      const better = high
        ? upper[w] > upper[current] || (upper[w] === upper[current] && degree(w) > degree(current))
        : lower[w] < lower[current] || (lower[w] === lower[current] && degree(w) > degree(current));
      if (better) current = w;
    }
  }
  return { value: lowerBound, exact: true, bfsCount, method: `BoundingDiameters (Takes & Kosters 2011): ${bfsCount} BFS` };
}
