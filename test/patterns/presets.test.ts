import { describe, expect, it } from 'vitest';
import { ParameterError } from '../../src/errors.js';
import { barabasiAlbertCSR } from '../../src/graph/barabasi-albert.js';
import { hasEdge } from '../../src/graph/csr.js';
import { ringLatticeCSR } from '../../src/graph/ring-lattice.js';
import { layoutFromGraph } from '../../src/patterns/from-graph.js';
import { diagonalBlockCount } from '../../src/patterns/diagonal.js';
import { isPresetName, presetLayout } from '../../src/patterns/presets.js';
import { isSymmetric } from '../../src/patterns/summary.js';
import { runPythonJSON } from '../helpers/python.js';
import { maskRows } from './mask-helpers.js';

describe('isPresetName', () => {
  it('recognises the five forms', () => {
    for (const name of ['dense', 'ws_2_10', 'ws_4_0', 'ws_1_12.5', 'ba_3', 'bae_2_10', 'br_4']) expect(isPresetName(name)).toBe(true);
    for (const name of ['Dense', 'ws_2', 'ws_a_1', 'ba_', 'ba_2_1', 'bae_2', 'br_-1', 'rande_2_3', 'old_ba_2', 'random', '']) {
      expect(isPresetName(name)).toBe(false);
    }
  });
});

