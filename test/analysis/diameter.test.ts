import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bfsSummary } from '../../src/analysis/bfs.js';
import { largestComponentGraph } from '../../src/analysis/components.js';
import { diameter, eccentricity } from '../../src/analysis/diameter.js';
import { DisconnectedGraphError, EmptyGraphError } from '../../src/analysis/errors.js';
import { barabasiAlbertCSR } from '../../src/graph/barabasi-albert.js';
import { directedWattsStrogatzCSR } from '../../src/graph/directed-watts-strogatz.js';
import { erdosRenyiCSR } from '../../src/graph/erdos-renyi.js';
import { ringLatticeCSR } from '../../src/graph/ring-lattice.js';
import { wattsStrogatzCSR } from '../../src/graph/watts-strogatz.js';
import { resolveRng } from '../../src/random.js';
import { runPythonJSON } from '../helpers/python.js';
import { graphOf, range, pathGraph, cycleGraph, starGraph, edgeListText } from '../helpers/graphs.js';



describe('diameter and eccentricity: closed forms', () => {
  it('path: diameter n - 1, eccentricity max(i, n - 1 - i)', async () => {
    for (const n of [1, 2, 3, 40, 2049]) {
      expect((await diameter(pathGraph(n))).value).toBe(n - 1);
      expect(Array.from(await eccentricity(pathGraph(n), { workers: 1 }))).toEqual(range(n).map((i) => Math.max(i, n - 1 - i)));
    }
  });

  it('cycle: floor(n / 2); directed cycle: n - 1', async () => {
    for (const n of [3, 4, 9, 100]) {
      expect((await diameter(cycleGraph(n))).value).toBe(Math.floor(n / 2));
      expect((await diameter(cycleGraph(n, true))).value).toBe(n - 1);
      expect(Array.from(await eccentricity(cycleGraph(n, true)))).toEqual(range(n).map(() => n - 1));
    }
  });

  it('star: 2 (1 at the centre); ring lattice: ceil(floor(n/2) / (k/2))', async () => {
    expect((await diameter(starGraph(50))).value).toBe(2);
    expect(Array.from(await eccentricity(starGraph(5)))).toEqual([1, 2, 2, 2, 2]);
    for (const [n, k] of [[20, 4], [101, 6], [1000, 10]]) {
      const result = await diameter(ringLatticeCSR({ order: n, k }));
      expect(result.value).toBe(Math.ceil(Math.floor(n / 2) / (k / 2)));
      expect(result.exact).toBe(true);
    }
  });

  it('raises DisconnectedGraphError (infinite path lengths) and EmptyGraphError', async () => {
    const twoPaths = graphOf(6, [[0, 1], [1, 2], [3, 4], [4, 5]], false);
    const error = (await diameter(twoPaths).catch((e: unknown) => e)) as DisconnectedGraphError;
    expect(error).toBeInstanceOf(DisconnectedGraphError);
    expect(error.components).toBe(2);
    await expect(eccentricity(twoPaths)).rejects.toBeInstanceOf(DisconnectedGraphError);
    const oneWay = graphOf(3, [[0, 1], [1, 2]], true);
    const strong = (await diameter(oneWay).catch((e: unknown) => e)) as DisconnectedGraphError;
    expect(strong.connectivity).toBe('strong');
    expect(strong.components).toBe(3);
    await expect(diameter(graphOf(0, [], false))).rejects.toBeInstanceOf(EmptyGraphError);
    expect(await eccentricity(graphOf(0, [], false))).toEqual(new Int32Array(0));
  });
});

