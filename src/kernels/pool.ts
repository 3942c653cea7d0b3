import { ParameterError } from '../errors.js';
import { resolveConv2d, type Conv2dGeometry, type Pair } from './conv.js';

/*
 * Pooling windows over NHWC activations ([N, H, W, C], channels last), with PyTorch's conventions
 * (max_pool2d, avg_pool2d with ceil_mode off, dilation 1): window (oy, ox) covers input rows
 * oy sh - ph .. oy sh - ph + kh - 1 and columns ox sw - pw .. ox sw - pw + kw - 1, the stride
 * defaults to the kernel, the padding to 0 and is at most half the kernel (so every window holds
 * at least one input position), and the output size is the convolution's (conv.ts's
 * convOutputSize of the resolved window): Ho = floor((H + 2 ph - kh) / sh) + 1, likewise Wo.
 */

/** A pooling window, as given: kernel size, stride (default: the kernel, as PyTorch), padding (default 0, at most half the kernel). */
export interface Pool2dParams {
  kernel: Pair;
  stride?: Pair;
  padding?: Pair;
}

/** avgPool2dGrad's options: the window, and the input's spatial size [H, W] (with strides, dy's size does not fix it). */
export interface AvgPool2dGradOptions extends Pool2dParams {
  inputSize: readonly [number, number];
}

/**
 * The window with defaults filled in, as a convolution geometry with dilation 1 (convOutputSize
 * then gives the output size); ParameterError names a field outside its range, or a padding over
 * half the kernel (PyTorch refuses it too: a window could then lie wholly in the padding).
 */
export function resolvePool2d(params: Pool2dParams, context = 'pooling'): Conv2dGeometry {
  if (params === null || typeof params !== 'object') throw new ParameterError('params', 'an object with kernel, stride, padding', params, context);
  const g = resolveConv2d({ kernel: params.kernel, stride: params.stride ?? params.kernel, padding: params.padding });
  for (const axis of [0, 1]) {
    if (g.padding[axis] > Math.floor(g.kernel[axis] / 2)) {
      throw new ParameterError('padding', `at most half the kernel (${g.kernel.join(' x ')})`, params.padding, context);
    }
  }
  return g;
}

