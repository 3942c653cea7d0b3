import { describe, expect } from 'vitest';
import { ParameterError, ShapeError } from '../../src/errors.js';
import { convOutputSize, resolveConv2d, type Conv2dParams, type ConvShape } from '../../src/kernels/conv.js';
import { referenceConvBackwardData, referenceConvForward, referenceConvWeightGrad } from '../../src/kernels/reference-conv.js';
import type { Backend } from '../../src/kernels/types.js';
import { bandedLayout } from '../../src/patterns/banded.js';
import { denseLayout } from '../../src/patterns/dense.js';
import { BlockLayout } from '../../src/patterns/layout.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { resolveRng, type Rng } from '../../src/random.js';
import { expectWithinBound } from './conformance.js';
import { backendTests } from './suite.js';

/*
 * The conformance suite of the block-sparse convolutions (src/kernels/conv.ts), for any backend:
 * conv2d, conv2dBackwardData and conv2dWeightGrad (with the gate gradient) against the float64
 * reference (src/kernels/reference-conv.ts) over kernel sizes 1, 3 and 5 (and a rectangular one),
 * strides 1 and 2, padding 0, 1 and 2, a dilation of 2, odd spatial sizes, batches 1 and 3, block
 * sizes 8, 16 and 32, layouts with empty rows and columns and one with no block, gated (a zero
 * gate included) and not; in-place updates of the weights and gates between calls; typed errors;
 * and a finite-difference check of a loss built from the three.
 *
 * Tolerance (conformance.ts): a float32 sum of L terms is within 2 L 2^-24 sum |terms| of the exact
 * value, with L = C kh kw forward, K kh kw backward-data, N Ho Wo for the weight gradient, and
 * N Ho Wo + bs bs kh kw for the gate gradient; sum |terms| is the reference on absolute values.
 * The shapes are small: the WebGPU backend on a software adapter runs this suite too.
 */

function randomData(rng: Rng, size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng() * 2 - 1;
  return out;
}

const abs = (a: ArrayLike<number>): Float64Array => Float64Array.from(a as ArrayLike<number>, Math.abs);

interface ConvCase {
  name: string;
  layout: BlockLayout;
  params: Conv2dParams;
  n: number;
  inputSize: [number, number];
}

/** Input block 1 feeds nothing; output blocks 0 and 3 are fed by nothing. */
const emptyRowsAndColumns = (blockSize: 8 | 16 | 32): BlockLayout =>
  BlockLayout.fromPairs({ inBlocks: 4, outBlocks: 5, blockSize }, [0, 0, 2, 3, 3], [1, 2, 4, 1, 4]);

function cases(): ConvCase[] {
  return [
    { name: '1x1, bs 8, random 3x4, N=3, 7x5', layout: randomLayout({ inBlocks: 3, outBlocks: 4, density: 0.5, blockSize: 8, seed: 1 }), params: { kernel: 1 }, n: 3, inputSize: [7, 5] },
    { name: '3x3 padding 1, bs 16, random 2x3, N=1, 7x5', layout: randomLayout({ inBlocks: 2, outBlocks: 3, density: 0.7, blockSize: 16, seed: 2 }), params: { kernel: 3, padding: 1 }, n: 1, inputSize: [7, 5] },
    { name: '3x3 stride 2 padding 1, bs 8, empty rows and columns, N=3, 7x5', layout: emptyRowsAndColumns(8), params: { kernel: 3, stride: 2, padding: 1 }, n: 3, inputSize: [7, 5] },
    { name: '5x5 padding 2, bs 8, banded 3x3, N=3, 5x7', layout: bandedLayout({ inBlocks: 3, bandwidth: 1, blockSize: 8 }), params: { kernel: 5, padding: 2 }, n: 3, inputSize: [5, 7] },
    { name: '5x5 stride 2, no padding, bs 16, empty rows and columns, N=1, 9x7', layout: emptyRowsAndColumns(16), params: { kernel: 5, stride: 2 }, n: 1, inputSize: [9, 7] },
    { name: '3x3 dilation 2 stride 2, bs 16, dense 2x2, N=3, 9x7', layout: denseLayout({ inBlocks: 2, outBlocks: 2, blockSize: 16 }), params: { kernel: 3, dilation: 2, stride: 2 }, n: 3, inputSize: [9, 7] },
    { name: '3x3 padding 1, bs 32, random 2x3, N=3, 5x5', layout: randomLayout({ inBlocks: 2, outBlocks: 3, density: 0.5, blockSize: 32, seed: 3 }), params: { kernel: 3, padding: 1 }, n: 3, inputSize: [5, 5] },
    { name: '5x5 stride 2 padding 2, bs 32, one block, N=1, 6x6', layout: denseLayout({ inBlocks: 1, blockSize: 32 }), params: { kernel: 5, stride: 2, padding: 2 }, n: 1, inputSize: [6, 6] },
    {
      name: '3x1 kernel, stride [1, 2], padding [1, 0], dilation [1, 2], bs 8, random 4x2, N=3, 7x5',
      layout: randomLayout({ inBlocks: 4, outBlocks: 2, density: 0.5, blockSize: 8, seed: 4 }),
      params: { kernel: [3, 1], stride: [1, 2], padding: [1, 0], dilation: [1, 2] },
      n: 3,
      inputSize: [7, 5],
    },
    { name: '5x5 that just fits a 5x5 input, bs 8, dense 2x1, N=3', layout: denseLayout({ inBlocks: 2, outBlocks: 1, blockSize: 8 }), params: { kernel: 5 }, n: 3, inputSize: [5, 5] },
    { name: '3x3 padding 1, no blocks 2x3, bs 8, N=3, 7x5', layout: BlockLayout.fromPairs({ inBlocks: 2, outBlocks: 3, blockSize: 8 }, [], []), params: { kernel: 3, padding: 1 }, n: 3, inputSize: [7, 5] },
  ];
}

