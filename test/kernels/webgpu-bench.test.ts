import { describe, expect, it } from 'vitest';
import { timeCallsBoth } from '../../src/kernels/bench.js';
import { runMain } from '../helpers/cli.js';
import { gpuOrSkip, webgpuForTests } from '../helpers/webgpu.js';

/*
 * GPU-timed benchmarks on WebGPU (lavapipe without a GPU, which has timestamp queries): the GPU's
 * own time per call beside the wall clock, and `blocksparse bench --backend webgpu` reporting the
 * adapter, its features and both times.
 */

describe('GPU-timed kernel benchmarks', () => {
  const gpuBackend = webgpuForTests('benchmark test');

  it('measures the GPU time of each call beside the wall clock (timestamps around every compute pass)', async (context) => {
    const gpu = gpuOrSkip(gpuBackend, context);
    if (!gpu) return;
    const a = gpu.tensor(new Float32Array(64 * 64).fill(0.5), [64, 64]);
    const times = await timeCallsBoth(gpu, () => gpu.matmul(a, a), 0.05, 3);
    expect(times.seconds).toBeGreaterThan(0);
    expect(times.gpuSeconds).not.toBeNull();
    // The kernels run inside the wall-clock interval: the GPU's time per call is positive and not
    // more than the host's (which adds allocation, bind groups and submission).
    expect(times.gpuSeconds!).toBeGreaterThan(0);
    expect(times.gpuSeconds!).toBeLessThanOrEqual(times.seconds * 1.01);
    a.dispose();
  });

  it('blocksparse bench --backend webgpu reports the adapter, its features, and GPU times for the sparse and dense products', async (context) => {
    if (!gpuOrSkip(gpuBackend, context)) return;
    const result = await runMain(['bench', '--backend', 'webgpu', '--products', 'forward', '--block-sizes', '8', '--densities', '1,0.25',
      '--batches', '16', '--features', '64', '--min-time', '0.02', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout) as { backend: string; adapter: { description: string; isFallbackAdapter: boolean }; features: string[]; rows: { gpuSeconds: number; denseGpuSeconds: number; gpuVsDense: number; seconds: number }[] };
    expect(out.backend).toBe('webgpu');
    expect(out.adapter.description).not.toBe('');
    expect(out.features).toContain('timestamp-query');
    expect(out.rows).toHaveLength(2);
    for (const r of out.rows) {
      expect(r.gpuSeconds).toBeGreaterThan(0);
      expect(r.gpuVsDense).toBeCloseTo(r.gpuSeconds / r.denseGpuSeconds, 9);
    }
    const table = await runMain(['bench', '--backend', 'webgpu', '--products', 'forward', '--block-sizes', '8', '--densities', '0.5', '--batches', '8', '--features', '32', '--min-time', '0.02']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^adapter: vendor .*, driver /m);
    expect(table.stdout).toMatch(/^features: .*timestamp-query/m);
    expect(table.stdout).toMatch(/GPU time +GPU dense +GPU sparse\/dense/);
  }, 120_000);
});
