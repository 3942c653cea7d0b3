import { describe, expect, it } from 'vitest';
import { DirectedGraph, MultiGraph, UndirectedGraph } from 'graphology';
import { assertSimple, degreeOf, edgeCount, fromGraphology } from '../../src/graph/csr.js';
import { balancedBipartite, fixedFanIn, fixedFanInCSR, type ArcList } from '../../src/graph/fixed-fan-in.js';
import { resolveRng } from '../../src/random.js';
import { expectParameterError } from '../helpers/expect-error.js';

/** Checks every promise of balancedBipartite on one result. */
function expectBalanced(arcs: ArcList, sources: number, targets: number, fanIn: number, excludeDiagonal: boolean): void {
  const label = `${sources} -> ${targets}, fanIn ${fanIn}, excludeDiagonal ${excludeDiagonal}`;
  expect(arcs.sources.length, label).toBe(fanIn * targets);
  expect(arcs.targets.length, label).toBe(fanIn * targets);
  const inDegree = new Int32Array(targets);
  const outDegree = new Int32Array(sources);
  for (let k = 0; k < arcs.sources.length; k++) {
    const i = arcs.sources[k];
    const j = arcs.targets[k];
    if (!(i >= 0 && i < sources && j >= 0 && j < targets)) throw new Error(`${label}: arc ${i} -> ${j} out of range`);
    if (excludeDiagonal && i === j) throw new Error(`${label}: diagonal arc ${i} -> ${i}`);
    // Sorted by source then target, strictly: so no arc twice.
    if (k > 0 && (arcs.sources[k - 1] > i || (arcs.sources[k - 1] === i && arcs.targets[k - 1] >= j))) {
      throw new Error(`${label}: arcs not sorted or repeated at ${k}`);
    }
    inDegree[j]++;
    outDegree[i]++;
  }
  for (let j = 0; j < targets; j++) if (inDegree[j] !== fanIn) throw new Error(`${label}: target ${j} has ${inDegree[j]} sources`);
  const low = sources === 0 ? 0 : Math.floor((fanIn * targets) / sources);
  const high = sources === 0 ? 0 : Math.ceil((fanIn * targets) / sources);
  for (let i = 0; i < sources; i++) {
    if (outDegree[i] < low || outDegree[i] > high) throw new Error(`${label}: source ${i} has ${outDegree[i]} arcs, not in [${low}, ${high}]`);
  }
}

