import { checkOneOf } from '../../check.js';
import { ShapeError } from '../../errors.js';
import type { ActivationKind, Backend, Tensor } from '../../kernels/types.js';
import type { ForwardMode, Layer, Parameter } from './layer.js';

/** The activations a layer can apply. */
export const ACTIVATIONS: readonly ActivationKind[] = ['relu', 'gelu', 'tanh'];

/** An elementwise activation layer: relu, gelu (tanh approximation) or tanh. */
export class Activation implements Layer {
  readonly kind: ActivationKind;
  readonly backend: Backend;
  readonly inFeatures: number;
  readonly outFeatures: number;
  #x: Tensor | null = null;

  constructor(backend: Backend, kind: ActivationKind, features: number) {
    this.backend = backend;
    this.kind = checkOneOf('activation', kind, ACTIVATIONS, 'Activation');
    this.inFeatures = features;
    this.outFeatures = features;
  }

  /** f(x). */
  async forward(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    this.#x = mode.training ? x : null;
    return this.backend.activation(this.kind, x);
  }

  /** dy * f'(x). */
  async backward(dy: Tensor, inputGrad = true): Promise<Tensor | null> {
    const x = this.#x;
    if (!x) throw new ShapeError(`${this.kind}: backward needs a training forward pass first`);
    this.#x = null;
    return inputGrad ? this.backend.activationGrad(this.kind, x, dy) : null;
  }

  parameters(): Parameter[] {
    return [];
  }

  dispose(): void {
    this.#x = null;
  }
}