describe('BoundingDiameters', () => {
  it('needs far fewer BFS than nodes on tree-like Erdős-Rényi giant components', async () => {
    for (const seed of [3, 4, 5]) {
      const giant = largestComponentGraph(erdosRenyiCSR({ order: 5000, probability: 1.5 / 5000, seed })).graph;
      const result = await diameter(giant);
      // Sources searched: the bounding BFS, plus the candidates left if it hands over to a bit-parallel sweep.
      expect(result.bfsCount).toBeLessThan(giant.order / 5);
      expect(result.method).toMatch(/BoundingDiameters/);
      // Against the eccentricities of all nodes (bit-parallel, an independent method).
      expect(result.value).toBe(Math.max(...(await eccentricity(giant, { workers: 1 }))));
    }
  });

  it('is exact on random connected graphs (against eccentricities by plain BFS)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 120 }),
        fc.double({ min: 0, max: 0.08, noNaN: true }),
        fc.integer(),
        async (order, extra, seed) => {
          // A random spanning tree (connected) plus random extra edges.
          const rng = resolveRng({ seed });
          const edges = new Map<number, [number, number]>();
          const add = (u: number, v: number): void => {
            if (u !== v) edges.set(Math.min(u, v) * order + Math.max(u, v), [Math.min(u, v), Math.max(u, v)]);
          };
          for (let v = 1; v < order; v++) add(v, Math.floor(rng() * v));
          for (let i = 0; i < extra * order * order; i++) add(Math.floor(rng() * order), Math.floor(rng() * order));
          const g = graphOf(order, [...edges.values()], false);
          let expected = 0;
          for (let v = 0; v < order; v++) expected = Math.max(expected, bfsSummary(g, v).eccentricity);
          expect((await diameter(g)).value).toBe(expected);
        },
      ),
      { numRuns: 150, seed: 99 },
    );
  });
});

describe('diameter and eccentricity agree with networkx', () => {
  it('on Watts-Strogatz, Barabási-Albert, an Erdős-Rényi giant component and a directed Watts-Strogatz graph', async () => {
    const graphs = [
      largestComponentGraph(wattsStrogatzCSR({ order: 600, k: 8, rewireProb: 0.1, seed: 1 })).graph,
      wattsStrogatzCSR({ order: 500, k: 4, rewireProb: 0.02, seed: 5 }),
      barabasiAlbertCSR({ order: 600, m: 3, seed: 2 }),
      largestComponentGraph(erdosRenyiCSR({ order: 900, probability: 2.5 / 900, seed: 3 })).graph,
      largestComponentGraph(directedWattsStrogatzCSR({ order: 500, k: 4, rewireProb: 0.2, seed: 4 }), 'strong').graph,
    ];
    const script = `
import sys, json, networkx as nx
out = []
for block in json.load(sys.stdin):
    G = (nx.DiGraph if block["directed"] else nx.Graph)()
    G.add_nodes_from(range(block["n"]))
    G.add_edges_from(tuple(map(int, l.split())) for l in block["edges"].splitlines())
    if not (nx.is_strongly_connected(G) if G.is_directed() else nx.is_connected(G)):
        out.append(None); continue
    e = nx.eccentricity(G)
    out.append({"diameter": nx.diameter(G, e=e), "eccentricity": [e[v] for v in range(block["n"])]})
print(json.dumps(out))`;
    const expected = runPythonJSON<({ diameter: number; eccentricity: number[] } | null)[]>(
      script,
      JSON.stringify(graphs.map((g) => ({ n: g.order, directed: g.directed, edges: edgeListText(g) }))),
    );
    for (let i = 0; i < graphs.length; i++) {
      const want = expected[i];
      if (want === null) {
        await expect(diameter(graphs[i])).rejects.toBeInstanceOf(DisconnectedGraphError);
        continue;
      }
      expect((await diameter(graphs[i])).value).toBe(want.diameter);
      expect(Array.from(await eccentricity(graphs[i]))).toEqual(want.eccentricity);
    }
    expect(expected.filter((e) => e !== null).length).toBeGreaterThanOrEqual(4);
  });

  it('gives the same eccentricities on 2 workers as in-thread', async () => {
    const g = wattsStrogatzCSR({ order: 2600, k: 6, rewireProb: 0.05, seed: 6 });
    const one = await eccentricity(g, { workers: 1 });
    const two = await eccentricity(g, { workers: 2 });
    expect(two).toEqual(one);
    const d = await diameter(g, { workers: 2 });
    expect(d.value).toBe(Math.max(...one));
  });
});