describe('balancedBipartite', () => {
  it('gives every target fanIn distinct sources and every source floor or ceil of the mean: all small shapes', () => {
    for (let sources = 0; sources <= 8; sources++) {
      for (let targets = 0; targets <= 8; targets++) {
        for (const excludeDiagonal of [false, true]) {
          const maxFanIn = Math.max(0, excludeDiagonal ? sources - 1 : sources);
          for (let fanIn = 0; fanIn <= maxFanIn; fanIn++) {
            for (let seed = 0; seed < 8; seed++) {
              expectBalanced(balancedBipartite({ sources, targets, fanIn, excludeDiagonal, seed }), sources, targets, fanIn, excludeDiagonal);
            }
          }
        }
      }
    }
  });

  it('builds rectangular layouts, sparse and dense, wide and tall', () => {
    const cases: [number, number, number, boolean][] = [
      [64, 256, 16, true], [256, 64, 40, true], [100, 30, 99, true], [30, 100, 29, true], [512, 512, 8, false],
      [48, 200, 47, false], [200, 48, 150, true], [400, 400, 200, true], [7, 3, 7, false],
    ];
    for (const [sources, targets, fanIn, excludeDiagonal] of cases) {
      const arcs = balancedBipartite({ sources, targets, fanIn, excludeDiagonal, seed: sources * targets + fanIn });
      expectBalanced(arcs, sources, targets, fanIn, excludeDiagonal);
    }
  });

  it('gives the extra arc to a random source, and to the diagonal-free ones when only they can take it', () => {
    // 10 sources, 3 targets, fanIn 3: 9 arcs, so one source in ten gets none, each equally often.
    const rng = resolveRng({ seed: 'left out' });
    const leftOut = new Float64Array(10);
    const draws = 2000;
    for (let d = 0; d < draws; d++) {
      const arcs = balancedBipartite({ sources: 10, targets: 3, fanIn: 3, excludeDiagonal: false, rng });
      const used = new Set(arcs.sources);
      for (let i = 0; i < 10; i++) if (!used.has(i)) leftOut[i]++;
    }
    const sd = Math.sqrt(draws * 0.1 * 0.9);
    for (let i = 0; i < 10; i++) expect(Math.abs(leftOut[i] - draws / 10), `source ${i}`).toBeLessThan(4.5 * sd);
    // 3 sources, 2 targets, fanIn 2 without the diagonal: the only solution is 0->1, 1->0, 2->0, 2->1.
    const only = balancedBipartite({ sources: 3, targets: 2, fanIn: 2, excludeDiagonal: true, seed: 1 });
    expect(Array.from(only.sources)).toEqual([0, 1, 2, 2]);
    expect(Array.from(only.targets)).toEqual([1, 0, 0, 1]);
  });

  it('is even-handed: every allowed arc of a square layout is about equally likely', () => {
    // 6 nodes, fanIn 2, no diagonal: each of the 30 arcs has probability 2/5; 3000 draws.
    const rng = resolveRng({ seed: 'arcs' });
    const hits = new Float64Array(36);
    const draws = 3000;
    for (let d = 0; d < draws; d++) {
      const arcs = balancedBipartite({ sources: 6, targets: 6, fanIn: 2, excludeDiagonal: true, rng });
      for (let k = 0; k < arcs.sources.length; k++) hits[arcs.sources[k] * 6 + arcs.targets[k]]++;
    }
    const sd = Math.sqrt(draws * 0.4 * 0.6);
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 6; j++) {
        if (i === j) expect(hits[i * 6 + j]).toBe(0);
        else expect(Math.abs(hits[i * 6 + j] - draws * 0.4), `arc ${i} -> ${j}`).toBeLessThan(4.5 * sd);
      }
    }
  });

  it('is reproducible', () => {
    const a = balancedBipartite({ sources: 50, targets: 80, fanIn: 6, excludeDiagonal: true, seed: 3 });
    const b = balancedBipartite({ sources: 50, targets: 80, fanIn: 6, excludeDiagonal: true, seed: 3 });
    const c = balancedBipartite({ sources: 50, targets: 80, fanIn: 6, excludeDiagonal: true, seed: 4 });
    expect(b).toEqual(a);
    expect(c.targets).not.toEqual(a.targets);
  });

  it('raises ParameterError naming the bad parameter', () => {
    const ok = { sources: 4, targets: 4, fanIn: 2, excludeDiagonal: true };
    expectParameterError(() => balancedBipartite({ ...ok, sources: -1 }), 'sources');
    expectParameterError(() => balancedBipartite({ ...ok, targets: 1.5 }), 'targets');
    expectParameterError(() => balancedBipartite({ ...ok, fanIn: 4 }), 'fanIn'); // > sources - 1
    expectParameterError(() => balancedBipartite({ ...ok, fanIn: 5, excludeDiagonal: false }), 'fanIn');
    expectParameterError(() => balancedBipartite({ ...ok, fanIn: -1 }), 'fanIn');
    expectParameterError(() => balancedBipartite({ ...ok, excludeDiagonal: 'yes' as never }), 'excludeDiagonal');
    expectParameterError(() => balancedBipartite({ ...ok, seed: 1, rng: Math.random }), 'seed');
  });
});

describe('fixedFanInCSR', () => {
  it('gives every node fanIn in-arcs from distinct other nodes and fanIn out-arcs', () => {
    for (const [order, fanIn] of [[0, 0], [1, 0], [2, 1], [10, 0], [10, 3], [10, 9], [64, 8], [100, 60], [500, 16]]) {
      const graph = fixedFanInCSR({ order, fanIn, seed: order + fanIn });
      expect(graph.directed).toBe(true);
      expect(graph.order).toBe(order);
      assertSimple(graph); // no self-loops, no repeated arcs
      expect(edgeCount(graph)).toBe(order * fanIn);
      const inDegree = new Int32Array(order);
      for (const v of graph.targets) inDegree[v]++;
      for (let u = 0; u < order; u++) {
        expect(degreeOf(graph, u)).toBe(fanIn);
        expect(inDegree[u]).toBe(fanIn);
      }
    }
  });

  it('is reproducible, and its graphology view is the same directed graph', () => {
    const csr = fixedFanInCSR({ order: 40, fanIn: 5, seed: 11 });
    expect(fixedFanInCSR({ order: 40, fanIn: 5, seed: 11 }).targets).toEqual(csr.targets);
    expect(fixedFanInCSR({ order: 40, fanIn: 5, seed: 12 }).targets).not.toEqual(csr.targets);
    for (const GraphClass of [undefined, DirectedGraph, MultiGraph]) {
      const graph = fixedFanIn(GraphClass, { order: 40, fanIn: 5, seed: 11 });
      expect(graph.size).toBe(200);
      graph.forEachNode((node) => expect(graph.inDegree(node)).toBe(5));
      const back = fromGraphology(graph).csr;
      expect(back.directed).toBe(true);
      expect(back.targets).toEqual(csr.targets);
    }
  });

  it('raises ParameterError naming the bad parameter', () => {
    expectParameterError(() => fixedFanInCSR({ order: 10, fanIn: 10 }), 'fanIn');
    expectParameterError(() => fixedFanInCSR({ order: 10, fanIn: -1 }), 'fanIn');
    expectParameterError(() => fixedFanInCSR({ order: -3, fanIn: 0 }), 'order');
    expectParameterError(() => fixedFanIn(UndirectedGraph, { order: 10, fanIn: 2 }), 'GraphClass');
  });
});
