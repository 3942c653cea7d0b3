import { describe, expect, it } from 'vitest';
import { DEFAULT_METRICS, METRICS, resolveMetrics } from '../../src/analysis/metrics.js';
import { measureLayouts } from '../../src/analysis/compare.js';
import { sweepPattern, sweepValues } from '../../src/analysis/sweep.js';
import { buildPattern } from '../../src/patterns/registry.js';
import { denseLayout } from '../../src/patterns/dense.js';
import { expectParameterError } from '../helpers/expect-error.js';

describe('metric registry', () => {
  it('computes the closed forms of a ring lattice (n = 40, k = 4, with its diagonal)', async () => {
    const n = 40;
    const k = 4;
    const ring = buildPattern('ring-lattice', { blocks: n, params: { k } });
    const [row] = await measureLayouts([{ name: 'ring', layout: ring }], { metrics: resolveMetrics(['all']) });
    const value = (name: string) => row.metrics[name].value;
    expect(value('components')).toBe(1);
    expect(value('degree-sd')).toBe(0);
    expect(value('path-length')).toBeCloseTo((n * (n + k - 2)) / (2 * k * (n - 1)), 12);
    expect(value('diameter')).toBe(n / k); // ceil((n/2) / (k/2))
    expect(value('clustering')).toBeCloseTo((3 * (k - 2)) / (4 * (k - 1)), 12);
    expect(value('transitivity')).toBeCloseTo((3 * (k - 2)) / (4 * (k - 1)), 12);
    expect(value('triangles')).toBe(n); // (k/2 - 1) * n = n triangles for k = 4
    // mixing with the diagonal: after L steps each output depends on inputs within ring distance L*k/2
    expect(value('mixing-depth')).toBe(Math.ceil(n / 2 / (k / 2)));
    expect(value('mixing-depth-with-diagonal')).toBe(Math.ceil(n / 2 / (k / 2)));
    expect(row.metrics['sigma'].value).toBeGreaterThan(1);
    expect(row.summary.nnz).toBe(n * (k + 1));
  });

  it('gives null with the reason instead of failing the whole comparison', async () => {
    const rect = denseLayout({ inBlocks: 3, outBlocks: 5 });
    const split = buildPattern('block-diagonal', { blocks: 8, params: { groups: 2 } });
    const rows = await measureLayouts([{ name: 'rect', layout: rect }, { name: 'split', layout: split }], {
      metrics: resolveMetrics(['path-length', 'diameter', 'mixing-depth', 'components']),
      disconnected: 'reachable',
    });
    expect(rows[0].metrics['path-length'].value).toBeNull();
    expect(rows[0].metrics['path-length'].note).toMatch(/square/);
    expect(rows[1].metrics['components'].value).toBe(2);
    expect(rows[1].metrics['path-length'].value).toBe(1); // within each group of 4, every pair at distance 1
    expect(rows[1].metrics['path-length'].note).toMatch(/unreachable/);
    expect(rows[1].metrics['diameter'].value).toBeNull();
    expect(rows[1].metrics['mixing-depth'].value).toBeNull();
  });

  it('rejects unknown metric names, listing the known ones', () => {
    const error = expectParameterError(() => resolveMetrics(['clustering', 'speed']), 'metrics');
    expect(error.message).toContain('path-length');
    expect(DEFAULT_METRICS.every((name) => METRICS.some((m) => m.name === name))).toBe(true);
  });
});

describe('sweep', () => {
  it('spaces values linearly or geometrically, ends included', () => {
    expect(sweepValues(0, 1, 5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    const log = sweepValues(1e-4, 1, 5, true);
    log.forEach((v, i) => expect(v).toBeCloseTo(10 ** (-4 + i), 12));
    expectParameterError(() => sweepValues(0, 1, 3, true), 'from');
  });

  it('reproduces the start of Watts & Strogatz Fig. 2: L drops long before C', async () => {
    const result = await sweepPattern({
      pattern: 'watts-strogatz', param: 'p', values: [0, 0.01, 1], seeds: 3, base: { blocks: 200, seed: 1, params: { k: 6 } },
    });
    expect(result.points.map((p) => p.value)).toEqual([0, 0.01, 1]);
    const [lattice, small, random] = result.points;
    // p = 0 is the ring lattice for every seed: exact closed forms, no spread
    expect(lattice.averagePathLength.mean).toBeCloseTo((200 * (200 + 6 - 2)) / (2 * 6 * 199), 10);
    expect(lattice.averageClustering.mean).toBeCloseTo((3 * 4) / (4 * 5), 12);
    expect(lattice.averagePathLength.sd).toBe(0);
    expect(lattice.normalized).toEqual({ averagePathLength: 1, averageClustering: 1 });
    expect(small.normalized.averagePathLength).toBeLessThan(0.7);
    expect(small.normalized.averageClustering).toBeGreaterThan(0.9);
    expect(random.normalized.averageClustering).toBeLessThan(0.2);
    expect(result.seeds).toEqual([1, 2, 3]);
  });

  it('names the parameter it cannot vary', async () => {
    await expect(sweepPattern({ pattern: 'ws', param: 'm', values: [1], seeds: 1, base: { blocks: 20 } })).rejects.toMatchObject({ parameter: 'param' });
  });
});
