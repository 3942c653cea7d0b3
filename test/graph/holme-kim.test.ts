import { describe, expect, it } from 'vitest';
import { UndirectedGraph } from 'graphology';
import { assertSimple, degreeOf, edgeCount, fromGraphology } from '../../src/graph/csr.js';
import { holmeKim, holmeKimCSR } from '../../src/graph/holme-kim.js';
import { averageClustering } from '../helpers/clustering.js';
import { expectParameterError } from '../helpers/expect-error.js';
import { runPythonJSON } from '../helpers/python.js';
import { meanAndStandardError } from '../helpers/statistics.js';

describe('holmeKimCSR', () => {
  it('has (n-m)*m edges, each new node linking to m older nodes', () => {
    for (const [order, m, triangleProb] of [[2, 1, 0.5], [10, 9, 1], [500, 1, 1], [500, 3, 0], [800, 4, 0.7], [300, 5, 1]]) {
      const graph = holmeKimCSR({ order, m, triangleProb, seed: order * m });
      assertSimple(graph);
      expect(edgeCount(graph)).toBe((order - m) * m);
      for (let u = m; u < order; u++) {
        let older = 0;
        for (let i = graph.offsets[u]; i < graph.offsets[u + 1]; i++) if (graph.targets[i] < u) older++;
        expect(older).toBe(m);
      }
      // The m initial nodes are all joined to node m, the first new node, and not to each other.
      for (let v = 0; v < m; v++) {
        expect(graph.targets[graph.offsets[v]]).toBe(m);
      }
    }
  });

  it('gives the same graph for the same seed and a different one for another seed', () => {
    const a = holmeKimCSR({ order: 400, m: 3, triangleProb: 0.5, seed: 7 });
    const b = holmeKimCSR({ order: 400, m: 3, triangleProb: 0.5, seed: 7 });
    const c = holmeKimCSR({ order: 400, m: 3, triangleProb: 0.5, seed: 8 });
    expect(b.targets).toEqual(a.targets);
    expect(b.offsets).toEqual(a.offsets);
    expect(c.targets).not.toEqual(a.targets);
  });

  it('returns the graphology view of the same graph', () => {
    const graph = holmeKim(UndirectedGraph, { order: 200, m: 2, triangleProb: 0.5, seed: 3 });
    const csr = holmeKimCSR({ order: 200, m: 2, triangleProb: 0.5, seed: 3 });
    expect(graph.size).toBe(396);
    expect(fromGraphology(graph).csr.targets).toEqual(csr.targets);
  });

  it('closes more triangles as triangleProb grows', () => {
    const clustering = (triangleProb: number) =>
      meanAndStandardError([1, 2, 3, 4, 5].map((seed) => averageClustering(holmeKimCSR({ order: 2000, m: 3, triangleProb, seed }))));
    const none = clustering(0);
    const half = clustering(0.5);
    const most = clustering(0.9);
    // Measured: 0.019, 0.28, 0.54 with standard errors about 0.002; require 10 joint errors apart.
    expect(half.mean - none.mean).toBeGreaterThan(10 * Math.hypot(half.se, none.se));
    expect(most.mean - half.mean).toBeGreaterThan(10 * Math.hypot(most.se, half.se));
    expect(none.mean).toBeLessThan(0.05);
  });

  it("matches networkx's clustering: powerlaw_cluster_graph at p = 0.5, its code in draw order at p = 0.9", () => {
    // 15 graphs each of n = 2000, m = 3. At p = 0.9 networkx's own function differs from the model
    // by an artefact of CPython's set order (see holmeKimCSR's doc: 0.520 against 0.537), so there
    // we compare with networkx's code taking the preferential targets in the order drawn.
    const n = 2000;
    const m = 3;
    const seeds = 15;
    const theirs = runPythonJSON<{ library: number[]; drawOrder: number[] }>(`
import json, random, networkx as nx

def powerlaw_cluster_draw_order(n, m, p, seed):
    """networkx 2.8's powerlaw_cluster_graph with the m targets kept in draw order, not a set."""
    rng = random.Random(seed)
    G = nx.empty_graph(m)
    repeated_nodes = list(G.nodes())
    for source in range(m, n):
        possible_targets = []
        while len(possible_targets) < m:
            x = rng.choice(repeated_nodes)
            if x not in possible_targets:
                possible_targets.append(x)
        target = possible_targets.pop(0)
        G.add_edge(source, target)
        repeated_nodes.append(target)
        count = 1
        while count < m:
            if rng.random() < p:
                neighborhood = [nbr for nbr in G.neighbors(target) if not G.has_edge(source, nbr) and nbr != source]
                if neighborhood:
                    nbr = rng.choice(neighborhood)
                    G.add_edge(source, nbr)
                    repeated_nodes.append(nbr)
                    count += 1
                    continue
            target = possible_targets.pop(0)
            G.add_edge(source, target)
            repeated_nodes.append(target)
            count += 1
        repeated_nodes.extend([source] * m)
    return G

print(json.dumps({
    'library': [nx.average_clustering(nx.powerlaw_cluster_graph(${n}, ${m}, 0.5, seed=s)) for s in range(${seeds})],
    'drawOrder': [nx.average_clustering(powerlaw_cluster_draw_order(${n}, ${m}, 0.9, s)) for s in range(${seeds})],
}))
`);
    const compare = (triangleProb: number, reference: number[]) => {
      const ours = meanAndStandardError(
        Array.from({ length: seeds }, (_, seed) => averageClustering(holmeKimCSR({ order: n, m, triangleProb, seed: 1000 + seed }))),
      );
      const other = meanAndStandardError(reference);
      expect(Math.abs(ours.mean - other.mean), `p = ${triangleProb}: ours ${ours.mean}, networkx ${other.mean}`).toBeLessThan(
        3 * Math.hypot(ours.se, other.se),
      );
    };
    compare(0.5, theirs.library);
    compare(0.9, theirs.drawOrder);
  });

  it('does not favour any node id class (networkx at p = 0.9 makes ids = 0 mod 8 into hubs)', () => {
    const sum = new Float64Array(8);
    const count = new Float64Array(8);
    for (let seed = 0; seed < 10; seed++) {
      const graph = holmeKimCSR({ order: 2000, m: 3, triangleProb: 0.9, seed });
      for (let u = 64; u < graph.order; u++) {
        sum[u % 8] += degreeOf(graph, u);
        count[u % 8]++;
      }
    }
    // Measured spread of the 8 class means: about +-3%; networkx's: 9.6 against 4.5.
    const means = Array.from(sum, (s, r) => s / count[r]);
    expect(Math.max(...means) / Math.min(...means)).toBeLessThan(1.15);
  });

  it('raises ParameterError naming the bad parameter', () => {
    expectParameterError(() => holmeKimCSR({ order: 1, m: 1, triangleProb: 0.5 }), 'order');
    expectParameterError(() => holmeKimCSR({ order: 10, m: 0, triangleProb: 0.5 }), 'm');
    expectParameterError(() => holmeKimCSR({ order: 10, m: 10, triangleProb: 0.5 }), 'm');
    expectParameterError(() => holmeKimCSR({ order: 10, m: 2, triangleProb: 1.5 }), 'triangleProb');
    expectParameterError(() => holmeKimCSR({ order: 10, m: 2, triangleProb: -0.1 }), 'triangleProb');
    expectParameterError(() => holmeKimCSR({ order: 10, m: 2, triangleProb: Number.NaN }), 'triangleProb');
    expectParameterError(() => holmeKimCSR({ order: 10, m: 2, triangleProb: 0.5, seed: {} as never }), 'seed');
  });
});
