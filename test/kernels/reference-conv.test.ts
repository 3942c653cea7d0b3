import { describe, expect, it } from 'vitest';
import { ParameterError, ShapeError } from '../../src/errors.js';
import { convOutputSize, convSourceRow, resolveConv2d, type ConvShape } from '../../src/kernels/conv.js';
import { referenceForward, referenceWeightGrad } from '../../src/kernels/reference.js';
import { referenceConvBackwardData, referenceConvForward, referenceConvWeightGrad } from '../../src/kernels/reference-conv.js';
import { BlockLayout } from '../../src/patterns/layout.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { resolveRng } from '../../src/random.js';

/*
 * The float64 reference convolution, checked against what it must equal without another
 * implementation: a 1 x 1 convolution is the block product over N H W rows; backward-data and the
 * weight gradient are the forward's adjoints (<conv(X; W), dY> = <X, dX> = <W, G>); a hand-computed
 * 3 x 3 case with padding and stride. (The PyTorch cross-check of the backends covers the rest.)
 */

const rng = resolveRng({ seed: 'reference-conv' });
const random = (n: number) => Float64Array.from({ length: n }, () => rng() * 2 - 1);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

describe('conv geometry', () => {
  it('resolves defaults and pairs, and refuses values outside their ranges with ParameterError', () => {
    expect(resolveConv2d({ kernel: 3 })).toEqual({ kernel: [3, 3], stride: [1, 1], padding: [0, 0], dilation: [1, 1] });
    expect(resolveConv2d({ kernel: [3, 1], stride: 2, padding: [1, 0], dilation: [2, 1] })).toEqual({ kernel: [3, 1], stride: [2, 2], padding: [1, 0], dilation: [2, 1] });
    expect(() => resolveConv2d({ kernel: 0 })).toThrow(ParameterError);
    expect(() => resolveConv2d({ kernel: 3, stride: 0 })).toThrow(/stride/);
    expect(() => resolveConv2d({ kernel: 3, padding: -1 })).toThrow(/padding.*\[0, 64\]/);
    expect(() => resolveConv2d({ kernel: 2.5 })).toThrow(/kernel/);
  });

  it("gives PyTorch's output sizes, and ShapeError when the kernel does not fit", () => {
    // floor((H + 2p - d (k - 1) - 1) / s) + 1
    expect(convOutputSize(resolveConv2d({ kernel: 3, padding: 1 }), [28, 28])).toEqual([28, 28]);
    expect(convOutputSize(resolveConv2d({ kernel: 3, stride: 2, padding: 1 }), [7, 5])).toEqual([4, 3]);
    expect(convOutputSize(resolveConv2d({ kernel: 5, dilation: 2 }), [9, 12])).toEqual([1, 4]);
    expect(() => convOutputSize(resolveConv2d({ kernel: 5 }), [4, 9])).toThrow(ShapeError);
  });

  it('maps output positions and taps to input rows, -1 in the padding', () => {
    const g = resolveConv2d({ kernel: 3, stride: 2, padding: 1 });
    const shape: ConvShape = { n: 2, inputSize: [5, 4], outputSize: [3, 2], channels: [8, 8] };
    // output (n 1, y 2, x 1) = index (1 * 3 + 2) * 2 + 1 = 11; tap (0, 0) reads (y 3, x 1); tap (2, 2) reads (5, 3): outside.
    expect(convSourceRow(g, shape, 11, 0, 0)).toBe((1 * 5 + 3) * 4 + 1);
    expect(convSourceRow(g, shape, 11, 2, 2)).toBe(-1);
    expect(convSourceRow(g, shape, 0, 0, 0)).toBe(-1);
    expect(convSourceRow(g, shape, 0, 1, 1)).toBe(0);
  });
});

