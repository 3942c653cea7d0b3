import { describe, expect, it } from 'vitest';
import { UndirectedGraph } from 'graphology';
import { assertSimple, degreeOf, edgeCount, fromGraphology, hasEdge, type CSRGraph } from '../../src/graph/csr.js';
import { randomRegular, randomRegularCSR } from '../../src/graph/random-regular.js';
import { resolveRng } from '../../src/random.js';
import { expectParameterError } from '../helpers/expect-error.js';
import { runPythonJSON } from '../helpers/python.js';

function expectRegular(graph: CSRGraph, order: number, degree: number): void {
  expect(graph.order).toBe(order);
  assertSimple(graph);
  for (let u = 0; u < order; u++) if (degreeOf(graph, u) !== degree) throw new Error(`node ${u} has degree ${degreeOf(graph, u)}, not ${degree}`);
  expect(edgeCount(graph)).toBe((order * degree) / 2);
}

describe('randomRegularCSR', () => {
  it('gives every node degree d, sparse and dense (complement) alike', () => {
    const cases = [
      [10, 0], [1, 0], [0, 0], [2, 1], [4, 3], [6, 2], [6, 3], [7, 4], [20, 9], [21, 10], [21, 12],
      [100, 3], [100, 50], [100, 98], [100, 99], [1000, 5], [500, 300],
    ];
    for (const [order, degree] of cases) expectRegular(randomRegularCSR({ order, degree, seed: order + degree }), order, degree);
  });

  it('passes an exhaustive sweep of small cases over many seeds', () => {
    for (let order = 0; order <= 14; order++) {
      for (let degree = 0; degree < Math.max(1, order); degree++) {
        if ((order * degree) % 2 !== 0) continue;
        for (let seed = 0; seed < 10; seed++) expectRegular(randomRegularCSR({ order, degree, seed }), order, degree);
      }
    }
  });

  it('is reproducible, and its graphology view is the same graph', () => {
    const a = randomRegularCSR({ order: 300, degree: 6, seed: 'r' });
    const b = randomRegularCSR({ order: 300, degree: 6, seed: 'r' });
    const c = randomRegularCSR({ order: 300, degree: 6, seed: 's' });
    expect(b.targets).toEqual(a.targets);
    expect(c.targets).not.toEqual(a.targets);
    const graph = randomRegular(UndirectedGraph, { order: 300, degree: 6, seed: 'r' });
    expect(graph.size).toBe(900);
    expect(fromGraphology(graph).csr.targets).toEqual(a.targets);
  });

  it("draws 2-regular graphs on 6 nodes with networkx's frequencies", () => {
    // A 2-regular graph on 6 nodes is a hexagon (60 labelled ones) or two triangles (10): uniform
    // would give two triangles 1/7 of the time; networkx's pairing-with-retries gives about 31%.
    const draws = 20_000;
    const rng = resolveRng({ seed: 'hexagon' });
    let triangles = 0;
    for (let d = 0; d < draws; d++) {
      const graph = randomRegularCSR({ order: 6, degree: 2, rng });
      const a = graph.targets[graph.offsets[0]];
      const b = graph.targets[graph.offsets[0] + 1];
      if (hasEdge(graph, a, b)) triangles++;
    }
    const pythonDraws = 4000;
    const theirs = runPythonJSON<number>(`
import networkx as nx
print(sum(nx.number_connected_components(nx.random_regular_graph(2, 6, seed=s)) == 2 for s in range(${pythonDraws})) / ${pythonDraws})
`);
    const ours = triangles / draws;
    const error = Math.sqrt((theirs * (1 - theirs)) / pythonDraws + (ours * (1 - ours)) / draws);
    expect(Math.abs(ours - theirs), `ours ${ours}, networkx ${theirs}`).toBeLessThan(4 * error);
    expect(Math.abs(ours - 1 / 7)).toBeGreaterThan(0.1); // not uniform, as networkx
  });

  it('raises ParameterError naming the bad parameter', () => {
    expectParameterError(() => randomRegularCSR({ order: 5, degree: 3 }), 'degree'); // n*d odd
    expectParameterError(() => randomRegularCSR({ order: 5, degree: 5 }), 'degree');
    expectParameterError(() => randomRegularCSR({ order: 6, degree: -2 }), 'degree');
    expectParameterError(() => randomRegularCSR({ order: 6, degree: 2.5 }), 'degree');
    expectParameterError(() => randomRegularCSR({ order: -1, degree: 0 }), 'order');
    expectParameterError(() => randomRegularCSR({ order: 1, degree: 1 }), 'degree');
    expect(() => randomRegularCSR({ order: 7, degree: 3 })).toThrow(/order \* degree even/);
  });
});
