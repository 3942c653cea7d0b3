/**
 * Generation benchmark: Watts-Strogatz to CSR (ours) against python-igraph's
 * Graph.Watts_Strogatz(dim=1, size=n, nei=k/2, p) on the same machine, median of a few repetitions
 * (ours and igraph's alternating).
 * Run: node --import tsx bench/generate.ts
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { edgeCount } from '../dist/graph/csr.js';
import { wattsStrogatzCSR } from '../dist/graph/watts-strogatz.js';
import { recordStdout } from './record.js';

recordStdout('generate');

const PYTHON = process.env.BLOCKSPARSE_PYTHON ?? '/usr/bin/python3';
const K = 16;
const REWIRE_PROB = 0.1;
/** Sizes and repetitions (the same number for both sides). */
const CASES: { order: number; repetitions: number }[] = [
  { order: 16_384, repetitions: 7 },
  { order: 1_000_000, repetitions: 3 },
];

/** Both sides get an untimed warm-up build of this size first (JIT for ours, allocator and caches for igraph's fresh process). */
const WARM_UP_ORDER = 16_384;

/** Median of a list of numbers. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Seconds for one build of our generator to CSR. */
function timeOurs(order: number, seed: number): number {
  const start = performance.now();
  const graph = wattsStrogatzCSR({ order, k: K, rewireProb: REWIRE_PROB, seed });
  const seconds = (performance.now() - start) / 1000;
  if (edgeCount(graph) !== (order * K) / 2) throw new Error(`wrong edge count ${edgeCount(graph)}`);
  return seconds;
}

/**
 * Seconds for one call of igraph's generator, timed inside Python (start-up, import and one
 * untimed warm-up call at n = min(order, WARM_UP_ORDER) not counted), or null if python-igraph is
 * missing. One Python run per repetition, so that ours and igraph's repetitions alternate and share
 * whatever else the machine is doing.
 */
function timeIgraph(order: number): number | null {
  const script = `
import sys, time
try:
    import igraph
except ImportError:
    print("null"); sys.exit(0)
igraph.Graph.Watts_Strogatz(dim=1, size=${Math.min(order, WARM_UP_ORDER)}, nei=${K / 2}, p=${REWIRE_PROB})
t = time.perf_counter()
igraph.Graph.Watts_Strogatz(dim=1, size=${order}, nei=${K / 2}, p=${REWIRE_PROB})
print(time.perf_counter() - t)
`;
  try {
    return JSON.parse(execFileSync(PYTHON, ['-c', script], { encoding: 'utf8' })) as number | null;
  } catch {
    return null; // no python at all
  }
}

console.log(`node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'})`);
timeOurs(WARM_UP_ORDER, -1);
let igraphMissing = false;
for (const { order, repetitions } of CASES) {
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < repetitions; r++) {
    ours.push(timeOurs(order, r));
    const seconds = igraphMissing ? null : timeIgraph(order);
    if (seconds === null) igraphMissing = true;
    else theirs.push(seconds);
  }
  const head = `watts-strogatz n=${order} k=${K} p=${REWIRE_PROB}: ours ${median(ours).toFixed(3)} s`;
  if (igraphMissing) console.log(`${head} (python-igraph is not installed for ${PYTHON})`);
  else console.log(`${head}, igraph ${median(theirs).toFixed(3)} s, ours/igraph ${(median(ours) / median(theirs)).toFixed(2)}`);
}
