import { checkMemory } from '../budget.js';
import { checkInteger, checkNumber, checkOneOf } from '../check.js';
import { ParameterError } from '../errors.js';
import { BLOCK_SIZES, type BlockLayout, type BlockSize } from '../patterns/layout.js';
import { denseLayout } from '../patterns/dense.js';
import { randomLayout } from '../patterns/random-layout.js';
import { resolveRng, type Seed } from '../random.js';
import type { Backend, Tensor, WeightGradResult } from './types.js';

/*
 * Kernel benchmarks on any backend: each block-sparse product against our own dense matmul of the
 * same shape, timed in the same run (these machines are shared and noisy, so ratios measured
 * together are what we report). Used by `blocksparse bench` (a short grid) and bench/kernels.ts
 * (the grid, plus numpy's dense matmul measured in the same run).
 */

/** The products a benchmark can time. */
export type BenchProduct = 'forward' | 'backward-data' | 'weight-gradient';

/** Every product, in the order tables list them. */
export const BENCH_PRODUCTS: readonly BenchProduct[] = ['forward', 'backward-data', 'weight-gradient'];

/** One measurement: a product on a random layout of `density` over C = K = `features`. */
export interface KernelBenchCase {
  product: BenchProduct;
  blockSize: BlockSize;
  /** Fraction of blocks present (1: every block, a dense layout). */
  density: number;
  /** Batch N: rows of X and dY. */
  batch: number;
  /** C = K: input and output features. */
  features: number;
}

/** A measured case: seconds per product (median), GFLOP/s over present blocks, and the dense baseline. */
export interface KernelBenchRow extends KernelBenchCase {
  nnz: number;
  /** Floating-point operations of the product counting present blocks only: 2 N nnz bs^2. */
  flops: number;
  seconds: number;
  gflops: number;
  /** Our dense matmul of the same product shape (N x C x K), on the same backend. */
  denseSeconds: number;
  denseGflops: number;
  /** seconds / denseSeconds. */
  vsDense: number;
  /** The GPU's time per product and per dense product (timestamp queries, the same statistic), and their ratio; null on the CPU backend or without timestamps. */
  gpuSeconds: number | null;
  denseGpuSeconds: number | null;
  gpuVsDense: number | null;
}

/** A grid of cases: every combination of the lists. */
export interface KernelBenchGrid {
  products: readonly BenchProduct[];
  blockSizes: readonly BlockSize[];
  densities: readonly number[];
  batches: readonly number[];
  features: number;
}

/** The grid: C = K = 4096, blocks 8/16/32, densities 1 to 0.05, batches 64 and 512, forward. */
export const FULL_BENCH_GRID: KernelBenchGrid = {
  products: ['forward'],
  blockSizes: [8, 16, 32],
  densities: [1, 0.5, 0.25, 0.1, 0.05],
  batches: [64, 512],
  features: 4096,
};

/** The short grid `blocksparse bench` runs by default (seconds on a CPU). */
export const SHORT_BENCH_GRID: KernelBenchGrid = {
  products: ['forward', 'backward-data', 'weight-gradient'],
  blockSizes: [32],
  densities: [1, 0.25, 0.1],
  batches: [128],
  features: 2048,
};

/**
 * The grid `blocksparse bench` runs on a real GPU (WebGPU, not a CPU fallback adapter): every
 * product at blocks of 32, C = K = 4096, batches 512 and 4096 (so the dense case at N = 4096 is the
 * 4096^3 matmul), densities 1, 0.25 and 0.1.
 */
export const GPU_BENCH_GRID: KernelBenchGrid = {
  products: ['forward', 'backward-data', 'weight-gradient'],
  blockSizes: [32],
  densities: [1, 0.25, 0.1],
  batches: [512, 4096],
  features: 4096,
};

/** Options of `runKernelBench`. */
export interface KernelBenchOptions {
  /** Seconds of repeated runs per measurement, after one warm-up run (default 0.3). */
  minSeconds?: number;
  /** Measurements (batches of runs) per case (default 3). */
  samples?: number;
  /** Which measurement is reported: the median (default) or the fastest ('min': on a shared machine noise only adds time, so the fastest is the best estimate of the cost, as Python's timeit argues). */
  statistic?: 'median' | 'min';
  /** Seed of the layouts and the data (default 0). */
  seed?: Seed;
  /** Called with each row as it is measured. */
  onRow?: (row: KernelBenchRow) => void;
}

