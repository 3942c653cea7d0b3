import { beforeAll, describe, expect, it } from 'vitest';
import { undirectedView } from '../../src/analysis/adapter.js';
import { type SpectralResult, spectralGap } from '../../src/analysis/spectral.js';
import { barabasiAlbertCSR } from '../../src/graph/barabasi-albert.js';
import { type CSRGraph, csrFromEdges, forEachEdge } from '../../src/graph/csr.js';
import { directedWattsStrogatzCSR } from '../../src/graph/directed-watts-strogatz.js';
import { holmeKimCSR } from '../../src/graph/holme-kim.js';
import { wattsStrogatzCSR } from '../../src/graph/watts-strogatz.js';
import { expectParameterError } from '../helpers/expect-error.js';
import { runPythonJSON } from '../helpers/python.js';
import { FAST_TIER } from '../helpers/tier.js';

function undirected(order: number, edges: [number, number][]): CSRGraph {
  return csrFromEdges(order, edges.map((e) => e[0]), edges.map((e) => e[1]), false);
}

function complete(order: number): CSRGraph {
  const edges: [number, number][] = [];
  for (let u = 0; u < order; u++) for (let v = u + 1; v < order; v++) edges.push([u, v]);
  return undirected(order, edges);
}

function cycle(order: number, offset = 0, total = order): CSRGraph {
  return undirected(total, Array.from({ length: order }, (_, i): [number, number] => [offset + i, offset + ((i + 1) % order)]));
}

function completeBipartite(a: number, b: number): CSRGraph {
  const edges: [number, number][] = [];
  for (let u = 0; u < a; u++) for (let v = 0; v < b; v++) edges.push([u, a + v]);
  return undirected(a + b, edges);
}

function hypercube(dimension: number): CSRGraph {
  const edges: [number, number][] = [];
  for (let u = 0; u < 1 << dimension; u++) for (let bit = 0; bit < dimension; bit++) if (!(u & (1 << bit))) edges.push([u, u | (1 << bit)]);
  return undirected(1 << dimension, edges);
}

/** Both eigenvalues within the tolerance of the expected ones, with the derived gaps. */
function expectSpectrum(result: SpectralResult, lambda2: number, lambdaMin: number): void {
  expect(result.converged).toBe(true);
  expect(result.lambda2).toBeCloseTo(lambda2, 9);
  expect(result.lambdaMin).toBeCloseTo(lambdaMin, 9);
  expect(result.spectralGap).toBeCloseTo(1 - lambda2, 9);
  expect(result.gap).toBeCloseTo(1 - Math.max(Math.abs(lambda2), Math.abs(lambdaMin)), 9);
}

describe('spectralGap closed forms', () => {
  it('complete graph K_n: every other eigenvalue is -1/(n-1)', () => {
    for (const n of [2, 3, 5, 40]) {
      const result = spectralGap(complete(n));
      expectSpectrum(result, -1 / (n - 1), -1 / (n - 1));
      expect(result.connected).toBe(true);
      expect(result.notes).toEqual([]);
    }
  });

  it('cycle C_n: cos(2 pi j / n), so lambda2 = cos(2 pi / n) and lambdaMin = -1 (even n) or -cos(pi / n) (odd n)', () => {
    for (const n of [4, 5, 12, 31, 100, 151]) {
      expectSpectrum(spectralGap(cycle(n)), Math.cos((2 * Math.PI) / n), n % 2 === 0 ? -1 : -Math.cos(Math.PI / n));
    }
  });

  it('complete bipartite K_{a,b}: eigenvalues 1, -1 and 0', () => {
    for (const [a, b] of [[1, 2], [1, 9], [3, 3], [4, 7], [20, 30]]) {
      const result = spectralGap(completeBipartite(a, b));
      expectSpectrum(result, 0, -1);
      expect(result.gap).toBeCloseTo(0, 9);
    }
  });

  it('hypercube Q_d: eigenvalues 1 - 2k/d, so lambda2 = 1 - 2/d and lambdaMin = -1', () => {
    for (const d of [2, 3, 5, 8]) expectSpectrum(spectralGap(hypercube(d)), 1 - 2 / d, -1);
  });

  it('thick restarts with a small basis still find the extreme eigenvalues', () => {
    const result = spectralGap(cycle(61), { basisSize: 6, maxIterations: 100_000 });
    expectSpectrum(result, Math.cos((2 * Math.PI) / 61), -Math.cos(Math.PI / 61));
    expect(result.iterations).toBeGreaterThan(60); // many restarts
  });

  it('reports disconnected graphs: lambda2 = 1 and both gaps 0, lambdaMin still computed', () => {
    // C_6 and C_5 side by side: lambdaMin = -1 (C_6 is bipartite).
    const edges: [number, number][] = [];
    forEachEdge(cycle(6, 0, 11), (u, v) => edges.push([u, v]));
    forEachEdge(cycle(5, 6, 11), (u, v) => edges.push([u, v]));
    const two = spectralGap(undirected(11, edges));
    expect(two.connected).toBe(false);
    expect(two.components).toBe(2);
    expect(two.lambda2).toBe(1);
    expect(two.gap).toBe(0);
    expect(two.spectralGap).toBe(0);
    expect(two.lambdaMin).toBeCloseTo(-1, 9);
    expect(two.notes.join(' ')).toMatch(/disconnected \(2 components\)/);

    // K_4 and an isolated node (networkx's normalized Laplacian convention: its eigenvalue is 1).
    const isolated = spectralGap(undirected(5, [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]));
    expect(isolated.components).toBe(2);
    expect(isolated.lambda2).toBe(1);
    expect(isolated.lambdaMin).toBeCloseTo(-1 / 3, 9);
    expect(isolated.notes.join(' ')).toMatch(/1 isolated node/);

    const empty = spectralGap(undirected(4, []));
    expect([empty.lambda2, empty.lambdaMin, empty.gap, empty.components]).toEqual([1, 1, 0, 4]);
  });
});

