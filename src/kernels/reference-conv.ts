import type { BlockLayout } from '../patterns/layout.js';
import { convSourceRow, type Conv2dGeometry, type ConvShape } from './conv.js';

/*
 * Reference block-sparse convolutions on host arrays, accumulated in float64: the oracle the
 * backends' convolutions are tested against (conv.ts has the definition and the layouts of X, Y
 * and W). Plain loops over present blocks, taps and positions; not fast.
 */

/**
 * Calls `visit(b, c, k, tap, out, src)` for every present block b = (c, k), tap (index i kw + j)
 * and output position `out` whose tap reads input row `src` (positions in the padding are skipped).
 */
function forEachTapRow(layout: BlockLayout, g: Conv2dGeometry, shape: ConvShape, visit: (b: number, c: number, k: number, tap: number, out: number, src: number) => void): void {
  const [kh, kw] = g.kernel;
  const positions = shape.n * shape.outputSize[0] * shape.outputSize[1];
  for (let c = 0; c < layout.inBlocks; c++) {
    for (let b = layout.rowPtr[c]; b < layout.rowPtr[c + 1]; b++) {
      const k = layout.colIdx[b];
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          for (let out = 0; out < positions; out++) {
            const src = convSourceRow(g, shape, out, i, j);
            if (src >= 0) visit(b, c, k, i * kw + j, out, src);
          }
        }
      }
    }
  }
}

/** Y = conv(X, g W), [N, Ho, Wo, K]. */
export function referenceConvForward(layout: BlockLayout, g: Conv2dGeometry, shape: ConvShape, x: ArrayLike<number>, w: ArrayLike<number>, gates?: ArrayLike<number>): Float64Array {
  const bs = layout.blockSize;
  const [C, K] = shape.channels;
  const taps = g.kernel[0] * g.kernel[1];
  const y = new Float64Array(shape.n * shape.outputSize[0] * shape.outputSize[1] * K);
  forEachTapRow(layout, g, shape, (b, c, k, tap, out, src) => {
    const gate = gates ? gates[b] : 1;
    const wTap = (b * taps + tap) * bs * bs;
    for (let p = 0; p < bs; p++) {
      const xv = x[src * C + c * bs + p] * gate;
      if (xv === 0) continue;
      for (let q = 0; q < bs; q++) y[out * K + k * bs + q] += xv * w[wTap + p * bs + q];
    }
  });
  return y;
}

/** dX = the adjoint of the forward in X: [N, H, W, C]. */
export function referenceConvBackwardData(layout: BlockLayout, g: Conv2dGeometry, shape: ConvShape, dy: ArrayLike<number>, w: ArrayLike<number>, gates?: ArrayLike<number>): Float64Array {
  const bs = layout.blockSize;
  const [C, K] = shape.channels;
  const taps = g.kernel[0] * g.kernel[1];
  const dx = new Float64Array(shape.n * shape.inputSize[0] * shape.inputSize[1] * C);
  forEachTapRow(layout, g, shape, (b, c, k, tap, out, src) => {
    const gate = gates ? gates[b] : 1;
    const wTap = (b * taps + tap) * bs * bs;
    for (let p = 0; p < bs; p++) {
      let sum = 0;
      for (let q = 0; q < bs; q++) sum += dy[out * K + k * bs + q] * w[wTap + p * bs + q];
      dx[src * C + c * bs + p] += gate * sum;
    }
  });
  return dx;
}

/**
 * G_b[i, j] = sum over positions of X(tap i, j)^T dY for every present block, [nnz, kh, kw, bs, bs];
 * dW = g_b G_b, and with weights dg_b = <W_b, G_b> over all taps.
 */
export function referenceConvWeightGrad(
  layout: BlockLayout,
  g: Conv2dGeometry,
  shape: ConvShape,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  gates?: ArrayLike<number>,
  weights?: ArrayLike<number>,
): { dw: Float64Array; dgates?: Float64Array } {
  const bs = layout.blockSize;
  const [C, K] = shape.channels;
  const block = g.kernel[0] * g.kernel[1] * bs * bs;
  const G = new Float64Array(layout.nnz * block);
  forEachTapRow(layout, g, shape, (b, c, k, tap, out, src) => {
    const at = b * block + tap * bs * bs;
    for (let p = 0; p < bs; p++) {
      const xv = x[src * C + c * bs + p];
      if (xv === 0) continue;
      for (let q = 0; q < bs; q++) G[at + p * bs + q] += xv * dy[out * K + k * bs + q];
    }
  });
  const dw = new Float64Array(layout.nnz * block);
  const dgates = weights ? new Float64Array(layout.nnz) : undefined;
  for (let b = 0; b < layout.nnz; b++) {
    const gate = gates ? gates[b] : 1;
    let dot = 0;
    for (let e = b * block; e < (b + 1) * block; e++) {
      dw[e] = gate * G[e];
      if (weights) dot += weights[e] * G[e];
    }
    if (dgates) dgates[b] = dot;
  }
  return dgates ? { dw, dgates } : { dw };
}
