import type { BlockLayout } from '../patterns/layout.js';

/*
 * Plain reference products on host arrays, accumulated in float64: the oracle every backend is
 * tested against. Not fast, and not meant to be. Shapes as in Backend: X [N, C], dY [N, K],
 * W [nnz, bs, bs] row-major per block, gates [nnz].
 */

/** Y = X . (g W), [N, K]. */
export function referenceForward(layout: BlockLayout, x: ArrayLike<number>, n: number, w: ArrayLike<number>, gates?: ArrayLike<number>): Float64Array {
  const bs = layout.blockSize;
  const C = layout.inFeatures;
  const K = layout.outFeatures;
  const y = new Float64Array(n * K);
  for (let c = 0; c < layout.inBlocks; c++) {
    for (let b = layout.rowPtr[c]; b < layout.rowPtr[c + 1]; b++) {
      const k = layout.colIdx[b];
      const g = gates ? gates[b] : 1;
      for (let r = 0; r < n; r++) {
        for (let i = 0; i < bs; i++) {
          const xv = x[r * C + c * bs + i] * g;
          if (xv === 0) continue;
          const wRow = (b * bs + i) * bs;
          for (let j = 0; j < bs; j++) y[r * K + k * bs + j] += xv * w[wRow + j];
        }
      }
    }
  }
  return y;
}

/** dX = dY . (g W)^T, [N, C]. */
export function referenceBackwardData(layout: BlockLayout, dy: ArrayLike<number>, n: number, w: ArrayLike<number>, gates?: ArrayLike<number>): Float64Array {
  const bs = layout.blockSize;
  const C = layout.inFeatures;
  const K = layout.outFeatures;
  const dx = new Float64Array(n * C);
  for (let c = 0; c < layout.inBlocks; c++) {
    for (let b = layout.rowPtr[c]; b < layout.rowPtr[c + 1]; b++) {
      const k = layout.colIdx[b];
      const g = gates ? gates[b] : 1;
      for (let r = 0; r < n; r++) {
        for (let i = 0; i < bs; i++) {
          let sum = 0;
          const wRow = (b * bs + i) * bs;
          for (let j = 0; j < bs; j++) sum += dy[r * K + k * bs + j] * w[wRow + j];
          dx[r * C + c * bs + i] += g * sum;
        }
      }
    }
  }
  return dx;
}

/** G_b = (X^T dY)_b for every present block, [nnz, bs, bs]; dW = g_b G_b and dg_b = <W_b, G_b>. */
export function referenceWeightGrad(
  layout: BlockLayout,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  n: number,
  gates?: ArrayLike<number>,
  weights?: ArrayLike<number>,
): { dw: Float64Array; dgates?: Float64Array } {
  const bs = layout.blockSize;
  const C = layout.inFeatures;
  const K = layout.outFeatures;
  const dw = new Float64Array(layout.nnz * bs * bs);
  const dgates = weights ? new Float64Array(layout.nnz) : undefined;
  for (let c = 0; c < layout.inBlocks; c++) {
    for (let b = layout.rowPtr[c]; b < layout.rowPtr[c + 1]; b++) {
      const k = layout.colIdx[b];
      const g = gates ? gates[b] : 1;
      let dot = 0;
      for (let i = 0; i < bs; i++) {
        for (let j = 0; j < bs; j++) {
          let sum = 0;
          for (let r = 0; r < n; r++) sum += x[r * C + c * bs + i] * dy[r * K + k * bs + j];
          const at = (b * bs + i) * bs + j;
          dw[at] = g * sum;
          if (weights) dot += weights[at] * sum;
        }
      }
      if (dgates) dgates[b] = dot;
    }
  }
  return { dw, dgates };
}

/** C = op(A) . op(B) for row-major A [rows, cols] and B; returns [M, N]. */
export function referenceMatmul(
  a: ArrayLike<number>,
  aShape: readonly [number, number],
  b: ArrayLike<number>,
  bShape: readonly [number, number],
  transposeA = false,
  transposeB = false,
): Float64Array {
  const [m, k] = transposeA ? [aShape[1], aShape[0]] : aShape;
  const n = transposeB ? bShape[0] : bShape[1];
  const at = (i: number, p: number) => (transposeA ? a[p * aShape[1] + i] : a[i * aShape[1] + p]);
  const bt = (p: number, j: number) => (transposeB ? b[j * bShape[1] + p] : b[p * bShape[1] + j]);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += at(i, p) * bt(p, j);
      out[i * n + j] = sum;
    }
  }
  return out;
}
