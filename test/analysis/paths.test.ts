import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { largestComponentGraph } from '../../src/analysis/components.js';
import { DisconnectedGraphError, EmptyGraphError } from '../../src/analysis/errors.js';
import { averageShortestPathLength, sampledAveragePathLength } from '../../src/analysis/paths.js';
import { runSweep } from '../../src/analysis/worker-pool.js';
import { barabasiAlbertCSR } from '../../src/graph/barabasi-albert.js';
import type { CSRGraph } from '../../src/graph/csr.js';
import { directedWattsStrogatzCSR } from '../../src/graph/directed-watts-strogatz.js';
import { erdosRenyiCSR } from '../../src/graph/erdos-renyi.js';
import { ringLatticeCSR } from '../../src/graph/ring-lattice.js';
import { wattsStrogatzCSR } from '../../src/graph/watts-strogatz.js';
import { BlockLayout } from '../../src/patterns/layout.js';
import { ParameterError } from '../../src/errors.js';
import { runPythonJSON } from '../helpers/python.js';
import { graphOf, range, pathGraph, cycleGraph, starGraph, completeGraph, edgeListText } from '../helpers/graphs.js';


/** Relative difference |a/b - 1|. */
const relative = (a: number, b: number): number => Math.abs(a / b - 1);

/** The exact APL, in the calling thread (the worker tests below check that workers agree). */
async function apl(graph: CSRGraph): Promise<number> {
  return (await averageShortestPathLength(graph, { workers: 1 })).value;
}

describe('averageShortestPathLength: closed forms', () => {
  it('ring lattice: n (n + k - 2) / (2 k (n - 1)) when k divides n', async () => {
    for (const [n, k] of [[12, 4], [20, 4], [60, 6], [96, 8], [400, 10], [3000, 6]]) {
      const expected = (n * (n + k - 2)) / (2 * k * (n - 1));
      expect(relative(await apl(ringLatticeCSR({ order: n, k })), expected)).toBeLessThan(1e-14);
    }
  });

  it('complete graph: 1', async () => {
    for (const n of [2, 3, 33, 70]) expect(await apl(completeGraph(n))).toBe(1);
  });

  it('star graph on n nodes: 2 - 2/n', async () => {
    for (const n of [2, 3, 10, 257, 2500]) expect(relative(await apl(starGraph(n)), 2 - 2 / n)).toBeLessThan(1e-14);
  });

  it('path graph on n nodes: (n + 1) / 3', async () => {
    for (const n of [2, 3, 31, 33, 100, 2049]) expect(relative(await apl(pathGraph(n)), (n + 1) / 3)).toBeLessThan(1e-14);
  });

  it('cycle: (n + 1) / 4 for odd n, n^2 / (4 (n - 1)) for even n; directed cycle: n / 2', async () => {
    for (const n of [3, 5, 65, 301]) expect(relative(await apl(cycleGraph(n)), (n + 1) / 4)).toBeLessThan(1e-14);
    for (const n of [4, 64, 300]) expect(relative(await apl(cycleGraph(n)), (n * n) / (4 * (n - 1)))).toBeLessThan(1e-14);
    for (const n of [2, 7, 100, 2100]) expect(relative(await apl(cycleGraph(n, true)), n / 2)).toBeLessThan(1e-14);
  });

  it('a single node gives 0; the null graph raises EmptyGraphError', async () => {
    expect(await averageShortestPathLength(graphOf(1, [], false))).toMatchObject({ value: 0, pairs: 0, exact: true });
    await expect(averageShortestPathLength(graphOf(0, [], false))).rejects.toBeInstanceOf(EmptyGraphError);
  });

  it('reads a symmetric layout as an undirected graph and a square one as directed', async () => {
    // Blocks 0 - 1 - 2 (symmetric, diagonal present): a path on 3 nodes, APL 4/3.
    const symmetric = BlockLayout.fromPairs({ inBlocks: 3, outBlocks: 3 }, [0, 1, 1, 2, 0, 1, 2], [1, 0, 2, 1, 0, 1, 2]);
    expect(await averageShortestPathLength(symmetric)).toMatchObject({ value: 4 / 3, directed: false });
    // Blocks 0 -> 1 -> 2 -> 0: a directed 3-cycle, APL 3/2.
    const cycle = BlockLayout.fromPairs({ inBlocks: 3, outBlocks: 3 }, [0, 1, 2], [1, 2, 0]);
    expect(await averageShortestPathLength(cycle)).toMatchObject({ value: 1.5, directed: true });
  });
});