describe('the reference convolution', () => {
  it('is the block product over N H W rows for a 1 x 1 kernel', () => {
    const layout = randomLayout({ inBlocks: 3, outBlocks: 2, density: 0.6, blockSize: 8, seed: 3 });
    const g = resolveConv2d({ kernel: 1 });
    const shape: ConvShape = { n: 2, inputSize: [3, 5], outputSize: [3, 5], channels: [24, 16] };
    const x = random(30 * 24);
    const w = random(layout.nnz * 64);
    const gates = random(layout.nnz);
    const dy = random(30 * 16);
    expect(Array.from(referenceConvForward(layout, g, shape, x, w, gates))).toEqual(Array.from(referenceForward(layout, x, 30, w, gates)));
    const conv = referenceConvWeightGrad(layout, g, shape, x, dy, gates, w);
    const dense = referenceWeightGrad(layout, x, dy, 30, gates, w);
    expect(Array.from(conv.dw)).toEqual(Array.from(dense.dw));
    expect(Array.from(conv.dgates!)).toEqual(Array.from(dense.dgates!));
  });

  it('has backward-data and the weight gradient as the adjoints of the forward (strides, padding, dilation)', () => {
    const layout = BlockLayout.fromPairs({ inBlocks: 3, outBlocks: 2, blockSize: 8 }, [0, 2, 2], [1, 0, 1]);
    for (const params of [{ kernel: 3, padding: 1 }, { kernel: [3, 2] as [number, number], stride: 2, padding: [1, 0] as [number, number] }, { kernel: 2, dilation: 2, stride: [1, 2] as [number, number] }]) {
      const g = resolveConv2d(params);
      const inputSize: [number, number] = [7, 5];
      const outputSize = convOutputSize(g, inputSize);
      const shape: ConvShape = { n: 2, inputSize, outputSize, channels: [24, 16] };
      const x = random(2 * 35 * 24);
      const w = random(layout.nnz * g.kernel[0] * g.kernel[1] * 64);
      const gates = random(layout.nnz);
      const dy = random(2 * outputSize[0] * outputSize[1] * 16);
      const y = referenceConvForward(layout, g, shape, x, w, gates);
      const lhs = dot(y, dy);
      expect(dot(x, referenceConvBackwardData(layout, g, shape, dy, w, gates))).toBeCloseTo(lhs, 9);
      const { dw, dgates } = referenceConvWeightGrad(layout, g, shape, x, dy, gates, w);
      // <conv(X; g W), dY> = sum_b g_b <W_b, G_b> = <W, dW> (dW = g G) = sum_b g_b dg_b
      expect(dot(w, dw)).toBeCloseTo(lhs, 9);
      expect(dot(gates, dgates!)).toBeCloseTo(lhs, 9);
    }
  });

  it('computes a hand-checked 3 x 3 convolution with padding 1 and stride 2', () => {
    // One block of 8 channels; only channel 0 -> 0 is non-zero: W[i, j] = 1 + 3 i + j; X[y, x] = 10 y + x.
    const layout = BlockLayout.fromPairs({ inBlocks: 1, outBlocks: 1, blockSize: 8 }, [0], [0]);
    const g = resolveConv2d({ kernel: 3, padding: 1, stride: 2 });
    const shape: ConvShape = { n: 1, inputSize: [3, 3], outputSize: [2, 2], channels: [8, 8] };
    const x = new Float64Array(9 * 8);
    for (let y = 0; y < 3; y++) for (let c = 0; c < 3; c++) x[(y * 3 + c) * 8] = 10 * y + c;
    const w = new Float64Array(9 * 64);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) w[(i * 3 + j) * 64] = 1 + 3 * i + j;
    const y = referenceConvForward(layout, g, shape, x, w);
    // Output (0, 0) covers input rows -1..1, columns -1..1: taps (1..2, 1..2) on X[0..1, 0..1].
    const expected00 = 5 * 0 + 6 * 1 + 8 * 10 + 9 * 11;
    // Output (1, 1) covers rows 1..3, columns 1..3: taps (0..1, 0..1) on X[1..2, 1..2].
    const expected11 = 1 * 11 + 2 * 12 + 4 * 21 + 5 * 22;
    expect([y[0], y[3 * 8]]).toEqual([expected00, expected11]);
    expect(y.filter((v, i) => i % 8 !== 0).every((v) => v === 0)).toBe(true);
  });
});
