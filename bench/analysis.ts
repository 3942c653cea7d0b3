/**
 * Analysis benchmark: exact average shortest path length and average clustering (zeros counted) on
 * Watts-Strogatz graphs, ours against python-igraph's g.average_path_length() and
 * g.transitivity_avglocal_undirected(mode="zero") on the same graph (edge list written to a temp
 * file; only the igraph calls are timed, with time.perf_counter). Then the sigma benchmark against
 * networkx (bench/sigma.ts). Prints the machine's load, as the numbers depend on it.
 * Run: node --import tsx bench/analysis.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { averageClustering } from '../dist/analysis/clustering.js';
import { averageShortestPathLength } from '../dist/analysis/paths.js';
import type { CSRGraph } from '../dist/graph/csr.js';
import { writeEdgeList } from './edge-list.js';
import { wattsStrogatzCSR } from '../dist/graph/watts-strogatz.js';
import { benchSigma } from './sigma.js';
import { recordStdout } from './record.js';

recordStdout('analysis');

const PYTHON = process.env.BLOCKSPARSE_PYTHON ?? '/usr/bin/python3';
const K = 16;
const REWIRE_PROB = 0.1;
const SEED = 2024;
const ORDERS = [4_096, 16_384];
/** Clustering takes milliseconds: median of this many runs on both sides. */
const CLUSTERING_REPETITIONS = 7;

interface IgraphTimes {
  averagePathLength: number;
  pathSeconds: number;
  clustering: number;
  clusteringSeconds: number;
}

/** Median of a list of numbers. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The machine's 1-minute load average, for the record. */
function load(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

/** igraph's values and times on the graph (edge list through a temp file), or null without python-igraph. */
function igraphTimes(graph: CSRGraph, dir: string): IgraphTimes | null {
  const file = writeEdgeList(graph, dir);
  const script = `
import sys, json, time, statistics
try:
    import igraph
except ImportError:
    print("null"); sys.exit(0)
g = igraph.Graph.Read_Edgelist(${JSON.stringify(file)}, directed=False)
assert g.vcount() == ${graph.order} and g.ecount() == ${graph.targets.length / 2}
t = time.perf_counter()
apl = g.average_path_length()
apl_s = time.perf_counter() - t
times = []
for _ in range(${CLUSTERING_REPETITIONS}):
    t = time.perf_counter()
    c = g.transitivity_avglocal_undirected(mode="zero")
    times.append(time.perf_counter() - t)
print(json.dumps({"averagePathLength": apl, "pathSeconds": apl_s, "clustering": c, "clusteringSeconds": statistics.median(times)}))
`;
  try {
    return JSON.parse(execFileSync(PYTHON, ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 26 })) as IgraphTimes | null;
  } catch (error) {
    console.log(`igraph run failed: ${(error as Error).message.split('\n')[0]}`);
    return null;
  }
}

/** Relative difference |a/b - 1|, printed short. */
function agreement(a: number, b: number): string {
  const r = Math.abs(a / b - 1);
  return r === 0 ? 'equal' : `relative difference ${r.toExponential(1)}`;
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  console.log(`node ${process.version}, ${cpus.length} cores (${cpus[0]?.model ?? 'unknown cpu'}), availableParallelism ${os.availableParallelism()}`);
  console.log(`load average (1, 5, 15 min) at start: ${load()}`);
  const dir = mkdtempSync(join(os.tmpdir(), 'blocksparse-bench-'));
  try {
    // Warm-up (JIT) of the in-thread code paths, untimed.
    const warm = wattsStrogatzCSR({ order: 1024, k: K, rewireProb: REWIRE_PROB, seed: 1 });
    await averageShortestPathLength(warm, { workers: 1 });
    for (let i = 0; i < 3; i++) averageClustering(warm);

    for (const order of ORDERS) {
      const graph = wattsStrogatzCSR({ order, k: K, rewireProb: REWIRE_PROB, seed: SEED });
      const name = `WS n=${order} k=${K} p=${REWIRE_PROB}`;

      let start = performance.now();
      const path = await averageShortestPathLength(graph);
      const pathSeconds = (performance.now() - start) / 1000;
      start = performance.now();
      const pathOneThread = await averageShortestPathLength(graph, { workers: 1 });
      const pathOneThreadSeconds = (performance.now() - start) / 1000;
      if (pathOneThread.value !== path.value) throw new Error('in-thread and worker results differ');

      const clusteringTimes: number[] = [];
      let clustering = NaN;
      for (let r = 0; r < CLUSTERING_REPETITIONS; r++) {
        start = performance.now();
        clustering = averageClustering(graph);
        clusteringTimes.push((performance.now() - start) / 1000);
      }
      const clusteringSeconds = median(clusteringTimes);

      const igraph = igraphTimes(graph, dir);
      const threads = `${path.threads} worker${path.threads === 1 ? '' : 's'}`;
      if (igraph === null) {
        console.log(`average path length ${name}: ours ${pathSeconds.toFixed(3)} s (${threads}); python-igraph not available`);
        console.log(`average clustering ${name}: ours ${clusteringSeconds.toFixed(4)} s; python-igraph not available`);
        continue;
      }
      console.log(
        `average path length ${name}: ours ${pathSeconds.toFixed(3)} s (${threads}), igraph ${igraph.pathSeconds.toFixed(3)} s, ours/igraph ${(pathSeconds / igraph.pathSeconds).toFixed(3)}`,
      );
      console.log(
        `  one thread: ours ${pathOneThreadSeconds.toFixed(3)} s, ours/igraph ${(pathOneThreadSeconds / igraph.pathSeconds).toFixed(3)}; values: ours ${path.value}, igraph ${igraph.averagePathLength} (${agreement(path.value, igraph.averagePathLength)})`,
      );
      console.log(
        `average clustering ${name}: ours ${clusteringSeconds.toFixed(4)} s, igraph ${igraph.clusteringSeconds.toFixed(4)} s, ours/igraph ${(clusteringSeconds / igraph.clusteringSeconds).toFixed(3)} (median of ${CLUSTERING_REPETITIONS})`,
      );
      console.log(`  values: ours ${clustering}, igraph ${igraph.clustering} (${agreement(clustering, igraph.clustering)})`);
      if (Math.abs(path.value / igraph.averagePathLength - 1) > 1e-12 || Math.abs(clustering / igraph.clustering - 1) > 1e-12) {
        console.log('  VALUES DISAGREE');
        process.exitCode = 1;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // ---- sigma on n = 1,000 vs networkx (bench/sigma.ts) ----
  for (const line of await benchSigma()) console.log(line);
  console.log(`load average (1, 5, 15 min) at end: ${load()}`);
}

await main();
