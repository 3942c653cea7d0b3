/**
 * Small-world sigma benchmark: our `sigma` against networkx 2.8.8's `nx.sigma(G, niter, nrand,
 * seed)` on the same Watts-Strogatz graph (our connected generator, fixed seed; the edge list goes
 * to networkx through a temp file), with the same niter and nrand on both sides. Only the sigma
 * calls are timed (Python: time.perf_counter around nx.sigma; ours: after one untimed warm-up run).
 *
 * networkx's random_reference runs a max-flow (local_edge_connectivity) after every swap: about
 * 20 s for one reference (niter = 1) of a 200-node graph, k = 10, and ~10 minutes at n = 1,000 on a
 * shared 2-core EPYC test machine, so networkx is timed at n = 200 with niter = 1, nrand = 2 (about a minute),
 * and at n = 1,000 only when BLOCKSPARSE_BENCH_SIGMA_FULL=1 (niter = 1, nrand = 1: ~10 minutes).
 * Ours also runs n = 1,000 with networkx's defaults (niter = 100, nrand = 10).
 * Run alone: node --import tsx bench/sigma.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { sigma } from '../dist/analysis/small-world.js';
import { connectedWattsStrogatzCSR } from '../dist/graph/connected-watts-strogatz.js';
import type { CSRGraph } from '../dist/graph/csr.js';
import { writeEdgeList } from './edge-list.js';
import { recordStdout } from './record.js';

const PYTHON = process.env.BLOCKSPARSE_PYTHON ?? '/usr/bin/python3';
const K = 10;
const REWIRE_PROB = 0.1;
const GRAPH_SEED = 2024;
const SIGMA_SEED = 7;

interface Case {
  order: number;
  niter: number;
  nrand: number;
  /** Run networkx too (false: ours only). */
  networkx: boolean;
  note?: string;
}

function cases(): Case[] {
  const full = process.env.BLOCKSPARSE_BENCH_SIGMA_FULL === '1';
  return [
    { order: 200, niter: 1, nrand: 2, networkx: true },
    { order: 1000, niter: 1, nrand: 1, networkx: full },
    { order: 1000, niter: 100, nrand: 10, networkx: false, note: "networkx's defaults" },
  ];
}

/** networkx's sigma and its seconds on `graph`, or a reason why there is none. */
function networkxSigma(graph: CSRGraph, niter: number, nrand: number, dir: string): { value: number; seconds: number } | string {
  const file = writeEdgeList(graph, dir);
  const script = `
import sys, json, time
try:
    import networkx as nx
except ImportError:
    print(json.dumps("networkx is not installed")); sys.exit(0)
G = nx.Graph()
G.add_nodes_from(range(${graph.order}))
G.add_edges_from(tuple(map(int, line.split())) for line in open(${JSON.stringify(file)}))
assert G.number_of_edges() == ${graph.targets.length / 2}
t = time.perf_counter()
value = nx.sigma(G, niter=${niter}, nrand=${nrand}, seed=${SIGMA_SEED})
print(json.dumps({"value": value, "seconds": time.perf_counter() - t}))
`;
  try {
    return JSON.parse(execFileSync(PYTHON, ['-c', script], { encoding: 'utf8' })) as { value: number; seconds: number } | string;
  } catch (error) {
    return `networkx run failed: ${(error as Error).message.split('\n')[0]}`;
  }
}

/** Our sigma's value and seconds (after an untimed warm-up run of the same call). */
async function oursSigma(graph: CSRGraph, niter: number, nrand: number): Promise<{ value: number; seconds: number }> {
  await sigma(graph, { niter: Math.min(niter, 1), nrand: 1, seed: SIGMA_SEED });
  const start = performance.now();
  const result = await sigma(graph, { niter, nrand, seed: SIGMA_SEED });
  return { value: result.value, seconds: (performance.now() - start) / 1000 };
}

/** The benchmark's result lines: one per case, ours against networkx where networkx runs. */
export async function benchSigma(): Promise<string[]> {
  const lines: string[] = [];
  const dir = mkdtempSync(join(os.tmpdir(), 'blocksparse-sigma-'));
  try {
    for (const { order, niter, nrand, networkx, note } of cases()) {
      const graph = connectedWattsStrogatzCSR({ order, k: K, rewireProb: REWIRE_PROB, seed: GRAPH_SEED });
      const ours = await oursSigma(graph, niter, nrand);
      const params = `niter=${niter}, nrand=${nrand}${note ? `, ${note}` : ''}`;
      const head = `sigma WS n=${order} k=${K} p=${REWIRE_PROB} (${params}): ours ${ours.seconds.toFixed(3)} s (sigma ${ours.value.toFixed(2)})`;
      if (!networkx) {
        lines.push(`${head}, networkx not run${order >= 1000 && niter <= 1 ? ' (~10 min; set BLOCKSPARSE_BENCH_SIGMA_FULL=1)' : ''}`);
        continue;
      }
      const theirs = networkxSigma(graph, niter, nrand, dir);
      if (typeof theirs === 'string') lines.push(`${head}, ${theirs}`);
      else {
        const ratio = ours.seconds / theirs.seconds;
        lines.push(`${head}, networkx ${theirs.seconds.toFixed(1)} s (sigma ${theirs.value.toFixed(2)}), ours/networkx ${ratio.toPrecision(2)}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  recordStdout('sigma');
  console.log(`node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}), load ${os.loadavg()[0].toFixed(2)}`);
  for (const line of await benchSigma()) console.log(line);
}
