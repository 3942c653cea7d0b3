import type { Conv2dGeometry } from './conv.js';

/*
 * Reference pooling on host arrays, in float64: the oracle the backends' pooling operations are
 * tested against (pool.ts has the windows; activations NHWC). Plain loops over windows, written
 * as the definitions (the gradients scatter each window's dy, where the kernels gather); not fast.
 */

/** The sizes of one pooling: batch, input [H, W], output [Ho, Wo], channels. */
export interface PoolShape {
  readonly n: number;
  readonly inputSize: readonly [number, number];
  readonly outputSize: readonly [number, number];
  readonly channels: number;
}

/** Calls visit(o, taps) for each output element o (flattened [N, Ho, Wo, C]) with its window's input elements in row-major order. */
function eachWindow(g: Conv2dGeometry, s: PoolShape, visit: (o: number, taps: number[]) => void): void {
  const [h, w] = s.inputSize;
  const [ho, wo] = s.outputSize;
  const c = s.channels;
  for (let n = 0; n < s.n; n++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        for (let ch = 0; ch < c; ch++) {
          const taps: number[] = [];
          for (let i = 0; i < g.kernel[0]; i++) {
            for (let j = 0; j < g.kernel[1]; j++) {
              const y = oy * g.stride[0] - g.padding[0] + i;
              const x = ox * g.stride[1] - g.padding[1] + j;
              if (y >= 0 && y < h && x >= 0 && x < w) taps.push(((n * h + y) * w + x) * c + ch);
            }
          }
          visit(((n * ho + oy) * wo + ox) * c + ch, taps);
        }
      }
    }
  }
}

/** The input element each window's gradient goes to: its first maximum in row-major order, or its last NaN (PyTorch's max_pool2d indices). */
export function referenceMaxPool2dIndices(g: Conv2dGeometry, s: PoolShape, x: ArrayLike<number>): Int32Array {
  const out = new Int32Array(s.n * s.outputSize[0] * s.outputSize[1] * s.channels);
  eachWindow(g, s, (o, taps) => {
    let best = -Infinity;
    let at = taps[0];
    for (const t of taps) {
      if (x[t] > best || Number.isNaN(x[t])) [best, at] = [x[t], t];
    }
    out[o] = at;
  });
  return out;
}

/** Max pooling, [N, Ho, Wo, C] (padding: -infinity; a NaN in a window gives NaN). */
export function referenceMaxPool2d(g: Conv2dGeometry, s: PoolShape, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(referenceMaxPool2dIndices(g, s, x), (t) => x[t]);
}

/** Max pooling's gradient, [N, H, W, C]: each window's dy added at its first maximum. */
export function referenceMaxPool2dGrad(g: Conv2dGeometry, s: PoolShape, x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(s.n * s.inputSize[0] * s.inputSize[1] * s.channels);
  referenceMaxPool2dIndices(g, s, x).forEach((t, o) => {
    dx[t] += dy[o];
  });
  return dx;
}

/** Average pooling, [N, Ho, Wo, C]: each window's sum over kh kw (padding counted as zeros, PyTorch's count_include_pad). */
export function referenceAvgPool2d(g: Conv2dGeometry, s: PoolShape, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(s.n * s.outputSize[0] * s.outputSize[1] * s.channels);
  const divisor = g.kernel[0] * g.kernel[1];
  eachWindow(g, s, (o, taps) => {
    let sum = 0;
    for (const t of taps) sum += x[t];
    y[o] = sum / divisor;
  });
  return y;
}

/** Average pooling's gradient, [N, H, W, C]: each window's dy over kh kw added at each of its input elements. */
export function referenceAvgPool2dGrad(g: Conv2dGeometry, s: PoolShape, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(s.n * s.inputSize[0] * s.inputSize[1] * s.channels);
  const divisor = g.kernel[0] * g.kernel[1];
  eachWindow(g, s, (o, taps) => {
    for (const t of taps) dx[t] += dy[o] / divisor;
  });
  return dx;
}

/** Global average pooling of x [N, H, W, C], [N, C]. */
export function referenceGlobalAvgPool(n: number, inputSize: readonly [number, number], channels: number, x: ArrayLike<number>): Float64Array {
  const positions = inputSize[0] * inputSize[1];
  const y = new Float64Array(n * channels);
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < positions; p++) {
      for (let c = 0; c < channels; c++) y[b * channels + c] += x[(b * positions + p) * channels + c] / positions;
    }
  }
  return y;
}

/** Global average pooling's gradient, [N, H, W, C] for dy [N, C]. */
export function referenceGlobalAvgPoolGrad(n: number, inputSize: readonly [number, number], channels: number, dy: ArrayLike<number>): Float64Array {
  const positions = inputSize[0] * inputSize[1];
  const dx = new Float64Array(n * positions * channels);
  for (let i = 0; i < dx.length; i++) dx[i] = dy[Math.floor(i / (positions * channels)) * channels + (i % channels)] / positions;
  return dx;
}
