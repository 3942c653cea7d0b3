import { checkInteger } from '../../check.js';
import { ShapeError } from '../../errors.js';
import { resolvePool2d, type Pool2dParams } from '../../kernels/pool.js';
import type { Backend, Tensor } from '../../kernels/types.js';
import { checkImageInput } from './block-sparse-conv2d.js';
import type { ForwardMode, Layer, Parameter } from './layer.js';

/*
 * Pooling layers over NHWC activations [N, H, W, C] (the backend's pooling operations,
 * src/kernels/pool.ts: PyTorch's windows, the stride defaulting to the kernel). They have no
 * parameters; their features are the channels, which they keep.
 */

/** A pooling window resolved and kept as given (kernel, stride, padding as [height, width] pairs). */
interface Window {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
}

function windowOf(params: Pool2dParams, context: string): Window {
  const g = resolvePool2d(params, context);
  return { kernel: [g.kernel[0], g.kernel[1]], stride: [g.stride[0], g.stride[1]], padding: [g.padding[0], g.padding[1]] };
}

/** Max pooling (PyTorch's max_pool2d): each window's largest value; the gradient goes to the window's first maximum. */
export class MaxPool2d implements Layer {
  readonly kind = 'max-pool2d';
  readonly backend: Backend;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** The window: kernel, stride (default the kernel), padding (default 0), each [height, width]. */
  readonly window: Readonly<Window>;
  #x: Tensor | null = null;

  constructor(backend: Backend, channels: number, params: Pool2dParams) {
    this.backend = backend;
    this.inFeatures = checkInteger('channels', channels, 1, 2 ** 24, 'MaxPool2d');
    this.outFeatures = channels;
    this.window = Object.freeze(windowOf(params, 'MaxPool2d'));
  }

  /** The maximum of each window, [N, Ho, Wo, C]. */
  async forward(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    checkImageInput(x, this.inFeatures, 'MaxPool2d');
    this.#x = mode.training ? x : null;
    return this.backend.maxPool2d(x, this.window);
  }

  /** dy to each window's first maximum, summed where windows overlap. */
  async backward(dy: Tensor, inputGrad = true): Promise<Tensor | null> {
    const x = this.#x;
    if (!x) throw new ShapeError('MaxPool2d: backward needs a training forward pass first');
    this.#x = null;
    return inputGrad ? this.backend.maxPool2dGrad(x, dy, this.window) : null;
  }

  parameters(): Parameter[] {
    return [];
  }

  dispose(): void {
    this.#x = null;
  }
}

/** Average pooling (PyTorch's avg_pool2d, padding counted in the mean): each window's mean. */
export class AvgPool2d implements Layer {
  readonly kind = 'avg-pool2d';
  readonly backend: Backend;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** The window: kernel, stride (default the kernel), padding (default 0), each [height, width]. */
  readonly window: Readonly<Window>;
  #inputSize: [number, number] | null = null;

  constructor(backend: Backend, channels: number, params: Pool2dParams) {
    this.backend = backend;
    this.inFeatures = checkInteger('channels', channels, 1, 2 ** 24, 'AvgPool2d');
    this.outFeatures = channels;
    this.window = Object.freeze(windowOf(params, 'AvgPool2d'));
  }

  /** The mean of each window, [N, Ho, Wo, C]. */
  async forward(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    checkImageInput(x, this.inFeatures, 'AvgPool2d');
    this.#inputSize = mode.training ? [x.shape[1], x.shape[2]] : null;
    return this.backend.avgPool2d(x, this.window);
  }

  /** Each window's dy over kh kw, to every position of the window. */
  async backward(dy: Tensor, inputGrad = true): Promise<Tensor | null> {
    const inputSize = this.#inputSize;
    if (!inputSize) throw new ShapeError('AvgPool2d: backward needs a training forward pass first');
    this.#inputSize = null;
    return inputGrad ? this.backend.avgPool2dGrad(dy, { ...this.window, inputSize }) : null;
  }

  parameters(): Parameter[] {
    return [];
  }

  dispose(): void {
    this.#inputSize = null;
  }
}

/** Global average pooling: the mean over positions, NHWC [N, H, W, C] to [N, C] (PyTorch's adaptive_avg_pool2d to 1 x 1, flattened). */
export class GlobalAvgPool implements Layer {
  readonly kind = 'global-avg-pool';
  readonly backend: Backend;
  readonly inFeatures: number;
  readonly outFeatures: number;
  #inputSize: [number, number] | null = null;

  constructor(backend: Backend, channels: number) {
    this.backend = backend;
    this.inFeatures = checkInteger('channels', channels, 1, 2 ** 24, 'GlobalAvgPool');
    this.outFeatures = channels;
  }

  /** The mean of each image's positions, [N, C]. */
  async forward(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    checkImageInput(x, this.inFeatures, 'GlobalAvgPool');
    this.#inputSize = mode.training ? [x.shape[1], x.shape[2]] : null;
    return this.backend.globalAvgPool(x);
  }

  /** dy [N, C] over H W, to every position. */
  async backward(dy: Tensor, inputGrad = true): Promise<Tensor | null> {
    const inputSize = this.#inputSize;
    if (!inputSize) throw new ShapeError('GlobalAvgPool: backward needs a training forward pass first');
    this.#inputSize = null;
    return inputGrad ? this.backend.globalAvgPoolGrad(dy, inputSize) : null;
  }

  parameters(): Parameter[] {
    return [];
  }

  dispose(): void {
    this.#inputSize = null;
  }
}
