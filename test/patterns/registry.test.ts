import { describe, expect, it } from 'vitest';
import { PATTERNS, buildPattern, findPattern } from '../../src/patterns/registry.js';
import { layoutToJSONString } from '../../src/patterns/json-format.js';
import { expectParameterError } from '../helpers/expect-error.js';
import { summarize } from '../../src/patterns/summary.js';

// Parameters that have no default, per pattern, for the "builds with defaults" sweep.
const REQUIRED: Record<string, Record<string, number>> = { gnm: { edges: 30 } };

describe('pattern registry', () => {
  it.each(PATTERNS.map((d) => d.name))('%s builds a 16 x 16 layout with its defaults, reproducibly', (name) => {
    const build = (seed: number) => buildPattern(name, { blocks: 16, seed, params: REQUIRED[name] ?? {} });
    const a = build(1);
    expect(a.inBlocks).toBe(16);
    expect(a.outBlocks).toBe(16);
    expect(a.provenance.generator).not.toBe('custom');
    expect(layoutToJSONString(build(1))).toBe(layoutToJSONString(a));
    if (findPattern(name).random) expect(build(2).equals(a)).toBe(false);
    // diagonal: true is the default, and every pattern honours it
    expect(summarize(a).diagonalBlocks).toBe(16);
    expect(summarize(buildPattern(name, { blocks: 16, seed: 1, diagonal: false, params: REQUIRED[name] ?? {} })).diagonalBlocks).toBe(0);
  });

  it('cuts rectangular layouts from the square graph and says so', () => {
    const square = buildPattern('watts-strogatz', { blocks: 30, seed: 5 });
    const cut = buildPattern('watts-strogatz', { inBlocks: 20, outBlocks: 30, seed: 5 });
    expect([cut.inBlocks, cut.outBlocks]).toEqual([20, 30]);
    expect(cut.provenance.params.cutFrom).toBe(30);
    for (let c = 0; c < 20; c++) for (let k = 0; k < 30; k++) expect(cut.has(c, k)).toBe(square.has(c, k));
  });

  it('builds rectangular layouts natively where the pattern defines them', () => {
    const layout = buildPattern('balanced-random', { inBlocks: 12, outBlocks: 40, seed: 3, params: { 'fan-in': 5 } });
    expect(Array.from(layout.inDegrees()).every((d) => d === 5)).toBe(true);
    expect(layout.provenance.params.cutFrom).toBeUndefined();
  });

  it('matches the closed-form block count of Watts-Strogatz: n*k edges both ways plus n diagonal blocks', () => {
    for (const p of [0, 0.3, 1]) expect(buildPattern('ws', { blocks: 50, seed: 2, params: { k: 6, p } }).nnz).toBe(50 * 6 + 50);
  });

  it('accepts OpenAI preset names', () => {
    const layout = buildPattern('ws_3_20', { blocks: 40, seed: 1 });
    expect(layout.nnz).toBe(40 * 6 + 40);
    expect(layout.provenance.generator).toBe('preset');
    const br = buildPattern('br_2', { blocks: 30, seed: 1 });
    expect(Array.from(br.inDegrees()).every((d) => d === 5)).toBe(true);
  });

  it('names the user-facing parameter in errors', () => {
    expectParameterError(() => buildPattern('watts-strogatz', { blocks: 20, params: { p: 1.5 } }), 'p');
    expectParameterError(() => buildPattern('watts-strogatz', { blocks: 20, params: { k: 5 } }), 'k');
    expectParameterError(() => buildPattern('watts-strogatz', { blocks: 20, params: { m: 2 } }), 'm');
    expectParameterError(() => buildPattern('no-such-pattern', { blocks: 20 }), 'pattern');
    expectParameterError(() => buildPattern('sliding-window', { inBlocks: 4, outBlocks: 5 }), 'outBlocks');
    expectParameterError(() => buildPattern('gnm', { blocks: 10 }), 'edges');
    expectParameterError(() => buildPattern('ws', { blocks: 0 }), 'blocks');
    expectParameterError(() => buildPattern('ws_2_10', { blocks: 10, params: { k: 2 } }), 'k');
  });
});
