import { describe, expect, it } from 'vitest';
import { GenerationError } from '../../src/errors.js';
import { connectedWattsStrogatz, connectedWattsStrogatzCSR } from '../../src/graph/connected-watts-strogatz.js';
import { assertSimple, type CSRGraph, edgeCount } from '../../src/graph/csr.js';
import { wattsStrogatzCSR } from '../../src/graph/watts-strogatz.js';
import { resolveRng } from '../../src/random.js';
import { expectParameterError } from '../helpers/expect-error.js';

/** Number of connected components, by union-find (independent of the generator's BFS). */
function components(graph: CSRGraph): number {
  const parent = Int32Array.from({ length: graph.order }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) x = parent[x] = parent[parent[x]];
    return x;
  };
  let count = graph.order;
  for (let u = 0; u < graph.order; u++) {
    for (let i = graph.offsets[u]; i < graph.offsets[u + 1]; i++) {
      const a = find(u);
      const b = find(graph.targets[i]);
      if (a !== b) {
        parent[a] = b;
        count--;
      }
    }
  }
  return count;
}

describe('connectedWattsStrogatzCSR', () => {
  it('returns a connected Watts-Strogatz graph', () => {
    for (const seed of [1, 2, 3]) {
      const graph = connectedWattsStrogatzCSR({ order: 500, k: 4, rewireProb: 0.5, seed });
      assertSimple(graph);
      expect(edgeCount(graph)).toBe(1000);
      expect(components(graph)).toBe(1);
    }
  });

  it('returns the first connected graph of the stream, as networkx does', () => {
    // k = 2 with some rewiring is often disconnected: the retry path is exercised.
    const options = { order: 40, k: 2, rewireProb: 0.1 };
    const rng = resolveRng({ seed: 2 });
    let expected: CSRGraph;
    let draws = 0;
    do {
      expected = wattsStrogatzCSR({ ...options, rng });
      draws++;
    } while (components(expected) > 1);
    expect(draws).toBe(3);
    const graph = connectedWattsStrogatzCSR({ ...options, seed: 2 });
    expect(graph.targets).toEqual(expected.targets);
  });

  it('raises GenerationError when no try gives a connected graph', () => {
    // k = 2, p = 1: a random graph with mean degree 2, which has isolated nodes.
    expect(() => connectedWattsStrogatzCSR({ order: 2000, k: 2, rewireProb: 1, tries: 3, seed: 1 })).toThrow(GenerationError);
    expect(() => connectedWattsStrogatzCSR({ order: 2000, k: 2, rewireProb: 1, tries: 1, seed: 1 })).toThrow(/no connected graph in 1 try/);
  });

  it('rejects bad parameters, naming them', () => {
    expectParameterError(() => connectedWattsStrogatzCSR({ order: 20, k: 4, rewireProb: 0.1, tries: 0 }), 'tries');
    expectParameterError(() => connectedWattsStrogatzCSR({ order: 20, k: 4, rewireProb: 0.1, tries: 2.5 }), 'tries');
    expectParameterError(() => connectedWattsStrogatzCSR({ order: 20, k: 5, rewireProb: 0.1 }), 'k');
    expectParameterError(() => connectedWattsStrogatzCSR({ order: 20, k: 4, rewireProb: -1 }), 'rewireProb');
  });

  it('graphology output has nodes "0".."n-1" and the CSR size', () => {
    const graph = connectedWattsStrogatz(undefined, { order: 60, k: 4, rewireProb: 0.2, seed: 4 });
    expect(graph.nodes()).toEqual(Array.from({ length: 60 }, (_, i) => String(i)));
    expect(graph.size).toBe(120);
  });
});
