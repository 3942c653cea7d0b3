import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { checkInteger } from '../check.js';
import { type CSRGraph } from '../graph/csr.js';
import { reverseGraph } from './adapter.js';
import { MAX_WORDS, MultiSourceBFS, searchOneBatch, type SourceStats, type SweepWorkerData } from './bfs-bitparallel.js';
import { measuredEstimate, secondsSince, type TimeEstimate } from '../estimate.js';
import { checkAnalysisMemory, csrBytes, type ResourceSubject } from './resources.js';
import { startWorker } from '../workers.js';

/** Graphs with fewer nodes than this are searched in the calling thread (starting workers would cost more). */
export const IN_THREAD_BELOW = 2048;

/** Bitset memory one searcher may use (3 bitsets of order * words * 4 bytes); fewer words per node above it. */
const BITSET_BUDGET_BYTES = 256 * 2 ** 20;

/** The most worker threads the API starts (the CLI allows no more than the cores unless --oversubscribe). */
export const MAX_WORKERS = 256;

/** Memory of one worker thread beyond its searcher: its own JavaScript heap and module graph (measured: about 4 MiB; doubled for safety). */
export const WORKER_OVERHEAD_BYTES = 8 * 2 ** 20;

/** Options shared by the metrics that run BFS sweeps. */
export interface SweepOptions {
  /** Worker threads, an integer in [1, MAX_WORKERS = 256]: default os.availableParallelism(); 1 searches in the calling thread. */
  workers?: number;
  /** Called after each batch of sources with (sources done, sources in all). */
  onProgress?: (done: number, total: number) => void;
  /** Called once, after the first batch, with the sweep's time extrapolated from that batch. */
  onEstimate?: (estimate: TimeEstimate) => void;
}

/** What to compute in a sweep; all BFS follow arcs (rows of `graph`). */
export interface SweepRequest {
  graph: CSRGraph;
  /** Distinct source nodes. */
  sources: Int32Array;
  /** Eccentricity of each source (largest distance to a node it reaches). */
  eccentricity?: boolean;
  /** Distance sum and reached count of each source. */
  perSource?: boolean;
  /**
   * Whether the calling thread searches too when there are workers (default true). false leaves
   * all batches to the workers, so that tests can check what the workers compute.
   */
  callerSearches?: boolean;
  /** The metric, for resource messages (default "breadth-first search"). */
  metric?: string;
  /** What the metric runs on, for resource messages (default: the graph). */
  subject?: ResourceSubject;
}

/** Totals of a sweep, and the per-source arrays asked for (indexed like `sources`). */
export interface SweepOutcome {
  distanceSum: number;
  reachedPairs: number;
  eccentricity: Int32Array | null;
  distanceSums: Float64Array | null;
  reached: Int32Array | null;
  /** Threads that searched (the calling thread included): 1 for in-thread. */
  threads: number;
}

/** Checks the `workers` option (an integer in [1, MAX_WORKERS]) or returns the default, the number of cores. */
export function resolveWorkers(workers: number | undefined, context: string): number {
  if (workers === undefined) return Math.max(1, os.availableParallelism());
  return checkInteger('workers', workers, 1, MAX_WORKERS, context);
}

/**
 * Bytes a sweep needs: per thread a searcher (three bitsets of order * words words, four node
 * arrays, and two more once it turns plain), per worker its own heap, the graph's shared copies
 * (and its reverse, for a directed graph), and the per-source outputs.
 */
export function sweepBytes(graph: CSRGraph, sources: number, words: number, threads: number, perSource: boolean, eccentricity: boolean): number {
  const { order } = graph;
  const searcher = (12 * words + 32) * order;
  const copies = csrBytes(order, graph.targets.length) * ((graph.directed ? 1 : 0) + (threads > 1 ? 2 : 0));
  const outputs = sources * (4 + (perSource ? 12 : 0) + (eccentricity ? 4 : 0));
  return threads * searcher + (threads - 1) * WORKER_OVERHEAD_BYTES + copies + outputs;
}