/** Checks a grid: known products and block sizes, densities in (0, 1], positive batches, features a multiple of every block size. */
export function checkBenchGrid(grid: KernelBenchGrid): KernelBenchGrid {
  const context = 'kernel benchmark';
  for (const product of grid.products) checkOneOf('products', product, BENCH_PRODUCTS, context);
  for (const bs of grid.blockSizes) checkOneOf('blockSizes', bs, BLOCK_SIZES, context);
  for (const d of grid.densities) {
    checkNumber('densities', d, 0, 1, context);
    if (d === 0) throw new ParameterError('densities', 'in (0, 1]', d, context);
  }
  for (const n of grid.batches) checkInteger('batches', n, 1, 2 ** 20, context);
  checkInteger('features', grid.features, 8, 2 ** 16, context);
  for (const bs of grid.blockSizes) {
    if (grid.features % bs !== 0) throw new ParameterError('features', `a multiple of every block size (${bs})`, grid.features, context);
  }
  for (const [name, list] of [['products', grid.products], ['blockSizes', grid.blockSizes], ['densities', grid.densities], ['batches', grid.batches]] as const) {
    if (list.length === 0) throw new ParameterError(name, 'a non-empty list', '[]', context);
  }
  // The largest case holds a dense C x K weight, its block-sparse copy, X [N, C], Y and dY [N, K].
  const c = grid.features;
  const n = Math.max(...grid.batches);
  checkMemory(`kernel benchmark with --features ${c} and batch ${n}`, 4 * (2 * c * c + 3 * n * c), { elements: c * c });
  return grid;
}

/** The cases of a grid, grouped so that each dense baseline (product, batch) is measured once. */
export function benchCases(grid: KernelBenchGrid): KernelBenchCase[] {
  checkBenchGrid(grid);
  const cases: KernelBenchCase[] = [];
  for (const product of grid.products) {
    for (const batch of grid.batches) {
      for (const blockSize of grid.blockSizes) {
        for (const density of grid.densities) cases.push({ product, blockSize, density, batch, features: grid.features });
      }
    }
  }
  return cases;
}

/** The layout a case runs on: dense at density 1, else uniformly random with round(density * blocks^2) blocks (seeded). */
export function benchLayout(c: KernelBenchCase, seed: Seed = 0): BlockLayout {
  const blocks = c.features / c.blockSize;
  if (c.density === 1) return denseLayout({ inBlocks: blocks, blockSize: c.blockSize });
  return randomLayout({ inBlocks: blocks, density: c.density, blockSize: c.blockSize, diagonal: false, seed: `${String(seed)}:${c.blockSize}:${c.density}` });
}

/** A backend that can time the GPU work of a body (WebGPU's timestamp queries): `gpuMs` null when the adapter has no timestamps. */
interface KernelTimer {
  timeKernels<T>(body: () => Promise<T>): Promise<{ result: T; times: { gpuMs: number | null } }>;
}

const hasKernelTimer = (backend: Backend): backend is Backend & KernelTimer => typeof (backend as Partial<KernelTimer>).timeKernels === 'function';

/** Seconds per call measured two ways: wall-clock on the host, and the GPU's own time (timestamp queries; null on the CPU backend or without them). */
export interface CallTimes {
  seconds: number;
  gpuSeconds: number | null;
}

/**
 * Seconds per call of `run` on `backend` (the median of the measurements, or the fastest with
 * statistic 'min'): one warm-up call (compilation, table uploads), then `samples` measurements,
 * each of as many calls as fill `minSeconds / samples` (the calls of one measurement are queued
 * back to back and then synchronised, so a GPU is timed without a host round trip per call).
 * Each call's result is disposed.
 */
export async function timeCalls(backend: Backend, run: () => Promise<Tensor | WeightGradResult>, minSeconds = 0.3, samples = 3, statistic: 'median' | 'min' = 'median'): Promise<number> {
  return (await timeCallsBoth(backend, run, minSeconds, samples, statistic)).seconds;
}

/**
 * `timeCalls`, and on a backend with GPU timestamps (WebGPU) also the GPU time per call: the sum
 * of the compute passes' timestamps over the same measurements, reduced by the same statistic, so
 * host overhead (allocation, bind groups, submission) is seen apart from the kernels.
 */
export async function timeCallsBoth(backend: Backend, run: () => Promise<Tensor | WeightGradResult>, minSeconds = 0.3, samples = 3, statistic: 'median' | 'min' = 'median'): Promise<CallTimes> {
  const once = async (): Promise<void> => release(await run());
  await once();
  await backend.sync();
  const timer = hasKernelTimer(backend) ? backend : null;
  let calls = 1;
  const times: number[] = [];
  const gpuTimes: number[] = [];
  while (times.length < samples) {
    const start = performance.now();
    let gpuMs: number | null = null;
    const body = async () => {
      for (let i = 0; i < calls; i++) await once();
      await backend.sync();
    };
    if (timer) gpuMs = (await timer.timeKernels(body)).times.gpuMs;
    else await body();
    const seconds = (performance.now() - start) / 1000;
    if (seconds < minSeconds / samples && calls < 1 << 16) {
      calls = Math.min(1 << 16, Math.max(calls * 2, Math.ceil((calls * minSeconds) / samples / Math.max(seconds, 1e-6))));
      continue;
    }
    times.push(seconds / calls);
    if (gpuMs !== null) gpuTimes.push(gpuMs / 1000 / calls);
  }
  const pick = (values: number[]) => {
    values.sort((a, b) => a - b);
    return statistic === 'min' ? values[0] : values[Math.floor(values.length / 2)];
  };
  return { seconds: pick(times), gpuSeconds: gpuTimes.length === times.length ? pick(gpuTimes) : null };
}