describe('averageShortestPathLength: disconnected graphs', () => {
  // Cycles on 5 and 7 nodes and an isolated node: 3 components.
  const edges: [number, number][] = [
    ...range(5).map((i): [number, number] => [i, (i + 1) % 5]),
    ...range(7).map((i): [number, number] => [5 + i, 5 + ((i + 1) % 7)]),
  ];
  const g = graphOf(13, edges, false);
  // Distance sums: cycle of 5: 5 * (1+1+2+2) = 30; cycle of 7: 7 * (1+1+2+2+3+3) = 84.
  const reachablePairs = 5 * 4 + 7 * 6;

  it('raises DisconnectedGraphError naming the number of components', async () => {
    const error = await averageShortestPathLength(g).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DisconnectedGraphError);
    expect((error as DisconnectedGraphError).components).toBe(3);
    expect((error as DisconnectedGraphError).message).toContain('3 connected components');
  });

  it("averages over reachable pairs with disconnected: 'reachable'", async () => {
    const result = await averageShortestPathLength(g, { disconnected: 'reachable' });
    expect(result.value).toBe((30 + 84) / reachablePairs);
    expect(result.pairs).toBe(reachablePairs);
    expect(result.unreachablePairs).toBe(13 * 12 - reachablePairs);
  });

  it('needs strong connectivity for a directed graph', async () => {
    // 0 -> 1 -> 2 -> 0 and 2 -> 3: strongly connected components {0, 1, 2} and {3}.
    const d = graphOf(4, [[0, 1], [1, 2], [2, 0], [2, 3]], true);
    const error = (await averageShortestPathLength(d).catch((e: unknown) => e)) as DisconnectedGraphError;
    expect(error).toBeInstanceOf(DisconnectedGraphError);
    expect(error.components).toBe(2);
    expect(error.connectivity).toBe('strong');
    const result = await averageShortestPathLength(d, { disconnected: 'reachable' });
    // Reachable pairs: within the 3-cycle 6 pairs (sum 1+2 per node = 9), plus 0->3 (3), 1->3 (2), 2->3 (1).
    expect(result.value).toBe((9 + 6) / 9);
    expect(result.unreachablePairs).toBe(12 - 9);
  });

  it('gives NaN when nothing is reachable (edgeless graph)', async () => {
    const result = await averageShortestPathLength(graphOf(4, [], false), { disconnected: 'reachable' });
    expect(result.value).toBeNaN();
    expect(result.unreachablePairs).toBe(12);
  });

  it('checks its options', async () => {
    await expect(averageShortestPathLength(g, { disconnected: 'ignore' as 'error' })).rejects.toThrow(ParameterError);
    await expect(averageShortestPathLength(g, { disconnected: 'ignore' as 'error' })).rejects.toThrow(/disconnected/);
    await expect(averageShortestPathLength(g, { workers: 0 })).rejects.toThrow(/workers/);
  });
});

describe('averageShortestPathLength agrees with networkx', () => {
  it('on Watts-Strogatz, Barabási-Albert, an Erdős-Rényi giant component and a directed Watts-Strogatz graph', async () => {
    const graphs = [
      largestComponentGraph(wattsStrogatzCSR({ order: 600, k: 8, rewireProb: 0.1, seed: 1 })).graph,
      barabasiAlbertCSR({ order: 600, m: 3, seed: 2 }),
      largestComponentGraph(erdosRenyiCSR({ order: 900, probability: 2.5 / 900, seed: 3 })).graph,
      largestComponentGraph(directedWattsStrogatzCSR({ order: 500, k: 4, rewireProb: 0.2, seed: 4 }), 'strong').graph,
    ];
    expect(graphs[2].order).toBeGreaterThan(600);
    expect(graphs[3].order).toBeGreaterThan(450);
    const script = `
import sys, json, networkx as nx
out = []
for block in json.load(sys.stdin):
    G = (nx.DiGraph if block["directed"] else nx.Graph)()
    G.add_nodes_from(range(block["n"]))
    G.add_edges_from(tuple(map(int, l.split())) for l in block["edges"].splitlines())
    out.append(nx.average_shortest_path_length(G))
print(json.dumps(out))`;
    const expected = runPythonJSON<number[]>(
      script,
      JSON.stringify(graphs.map((g) => ({ n: g.order, directed: g.directed, edges: edgeListText(g) }))),
    );
    for (let i = 0; i < graphs.length; i++) {
      const result = await averageShortestPathLength(graphs[i]);
      expect(relative(result.value, expected[i])).toBeLessThan(1e-12);
      expect(result.pairs).toBe(graphs[i].order * (graphs[i].order - 1));
    }
  });
});