/**
 * Runs bit-parallel BFS from every source in `request.sources` and returns totals and per-source
 * outputs. With `workers` > 1 (and a graph of at least IN_THREAD_BELOW nodes) the calling thread
 * and `workers` - 1 worker threads take batches of sources from a shared counter, reading the
 * graph from SharedArrayBuffers and adding their totals into shared slots. The calling thread
 * starts at once and yields to the event loop between batches; the sweep is complete when the
 * shared count of sources done reaches the total, whether or not every worker got going (a worker
 * still starting up when the work runs out is not waited for). All workers are terminated before
 * the promise settles, so nothing is left running. Otherwise everything runs in the calling thread.
 *
 * The memory all threads need together (see sweepBytes) is checked against the budget first
 * (ResourceError naming `request.metric` and the input). The calling thread searches the first
 * batch alone and times it: `onEstimate` gets the sweep's time extrapolated from it.
 */
export async function runSweep(
  request: SweepRequest,
  workers: number,
  onProgress?: (done: number, total: number) => void,
  onEstimate?: (estimate: TimeEstimate) => void,
): Promise<SweepOutcome> {
  const { graph, sources } = request;
  const total = sources.length;
  const threads = workers <= 1 || graph.order < IN_THREAD_BELOW ? 1 : Math.min(workers, Math.ceil(total / 32));
  const words = chooseWords(graph.order, total, threads);
  checkAnalysisMemory(
    request.metric ?? 'breadth-first search',
    request.subject ?? graph,
    sweepBytes(graph, total, words, threads, Boolean(request.perSource), Boolean(request.eccentricity)),
    graph.order * words,
  );
  if (graph.targets.length === 0) return sweepWithoutArcs(request, onProgress);
  if (threads === 1) return sweepInThread(request, words, onProgress, onEstimate);
  const callerSearches = request.callerSearches ?? true;

  const shared = (array: Int32Array): Int32Array => {
    if (array.buffer instanceof SharedArrayBuffer) return array;
    const copy = new Int32Array(new SharedArrayBuffer(array.byteLength));
    copy.set(array);
    return copy;
  };
  const reverse = graph.directed ? reverseGraph(graph) : null;
  const data: SweepWorkerData = {
    order: graph.order,
    directed: graph.directed,
    offsets: shared(graph.offsets),
    targets: shared(graph.targets),
    reverseOffsets: reverse ? shared(reverse.offsets) : null,
    reverseTargets: reverse ? shared(reverse.targets) : null,
    sources: shared(sources),
    words,
    counter: new Int32Array(new SharedArrayBuffer(8)),
    totals: new Float64Array(new SharedArrayBuffer(16 * (threads + 1))),
    slot: 0,
    eccentricity: request.eccentricity ? new Int32Array(new SharedArrayBuffer(4 * total)) : null,
    distanceSums: request.perSource ? new Float64Array(new SharedArrayBuffer(8 * total)) : null,
    reached: request.perSource ? new Int32Array(new SharedArrayBuffer(4 * total)) : null,
  };
  const { counter } = data;

  let reported = 0;
  let markComplete = (): void => {};
  let markFailed = (_error: unknown): void => {};
  const complete = new Promise<void>((resolve, reject) => {
    markComplete = resolve;
    markFailed = reject;
  });
  let failed = false;
  complete.catch(() => (failed = true)); // marks a failure handled until it is awaited below
  const check = (): void => {
    const done = Atomics.load(counter, 1);
    if (done > reported) {
      reported = done;
      onProgress?.(done, total);
    }
    if (done >= total) markComplete();
  };

  const forward = { order: graph.order, directed: graph.directed, offsets: data.offsets, targets: data.targets };
  const backward = reverse ? { ...forward, offsets: data.reverseOffsets!, targets: data.reverseTargets! } : forward;
  const bfs = callerSearches ? new MultiSourceBFS(forward, backward, words) : null;
  if (bfs) {
    // The first batch alone, timed: the estimate for the rest, shared by every thread.
    const start = performance.now();
    searchOneBatch(bfs, data);
    onEstimate?.(measuredEstimate(secondsSince(start), Math.min(bfs.batchSize, total), total, 'sources', threads));
    check();
  }

  const pool: Worker[] = [];
  try {
    const workerCount = callerSearches ? threads - 1 : threads;
    for (let i = 0; i < workerCount; i++) {
      const worker = startWorker(import.meta.url, 'paths-worker', { ...data, slot: i + 1 });
      pool.push(worker);
      worker.on('message', check);
      worker.on('error', markFailed);
      worker.on('exit', (code) => {
        if (code !== 0) markFailed(new Error(`BFS worker exited with code ${code}`));
      });
    }
    if (bfs) {
      while (!failed && searchOneBatch(bfs, data)) {
        check();
        await new Promise((resolve) => setImmediate(resolve)); // let worker messages and other tasks in
      }
    }
    check();
    await complete;
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
  let distanceSum = 0;
  let reachedPairs = 0;
  for (let slot = 0; slot <= threads; slot++) {
    distanceSum += data.totals[2 * slot];
    reachedPairs += data.totals[2 * slot + 1];
  }
  return {
    distanceSum,
    reachedPairs,
    eccentricity: data.eccentricity,
    distanceSums: data.distanceSums,
    reached: data.reached,
    threads,
  };
}

/** A graph without arcs: every source reaches only itself (no search, however many nodes). */
function sweepWithoutArcs(request: SweepRequest, onProgress?: (done: number, total: number) => void): SweepOutcome {
  const total = request.sources.length;
  onProgress?.(total, total);
  return {
    distanceSum: 0,
    reachedPairs: 0,
    eccentricity: request.eccentricity ? new Int32Array(total) : null,
    distanceSums: request.perSource ? new Float64Array(total) : null,
    reached: request.perSource ? new Int32Array(total) : null,
    threads: 1,
  };
}

/** The sweep in the calling thread, batch after batch. */
function sweepInThread(
  request: SweepRequest,
  words: number,
  onProgress?: (done: number, total: number) => void,
  onEstimate?: (estimate: TimeEstimate) => void,
): SweepOutcome {
  const { graph, sources } = request;
  const total = sources.length;
  const bfs = new MultiSourceBFS(graph, reverseGraph(graph), words);
  const stats: SourceStats = {
    eccentricity: request.eccentricity ? new Int32Array(total) : undefined,
    distanceSum: request.perSource ? new Float64Array(total) : undefined,
    reached: request.perSource ? new Int32Array(total) : undefined,
  };
  let distanceSum = 0;
  let reachedPairs = 0;
  const began = performance.now();
  for (let start = 0; start < total; start += bfs.batchSize) {
    const count = Math.min(bfs.batchSize, total - start);
    const totals = bfs.run(sources, start, count, stats);
    distanceSum += totals.distanceSum;
    reachedPairs += totals.reachedPairs;
    if (start === 0) onEstimate?.(measuredEstimate(secondsSince(began), count, total, 'sources'));
    onProgress?.(start + count, total);
  }
  return {
    distanceSum,
    reachedPairs,
    eccentricity: stats.eccentricity ?? null,
    distanceSums: stats.distanceSum ?? null,
    reached: stats.reached ?? null,
    threads: 1,
  };
}

/**
 * Words per node: 8 (256 sources a pass) unless the bitsets would pass the memory budget or the
 * sources would not give every thread a batch; always 1, 2, 4 or 8.
 */
function chooseWords(order: number, sources: number, threads: number): number {
  let words = MAX_WORDS;
  while (words > 1 && 3 * order * words * 4 > BITSET_BUDGET_BYTES) words >>= 1;
  while (words > 1 && Math.ceil(sources / (32 * words)) < threads) words >>= 1;
  return words;
}
