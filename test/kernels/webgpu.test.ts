import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockLayout } from '../../src/patterns/layout.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { resolveRng } from '../../src/random.js';
import { DeviceLostError } from '../../src/kernels/errors.js';
import { referenceBackwardData, referenceForward, referenceMatmul, referenceWeightGrad } from '../../src/kernels/reference.js';
import { WebGPUError } from '../../src/kernels/webgpu/errors.js';
import { createWebGPUBackend, probeWebGPU, type WebGPUBackend, type WebGPUBackendOptions } from '../../src/kernels/webgpu/webgpu-backend.js';
import { makeWebGPU } from '../helpers/webgpu.js';
import { backendConformance, expectWithinBound } from './conformance.js';
import { opsConformance } from './ops-conformance.js';

/*
 * The WebGPU backend on whatever adapter Dawn finds: a GPU, or Mesa's lavapipe (a CPU Vulkan
 * driver) on machines without one. Lavapipe compiles each pipeline in seconds, so the kernels have
 * few pipelines and these tests use small shapes. With REQUIRE_WEBGPU=1 (CI) a missing adapter
 * fails the tests instead of skipping them.
 */

const required = process.env.REQUIRE_WEBGPU === '1';
// Lavapipe compiles shaders for its native vector width; 128-bit vectors compile about twice as
// fast, which is what dominates on these small shapes. Read when Dawn loads the driver; GPUs ignore it.
process.env.LP_NATIVE_VECTOR_WIDTH ??= '128';

/** The backend, or null (with the reason on stderr) when this machine has no adapter and it is not required. */
const make = (options: WebGPUBackendOptions = {}) => makeWebGPU(options);

backendConformance('webgpu', make, required);
opsConformance('webgpu', make, required);
// Again with tiny bindings and at most 2 workgroups per dispatch: every training op splits its grid.
opsConformance('webgpu (split)', () => make({ maxBindingBytes: 4352, maxWorkgroups: 2 }), required);

const rng = resolveRng({ seed: 'webgpu-backend' });
const random = (size: number) => Float32Array.from({ length: size }, () => rng() * 2 - 1);
const abs = (a: ArrayLike<number>) => Float64Array.from(a as ArrayLike<number>, Math.abs);

