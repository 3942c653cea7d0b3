import { checkInteger } from '../../check.js';
import { ParameterError, ShapeError } from '../../errors.js';
import type { Backend, Tensor } from '../../kernels/types.js';
import type { ForwardMode, Layer, Parameter } from './layer.js';

/** Options of `ImageInput`: the image's height and width, its channels in the data, and the channels it is laid out in. */
export interface ImageInputOptions {
  height: number;
  width: number;
  /** Channels of the data (default 1: a grey image). */
  inChannels?: number;
  /** Channels of the output, at least inChannels (a convolution's input: a multiple of its block size). */
  channels: number;
}

/**
 * A model's input adapter for convolutions: flattened images [N, H W Cin] (rows of a data set, as
 * Fashion-MNIST's [N, 784]; pixel (y, x) channel c at (y W + x) Cin + c) laid out as NHWC
 * [N, H, W, C] with the data's channels first and zeros in the others. A block-sparse convolution
 * takes whole channel blocks, and 1 grey channel is no multiple of a block size, so a CNN's stem
 * reads C = bs channels of which bs - 1 are zero (their weights get no gradient: wasted work, tiny
 * at 28 x 28). On the backend: a reshape to [N H W, Cin], a product with [Cin, C] (the identity
 * in its first Cin columns), a reshape to [N, H, W, C]; backward is the same transposed. No
 * parameters.
 */
export class ImageInput implements Layer {
  readonly kind = 'image-input';
  readonly backend: Backend;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly height: number;
  readonly width: number;
  readonly inChannels: number;
  readonly channels: number;
  /** The table [Cin, C] of the product: the identity in its first Cin columns. */
  readonly #spread: Tensor;
  #training = false;

  constructor(backend: Backend, options: ImageInputOptions) {
    const context = 'ImageInput';
    if (typeof options !== 'object' || options === null) throw new ParameterError('options', 'an object {height, width, channels, inChannels}', options, context);
    this.backend = backend;
    this.height = checkInteger('height', options.height, 1, 2 ** 24, context);
    this.width = checkInteger('width', options.width, 1, 2 ** 24, context);
    this.inChannels = checkInteger('inChannels', options.inChannels ?? 1, 1, 2 ** 24, context);
    this.channels = checkInteger('channels', options.channels, this.inChannels, 2 ** 24, context);
    this.inFeatures = checkInteger('height x width x inChannels', this.height * this.width * this.inChannels, 1, 2 ** 31 - 1, context);
    this.outFeatures = this.channels;
    const spread = new Float32Array(this.inChannels * this.channels);
    for (let c = 0; c < this.inChannels; c++) spread[c * this.channels + c] = 1;
    this.#spread = backend.tensor(spread, [this.inChannels, this.channels]);
  }

  /** x [N, H W Cin] as [N, H, W, C], the extra channels zero. */
  async forward(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    if (x.shape.length !== 2 || x.shape[1] !== this.inFeatures || x.shape[0] < 1) {
      throw new ShapeError(`ImageInput: input has shape [${x.shape.join(', ')}] but the layer needs [N, ${this.inFeatures}] (${this.height} x ${this.width} images of ${this.inChannels} channels, flattened)`);
    }
    const n = x.shape[0];
    const positions = n * this.height * this.width;
    const pixels = await this.backend.copy(x, [positions, this.inChannels]);
    const spread = await this.backend.matmul(pixels, this.#spread);
    pixels.dispose();
    const y = await this.backend.copy(spread, [n, this.height, this.width, this.channels]);
    spread.dispose();
    this.#training = mode.training;
    return y;
  }

  /** dx [N, H W Cin]: dy's first Cin channels. */
  async backward(dy: Tensor, inputGrad = true): Promise<Tensor | null> {
    if (!this.#training) throw new ShapeError('ImageInput: backward needs a training forward pass first');
    this.#training = false;
    if (!inputGrad) return null;
    const n = dy.shape[0];
    if (dy.shape.length !== 4 || dy.shape[1] !== this.height || dy.shape[2] !== this.width || dy.shape[3] !== this.channels) {
      throw new ShapeError(`ImageInput: dy has shape [${dy.shape.join(', ')}] but the output is [N, ${this.height}, ${this.width}, ${this.channels}]`);
    }
    const rows = await this.backend.copy(dy, [n * this.height * this.width, this.channels]);
    const picked = await this.backend.matmul(rows, this.#spread, { transposeB: true });
    rows.dispose();
    const dx = await this.backend.copy(picked, [n, this.inFeatures]);
    picked.dispose();
    return dx;
  }

  parameters(): Parameter[] {
    return [];
  }

  dispose(): void {
    this.#spread.dispose();
  }
}
