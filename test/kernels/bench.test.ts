import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchGrid, type BenchCliOptions } from '../../src/cli/bench.js';
import { benchCases, benchLayout, checkBenchGrid, GPU_BENCH_GRID, runKernelBench, timeCalls, type KernelBenchGrid } from '../../src/kernels/bench.js';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import { runMain } from '../helpers/cli.js';
import { expectParameterError } from '../helpers/expect-error.js';

const grid: KernelBenchGrid = { products: ['forward', 'weight-gradient'], blockSizes: [8, 16], densities: [1, 0.25], batches: [5], features: 64 };

describe('kernel benchmark', () => {
  let backend: CpuBackend;
  beforeAll(async () => {
    backend = await createCpuBackend({ threads: 1 });
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it('lists every combination of the grid, grouped by product and batch', () => {
    const cases = benchCases(grid);
    expect(cases).toHaveLength(2 * 2 * 2);
    expect(cases.map((c) => `${c.product}/${c.blockSize}/${c.density}`)).toEqual([
      'forward/8/1', 'forward/8/0.25', 'forward/16/1', 'forward/16/0.25',
      'weight-gradient/8/1', 'weight-gradient/8/0.25', 'weight-gradient/16/1', 'weight-gradient/16/0.25',
    ]);
  });

  it('runs on dense layouts at density 1 and on exact-count random layouts below, the same for the same seed', () => {
    const [dense, quarter] = benchCases(grid);
    expect(benchLayout(dense).nnz).toBe(64);
    const a = benchLayout(quarter, 3);
    expect(a.nnz).toBe(16); // round(0.25 * 8 * 8)
    expect(a.equals(benchLayout(quarter, 3))).toBe(true);
    expect(a.equals(benchLayout(quarter, 4))).toBe(false);
  });

  it('rejects bad grids, naming the parameter', () => {
    expectParameterError(() => checkBenchGrid({ ...grid, densities: [0] }), 'densities');
    expectParameterError(() => checkBenchGrid({ ...grid, densities: [1.5] }), 'densities');
    expectParameterError(() => checkBenchGrid({ ...grid, features: 100 }), 'features');
    expectParameterError(() => checkBenchGrid({ ...grid, blockSizes: [12 as 8] }), 'blockSizes');
    expectParameterError(() => checkBenchGrid({ ...grid, batches: [] }), 'batches');
  });

  it('reports flops of present blocks only, and ratios consistent with the times', async () => {
    const rows = await runKernelBench(backend, benchCases(grid), { minSeconds: 0.002, samples: 1 });
    expect(rows).toHaveLength(8);
    for (const r of rows) {
      expect(r.nnz).toBe(r.density === 1 ? (64 / r.blockSize) ** 2 : Math.round(0.25 * (64 / r.blockSize) ** 2));
      expect(r.flops).toBe(2 * 5 * r.nnz * r.blockSize ** 2);
      expect(r.seconds).toBeGreaterThan(0);
      expect(r.gflops).toBeCloseTo(r.flops / r.seconds / 1e9, 9);
      expect(r.vsDense).toBeCloseTo(r.seconds / r.denseSeconds, 12);
      expect(r.denseGflops).toBeCloseTo((2 * 5 * 64 * 64) / r.denseSeconds / 1e9, 9);
      // The CPU backend has no GPU clock.
      expect([r.gpuSeconds, r.denseGpuSeconds, r.gpuVsDense]).toEqual([null, null, null]);
    }
    // One dense baseline per product and batch.
    expect(new Set(rows.filter((r) => r.product === 'forward').map((r) => r.denseSeconds)).size).toBe(1);
  });

  it('reports the fastest measurement with statistic min, and names a bad statistic', async () => {
    const cases = benchCases({ ...grid, products: ['forward'], blockSizes: [8], densities: [0.25] });
    const [row] = await runKernelBench(backend, cases, { minSeconds: 0.002, samples: 3, statistic: 'min' });
    expect(row.seconds).toBeGreaterThan(0);
    await expect(runKernelBench(backend, cases, { statistic: 'mean' as 'min' })).rejects.toThrow(/statistic must be one of "median", "min"/);
  });

  it('times calls by the median of its measurements, after a warm-up call', async () => {
    let calls = 0;
    const t = backend.tensor(new Float32Array(4), [2, 2]);
    const seconds = await timeCalls(backend, async () => {
      calls++;
      return backend.matmul(t, t);
    }, 0.003, 3);
    expect(seconds).toBeGreaterThan(0);
    expect(calls).toBeGreaterThanOrEqual(4);
    t.dispose();
  });
});

describe('blocksparse bench', () => {
  it('prints one JSON row per case', async () => {
    const result = await runMain(['bench', '--backend', 'cpu', '--threads', '1', '--products', 'backward-data', '--block-sizes', '8', '--densities', '1,0.5',
      '--batches', '3', '--features', '32', '--min-time', '0.001', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out.backend).toBe('cpu');
    expect(out.rows.map((r: { density: number; nnz: number }) => [r.density, r.nnz])).toEqual([[1, 16], [0.5, 8]]);
  });

  it('prints a table on the chosen backend', async () => {
    const result = await runMain(['bench', '--backend', 'cpu', '--threads', '1', '--block-sizes', '8', '--densities', '0.5', '--batches', '2', '--features', '16', '--min-time', '0.001']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^backend: CPU/);
    for (const product of ['forward', 'backward-data', 'weight-gradient']) expect(result.stdout).toMatch(new RegExp(`${product} +8 +0.5 +2 +2 `));
  });

  it('runs the GPU grid on a real GPU only, for the grid options left at their defaults', () => {
    const options: BenchCliOptions = {
      backend: 'auto', products: ['forward'], blockSizes: [8], densities: [0.5], batches: [7], features: 64,
      minTime: 0.3, statistic: 'median', oversubscribe: false, seed: 0, json: false,
    };
    const allDefault = () => true;
    expect(benchGrid(options, allDefault, false)).toEqual({ products: ['forward'], blockSizes: [8], densities: [0.5], batches: [7], features: 64 });
    expect(benchGrid(options, allDefault, true)).toEqual(GPU_BENCH_GRID);
    expect(GPU_BENCH_GRID.batches).toContain(4096);
    expect(GPU_BENCH_GRID.features).toBe(4096);
    // Options given on the command line win.
    expect(benchGrid(options, (name) => name !== 'batches', true)).toEqual({ ...GPU_BENCH_GRID, batches: [7] });
  });

  it('names a bad option', async () => {
    const bad = await runMain(['bench', '--densities', '0', '--backend', 'cpu']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--densities must be in \(0, 1\]/);
    const product = await runMain(['bench', '--products', 'sideways']);
    expect(product.code).toBe(2);
    expect(product.stderr).toMatch(/--products.*forward, backward-data, weight-gradient/);
  });
});