describe('webgpu backend', () => {
  let backend: WebGPUBackend | null = null;
  // Bindings of at most 4352 bytes (one 32 x 32 block plus slack) and grids of at most 2
  // workgroups per dimension: every product is split on these small shapes.
  let split: WebGPUBackend | null = null;
  beforeAll(async () => {
    backend = await make();
    if (backend) split = await make({ maxBindingBytes: 4352, maxWorkgroups: 2 });
  });
  afterAll(async () => {
    await backend?.dispose();
    await split?.dispose();
  });
  const run = (title: string, body: (b: WebGPUBackend) => Promise<void>) =>
    it(title, async (context) => {
      if (!backend) {
        context.skip('no WebGPU adapter here');
        return;
      }
      await body(backend);
    });

  run('names its adapter, and says when it is a CPU fallback adapter', async (b) => {
    const probe = await probeWebGPU();
    expect(probe.available).toBe(true);
    expect(probe.adapter).toEqual(b.adapter);
    const name = b.adapter.description || b.adapter.device;
    expect(b.description).toContain(name);
    if (/llvmpipe|lavapipe|swiftshader/i.test(`${b.adapter.device} ${b.adapter.description}`)) {
      expect(b.adapter.isFallbackAdapter).toBe(true);
    }
    expect(/fallback/.test(b.description)).toBe(b.adapter.isFallbackAdapter);
  });

  run('refuses a fallback adapter when asked to, saying why', async (b) => {
    if (!b.adapter.isFallbackAdapter) return;
    await expect(createWebGPUBackend({ allowFallbackAdapter: false })).rejects.toThrow(/fallback adapter.*allowFallbackAdapter is false/);
  });

  run('splits every product across binding-size and grid limits with the same results', async () => {
    const s = split!;
    for (const bs of [8, 32] as const) {
      const layout = randomLayout({ inBlocks: 5, outBlocks: 4, density: 0.5, blockSize: bs, seed: bs });
      const n = 37;
      const C = layout.inFeatures;
      const K = layout.outFeatures;
      const x = random(n * C);
      const w = random(layout.nnz * bs * bs);
      const dy = random(n * K);
      const g = random(layout.nnz);
      const X = s.tensor(x, [n, C]);
      const W = s.tensor(w, [layout.nnz, bs, bs]);
      const DY = s.tensor(dy, [n, K]);
      const G = s.tensor(g, [layout.nnz]);
      const before = s.stats.dispatches;
      const y = await s.read(await s.forward(layout, X, W, { gates: G }));
      expect(s.stats.dispatches - before, 'forward was split').toBeGreaterThan(1);
      // Split passes add partial sums: within the bound of the same number of terms.
      expectWithinBound(y, referenceForward(layout, x, n, w, g), referenceForward(layout, abs(x), n, abs(w), abs(g)), C, `split forward bs${bs}`);
      const dx = await s.read(await s.backwardData(layout, DY, W, { gates: G }));
      expectWithinBound(dx, referenceBackwardData(layout, dy, n, w, g), referenceBackwardData(layout, abs(dy), n, abs(w), abs(g)), K, `split backward-data bs${bs}`);
      const grads = await s.weightGrad(layout, X, DY, { gates: G, weights: W });
      const ref = referenceWeightGrad(layout, x, dy, n, g, w);
      const refAbs = referenceWeightGrad(layout, abs(x), abs(dy), n, abs(g), abs(w));
      expectWithinBound(await s.read(grads.dw), ref.dw, refAbs.dw, n, `split weight-gradient bs${bs}`);
      expectWithinBound(await s.read(grads.dgates!), ref.dgates!, refAbs.dgates!, n + bs * bs, `split gate gradient bs${bs}`);
    }
    for (const [m, k, n, transposeA, transposeB] of [[37, 53, 29, false, true], [64, 32, 96, true, false], [40, 200, 12, false, false]] as const) {
      const aShape: [number, number] = transposeA ? [k, m] : [m, k];
      const bShape: [number, number] = transposeB ? [n, k] : [k, n];
      const a = random(m * k);
      const bb = random(k * n);
      const before = s.stats.dispatches;
      const c = await s.read(await s.matmul(s.tensor(a, aShape), s.tensor(bb, bShape), { transposeA, transposeB }));
      expect(s.stats.dispatches - before, 'matmul was split').toBeGreaterThan(1);
      expectWithinBound(c, referenceMatmul(a, aShape, bb, bShape, transposeA, transposeB), referenceMatmul(abs(a), aShape, abs(bb), bShape, transposeA, transposeB), k, `split matmul ${m}x${k}x${n}`);
    }
  });

  run('splits training ops into grids of at most maxWorkgroups, and refuses a tensor over the binding limit', async () => {
    const s = split!;
    const x = random(600);
    const before = s.stats.dispatches;
    const y = await s.read(await s.scale(s.tensor(x, [600]), 2));
    expect(s.stats.dispatches - before, 'scale was split').toBe(2); // 600 elements, 2 x 256 per dispatch
    expect(Array.from(y)).toEqual(Array.from(x, (v) => 2 * v));
    await expect(s.addBias(s.tensor(random(2000), [2, 1000]), s.tensor(random(1000), [1000]))).rejects.toThrow(/maxStorageBufferBindingSize/);
  });

  run('the 128 x 128 matmul tile matches the reference too', async () => {
    const big = (await make({ matmulTile: 128 }))!;
    try {
      for (const [m, k, n, transposeA, transposeB] of [[130, 36, 140, false, false], [67, 20, 129, true, true]] as const) {
        const aShape: [number, number] = transposeA ? [k, m] : [m, k];
        const bShape: [number, number] = transposeB ? [n, k] : [k, n];
        const a = random(m * k);
        const bb = random(k * n);
        const c = await big.read(await big.matmul(big.tensor(a, aShape), big.tensor(bb, bShape), { transposeA, transposeB }));
        expectWithinBound(c, referenceMatmul(a, aShape, bb, bShape, transposeA, transposeB), referenceMatmul(abs(a), aShape, abs(bb), bShape, transposeA, transposeB), k, `128-tile matmul ${m}x${k}x${n}`);
      }
    } finally {
      await big.dispose();
    }
  });

  run('skips blocks whose gate is zero, and an all-zero gate gives zeros', async (b) => {
    const layout = BlockLayout.fromPairs({ inBlocks: 2, outBlocks: 2, blockSize: 8 }, [0, 1, 1], [0, 0, 1]);
    const x = random(3 * 16);
    const w = random(3 * 64);
    const g = new Float32Array([0, 2, 0]);
    const y = await b.read(await b.forward(layout, b.tensor(x, [3, 16]), b.tensor(w, [3, 8, 8]), { gates: b.tensor(g, [3]) }));
    expectWithinBound(y, referenceForward(layout, x, 3, w, g), referenceForward(layout, abs(x), 3, abs(w), abs(g)), 16, 'zero gates');
    for (let r = 0; r < 3; r++) for (let j = 8; j < 16; j++) expect(y[r * 16 + j]).toBe(0);
  });

  run('times kernels with GPU timestamps', async (b) => {
    const layout = randomLayout({ inBlocks: 4, density: 0.5, blockSize: 16, seed: 3 });
    const X = b.tensor(random(8 * 64), [8, 64]);
    const W = b.tensor(random(layout.nnz * 256), [layout.nnz, 16, 16]);
    const { result, times } = await b.timeKernels(() => b.forward(layout, X, W));
    expect(result.shape).toEqual([8, 64]);
    expect(times.passes).toBe(1);
    if (b.device.features.has('timestamp-query')) expect(times.gpuMs).toBeGreaterThanOrEqual(0);
    else expect(times.gpuMs).toBeNull();
  });

  run('reports an uncaptured WebGPU error as a typed error on the next call', async () => {
    const b = (await make())!;
    try {
      // A validation error outside any product: a storage buffer cannot be mappable for reading.
      b.device.createBuffer({ size: 16, usage: 0x0001 | 0x0080 });
      await b.device.queue.onSubmittedWorkDone();
      await expect(b.sync()).rejects.toThrow(WebGPUError);
      // Reported once; the backend still works.
      expect(Array.from(await b.read(b.tensor(new Float32Array([1, 2]), [2])))).toEqual([1, 2]);
    } finally {
      await b.dispose();
    }
  });

  run('after the device is lost, every call rejects with DeviceLostError at once', async () => {
    const b = (await make())!;
    const layout = randomLayout({ inBlocks: 2, density: 1, blockSize: 8, seed: 1 });
    const X = b.tensor(random(2 * 16), [2, 16]);
    const W = b.tensor(random(4 * 64), [4, 8, 8]);
    await b.loseDevice();
    // Nothing waits on the dead device: each call rejects instead of hanging.
    await expect(b.forward(layout, X, W)).rejects.toThrow(DeviceLostError);
    await expect(b.read(X)).rejects.toThrow(DeviceLostError);
    await expect(b.sync()).rejects.toThrow(DeviceLostError);
    expect(() => b.tensor(new Float32Array(4), [4])).toThrow(/device lost \(destroyed\)/);
    await b.dispose();
  });
});
