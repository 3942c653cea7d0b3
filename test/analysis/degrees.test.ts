import { describe, expect, it } from 'vitest';
import { degreeStats } from '../../src/analysis/degrees.js';
import { EmptyGraphError } from '../../src/analysis/errors.js';
import { barabasiAlbertCSR } from '../../src/graph/barabasi-albert.js';
import { csrFromEdges } from '../../src/graph/csr.js';
import { directedWattsStrogatzCSR } from '../../src/graph/directed-watts-strogatz.js';
import { ringLatticeCSR } from '../../src/graph/ring-lattice.js';
import { catchError } from '../helpers/expect-error.js';
import { runPythonJSON } from '../helpers/python.js';
import { edgeListText } from '../helpers/graphs.js';


describe('degreeStats', () => {
  it('summarises a star: one hub of degree n-1, n-1 leaves of degree 1', () => {
    const n = 5;
    const star = csrFromEdges(n, [0, 0, 0, 0], [1, 2, 3, 4], false);
    const result = degreeStats(star);
    if (result.directed) throw new Error('expected undirected');
    expect(result.order).toBe(5);
    expect(result.edges).toBe(4);
    // Degrees 4, 1, 1, 1, 1: mean 8/5, variance (4 * 0.6^2 + 2.4^2) / 5 = 1.44.
    expect(result.degree).toMatchObject({ min: 1, max: 4, mean: 1.6, histogram: [0, 4, 0, 0, 1] });
    expect(result.degree.variance).toBeCloseTo(1.44, 14);
    expect(result.degree.sd).toBeCloseTo(1.2, 14);
  });

  it('has zero variance on a regular graph', () => {
    const result = degreeStats(ringLatticeCSR({ order: 100, k: 6 }));
    if (result.directed) throw new Error('expected undirected');
    expect(result.degree).toMatchObject({ min: 6, max: 6, mean: 6, variance: 0, sd: 0 });
    expect(result.degree.histogram).toEqual([0, 0, 0, 0, 0, 0, 100]);
  });

  it('gives in- and out-degrees separately for a directed graph', () => {
    // 0 -> 1, 0 -> 2, 1 -> 2, 3 isolated.
    const g = csrFromEdges(4, [0, 0, 1], [1, 2, 2], true);
    const result = degreeStats(g);
    if (!result.directed) throw new Error('expected directed');
    expect(result.edges).toBe(3);
    expect(result.outDegree.histogram).toEqual([2, 1, 1]);
    expect(result.inDegree.histogram).toEqual([2, 1, 1]);
    expect(result.outDegree.max).toBe(2);
    expect(result.inDegree.mean).toBe(0.75);
  });

  it('counts isolated nodes as degree 0', () => {
    const result = degreeStats(csrFromEdges(3, [], [], false));
    if (result.directed) throw new Error('expected undirected');
    expect(result.degree).toMatchObject({ min: 0, max: 0, mean: 0, histogram: [3] });
  });

  it('raises EmptyGraphError for the null graph', () => {
    expect(catchError(() => degreeStats(csrFromEdges(0, [], [], false)))).toBeInstanceOf(EmptyGraphError);
  });

  it('matches networkx degree_histogram and numpy moments', () => {
    const ba = barabasiAlbertCSR({ order: 3000, m: 3, seed: 11 });
    const dws = directedWattsStrogatzCSR({ order: 2000, k: 6, rewireProb: 0.3, seed: 12 });
    const script = `
import sys, json, networkx as nx, numpy as np
out = []
for block in json.load(sys.stdin):
    G = (nx.DiGraph if block["directed"] else nx.Graph)()
    G.add_nodes_from(range(block["n"]))
    G.add_edges_from(tuple(map(int, l.split())) for l in block["edges"].splitlines())
    def summary(degrees):
        d = np.array([x for _, x in degrees], dtype=float)
        return {"histogram": [int(c) for c in np.bincount(d.astype(int))], "mean": d.mean(), "variance": d.var(), "min": int(d.min()), "max": int(d.max())}
    if block["directed"]:
        out.append({"in": summary(G.in_degree()), "out": summary(G.out_degree())})
    else:
        out.append({"degree": summary(G.degree()), "histogram": nx.degree_histogram(G)})
print(json.dumps(out))`;
    type Summary = { histogram: number[]; mean: number; variance: number; min: number; max: number };
    const [undirected, directed] = runPythonJSON<[{ degree: Summary; histogram: number[] }, { in: Summary; out: Summary }]>(
      script,
      JSON.stringify([
        { n: ba.order, directed: false, edges: edgeListText(ba) },
        { n: dws.order, directed: true, edges: edgeListText(dws) },
      ]),
    );
    const a = degreeStats(ba);
    if (a.directed) throw new Error('expected undirected');
    expect(a.degree.histogram).toEqual(undirected.histogram);
    expect(a.degree.histogram).toEqual(undirected.degree.histogram);
    expect(a.degree.min).toBe(undirected.degree.min);
    expect(a.degree.max).toBe(undirected.degree.max);
    expect(a.degree.mean).toBeCloseTo(undirected.degree.mean, 12);
    expect(Math.abs(a.degree.variance / undirected.degree.variance - 1)).toBeLessThan(1e-12);
    const b = degreeStats(dws);
    if (!b.directed) throw new Error('expected directed');
    expect(b.outDegree.histogram).toEqual(directed.out.histogram);
    expect(b.inDegree.histogram).toEqual(directed.in.histogram);
    expect(b.outDegree.variance).toBe(0); // every node keeps out-degree k
    expect(Math.abs(b.inDegree.variance / directed.in.variance - 1)).toBeLessThan(1e-12);
    expect(b.inDegree.mean).toBeCloseTo(6, 12);
  });
});
