import { checkInteger, checkNumber } from '../../check.js';
import { ShapeError } from '../../errors.js';
import type { Backend, Tensor } from '../../kernels/types.js';
import { disposeParameter, makeParameter, setGrad, type ForwardMode, type Layer, type Parameter } from './layer.js';

/**
 * Channel normalisation of NHWC activations: each position's C channels normalised to mean 0 and
 * variance 1 (biased, eps inside the root), then scaled by a gain (ones) and shifted by a bias
 * (zeros) per channel: PyTorch's nn.LayerNorm(C) applied to the channels-last tensor, as ConvNeXt
 * normalises. It runs as the backend's layerNorm over the last dimension of x [..., C] (rank >= 2:
 * [N, H, W, C], or [N, C]), so unlike batch normalisation it keeps no running statistics and a
 * batch's examples stay independent.
 */
export class ChannelNorm implements Layer {
  readonly kind = 'channel-norm';
  readonly backend: Backend;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly eps: number;
  readonly gain: Parameter;
  readonly bias: Parameter;
  #cache: { x: Tensor; mean: Tensor; rstd: Tensor } | null = null;

  constructor(backend: Backend, channels: number, eps = 1e-5) {
    this.backend = backend;
    this.inFeatures = checkInteger('channels', channels, 1, 2 ** 24, 'ChannelNorm');
    this.outFeatures = channels;
    this.eps = checkNumber('eps', eps, 0, 1, 'ChannelNorm');
    this.gain = makeParameter('gain', backend.tensor(new Float32Array(channels).fill(1), [channels]), false);
    this.bias = makeParameter('bias', backend.zeros([channels]), false);
  }

  #release(): void {
    this.#cache?.mean.dispose();
    this.#cache?.rstd.dispose();
    this.#cache = null;
  }

  /** (x - mean) / sqrt(var + eps) * gain + bias over each position's channels; x's shape. */
  async forward(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    if (x.shape.length < 2 || x.shape[x.shape.length - 1] !== this.inFeatures) {
      throw new ShapeError(`ChannelNorm: input has shape [${x.shape.join(', ')}] but the layer needs [..., ${this.inFeatures}] (channels last, rank >= 2)`);
    }
    this.#release();
    const { y, mean, rstd } = await this.backend.layerNorm(x, this.gain.value, this.bias.value, this.eps);
    if (mode.training) this.#cache = { x, mean, rstd };
    else {
      mean.dispose();
      rstd.dispose();
    }
    return y;
  }

  /** dx, and the gain and bias gradients (summed over every position). */
  async backward(dy: Tensor, inputGrad = true): Promise<Tensor | null> {
    const cache = this.#cache;
    if (!cache) throw new ShapeError('ChannelNorm: backward needs a training forward pass first');
    const { dx, dgamma, dbeta } = await this.backend.layerNormGrad(cache.x, dy, this.gain.value, cache.mean, cache.rstd);
    setGrad(this.gain, dgamma);
    setGrad(this.bias, dbeta);
    this.#release();
    if (inputGrad) return dx;
    dx.dispose();
    return null;
  }

  parameters(): Parameter[] {
    return [this.gain, this.bias];
  }

  dispose(): void {
    this.#release();
    for (const p of this.parameters()) disposeParameter(p);
  }
}