describe('spectralGap options and inputs', () => {
  const graph = wattsStrogatzCSR({ order: 400, k: 6, rewireProb: 0.2, seed: 'spectral' });

  it('is reproducible for a seed, and agrees across seeds within the tolerance', () => {
    const a = spectralGap(graph, { seed: 7 });
    expect(spectralGap(graph, { seed: 7 })).toEqual(a);
    expect(spectralGap(graph)).toEqual(spectralGap(graph, { seed: 1 })); // default seed
    const b = spectralGap(graph, { seed: 'other' });
    expect(b.lambda2).toBeCloseTo(a.lambda2, 9);
    expect(b.lambdaMin).toBeCloseTo(a.lambdaMin, 9);
  });

  it('says converged: false when maxIterations is too small', () => {
    const result = spectralGap(graph, { maxIterations: 3 });
    expect(result.converged).toBe(false);
    expect(result.iterations).toBe(3);
    expect(result.residualLambda2 + result.residualLambdaMin).toBeGreaterThan(1e-10);
    expect(spectralGap(graph, { maxIterations: 10_000 }).converged).toBe(true);
  });

  it('uses the underlying undirected graph of a directed one, and says so', () => {
    const directed = directedWattsStrogatzCSR({ order: 300, k: 4, rewireProb: 0.3, seed: 'd' });
    const result = spectralGap(directed);
    const view = spectralGap(undirectedView(directed));
    expect(result.directed).toBe(true);
    expect(result.notes[0]).toMatch(/underlying undirected/);
    expect(result.lambda2).toBe(view.lambda2);
    expect(result.lambdaMin).toBe(view.lambdaMin);
  });

  it('rejects bad options and graphs too small to have a second eigenvalue', () => {
    expectParameterError(() => spectralGap(graph, { tolerance: 0 }), 'tolerance');
    expectParameterError(() => spectralGap(graph, { maxIterations: 0 }), 'maxIterations');
    expectParameterError(() => spectralGap(graph, { basisSize: 2 }), 'basisSize');
    expectParameterError(() => spectralGap(graph, { seed: 1, rng: Math.random }), 'seed');
    expectParameterError(() => spectralGap(undirected(1, [])), 'graph');
  });
});

describe.skipIf(FAST_TIER)('spectralGap agrees with numpy eigvalsh', () => {
  const cases: Record<string, CSRGraph> = {
    'Watts-Strogatz n=300 k=6': wattsStrogatzCSR({ order: 300, k: 6, rewireProb: 0.1, seed: 'np1' }),
    'Barabasi-Albert n=400 m=2': barabasiAlbertCSR({ order: 400, m: 2, seed: 'np2' }),
    'Holme-Kim n=250 m=3': holmeKimCSR({ order: 250, m: 3, triangleProb: 0.6, seed: 'np3' }),
    'Holme-Kim n=300 m=1 (a tree: bipartite)': holmeKimCSR({ order: 300, m: 1, triangleProb: 0.5, seed: 'np4' }),
    'directed Watts-Strogatz n=200 k=4 (underlying graph)': directedWattsStrogatzCSR({ order: 200, k: 4, rewireProb: 0.5, seed: 'np5' }),
  };
  const names = Object.keys(cases);
  let reference: { lambda2: number; lambdaMin: number }[] = [];
  beforeAll(() => {
    const payload = names.map((name) => {
      const graph = undirectedView(cases[name]);
      const edges: number[] = [];
      forEachEdge(graph, (u, v) => edges.push(u, v));
      return { order: graph.order, edges };
    });
    reference = runPythonJSON(
      `
import json, sys
import numpy as np
out = []
for g in json.load(sys.stdin):
    n, e = g["order"], g["edges"]
    A = np.zeros((n, n))
    A[e[0::2], e[1::2]] = 1
    A[e[1::2], e[0::2]] = 1
    s = 1 / np.sqrt(A.sum(axis=1))
    values = np.linalg.eigvalsh(s[:, None] * A * s[None, :])
    out.append({"lambda2": values[-2], "lambdaMin": values[0]})
print(json.dumps(out))
`,
      JSON.stringify(payload),
    );
  });

  it.each(names)('on %s', (name) => {
    const result = spectralGap(cases[name]);
    const ref = reference[names.indexOf(name)];
    expect(result.converged).toBe(true);
    expect(result.connected).toBe(true);
    expect(Math.abs(result.lambda2 - ref.lambda2)).toBeLessThan(1e-9);
    expect(Math.abs(result.lambdaMin - ref.lambdaMin)).toBeLessThan(1e-9);
  });
});
