import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// The README's API tour (README.md, "A tour of the API"; also in docs/patterns.md, "API"), through the package's public entry point.
import {
  buildPattern, wattsStrogatzCSR, layoutFromGraph, randomLayout, union, summarize, saveLayout, loadLayout,
  saveLayoutPicture, BlocksparseError, ParameterError,
} from '../src/index.js';

describe('README API example', () => {
  it('builds, combines, summarises, saves and loads layouts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'blocksparse-readme-'));
    const ws = buildPattern('watts-strogatz', { blocks: 256, blockSize: 32, seed: 1, params: { k: 8, p: 0.1 } });
    const graph = wattsStrogatzCSR({ order: 256, k: 8, rewireProb: 0.1, seed: 1 });
    const same = layoutFromGraph(graph, { blockSize: 32 });
    expect(same.equals(ws)).toBe(true);

    const mixed = union(ws, randomLayout({ inBlocks: 256, nnz: 512, seed: 2 }));
    const summary = summarize(mixed);
    expect(summary.nnz).toBeGreaterThan(ws.nnz);
    expect(summary.nnz).toBeLessThanOrEqual(ws.nnz + 512);
    expect(summary.provenance.generator).toBe('union');

    saveLayout(join(dir, 'mixed.json'), mixed);
    saveLayoutPicture(join(dir, 'mixed.png'), mixed);
    const back = loadLayout(join(dir, 'mixed.json'));
    expect(back.equals(mixed)).toBe(true);
    expect(back.provenance).toEqual(mixed.provenance);
  });

  it('raises typed errors that name the parameter', () => {
    try {
      wattsStrogatzCSR({ order: 100, k: 7, rewireProb: 0.1, seed: 1 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(BlocksparseError);
      expect(error).toBeInstanceOf(ParameterError);
      expect((error as ParameterError).parameter).toBe('k');
    }
  });
});
