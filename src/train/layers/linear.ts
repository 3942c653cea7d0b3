import { checkInteger } from '../../check.js';
import { ShapeError } from '../../errors.js';
import type { Backend, Tensor } from '../../kernels/types.js';
import { resolveRng, type RandomOptions } from '../../random.js';
import { uniform } from './init.js';
import { disposeParameter, makeParameter, projectionBackward, setGrad, withBias, type BiasedLayer, type ForwardMode, type Parameter, type Projection } from './layer.js';

/** Checks that x is [N, features] with N >= 1; returns N. */
export function checkLayerInput(x: Tensor, features: number, layer: string): number {
  if (x.shape.length !== 2 || x.shape[1] !== features || x.shape[0] < 1) {
    throw new ShapeError(`${layer}: input has shape [${x.shape.join(', ')}] but the layer needs [N, ${features}]`);
  }
  return x.shape[0];
}

/** Options of `Linear`. */
export interface LinearOptions extends RandomOptions {
  /** Add a bias (default true). */
  bias?: boolean;
}

/**
 * A dense layer y = x W + b, W [in, out]. Initialised as PyTorch's nn.Linear: W and b uniform
 * in [-1/sqrt(in), 1/sqrt(in)] (seeded).
 */
export class Linear implements BiasedLayer, Projection {
  readonly kind = 'linear';
  readonly backend: Backend;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  #x: Tensor | null = null;

  constructor(backend: Backend, inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    this.backend = backend;
    this.inFeatures = checkInteger('inFeatures', inFeatures, 1, 2 ** 24, 'Linear');
    this.outFeatures = checkInteger('outFeatures', outFeatures, 1, 2 ** 24, 'Linear');
    const rng = resolveRng(options, 'Linear');
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = makeParameter('weight', backend.tensor(uniform(rng, inFeatures * outFeatures, bound), [inFeatures, outFeatures]), true);
    this.bias = options.bias === false ? null : makeParameter('bias', backend.tensor(uniform(rng, outFeatures, bound), [outFeatures]), false);
  }

  /** y = x W + b. */
  async forward(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    return withBias(this.backend, await this.forwardWithoutBias(x, mode), this.bias);
  }

  /** x W (the caller adds the bias). */
  async forwardWithoutBias(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    checkLayerInput(x, this.inFeatures, 'Linear');
    this.#x = mode.training ? x : null;
    return this.apply(x);
  }

  /** dW = x^T dy, db = sum over rows of dy, dx = dy W^T. */
  async backward(dy: Tensor, inputGrad = true): Promise<Tensor | null> {
    return this.#backward(dy, null, inputGrad);
  }

  /** backward with db given. */
  async backwardWithBiasGrad(dy: Tensor, dbias: Tensor, inputGrad = true): Promise<Tensor | null> {
    return this.#backward(dy, dbias, inputGrad);
  }

  async #backward(dy: Tensor, dbias: Tensor | null, inputGrad: boolean): Promise<Tensor | null> {
    const x = this.#x;
    if (!x) throw new ShapeError('Linear: backward needs a training forward pass first');
    this.#x = null;
    return projectionBackward(this, this.bias, x, dy, dbias, inputGrad);
  }

  /** A dense layer's pass needs nothing (Projection). */
  async begin(_mode: ForwardMode): Promise<void> {}

  /** x W (Projection). */
  apply(x: Tensor): Promise<Tensor> {
    return this.backend.matmul(x, this.weight.value);
  }

  /** dy W^T (Projection). */
  applyTranspose(dy: Tensor): Promise<Tensor> {
    return this.backend.matmul(dy, this.weight.value, { transposeB: true });
  }

  /** The weight's gradient x^T dy (Projection). */
  async gradients(x: Tensor, dy: Tensor): Promise<void> {
    setGrad(this.weight, await this.backend.matmul(x, dy, { transposeA: true }));
  }

  /** Nothing to free (Projection). */
  end(): void {}

  parameters(): Parameter[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  dispose(): void {
    for (const p of this.parameters()) disposeParameter(p);
  }
}