describe('presetLayout', () => {
  it('dense: every block', () => {
    const layout = presetLayout('dense', { blocks: 5, blockSize: 8 });
    expect(layout.nnz).toBe(25);
    expect(layout.blockSize).toBe(8);
    expect(layout.provenance).toEqual({ generator: 'preset', params: { name: 'dense', blocks: 5, blockSize: 8, family: 'dense' }, seed: null });
  });

  it('ws_<m>_0 is the ring lattice with k = 2m plus identity (as networkx builds it)', () => {
    const cases = [[16, 1], [20, 3], [9, 4]];
    const references = runPythonJSON<number[][][]>(
      `import json, networkx as nx, numpy as np
masks = []
for n, m in ${JSON.stringify(cases)}:
    g = nx.watts_strogatz_graph(n, 2 * m, 0)
    masks.append((nx.to_numpy_array(g, nodelist=range(n), dtype=int) + np.eye(n, dtype=int)).tolist())
print(json.dumps(masks))`,
    );
    cases.forEach(([n, m], i) => {
      const layout = presetLayout(`ws_${m}_0`, { blocks: n, seed: 1 });
      expect(layout.nnz).toBe(n * (2 * m + 1));
      expect(layout.equals(layoutFromGraph(ringLatticeCSR({ order: n, k: 2 * m })))).toBe(true);
      expect(maskRows(layout)).toEqual(references[i]);
    });
  });

  it('ws_<m>_<pct> rewires but keeps n(2m + 1) symmetric blocks', () => {
    const layout = presetLayout('ws_3_20', { blocks: 50, seed: 4 });
    expect(layout.nnz).toBe(50 * 7);
    expect(isSymmetric(layout)).toBe(true);
    expect(diagonalBlockCount(layout)).toBe(50);
    expect(layout.equals(presetLayout('ws_3_0', { blocks: 50, seed: 4 }))).toBe(false);
    expect(layout.provenance).toEqual({
      generator: 'preset',
      params: { name: 'ws_3_20', blocks: 50, blockSize: 32, family: 'ws', m: 3, k: 6, pct: 20, rewireProb: 0.2 },
      seed: 4,
    });
    expect(presetLayout('ws_3_20', { blocks: 50, seed: 4 }).equals(layout)).toBe(true);
  });

  it('ba_<m>: Barabási-Albert plus identity plus a clique on the first m blocks', () => {
    for (const [n, m, seed] of [[40, 1, 1], [40, 3, 2], [64, 5, 3], [12, 11, 4]]) {
      const layout = presetLayout(`ba_${m}`, { blocks: n, seed });
      // Blocks the clique adds: pairs among 0..m-1 that the graph lacks. The BA graph starts from
      // a star on m + 1 nodes, whose centre 0 is already joined to 1..m-1, and later nodes only
      // join older ones, so exactly (m - 1)(m - 2)/2 pairs are missing.
      expect(layout.nnz).toBe(2 * m * (n - m) + n + (m - 1) * (m - 2));
      expect(isSymmetric(layout)).toBe(true);
      for (let u = 0; u < m; u++) for (let v = 0; v < m; v++) expect(layout.has(u, v)).toBe(true);
      // The same seed drives the same graph: every graph edge is a block.
      const graph = barabasiAlbertCSR({ order: n, m, seed });
      let missing = 0;
      for (let u = 0; u < n; u++) for (let v = 0; v < n; v++) if (hasEdge(graph, u, v) && !layout.has(u, v)) missing++;
      expect(missing).toBe(0);
    }
  });

  it('bae_<m>_<e> adds exactly e symmetric off-diagonal pairs to ba_<m>', () => {
    for (const [n, m, e, seed] of [[30, 2, 1, 1], [30, 2, 7, 2], [50, 3, 40, 3], [8, 2, 10, 4]]) {
      const ba = presetLayout(`ba_${m}`, { blocks: n, seed });
      const bae = presetLayout(`bae_${m}_${e}`, { blocks: n, seed });
      expect(bae.nnz).toBe(ba.nnz + 2 * e);
      expect(isSymmetric(bae)).toBe(true);
      const added: [number, number][] = [];
      for (let u = 0; u < n; u++) {
        for (let v = 0; v < n; v++) {
          if (ba.has(u, v)) expect(bae.has(u, v)).toBe(true);
          else if (bae.has(u, v) && u < v) added.push([u, v]);
        }
      }
      expect(added.length).toBe(e);
      expect(bae.provenance.params).toMatchObject({ family: 'bae', m, extra: e });
    }
  });

  it('bae_<m>_1 joins a lowest-degree block', () => {
    for (let seed = 0; seed < 10; seed++) {
      const ba = presetLayout('ba_2', { blocks: 30, seed });
      const bae = presetLayout('bae_2_1', { blocks: 30, seed });
      const degrees = ba.inDegrees();
      const lowest = Math.min(...degrees);
      const ends: number[] = [];
      for (let u = 0; u < 30; u++) for (let v = u + 1; v < 30; v++) if (bae.has(u, v) && !ba.has(u, v)) ends.push(u, v);
      expect(ends.length).toBe(2);
      expect(Math.min(degrees[ends[0]], degrees[ends[1]])).toBe(lowest);
    }
  });

  it('br_<m>: every output has 2m inputs plus its own block, every input 2m + 1 outputs', () => {
    for (const [n, m] of [[20, 1], [33, 4], [9, 4]]) {
      const layout = presetLayout(`br_${m}`, { blocks: n, seed: n });
      for (const d of layout.inDegrees()) expect(d).toBe(2 * m + 1);
      for (const d of layout.outDegrees()) expect(d).toBe(2 * m + 1);
      expect(diagonalBlockCount(layout)).toBe(n);
      expect(layout.provenance).toMatchObject({ generator: 'preset', params: { name: `br_${m}`, family: 'br', m, fanIn: 2 * m + 1 }, seed: n });
    }
  });

  it('raises for malformed names and numbers out of range, naming `pattern`', () => {
    const cases: [string, number][] = [
      ['foo', 10], ['ws_2', 10], ['ba_x', 10], ['ws_3_10', 6], ['ws_1_150', 10], ['ws_0_10', 10], ['ba_0', 10], ['ba_10', 10],
      ['br_0', 10], ['br_5', 10], ['bae_2_100', 8],
    ];
    for (const [name, blocks] of cases) {
      let error: unknown;
      try {
        presetLayout(name, { blocks, seed: 0 });
      } catch (e) {
        error = e;
      }
      expect(error, name).toBeInstanceOf(ParameterError);
      expect((error as ParameterError).parameter, name).toBe('pattern');
      expect((error as ParameterError).message).toContain('ws_<m>_<pct>');
    }
    expect(() => presetLayout('dense', { blocks: 0 })).toThrow(/blocks/);
  });
});
