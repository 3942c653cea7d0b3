import { beforeAll, describe, expect, it } from 'vitest';
import { createCpuBackend, OutOfMemoryError, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import { convOutputSize, resolveConv2d, type Conv2dParams, type ConvShape } from '../../src/kernels/conv.js';
import { referenceConvBackwardData, referenceConvForward, referenceConvWeightGrad } from '../../src/kernels/reference-conv.js';
import { BlockLayout } from '../../src/patterns/layout.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { resolveRng } from '../../src/random.js';
import { expectWithinBound } from './conformance.js';
import { convConformance } from './conv-conformance.js';
import { cpuBackendsForTests, CPU_THREAD_VARIANTS } from '../helpers/cpu.js';

/*
 * The block-sparse convolutions on the CPU backend (implicit GEMM in WebAssembly SIMD, on the
 * worker pool): the conformance suite on two threads with every phase split across them
 * (minParallelFlops 0), and on the plain-SIMD build; then what is particular to this backend:
 * the same bytes on any number of threads, weight panels packed once for unchanged weights, and
 * the memory limit.
 */

convConformance('cpu', () => createCpuBackend({ threads: 2, minParallelFlops: 0 }), true);
convConformance('cpu (plain SIMD)', () => createCpuBackend({ threads: 2, minParallelFlops: 0, relaxed: false }), true);

const rng = resolveRng({ seed: 'cpu-conv' });
const random = (size: number) => Float32Array.from({ length: size }, () => rng() * 2 - 1);
const abs = (a: ArrayLike<number>) => Float64Array.from(a as ArrayLike<number>, Math.abs);

describe('cpu backend convolutions', () => {
  const make = cpuBackendsForTests();
  let one: CpuBackend;
  let two: CpuBackend;
  let workersOnly: CpuBackend;
  beforeAll(async () => {
    one = await make(CPU_THREAD_VARIANTS.one);
    two = await make(CPU_THREAD_VARIANTS.two);
    workersOnly = await make(CPU_THREAD_VARIANTS.workersOnly);
  });

  it('gives the same bytes on 1 and 2 threads and from the workers alone, within the bound of the reference', async () => {
    // 3 x 11 x 13 = 429 output positions: several row units per output block, at every block size
    for (const [bs, params] of [[8, { kernel: 3, padding: 1 }], [16, { kernel: 3, stride: 2, padding: 1 }], [32, { kernel: [1, 3], dilation: 2, padding: [0, 2] }]] as const) {
      const layout = randomLayout({ inBlocks: 3, outBlocks: 4, density: 0.5, blockSize: bs, seed: bs });
      const g = resolveConv2d(params as Conv2dParams);
      const [n, H, W] = [3, 11, 13];
      const shape: ConvShape = { n, inputSize: [H, W], outputSize: convOutputSize(g, [H, W]), channels: [layout.inFeatures, layout.outFeatures] };
      const [Ho, Wo] = shape.outputSize;
      const [C, K] = shape.channels;
      const taps = g.kernel[0] * g.kernel[1];
      const x = random(n * H * W * C);
      const w = random(layout.nnz * taps * bs * bs);
      const dy = random(n * Ho * Wo * K);
      const gates = random(layout.nnz);
      const outputs = [];
      for (const b of [one, two, workersOnly]) {
        const parallel = b.stats.parallelPhases;
        const X = b.tensor(x, [n, H, W, C]);
        const Wt = b.tensor(w, [layout.nnz, g.kernel[0], g.kernel[1], bs, bs]);
        const DY = b.tensor(dy, [n, Ho, Wo, K]);
        const G = b.tensor(gates, [layout.nnz]);
        const grads = await b.conv2dWeightGrad(layout, X, DY, { ...params, gates: G, weights: Wt });
        outputs.push({
          y: await b.read(await b.conv2d(layout, X, Wt, { ...params, gates: G })),
          dx: await b.read(await b.conv2dBackwardData(layout, DY, Wt, { ...params, gates: G, inputSize: [H, W] })),
          dw: await b.read(grads.dw),
          dg: await b.read(grads.dgates!),
        });
        // the weight gradient's two phases, and packing then the product for each direction
        expect(b.stats.parallelPhases - parallel, b.description).toBe(b.threads === 1 ? 0 : 6);
      }
      const [first, ...others] = outputs;
      for (const other of others) expect(other).toEqual(first);
      expectWithinBound(first.y, referenceConvForward(layout, g, shape, x, w, gates), referenceConvForward(layout, g, shape, abs(x), abs(w), abs(gates)), C * taps, `conv2d bs${bs}`);
      expectWithinBound(first.dx, referenceConvBackwardData(layout, g, shape, dy, w, gates), referenceConvBackwardData(layout, g, shape, abs(dy), abs(w), abs(gates)), K * taps, `backward-data bs${bs}`);
      const ref = referenceConvWeightGrad(layout, g, shape, x, dy, gates, w);
      const refAbs = referenceConvWeightGrad(layout, g, shape, abs(x), abs(dy), abs(gates), abs(w));
      expectWithinBound(first.dw, ref.dw, refAbs.dw, n * Ho * Wo, `weight gradient bs${bs}`);
      expectWithinBound(first.dg, ref.dgates!, refAbs.dgates!, n * Ho * Wo + bs * bs * taps, `gate gradient bs${bs}`);
    }
  });

  it('packs the weight panels once while the weights and gates are unchanged', async () => {
    const layout = randomLayout({ inBlocks: 2, outBlocks: 2, density: 0.75, blockSize: 8, seed: 5 });
    const X = two.tensor(random(2 * 6 * 6 * 16), [2, 6, 6, 16]);
    const W = two.tensor(random(layout.nnz * 9 * 64), [layout.nnz, 3, 3, 8, 8]);
    const DY = two.tensor(random(2 * 6 * 6 * 16), [2, 6, 6, 16]);
    const params = { kernel: 3, padding: 1 };
    const hits = two.stats.panelHits;
    const first = await two.read(await two.conv2d(layout, X, W, params));
    await two.conv2dBackwardData(layout, DY, W, { ...params, inputSize: [6, 6] });
    expect(two.stats.panelHits - hits).toBe(0);
    expect(await two.read(await two.conv2d(layout, X, W, params))).toEqual(first);
    await two.conv2dBackwardData(layout, DY, W, { ...params, inputSize: [6, 6] });
    expect(two.stats.panelHits - hits).toBe(2);
    // a different stride reads the same panels
    await two.conv2d(layout, X, W, { ...params, stride: 2 });
    expect(two.stats.panelHits - hits).toBe(3);
    await two.fill(W, 1);
    await two.conv2d(layout, X, W, params);
    expect(two.stats.panelHits - hits).toBe(3);
  });

  it('takes no temporary sized from the input: a convolution needs its output and the panels only', async () => {
    // 64 x 64 x 64 channels = 1 MiB in and out; the memory holds them and little more
    const b = await make({ threads: 2, minParallelFlops: 0, maxMemoryBytes: 4 * 2 ** 20, initialMemoryBytes: 4 * 2 ** 20 });
    const layout = BlockLayout.fromPairs({ inBlocks: 2, outBlocks: 2, blockSize: 32 }, [0, 1], [1, 0]);
    const X = b.tensor(random(64 * 64 * 64), [1, 64, 64, 64]);
    const W = b.tensor(random(2 * 9 * 1024), [2, 3, 3, 32, 32]);
    const Y = await b.conv2d(layout, X, W, { kernel: 3, padding: 1 });
    expect(Y.shape).toEqual([1, 64, 64, 64]);
    const dx = await b.conv2dBackwardData(layout, Y, W, { kernel: 3, padding: 1, inputSize: [64, 64] });
    const { dw } = await b.conv2dWeightGrad(layout, X, Y, { kernel: 3, padding: 1 });
    expect(dw.shape).toEqual([2, 3, 3, 32, 32]);
    dx.dispose();
    // an output that does not fit is OutOfMemoryError, and the backend goes on working
    await expect(b.conv2d(layout, b.tensor(random(4 * 4 * 64), [1, 4, 4, 64]), W, { kernel: 3, padding: 64 })).rejects.toThrow(OutOfMemoryError);
    const y = await b.read(await b.conv2d(layout, X, W, { kernel: 3, padding: 1 }));
    const before = await b.read(Y);
    expect(y.some((v) => v !== 0)).toBe(true);
    expect(y.every((v, i) => v === before[i]), 'the same output after the panels were given back and packed again').toBe(true);
  });
});
