/**
 * Hostile and careless input to the analysis (issue 9): metrics whose memory grows with the
 * layout's size are refused up front with a ResourceError naming the layout and the metric, option
 * errors are raised (exit 2) and never shown as a metric's note, --workers is capped, and long
 * computations announce a time measured on their first slice of work.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { measureLayouts } from '../../src/analysis/compare.js';
import { extrapolateSeconds, measuredEstimate, type TimeEstimate } from '../../src/estimate.js';
import { resolveMetrics } from '../../src/analysis/metrics.js';
import { mixingBytes, mixingDepth } from '../../src/analysis/mixing.js';
import { averageShortestPathLength } from '../../src/analysis/paths.js';
import { sweepPattern } from '../../src/analysis/sweep.js';
import { runSweep } from '../../src/analysis/worker-pool.js';
import { setMemoryBudget, withMemoryBudget } from '../../src/budget.js';
import { ParameterError, ResourceError } from '../../src/errors.js';
import { saveLayout } from '../../src/patterns/files.js';
import { BlockLayout } from '../../src/patterns/layout.js';
import { formatEstimate } from '../../src/progress.js';
import { runMain } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'blocksparse-hostile-analysis-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  setMemoryBudget(undefined);
  delete process.env.BLOCKSPARSE_ANNOUNCE_SECONDS;
});

/** A square layout with no blocks at all. */
function emptyLayout(n: number): BlockLayout {
  return BlockLayout.fromCSR({ inBlocks: n, outBlocks: n, rowPtr: new Int32Array(n + 1), colIdx: new Int32Array(0) });
}

/** A symmetric ring with its diagonal: block (c, c - 1), (c, c), (c, c + 1). */
function ringLayout(n: number): BlockLayout {
  const rows: number[] = [];
  const cols: number[] = [];
  for (let c = 0; c < n; c++) {
    for (const k of new Set([(c + n - 1) % n, c, (c + 1) % n])) {
      rows.push(c);
      cols.push(k);
    }
  }
  return BlockLayout.fromPairs({ inBlocks: n, outBlocks: n }, rows, cols);
}

function expectOneLineError(result: { code: number; stderr: string }, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(2);
  const lines = result.stderr.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^blocksparse: error: /);
  expect(lines[0]).toMatch(pattern);
}

