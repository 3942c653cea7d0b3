import { checkInteger, checkNumber } from '../../check.js';
import { ShapeError } from '../../errors.js';
import type { Backend, Tensor } from '../../kernels/types.js';
import { checkLayerInput } from './linear.js';
import { disposeParameter, makeParameter, setGrad, type ForwardMode, type Layer, type Parameter } from './layer.js';

/** Layer normalisation over the features of each row, with a gain (ones) and a bias (zeros), as PyTorch's nn.LayerNorm. */
export class LayerNorm implements Layer {
  readonly kind: 'layer-norm' | 'channel-norm' = 'layer-norm';
  readonly backend: Backend;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly eps: number;
  readonly gain: Parameter;
  readonly bias: Parameter;
  #cache: { x: Tensor; mean: Tensor; rstd: Tensor } | null = null;

  constructor(backend: Backend, features: number, eps = 1e-5) {
    this.backend = backend;
    this.inFeatures = checkInteger('features', features, 1, 2 ** 24, 'LayerNorm');
    this.outFeatures = features;
    this.eps = checkNumber('eps', eps, 0, 1, 'LayerNorm');
    this.gain = makeParameter('gain', backend.tensor(new Float32Array(features).fill(1), [features]), false);
    this.bias = makeParameter('bias', backend.zeros([features]), false);
  }

  #release(): void {
    this.#cache?.mean.dispose();
    this.#cache?.rstd.dispose();
    this.#cache = null;
  }

  /** Checks the input's shape: [N, features]. */
  protected checkInput(x: Tensor): void {
    checkLayerInput(x, this.inFeatures, 'LayerNorm');
  }

  /** (x - mean) / sqrt(var + eps) * gain + bias per row. */
  async forward(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    this.checkInput(x);
    this.#release();
    const { y, mean, rstd } = await this.backend.layerNorm(x, this.gain.value, this.bias.value, this.eps);
    if (mode.training) this.#cache = { x, mean, rstd };
    else {
      mean.dispose();
      rstd.dispose();
    }
    return y;
  }

  /** dx, and the gain and bias gradients. */
  async backward(dy: Tensor, inputGrad = true): Promise<Tensor | null> {
    const cache = this.#cache;
    if (!cache) throw new ShapeError(`${this.constructor.name}: backward needs a training forward pass first`);
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