/** The sizes of a case's convolution. */
function shapeOf(c: ConvCase): ConvShape {
  const g = resolveConv2d(c.params);
  return { n: c.n, inputSize: c.inputSize, outputSize: convOutputSize(g, c.inputSize), channels: [c.layout.inFeatures, c.layout.outFeatures] };
}

/**
 * Runs the convolution conformance suite on the backend `make` returns; `make` returns null when
 * the backend cannot run here (the suite is then skipped, or fails when `required`).
 */
export function convConformance(name: string, make: () => Promise<Backend | null>, required = false): void {
  describe(`${name} backend: block-sparse convolution conformance`, () => {
    const rng = resolveRng({ seed: `conv-conformance-${name}` });
    const run = backendTests(name, make, required);

    for (const c of cases()) {
      for (const gated of [false, true]) {
        run(`${c.name}${gated ? ', gated (one gate 0)' : ''}: conv2d, backward-data, weight and gate gradients match the reference`, async (b) => {
          const { layout, params, n } = c;
          const g = resolveConv2d(params);
          const shape = shapeOf(c);
          const [H, W] = shape.inputSize;
          const [Ho, Wo] = shape.outputSize;
          const [kh, kw] = g.kernel;
          const bs = layout.blockSize;
          const C = layout.inFeatures;
          const K = layout.outFeatures;
          const x = randomData(rng, n * H * W * C);
          const w = randomData(rng, layout.nnz * kh * kw * bs * bs);
          const dy = randomData(rng, n * Ho * Wo * K);
          const gates = gated ? randomData(rng, layout.nnz) : undefined;
          if (gates && gates.length > 0) gates[0] = 0;
          const X = b.tensor(x, [n, H, W, C]);
          const Wt = b.tensor(w, [layout.nnz, kh, kw, bs, bs]);
          const DY = b.tensor(dy, [n, Ho, Wo, K]);
          const G = gates ? b.tensor(gates, [layout.nnz]) : undefined;
          const taps = kh * kw;

          const y = await b.conv2d(layout, X, Wt, { ...params, gates: G });
          expect(y.shape).toEqual([n, Ho, Wo, K]);
          expectWithinBound(await b.read(y), referenceConvForward(layout, g, shape, x, w, gates),
            referenceConvForward(layout, g, shape, abs(x), abs(w), gates && abs(gates)), C * taps, 'conv2d');

          const dx = await b.conv2dBackwardData(layout, DY, Wt, { ...params, gates: G, inputSize: [H, W] });
          expect(dx.shape).toEqual([n, H, W, C]);
          expectWithinBound(await b.read(dx), referenceConvBackwardData(layout, g, shape, dy, w, gates),
            referenceConvBackwardData(layout, g, shape, abs(dy), abs(w), gates && abs(gates)), K * taps, 'conv2dBackwardData');

          const positions = n * Ho * Wo;
          const grad = await b.conv2dWeightGrad(layout, X, DY, { ...params, gates: G, weights: Wt });
          expect(grad.dw.shape).toEqual([layout.nnz, kh, kw, bs, bs]);
          const ref = referenceConvWeightGrad(layout, g, shape, x, dy, gates, w);
          const refAbs = referenceConvWeightGrad(layout, g, shape, abs(x), abs(dy), gates && abs(gates), abs(w));
          expectWithinBound(await b.read(grad.dw), ref.dw, refAbs.dw, positions, 'conv2dWeightGrad');
          expect(grad.dgates!.shape).toEqual([layout.nnz]);
          expectWithinBound(await b.read(grad.dgates!), ref.dgates!, refAbs.dgates!, positions + bs * bs * taps, 'gate gradient');

          const plain = await b.conv2dWeightGrad(layout, X, DY, params);
          expect(plain.dgates).toBeUndefined();
          expectWithinBound(await b.read(plain.dw), referenceConvWeightGrad(layout, g, shape, x, dy).dw,
            referenceConvWeightGrad(layout, g, shape, abs(x), abs(dy)).dw, positions, 'conv2dWeightGrad, no gates or weights');
          for (const t of [X, Wt, DY, G, y, dx, grad.dw, grad.dgates, plain.dw]) t?.dispose();
        });
      }
    }

    run('a layout with nonzero blocks gives nonzero results (the suite cannot pass on zeros)', async (b) => {
      const layout = denseLayout({ inBlocks: 1, blockSize: 8 });
      const X = b.tensor(Float32Array.from({ length: 2 * 2 * 8 }, () => 1), [1, 2, 2, 8]);
      const W = b.tensor(Float32Array.from({ length: 9 * 64 }, () => 1), [1, 3, 3, 8, 8]);
      // every output position sees all four input positions through padding 1: 4 positions x 8 channels
      expect(Array.from(await b.read(await b.conv2d(layout, X, W, { kernel: 3, padding: 1 })))).toEqual(new Array(32).fill(32));
    });

    run('uses the new weights and gates after they are updated in place', async (b) => {
      const layout = randomLayout({ inBlocks: 2, outBlocks: 2, density: 0.75, blockSize: 8, seed: 7 });
      const params: Conv2dParams = { kernel: 3, padding: 1 };
      const g = resolveConv2d(params);
      const shape: ConvShape = { n: 2, inputSize: [5, 3], outputSize: [5, 3], channels: [16, 16] };
      const x = randomData(rng, 2 * 5 * 3 * 16);
      const w = randomData(rng, layout.nnz * 9 * 64);
      const delta = randomData(rng, w.length);
      const gates = randomData(rng, layout.nnz);
      const X = b.tensor(x, [2, 5, 3, 16]);
      const W = b.tensor(w, [layout.nnz, 3, 3, 8, 8]);
      const G = b.tensor(gates, [layout.nnz]);
      const dy = b.tensor(randomData(rng, 2 * 5 * 3 * 16), [2, 5, 3, 16]);
      // the same weights twice (a backend may keep them packed), then after each in-place update
      await b.conv2d(layout, X, W, { ...params, gates: G });
      await b.conv2dBackwardData(layout, dy, W, { ...params, gates: G, inputSize: [5, 3] });
      await b.conv2d(layout, X, W, { ...params, gates: G });
      await b.axpy(0.5, b.tensor(delta, W.shape), W);
      const w2 = Float32Array.from(w, (v, i) => Math.fround(v + Math.fround(0.5 * delta[i])));
      const after = await b.read(await b.conv2d(layout, X, W, { ...params, gates: G }));
      expectWithinBound(after, referenceConvForward(layout, g, shape, x, w2, gates), referenceConvForward(layout, g, shape, abs(x), abs(w2), abs(gates)), 16 * 9 + 2, 'conv2d after W += 0.5 delta');
      await b.fill(G, 0.25);
      const gated = await b.read(await b.conv2d(layout, X, W, { ...params, gates: G }));
      const quarter = new Float32Array(layout.nnz).fill(0.25);
      expectWithinBound(gated, referenceConvForward(layout, g, shape, x, w2, quarter), referenceConvForward(layout, g, shape, abs(x), abs(w2), quarter), 16 * 9 + 2, 'conv2d after the gates are filled with 0.25');
      const dx = await b.read(await b.conv2dBackwardData(layout, dy, W, { ...params, gates: G, inputSize: [5, 3] }));
      const dyv = await b.read(dy);
      expectWithinBound(dx, referenceConvBackwardData(layout, g, shape, dyv, w2, quarter), referenceConvBackwardData(layout, g, shape, abs(dyv), abs(w2), quarter), 16 * 9 + 2, 'backward-data after both updates');
    });

    run('raises typed errors naming the shapes and the geometry', async (b) => {
      const layout = denseLayout({ inBlocks: 2, outBlocks: 3, blockSize: 8 }); // C = 16, K = 24, nnz = 6
      const X = b.tensor(new Float32Array(2 * 5 * 5 * 16), [2, 5, 5, 16]);
      const W = b.tensor(new Float32Array(6 * 9 * 64), [6, 3, 3, 8, 8]);
      const DY = b.tensor(new Float32Array(2 * 5 * 5 * 24), [2, 5, 5, 24]);
      // wrong channel count
      const wrongX = b.tensor(new Float32Array(2 * 5 * 5 * 24), [2, 5, 5, 24]);
      await expect(b.conv2d(layout, wrongX, W, { kernel: 3, padding: 1 })).rejects.toThrow(ShapeError);
      await expect(b.conv2d(layout, wrongX, W, { kernel: 3, padding: 1 })).rejects.toThrow(/\[2, 5, 5, 24\].*C = 16/);
      await expect(b.conv2dBackwardData(layout, X, W, { kernel: 3, padding: 1, inputSize: [5, 5] })).rejects.toThrow(/K = 24/);
      // X not 4-D
      await expect(b.conv2d(layout, b.tensor(new Float32Array(25 * 16), [25, 16]), W, { kernel: 3 })).rejects.toThrow(ShapeError);
      // W of the wrong shape: a 5x5 kernel's W for a 3x3 convolution, and a block product's W
      await expect(b.conv2d(layout, X, W, { kernel: 5, padding: 2 })).rejects.toThrow(/\[6, 3, 3, 8, 8\].*\[6, 5, 5, 8, 8\]/);
      await expect(b.conv2d(layout, X, b.tensor(new Float32Array(6 * 64), [6, 8, 8]), { kernel: 1 })).rejects.toThrow(ShapeError);
      await expect(b.conv2dWeightGrad(layout, X, DY, { kernel: 3, padding: 1, weights: b.tensor(new Float32Array(5 * 9 * 64), [5, 3, 3, 8, 8]) })).rejects.toThrow(/weights/);
      // gates of the wrong length
      await expect(b.conv2d(layout, X, W, { kernel: 3, padding: 1, gates: b.tensor(new Float32Array(5), [5]) })).rejects.toThrow(ShapeError);
      // a kernel that does not fit the padded input
      const small = b.tensor(new Float32Array(1 * 2 * 2 * 16), [1, 2, 2, 16]);
      await expect(b.conv2d(layout, small, W, { kernel: 3 })).rejects.toThrow(/does not fit an input of 2 x 2/);
      await expect(b.conv2d(layout, small, W, { kernel: 3, dilation: 2, padding: 1 })).rejects.toThrow(ShapeError);
      // inputSize disagreeing with dY: 5x5 with padding 1 gives 5x5, not 3x3
      await expect(b.conv2dBackwardData(layout, DY, W, { kernel: 3, inputSize: [5, 5] })).rejects.toThrow(/gives 3 x 3/);
      await expect(b.conv2dBackwardData(layout, DY, W, { kernel: 3, padding: 1, inputSize: [6, 5] })).rejects.toThrow(ShapeError);
      await expect(b.conv2dBackwardData(layout, DY, W, { kernel: 3, padding: 1, inputSize: [5] as unknown as [number, number] })).rejects.toThrow(/inputSize/);
      // X and dY of different convolutions
      await expect(b.conv2dWeightGrad(layout, X, DY, { kernel: 3 })).rejects.toThrow(ShapeError);
      await expect(b.conv2dWeightGrad(layout, b.tensor(new Float32Array(5 * 5 * 16), [1, 5, 5, 16]), DY, { kernel: 3, padding: 1 })).rejects.toThrow(ShapeError);
      // geometry out of range
      await expect(b.conv2d(layout, X, W, { kernel: 3, stride: 0 })).rejects.toThrow(ParameterError);
      await expect(b.conv2d(layout, X, W, { kernel: 3, padding: -1 })).rejects.toThrow(ParameterError);
      await expect(b.conv2d(layout, X, W, { kernel: 3, dilation: 1.5 })).rejects.toThrow(ParameterError);
    });

    run('a loss built from conv2d passes a finite-difference check in X, W and the gates', async (b) => {
      // loss = 1/2 sum (conv(X, g W) - T)^2: quadratic in each of X, W, g, so central differences
      // are exact up to float32 rounding of the loss. Stride 2, padding 1: every kind of tap.
      const layout = randomLayout({ inBlocks: 2, outBlocks: 3, density: 0.5, blockSize: 8, seed: 11 });
      const params: Conv2dParams = { kernel: 3, stride: 2, padding: 1 };
      const [n, H, W, C, K, bs] = [2, 5, 4, layout.inFeatures, layout.outFeatures, 8];
      const [Ho, Wo] = convOutputSize(resolveConv2d(params), [H, W]);
      const x = randomData(rng, n * H * W * C);
      const w = randomData(rng, layout.nnz * 9 * bs * bs);
      const g = Float32Array.from(randomData(rng, layout.nnz), (v) => 0.5 + Math.abs(v));
      const t = randomData(rng, n * Ho * Wo * K);
      const xShape = [n, H, W, C];
      const wShape = [layout.nnz, 3, 3, bs, bs];
      const loss = async (xs: Float32Array, ws: Float32Array, gs: Float32Array) => {
        const y = await b.read(await b.conv2d(layout, b.tensor(xs, xShape), b.tensor(ws, wShape), { ...params, gates: b.tensor(gs, [layout.nnz]) }));
        let sum = 0;
        for (let i = 0; i < y.length; i++) sum += 0.5 * (y[i] - t[i]) ** 2;
        return sum;
      };
      const X = b.tensor(x, xShape);
      const Wt = b.tensor(w, wShape);
      const G = b.tensor(g, [layout.nnz]);
      const y = await b.read(await b.conv2d(layout, X, Wt, { ...params, gates: G }));
      const dy = b.tensor(Float32Array.from(y, (v, i) => v - t[i]), [n, Ho, Wo, K]);
      const dx = await b.read(await b.conv2dBackwardData(layout, dy, Wt, { ...params, gates: G, inputSize: [H, W] }));
      const grads = await b.conv2dWeightGrad(layout, X, dy, { ...params, gates: G, weights: Wt });
      const dw = await b.read(grads.dw);
      const dg = await b.read(grads.dgates!);
      const eps = 1e-2;
      const check = async (which: 'x' | 'w' | 'g', index: number, analytic: number) => {
        const bump = (arr: Float32Array, delta: number) => Float32Array.from(arr, (v, i) => (i === index ? v + delta : v));
        const at = (delta: number) => loss(which === 'x' ? bump(x, delta) : x, which === 'w' ? bump(w, delta) : w, which === 'g' ? bump(g, delta) : g);
        const numeric = ((await at(eps)) - (await at(-eps))) / (2 * eps);
        expect(Math.abs(numeric - analytic), `d loss / d ${which}[${index}]: numeric ${numeric}, analytic ${analytic}`).toBeLessThanOrEqual(2e-2 * Math.max(1, Math.abs(analytic)));
      };
      let nonzero = 0;
      for (let s = 0; s < 6; s++) {
        const i = Math.floor(rng() * x.length);
        await check('x', i, dx[i]);
        const j = Math.floor(rng() * w.length);
        await check('w', j, dw[j]);
        const k = Math.floor(rng() * g.length);
        await check('g', k, dg[k]);
        nonzero += Number(dx[i] !== 0) + Number(dw[j] !== 0) + Number(dg[k] !== 0);
      }
      expect(nonzero, 'checked gradients that are not all zero').toBeGreaterThan(12);
    });
  });
}
