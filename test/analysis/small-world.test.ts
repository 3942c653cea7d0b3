import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DirectedGraph } from 'graphology';
import { beforeAll, describe, expect, it } from 'vitest';
import { averageClustering, transitivity } from '../../src/analysis/clustering.js';
import { UndirectedOnlyError } from '../../src/analysis/errors.js';
import { DisconnectedGraphError } from '../../src/analysis/errors.js';
import { averageShortestPathLength } from '../../src/analysis/paths.js';
import { latticeReference, randomReference } from '../../src/analysis/references.js';
import { omega, sigma } from '../../src/analysis/small-world.js';
import { connectedWattsStrogatzCSR } from '../../src/graph/connected-watts-strogatz.js';
import { type CSRGraph, csrFromEdges, forEachEdge } from '../../src/graph/csr.js';
import { gnmCSR } from '../../src/graph/gnm.js';
import { ringLatticeCSR } from '../../src/graph/ring-lattice.js';
import { expectParameterError } from '../helpers/expect-error.js';
import { PYTHON } from '../helpers/python.js';
import { FAST_TIER } from '../helpers/tier.js';
import { meanAndStandardError } from '../helpers/statistics.js';

/**
 * networkx's side: seeds 0..n-1 of nx.sigma / nx.omega; ours: more seeds (they are cheap). The
 * graphs are tiny because networkx's random_reference runs a max-flow per swap (20-25 s for one
 * reference of a 200-node graph); here nx.sigma takes ~0.05 s and nx.omega ~0.08 s. Many networkx
 * samples matter more than size: omega's values are bimodal (Cl = max(C, lattice C) is C itself
 * when the lattice reference falls below it), and standard errors from a handful of samples of a
 * bimodal law are unreliable.
 */
const NX_SEEDS = 24;
const OUR_SEEDS = 200;
/** sigma: k = 6 so that random references always have triangles (Cr > 0). */
const SIGMA_GRAPH = connectedWattsStrogatzCSR({ order: 20, k: 6, rewireProb: 0.1, seed: 1 });
const OMEGA_GRAPH = connectedWattsStrogatzCSR({ order: 24, k: 4, rewireProb: 0.1, seed: 1 });
const PARAMS = { niter: 1, nrand: 1 };

function edgeList(graph: CSRGraph): [number, number][] {
  const edges: [number, number][] = [];
  forEachEdge(graph, (u, v) => edges.push([u, v]));
  return edges;
}

/** networkx's coefficient for seeds 0..NX_SEEDS-1, in a Python process of its own (so that sigma's and omega's run side by side). */
async function networkxSamples(coefficient: 'sigma' | 'omega', graph: CSRGraph): Promise<number[]> {
  const script = `
import json, sys
import networkx as nx
G = nx.Graph()
G.add_nodes_from(range(${graph.order}))
G.add_edges_from(json.load(sys.stdin))
print(json.dumps([nx.${coefficient}(G, niter=${PARAMS.niter}, nrand=${PARAMS.nrand}, seed=s) for s in range(${NX_SEEDS})]))
`;
  const child = promisify(execFile)(PYTHON, ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 24 });
  child.child.stdin!.end(JSON.stringify(edgeList(graph)));
  return JSON.parse((await child).stdout) as number[];
}

describe.skipIf(FAST_TIER)('sigma and omega agree with networkx in distribution (niter = 1, nrand = 1)', () => {
  let nxSigma: number[];
  let nxOmega: number[];
  beforeAll(async () => {
    [nxSigma, nxOmega] = await Promise.all([networkxSamples('sigma', SIGMA_GRAPH), networkxSamples('omega', OMEGA_GRAPH)]);
  }, 120_000);

  /** |mean difference| within 3 combined standard errors, the standard errors being those of each side's sample. */
  function expectSameMean(ours: number[], theirs: number[]): void {
    const a = meanAndStandardError(ours);
    const b = meanAndStandardError(theirs);
    expect(b.se).toBeGreaterThan(0);
    const tolerance = 3 * Math.hypot(a.se, b.se);
    expect(Math.abs(a.mean - b.mean), `ours ${a.mean} ± ${a.se}, networkx ${b.mean} ± ${b.se}`).toBeLessThan(tolerance);
  }

  it('sigma on a Watts-Strogatz graph, n = 20, k = 6, p = 0.1', async () => {
    const ours: number[] = [];
    for (let seed = 0; seed < OUR_SEEDS; seed++) ours.push((await sigma(SIGMA_GRAPH, { ...PARAMS, seed })).value);
    expectSameMean(ours, nxSigma);
  });

  it('omega on a Watts-Strogatz graph, n = 24, k = 4, p = 0.1', async () => {
    const ours: number[] = [];
    for (let seed = 0; seed < OUR_SEEDS; seed++) ours.push((await omega(OMEGA_GRAPH, { ...PARAMS, seed })).value);
    expectSameMean(ours, nxOmega);
  });
});