function release(result: Tensor | WeightGradResult): void {
  if ('dw' in result) {
    result.dw.dispose();
    result.dgates?.dispose();
  } else {
    result.dispose();
  }
}

/** `size` values uniform in [-1, 1) from `seed` (the same on every machine). */
export function randomValues(size: number, seed: Seed): Float32Array {
  const rng = resolveRng({ seed });
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = rng() * 2 - 1;
  return values;
}

function randomTensor(backend: Backend, shape: number[], seed: string): Tensor {
  return backend.tensor(randomValues(shape.reduce((a, b) => a * b, 1), seed), shape);
}

/**
 * Measures every case on `backend`: the block-sparse product and our dense matmul of the same
 * shape (forward X[N,C].W[C,K]; backward-data dY[N,K].W^T; weight gradient X^T.dY), both median
 * seconds per call. Returns one row per case, in order.
 */
export async function runKernelBench(backend: Backend, cases: readonly KernelBenchCase[], options: KernelBenchOptions = {}): Promise<KernelBenchRow[]> {
  const minSeconds = checkNumber('minSeconds', options.minSeconds ?? 0.3, 0, 3600, 'runKernelBench');
  const samples = checkInteger('samples', options.samples ?? 3, 1, 1000, 'runKernelBench');
  const statistic = checkOneOf('statistic', options.statistic ?? 'median', ['median', 'min'] as const, 'runKernelBench');
  const seed = options.seed ?? 0;
  const rows: KernelBenchRow[] = [];
  const dense = new Map<string, CallTimes>();
  const tensors = new Map<string, Tensor>();
  const input = (name: string, shape: number[]): Tensor => {
    const key = `${name}:${shape.join('x')}`;
    let t = tensors.get(key);
    if (!t) {
      t = randomTensor(backend, shape, `${String(seed)}:${key}`);
      tensors.set(key, t);
    }
    return t;
  };
  try {
    for (const c of cases) {
      const { batch: n, features: f, blockSize: bs } = c;
      const x = input('X', [n, f]);
      const dy = input('dY', [n, f]);
      const denseKey = `${c.product}:${n}:${f}`;
      let denseTimes = dense.get(denseKey);
      if (denseTimes === undefined) {
        const wd = input('Wdense', [f, f]);
        const call = c.product === 'forward' ? () => backend.matmul(x, wd)
          : c.product === 'backward-data' ? () => backend.matmul(dy, wd, { transposeB: true })
            : () => backend.matmul(x, dy, { transposeA: true });
        denseTimes = await timeCallsBoth(backend, call, minSeconds, samples, statistic);
        dense.set(denseKey, denseTimes);
      }
      const denseSeconds = denseTimes.seconds;
      const layout = benchLayout(c, seed);
      const w = randomTensor(backend, [layout.nnz, bs, bs], `${String(seed)}:W:${bs}:${c.density}`);
      try {
        const call = c.product === 'forward' ? () => backend.forward(layout, x, w)
          : c.product === 'backward-data' ? () => backend.backwardData(layout, dy, w)
            : () => backend.weightGrad(layout, x, dy);
        const { seconds, gpuSeconds } = await timeCallsBoth(backend, call, minSeconds, samples, statistic);
        const flops = 2 * n * layout.nnz * bs * bs;
        const denseFlops = 2 * n * f * f;
        const denseGpuSeconds = denseTimes.gpuSeconds;
        const row: KernelBenchRow = {
          ...c, nnz: layout.nnz, flops, seconds, gflops: flops / seconds / 1e9,
          denseSeconds, denseGflops: denseFlops / denseSeconds / 1e9, vsDense: seconds / denseSeconds,
          gpuSeconds, denseGpuSeconds, gpuVsDense: gpuSeconds !== null && denseGpuSeconds !== null ? gpuSeconds / denseGpuSeconds : null,
        };
        rows.push(row);
        options.onRow?.(row);
      } finally {
        w.dispose();
      }
    }
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return rows;
}

/** Seconds in a readable unit (µs, ms or s, three significant digits). */
export function formatSeconds(seconds: number): string {
  if (seconds < 1e-3) return `${(seconds * 1e6).toPrecision(3)} µs`;
  if (seconds < 1) return `${(seconds * 1e3).toPrecision(3)} ms`;
  return `${seconds.toPrecision(3)} s`;
}