describe('averageShortestPathLength on worker threads', () => {
  const undirected = wattsStrogatzCSR({ order: 3001, k: 6, rewireProb: 0.05, seed: 8 });
  const directed = largestComponentGraph(directedWattsStrogatzCSR({ order: 2600, k: 4, rewireProb: 0.3, seed: 9 }), 'strong').graph;

  it('gives identical results with 2 workers and in-thread', async () => {
    for (const g of [undirected, directed]) {
      expect(g.order).toBeGreaterThan(2048);
      const one = await averageShortestPathLength(g, { workers: 1, disconnected: 'reachable' });
      const progress: number[] = [];
      const two = await averageShortestPathLength(g, {
        workers: 2,
        disconnected: 'reachable',
        onProgress: (done, total) => {
          expect(total).toBe(g.order);
          progress.push(done);
        },
      });
      expect(one.threads).toBe(1);
      expect(two.threads).toBe(2);
      expect({ ...two, threads: 1 }).toEqual(one);
      expect(progress.at(-1)).toBe(g.order);
      for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1]);
    }
  });

  it('workers alone compute the same per-source outputs as the calling thread', async () => {
    const small = [
      wattsStrogatzCSR({ order: 2100, k: 4, rewireProb: 0.1, seed: 10 }),
      directedWattsStrogatzCSR({ order: 2100, k: 4, rewireProb: 0.1, seed: 11 }),
    ];
    for (const graph of small) {
      // Half the nodes as sources, in decreasing order.
      const sources = Int32Array.from({ length: graph.order >> 1 }, (_, i) => graph.order - 1 - 2 * i);
      const request = { graph, sources, eccentricity: true, perSource: true };
      const inThread = await runSweep(request, 1);
      const workersOnly = await runSweep({ ...request, callerSearches: false }, 2);
      expect(workersOnly.threads).toBe(2);
      expect(workersOnly.eccentricity).toEqual(inThread.eccentricity);
      expect(workersOnly.distanceSums).toEqual(inThread.distanceSums);
      expect(workersOnly.reached).toEqual(inThread.reached);
      expect(workersOnly.distanceSum).toBe(inThread.distanceSum);
      expect(workersOnly.reachedPairs).toBe(inThread.reachedPairs);
    }
  });

  it('lets the process exit when done (workers terminated)', () => {
    const script = `
import { wattsStrogatzCSR } from ${JSON.stringify(new URL('../../src/graph/watts-strogatz.ts', import.meta.url).href)};
import { averageShortestPathLength } from ${JSON.stringify(new URL('../../src/analysis/paths.ts', import.meta.url).href)};
const g = wattsStrogatzCSR({ order: 2500, k: 4, rewireProb: 0.1, seed: 1 });
const result = await averageShortestPathLength(g, { workers: 2, disconnected: 'reachable' });
console.log(JSON.stringify({ threads: result.threads, pairs: result.pairs + result.unreachablePairs }));`;
    // execFileSync waits for the process to exit; a leaked worker would keep it alive past the timeout.
    const output = execFileSync(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(JSON.parse(output)).toEqual({ threads: 2, pairs: 2500 * 2499 });
  });
});

describe('sampledAveragePathLength', () => {
  const ws = wattsStrogatzCSR({ order: 2000, k: 6, rewireProb: 0.1, seed: 21 });

  it('equals the exact value with every node a source, with standard error 0', async () => {
    const g = wattsStrogatzCSR({ order: 500, k: 6, rewireProb: 0.1, seed: 22 });
    const exact = await averageShortestPathLength(g);
    const sampled = await sampledAveragePathLength(g, { sources: 500, seed: 1 });
    expect(sampled.value).toBe(exact.value);
    expect(sampled.standardError).toBe(0);
    expect(sampled).toMatchObject({ exact: false, sources: 500, pairs: exact.pairs, unreachablePairs: 0 });
  });

  it('is within 4 standard errors of the exact value on WS(2000), for several seeds', async () => {
    const exact = (await averageShortestPathLength(ws)).value;
    for (const seed of [1, 2, 3, 4, 5, 'six']) {
      const estimate = await sampledAveragePathLength(ws, { sources: 60, seed, workers: 1 });
      expect(estimate.standardError).toBeGreaterThan(0);
      expect(estimate.standardError!).toBeLessThan(0.05 * exact);
      expect(Math.abs(estimate.value - exact)).toBeLessThan(4 * estimate.standardError!);
      expect(estimate.pairs).toBe(60 * 1999);
    }
  });

  it('gives the same estimate for the same seed, in-thread or on workers', async () => {
    const big = wattsStrogatzCSR({ order: 2600, k: 6, rewireProb: 0.1, seed: 23 });
    const a = await sampledAveragePathLength(big, { sources: 300, seed: 'x', workers: 1 });
    const b = await sampledAveragePathLength(big, { sources: 300, seed: 'x', workers: 2 });
    expect({ ...b, threads: 1 }).toEqual(a);
    const c = await sampledAveragePathLength(big, { sources: 300, seed: 'y', workers: 1 });
    expect(c.value).not.toBe(a.value);
  });

  it("handles disconnected graphs as the exact method does ('reachable' with every source: the exact value)", async () => {
    const g = graphOf(8, [[0, 1], [1, 2], [3, 4], [4, 5], [5, 6]], false);
    await expect(sampledAveragePathLength(g, { sources: 4, seed: 1 })).rejects.toBeInstanceOf(DisconnectedGraphError);
    const exact = await averageShortestPathLength(g, { disconnected: 'reachable' });
    const sampled = await sampledAveragePathLength(g, { sources: 8, seed: 1, disconnected: 'reachable' });
    expect(sampled.value).toBe(exact.value);
    expect(sampled.unreachablePairs).toBe(exact.unreachablePairs);
    expect(sampled.standardError).toBe(0);
  });

  it('checks sources', async () => {
    for (const sources of [1, 2001, 2.5]) {
      const error = (await sampledAveragePathLength(ws, { sources, seed: 1 }).catch((e: unknown) => e)) as ParameterError;
      expect(error).toBeInstanceOf(ParameterError);
      expect(error.parameter).toBe('sources');
    }
  });
});

