import { describe, expect, it } from 'vitest';
import { assertSimple, type CSRGraph, degreeOf, edgeCount, forEachEdge, hasEdge } from '../../src/graph/csr.js';
import { wattsStrogatz2d, wattsStrogatz2dCSR } from '../../src/graph/watts-strogatz-2d.js';
import { expectParameterError } from '../helpers/expect-error.js';
import { runPythonJSON } from '../helpers/python.js';

/** Torus Manhattan distance between nodes a and b of a width x height grid (node = row*width + col). */
function torusDistance(a: number, b: number, width: number, height: number): number {
  const dx = Math.abs((a % width) - (b % width));
  const dy = Math.abs(Math.floor(a / width) - Math.floor(b / width));
  return Math.min(dx, width - dx) + Math.min(dy, height - dy);
}

function edgeSetOf(graph: CSRGraph): string[] {
  const edges: string[] = [];
  forEachEdge(graph, (u, v) => edges.push(`${u}-${v}`));
  return edges.sort();
}

describe('wattsStrogatz2dCSR', () => {
  it('rewireProb = 0, radius 1: the 4-neighbour torus', () => {
    const [width, height] = [7, 4];
    const graph = wattsStrogatz2dCSR({ width, height, rewireProb: 0, seed: 1 });
    assertSimple(graph);
    expect(graph.order).toBe(28);
    for (let row = 0; row < height; row++) {
      for (let col = 0; col < width; col++) {
        const u = row * width + col;
        expect(degreeOf(graph, u)).toBe(4);
        const expected = [
          ((row + height - 1) % height) * width + col,
          ((row + 1) % height) * width + col,
          row * width + ((col + width - 1) % width),
          row * width + ((col + 1) % width),
        ].sort((a, b) => a - b);
        expect(Array.from(graph.targets.subarray(graph.offsets[u], graph.offsets[u + 1]))).toEqual(expected);
      }
    }
  });

  it('rewireProb = 0, radius 2: degree 12, exactly the nodes within torus distance 2', () => {
    const [width, height] = [6, 5];
    const graph = wattsStrogatz2dCSR({ width, height, radius: 2, rewireProb: 0 });
    for (let u = 0; u < width * height; u++) {
      expect(degreeOf(graph, u)).toBe(12);
      for (let v = 0; v < width * height; v++) {
        expect(hasEdge(graph, u, v)).toBe(u !== v && torusDistance(u, v, width, height) <= 2);
      }
    }
  });

  it("equals igraph's Watts_Strogatz(dim=2, p=0) lattice", () => {
    const cases: [number, number][] = [[5, 2], [4, 1], [9, 3]];
    const expected = runPythonJSON<[number, number][][]>(`
import json, igraph
cases = ${JSON.stringify(cases)}
print(json.dumps([sorted(tuple(sorted(e)) for e in igraph.Graph.Watts_Strogatz(dim=2, size=s, nei=r, p=0).get_edgelist()) for s, r in cases]))
`);
    cases.forEach(([size, radius], i) => {
      const ours = edgeSetOf(wattsStrogatz2dCSR({ width: size, height: size, radius, rewireProb: 0 }));
      expect(ours).toEqual(expected[i].map(([u, v]) => `${u}-${v}`).sort());
    });
  });

  it('keeps the number of edges under rewiring and stays simple', () => {
    for (const rewireProb of [0.1, 0.5, 1]) {
      for (const [width, height, radius] of [[3, 3, 1], [10, 8, 2], [40, 50, 3]]) {
        const graph = wattsStrogatz2dCSR({ width, height, radius, rewireProb, seed: `${rewireProb}` });
        assertSimple(graph);
        expect(edgeCount(graph)).toBe(width * height * radius * (radius + 1));
      }
    }
  });

  it('rewires each lattice edge with probability rewireProb (within 4 sd)', () => {
    const [width, height, rewireProb] = [100, 100, 0.2];
    let longEdges = 0;
    for (let seed = 0; seed < 5; seed++) {
      forEachEdge(wattsStrogatz2dCSR({ width, height, rewireProb, seed }), (u, v) => {
        if (torusDistance(u, v, width, height) > 1) longEdges++;
      });
    }
    const trials = 5 * 2 * width * height;
    // A rewired edge lands back on a lattice pair with chance about 4/n: negligible here.
    expect(Math.abs(longEdges - rewireProb * trials)).toBeLessThan(4 * Math.sqrt(trials * rewireProb * (1 - rewireProb)));
  });

  it('is reproducible', () => {
    const a = wattsStrogatz2dCSR({ width: 30, height: 20, radius: 2, rewireProb: 0.3, seed: 8 });
    const b = wattsStrogatz2dCSR({ width: 30, height: 20, radius: 2, rewireProb: 0.3, seed: 8 });
    const c = wattsStrogatz2dCSR({ width: 30, height: 20, radius: 2, rewireProb: 0.3, seed: 9 });
    expect(b.targets).toEqual(a.targets);
    expect(c.targets).not.toEqual(a.targets);
  });

  it('rejects bad parameters, naming them', () => {
    expectParameterError(() => wattsStrogatz2dCSR({ width: 2, height: 5, rewireProb: 0.1 }), 'width');
    expectParameterError(() => wattsStrogatz2dCSR({ width: 5, height: 2, rewireProb: 0.1 }), 'height');
    expectParameterError(() => wattsStrogatz2dCSR({ width: 5.5, height: 5, rewireProb: 0.1 }), 'width');
    expectParameterError(() => wattsStrogatz2dCSR({ width: 5, height: 4, radius: 2, rewireProb: 0.1 }), 'radius');
    expectParameterError(() => wattsStrogatz2dCSR({ width: 5, height: 5, radius: 0, rewireProb: 0.1 }), 'radius');
    expectParameterError(() => wattsStrogatz2dCSR({ width: 5, height: 5, rewireProb: -0.5 }), 'rewireProb');
    expect(() => wattsStrogatz2dCSR({ width: 5, height: 5, radius: 2, rewireProb: 0.5 })).not.toThrow();
  });

  it('graphology output: nodes "0".."n-1", row-major', () => {
    const graph = wattsStrogatz2d(undefined, { width: 4, height: 3, rewireProb: 0 });
    expect(graph.nodes()).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
    expect(graph.size).toBe(24);
    expect(graph.hasEdge('0', '3')).toBe(true); // (row 0, col 0) - (row 0, col 3) across the seam
    expect(graph.hasEdge('0', '8')).toBe(true); // (row 0, col 0) - (row 2, col 0) across the seam
  });
});