describe('hostile input to the analysis', () => {
  it('refuses mixing depth of a 10^6 x 10^6 layout with no blocks, naming the layout and the metric', () => {
    const layout = emptyLayout(1_000_000);
    let error: unknown;
    try {
      mixingDepth(layout);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ResourceError);
    expect((error as Error).message).toMatch(/^mixing depth on a 1000000 x 1000000-block layout needs about \d+ GiB of memory, over the budget of/);
    expect((error as ResourceError).bytes).toBe(mixingBytes(1_000_000, 1_000_000));
  });

  it('inspect --metrics mixing-depth of an empty 10^6 x 10^6 layout exits 2 with one line; the default set notes "not computed"', async () => {
    const file = join(dir, 'empty-1e6.json');
    saveLayout(file, emptyLayout(1_000_000));
    expectOneLineError(await runMain(['inspect', file, '--metrics', 'mixing-depth']), /mixing depth on a 1000000 x 1000000-block layout needs about/);
    // A smaller empty layout under a small budget: the default metrics go on, mixing depth is marked.
    const small = join(dir, 'empty-20000.json');
    saveLayout(small, emptyLayout(20_000));
    const result = await runMain(['inspect', small, '--json', '--max-memory', '64M']);
    expect(result.code, result.stderr).toBe(0);
    const metrics = JSON.parse(result.stdout).metrics;
    expect(metrics['mixing-depth'].value).toBeNull();
    expect(metrics['mixing-depth'].note).toMatch(/^not computed: mixing depth on a 20000 x 20000-block layout needs about .* over the budget of 64 MiB/);
    expect(metrics['path-length'].value).toBeNull(); // no pair is connected: nothing to average
    expect(metrics.components.value).toBe(20_000);
  });

  it('refuses mixing depth before allocating its n x n/32 words (the 14.5 GB case), within a small budget', () => {
    const layout = ringLayout(20_000);
    expect(() => withMemoryBudget(64 * 2 ** 20, () => mixingDepth(layout))).toThrow(/^mixing depth on a 20000 x 20000-block layout needs about [\d.]+ MiB of memory, over the budget of 64 MiB/);
    // 5 arrays of n * ceil(n / 32) words: the estimate grows as n^2.
    expect(mixingBytes(200_000, 600_000)).toBeGreaterThan(24e9);
    expect(mixingDepth(ringLayout(64)).depth).toBe(32);
  });

  it('inspect --workers 0 and --samples -3 exit 2 with the ParameterError, never as a metric note', async () => {
    const file = join(dir, 'ring.json');
    saveLayout(file, ringLayout(64));
    expectOneLineError(await runMain(['inspect', file, '--workers', '0']), /workers must be an integer in \[1, \d+\].*\(got 0\)/);
    expectOneLineError(await runMain(['inspect', file, '--samples', '-3', '--metrics', 'path-length-sampled']), /samples must be an integer in \[2, \d+\] \(got -3\)/);
    expectOneLineError(await runMain(['compare', file, '--samples', '1']), /samples must be an integer in \[2, \d+\] \(got 1\)/);
  });

  it('measureLayouts raises option errors and resource errors, and notes only what a metric legitimately cannot give', async () => {
    const ring = ringLayout(64);
    const metrics = resolveMetrics(['path-length-sampled']);
    await expect(measureLayouts([{ name: 'ring', layout: ring }], { metrics, samples: -3 })).rejects.toThrow(ParameterError);
    await expect(measureLayouts([{ name: 'ring', layout: ring }], { metrics, workers: 0 })).rejects.toThrow(/workers must be an integer in \[1, 256\]/);
    const mixing = resolveMetrics(['mixing-depth']);
    const big = ringLayout(20_000);
    setMemoryBudget(64 * 2 ** 20);
    await expect(measureLayouts([{ name: 'big', layout: big }], { metrics: mixing })).rejects.toThrow(ResourceError);
    const [row] = await measureLayouts([{ name: 'big', layout: big }], { metrics: mixing, resourceErrors: 'note' });
    expect(row.metrics['mixing-depth']).toEqual({ value: null, note: expect.stringMatching(/^not computed: mixing depth on a 20000 x 20000-block layout needs about/) });
  });

  it('caps --workers at the cores unless --oversubscribe, and the API at 256 with memory checked per worker', async () => {
    const file = join(dir, 'ring-workers.json');
    saveLayout(file, ringLayout(64));
    const cores = availableParallelism();
    expectOneLineError(await runMain(['inspect', file, '--workers', '1000']), new RegExp(`workers must be an integer in \\[1, ${cores}\\].*--oversubscribe.*\\(got 1000\\)`));
    const over = await runMain(['inspect', file, '--workers', String(cores + 1), '--oversubscribe', '--metrics', 'path-length', '--json']);
    expect(over.code, over.stderr).toBe(0);
    expect(JSON.parse(over.stdout).metrics['path-length'].value).toBeGreaterThan(1);

    const ring = ringLayout(64);
    await expect(averageShortestPathLength(ring, { workers: 257 })).rejects.toThrow(/workers must be an integer in \[1, 256\] \(got 257\)/);
    // 127 workers on a 4,096-node ring: each costs its own heap, about 1 GiB in all.
    const graph = { order: 4096, directed: false, offsets: new Int32Array(4097), targets: new Int32Array(8192) };
    for (let v = 0; v < 4096; v++) {
      graph.offsets[v + 1] = 2 * (v + 1);
      const pair = [(v + 4095) % 4096, (v + 1) % 4096].sort((a, b) => a - b);
      graph.targets.set(pair, 2 * v);
    }
    const sources = Int32Array.from({ length: 4096 }, (_, v) => v);
    setMemoryBudget(64 * 2 ** 20);
    await expect(runSweep({ graph, sources, metric: 'average shortest path length' }, 256)).rejects.toThrow(
      /^average shortest path length on a graph of 4096 nodes and 8192 arcs needs about [\d.]+ (MiB|GiB) of memory, over the budget of 64 MiB/,
    );
  });

  it('estimates time from a measured first slice: the arithmetic', () => {
    // 256 of 1,024 sources took 2 s on one thread; the other 768 shared by 2 threads take 3 s more.
    expect(extrapolateSeconds(2, 256, 1024, 2)).toBe(5);
    expect(extrapolateSeconds(2, 256, 1024)).toBe(8);
    expect(extrapolateSeconds(3, 10, 10, 4)).toBe(3);
    const estimate = measuredEstimate(0.5, 1, 64, 'steps', 1, true);
    expect(estimate).toEqual({ seconds: 32, done: 1, total: 64, unit: 'steps', bound: true });
    expect(formatEstimate('mixing-depth on x.json (4096 blocks)', estimate)).toBe('mixing-depth on x.json (4096 blocks): up to about 32 s (estimated from the first 1 of at most 64 steps)');
    expect(formatEstimate('path-length', measuredEstimate(1.5, 256, 200_000, 'sources', 2))).toBe('path-length: about 9.8 min (estimated from the first 256 of 200000 sources)');
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 1, max: 256 }), (elapsed, done, more, threads) => {
        const seconds = extrapolateSeconds(elapsed, done, done + more, threads);
        // Relative slack for rounding, and subnormal units: for a subnormal elapsed, elapsed / done is
        // off by up to one subnormal unit (5e-324), which the extrapolation multiplies by more / threads.
        return seconds >= elapsed && seconds <= elapsed * (1 + more / done) * (1 + 1e-12) + (more / threads + 4) * Number.MIN_VALUE && Number.isFinite(seconds);
      }),
    );
  });

  it('the analysis reports measured estimates: BFS sources, mixing steps, sweep layouts', async () => {
    const ring = ringLayout(300);
    const seen: TimeEstimate[] = [];
    await averageShortestPathLength(ring, { workers: 1, onEstimate: (e) => seen.push(e) });
    expect(seen).toEqual([expect.objectContaining({ done: 256, total: 300, unit: 'sources' })]);
    seen.length = 0;
    // A ring of 100 with its diagonal mixes by step 50; the bound is min(maxSteps, 50 + 50).
    const result = mixingDepth(ringLayout(100), { onEstimate: (e) => seen.push(e) });
    expect(result.depth).toBe(50);
    expect(seen).toEqual([expect.objectContaining({ done: 1, total: 64, unit: 'steps', bound: true })]);
    seen.length = 0;
    await sweepPattern({ pattern: 'watts-strogatz', param: 'p', values: [0, 0.1], seeds: 2, base: { blocks: 64, params: { k: 4 } }, onEstimate: (e) => seen.push(e) });
    expect(seen).toEqual([expect.objectContaining({ done: 1, total: 4, unit: 'layouts' })]);
  });

  it('inspect announces long metrics on stderr before they run (threshold forced to 0)', async () => {
    const file = join(dir, 'ring-announce.json');
    saveLayout(file, ringLayout(300));
    process.env.BLOCKSPARSE_ANNOUNCE_SECONDS = '0';
    const result = await runMain(['inspect', file, '--metrics', 'path-length,mixing-depth', '--workers', '1']);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines).toEqual([
      expect.stringMatching(/^path-length on .*ring-announce\.json \(300 blocks\): about \d+(\.\d)? s \(estimated from the first 256 of 300 sources\)$/),
      expect.stringMatching(/^mixing-depth on .*ring-announce\.json \(300 blocks\): up to about \d+(\.\d)? s \(estimated from the first 1 of at most 64 steps\)$/),
    ]);
  });

  it('fuzz: metric options are accepted or refused with a ParameterError naming them, never anything else', async () => {
    const ring = ringLayout(16);
    const metrics = resolveMetrics(['path-length-sampled']);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ min: -5, max: 300 }), fc.double(), fc.constant(undefined)),
        fc.oneof(fc.integer({ min: -5, max: 40 }), fc.double(), fc.constant(undefined)),
        async (workers, samples) => {
          try {
            const [row] = await measureLayouts([{ name: 'ring', layout: ring }], { metrics, workers, samples });
            expect(row.metrics['path-length-sampled'].value).toBeGreaterThan(0);
          } catch (error) {
            expect(error).toBeInstanceOf(ParameterError);
            expect(['workers', 'samples']).toContain((error as ParameterError).parameter);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('explicit metrics are checked together before any runs', () => {
  it('refuses path-length,mixing-depth on a layout too large for mixing before path length starts', async () => {
    const layout = ringLayout(20000);
    const started: string[] = [];
    const run = withMemoryBudget(64 * 2 ** 20, () =>
      measureLayouts([{ name: 'ring', layout }], {
        metrics: resolveMetrics(['path-length', 'mixing-depth']),
        onMetric: (_name, metric) => {
          started.push(metric.name);
          return undefined;
        },
      }),
    );
    await expect(run).rejects.toThrow(/^mixing depth on a 20000 x 20000-block layout needs about .* over the budget of 64 MiB/);
    expect(started).toEqual([]);
  });
});
