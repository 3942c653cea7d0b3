import { ParameterError, ShapeError } from '../errors.js';
import type { BlockLayout } from '../patterns/layout.js';

/*
 * Block-sparse 2-D convolution: sparsity over channel blocks, dense in space (as OpenAI's
 * blocksparse convolutions). The layout is over channel blocks: input channel block c feeds output
 * channel block k where the layout has block b = (c, k). Activations are NHWC (channels last, so a
 * spatial position's channels are contiguous like the rows of the matrix products):
 *
 *   X  [N, H, W, C]      Y  [N, Ho, Wo, K]      W  [nnz, kh, kw, bs, bs]
 *
 * Block b's weight at tap (i, j) is a bs x bs matrix W_b[i, j], input channel (within block c)
 * down, output channel (within block k) across, as the dense blocks of the matrix products:
 *
 *   Y[n, y, x, k bs + q] = sum over (c, b) of column k, i < kh, j < kw, p < bs of
 *       g_b X[n, y sh - ph + i dh, x sw - pw + j dw, c bs + p] W_b[i, j, p, q]
 *
 * with X zero outside the image (padding), Ho = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1 and
 * likewise Wo. This is PyTorch's conv2d (cross-correlation) with weight[k bs + q, c bs + p, i, j] =
 * g_b W_b[i, j, p, q] and zero where the layout has no block.
 */

/** A pair (height, width), or one number for both. */
export type Pair = number | readonly [number, number];

/** The geometry of a convolution, as given: kernel size, stride (1), padding (0), dilation (1). */
export interface Conv2dParams {
  kernel: Pair;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}

/** The geometry of a convolution, resolved: every field a [height, width] pair. */
export interface Conv2dGeometry {
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly padding: readonly [number, number];
  readonly dilation: readonly [number, number];
}

/** Largest kernel edge, stride, padding and dilation accepted (a bound on nonsense, not on memory). */
export const MAX_CONV_PARAM = 64;

function pair(name: string, value: Pair | undefined, fallback: number, min: number): [number, number] {
  const p: [number, number] = value === undefined ? [fallback, fallback] : typeof value === 'number' ? [value, value] : [value[0], value[1]];
  for (const v of p) {
    if (!Number.isInteger(v) || v < min || v > MAX_CONV_PARAM) throw new ParameterError(name, `integers in [${min}, ${MAX_CONV_PARAM}]`, value);
  }
  return p;
}

/** The geometry with defaults filled in; ParameterError names a field outside its range. */
export function resolveConv2d(params: Conv2dParams): Conv2dGeometry {
  if (params === null || typeof params !== 'object') throw new ParameterError('conv2d', 'an object with kernel, stride, padding, dilation', params);
  return {
    kernel: pair('kernel', params.kernel, 1, 1),
    stride: pair('stride', params.stride, 1, 1),
    padding: pair('padding', params.padding, 0, 0),
    dilation: pair('dilation', params.dilation, 1, 1),
  };
}

/** Taps of the kernel (kh kw). */
export const taps = (g: Conv2dGeometry): number => g.kernel[0] * g.kernel[1];

/** The output size along one axis, or a non-positive number when the kernel does not fit. */
function outSize(size: number, kernel: number, stride: number, padding: number, dilation: number): number {
  return Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** The output spatial size [Ho, Wo] of an input of [H, W]; ShapeError when the dilated kernel does not fit the padded input. */
export function convOutputSize(g: Conv2dGeometry, inputSize: readonly [number, number]): [number, number] {
  const [h, w] = inputSize;
  const ho = outSize(h, g.kernel[0], g.stride[0], g.padding[0], g.dilation[0]);
  const wo = outSize(w, g.kernel[1], g.stride[1], g.padding[1], g.dilation[1]);
  if (ho < 1 || wo < 1) {
    throw new ShapeError(`conv2d: a ${g.kernel.join(' x ')} kernel (dilation ${g.dilation.join(', ')}) does not fit an input of ${h} x ${w} with padding ${g.padding.join(', ')}`);
  }
  return [ho, wo];
}

/** One convolution's sizes: batch, input and output spatial sizes, channels. */
export interface ConvShape {
  readonly n: number;
  readonly inputSize: readonly [number, number];
  readonly outputSize: readonly [number, number];
  /** Input and output channels (C = inBlocks bs, K = outBlocks bs). */
  readonly channels: readonly [number, number];
}

/** The shape of W for `layout` and `g`: [nnz, kh, kw, bs, bs]. */
export function convWeightShape(layout: BlockLayout, g: Conv2dGeometry): [number, number, number, number, number] {
  return [layout.nnz, g.kernel[0], g.kernel[1], layout.blockSize, layout.blockSize];
}

/**
 * The input row (n, y, x flattened: (n H + y) W + x) that output position `out` (flattened over
 * [N, Ho, Wo]) reads at tap (i, j), or -1 where it falls in the padding.
 */
export function convSourceRow(g: Conv2dGeometry, shape: ConvShape, out: number, i: number, j: number): number {
  const [h, w] = shape.inputSize;
  const [ho, wo] = shape.outputSize;
  const x = out % wo;
  const y = Math.floor(out / wo) % ho;
  const n = Math.floor(out / (wo * ho));
  const iy = y * g.stride[0] - g.padding[0] + i * g.dilation[0];
  const ix = x * g.stride[1] - g.padding[1] + j * g.dilation[1];
  if (iy < 0 || iy >= h || ix < 0 || ix >= w) return -1;
  return (n * h + iy) * w + ix;
}