describe('sigma', () => {
  it('is (C / Cr) / (L / Lr) with transitivity and path lengths of the graph and of each random reference', async () => {
    const graph = connectedWattsStrogatzCSR({ order: 120, k: 6, rewireProb: 0.1, seed: 4 });
    const result = await sigma(graph, { niter: 3, nrand: 4, seed: 'formula' });
    expect(result.coefficient).toBe('sigma');
    expect(result.clustering).toBe('transitivity');
    expect(result.C).toBe(transitivity(graph));
    expect(result.L).toBe((await averageShortestPathLength(graph)).value);
    expect(result.references).toHaveLength(4);
    for (const reference of result.references) {
      const rebuilt = randomReference(graph, { niter: 3, seed: reference.seed });
      expect(reference.C).toBe(transitivity(rebuilt));
      expect(reference.L).toBe((await averageShortestPathLength(rebuilt)).value);
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    expect(result.Cr).toBeCloseTo(mean(result.references.map((r) => r.C)), 14);
    expect(result.Lr).toBeCloseTo(mean(result.references.map((r) => r.L)), 14);
    expect(result.value).toBeCloseTo(result.C / result.Cr / (result.L / result.Lr), 12);
    expect({ nrand: result.nrand, niter: result.niter, seed: result.seed }).toEqual({ nrand: 4, niter: 3, seed: 'formula' });
  });

  it('is clearly above 1 for a Watts-Strogatz small world and near 1 for a random graph', async () => {
    const smallWorld = connectedWattsStrogatzCSR({ order: 300, k: 10, rewireProb: 0.1, seed: 7 });
    expect((await sigma(smallWorld, { niter: 5, nrand: 3, seed: 1 })).value).toBeGreaterThan(3);
    const random = gnmCSR({ order: 300, size: 1500, seed: 4 });
    const value = (await sigma(random, { niter: 5, nrand: 10, seed: 1 })).value;
    expect(value).toBeGreaterThan(0.75);
    expect(value).toBeLessThan(1.25);
  });

  it('is reproducible, JSON-serialisable, and reports the seed it drew when given none', async () => {
    const graph = connectedWattsStrogatzCSR({ order: 80, k: 6, rewireProb: 0.2, seed: 2 });
    const a = await sigma(graph, { niter: 2, nrand: 3, seed: 9 });
    expect(await sigma(graph, { niter: 2, nrand: 3, seed: 9 })).toEqual(a);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    const drawn = await sigma(graph, { niter: 2, nrand: 3 });
    expect(typeof drawn.seed).toBe('number');
    expect(await sigma(graph, { niter: 2, nrand: 3, seed: drawn.seed! })).toEqual(drawn);
    expect((await sigma(graph, { niter: 2, nrand: 3, rng: () => 0.5 })).seed).toBeNull();
  });

  it('raises for directed and disconnected graphs and bad options', async () => {
    const directed = new DirectedGraph();
    for (const [u, v] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'a']]) directed.mergeEdge(u, v);
    await expect(sigma(directed)).rejects.toThrow(UndirectedOnlyError);
    await expect(omega(directed)).rejects.toThrow(UndirectedOnlyError);
    const twoRings = csrFromEdges(8, [0, 1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 0, 5, 6, 7, 4], false);
    await expect(sigma(twoRings, { seed: 1 })).rejects.toThrow(DisconnectedGraphError);
    await expect(omega(twoRings, { seed: 1 })).rejects.toThrow(DisconnectedGraphError);
    const ring = ringLatticeCSR({ order: 20, k: 4 });
    for (const run of [sigma, omega]) {
      await expect(run(ring, { nrand: 0 })).rejects.toThrow(/nrand/);
      await expect(run(ring, { niter: -1 })).rejects.toThrow(/niter/);
    }
    expectParameterError(() => randomReference(ring, { niter: 0.5 }), 'niter');
  });
});

describe('omega', () => {
  it('is Lr / L - C / Cl with Cl the largest average clustering of the graph and its lattice references', async () => {
    const graph = connectedWattsStrogatzCSR({ order: 120, k: 6, rewireProb: 0.3, seed: 5 });
    const result = await omega(graph, { niter: 2, nrand: 3, seed: 'formula' });
    expect(result.coefficient).toBe('omega');
    expect(result.C).toBe(averageClustering(graph));
    expect(result.L).toBe((await averageShortestPathLength(graph)).value);
    for (const reference of result.references) {
      const random = randomReference(graph, { niter: 4, seed: reference.randomSeed });
      expect(reference.L).toBe((await averageShortestPathLength(random)).value);
      expect(reference.C).toBe(averageClustering(latticeReference(graph, { niter: 2, seed: reference.latticeSeed })));
    }
    expect(result.Cl).toBe(Math.max(result.C, ...result.references.map((r) => r.C)));
    const Lr = result.references.reduce((a, r) => a + r.L, 0) / 3;
    expect(result.Lr).toBeCloseTo(Lr, 14);
    expect(result.value).toBeCloseTo(result.Lr / result.L - result.C / result.Cl, 12);
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  it('is near -1 for a lattice, near 0 for a small world and near 1 for a random graph', async () => {
    const lattice = ringLatticeCSR({ order: 300, k: 10 });
    const smallWorld = connectedWattsStrogatzCSR({ order: 300, k: 10, rewireProb: 0.1, seed: 7 });
    const random = gnmCSR({ order: 300, size: 1500, seed: 4 });
    const options = { niter: 5, nrand: 3, seed: 2 };
    expect((await omega(lattice, options)).value).toBeLessThan(-0.6);
    const middle = (await omega(smallWorld, options)).value;
    expect(Math.abs(middle)).toBeLessThan(0.4);
    expect((await omega(random, options)).value).toBeGreaterThan(0.6);
  });
});
