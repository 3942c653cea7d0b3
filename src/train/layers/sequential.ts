import { ShapeError } from '../../errors.js';
import type { Backend, Tensor } from '../../kernels/types.js';
import type { ForwardMode, Layer, Parameter } from './layer.js';

/**
 * Layers applied in order. forward keeps the intermediate activations for backward (and frees
 * them after it, or at the next forward); parameters are named "<index>.<name>".
 */
export class Sequential {
  readonly layers: readonly Layer[];
  readonly backend: Backend;
  #activations: Tensor[] = [];

  constructor(layers: readonly Layer[]) {
    if (layers.length === 0) throw new ShapeError('Sequential needs at least one layer');
    for (let i = 1; i < layers.length; i++) {
      if (layers[i].inFeatures !== layers[i - 1].outFeatures) {
        throw new ShapeError(`Sequential: layer ${i} (${layers[i].kind}) takes ${layers[i].inFeatures} features but layer ${i - 1} (${layers[i - 1].kind}) gives ${layers[i - 1].outFeatures}`);
      }
      if (layers[i].backend !== layers[0].backend) throw new ShapeError(`Sequential: layer ${i} is on another backend`);
    }
    this.layers = layers;
    this.backend = layers[0].backend;
    layers.forEach((layer, i) => {
      for (const p of layer.parameters()) p.name = `${i}.${p.name.replace(/^\d+\./, '')}`;
    });
  }

  /** The first layer's input width. */
  get inFeatures(): number {
    return this.layers[0].inFeatures;
  }

  /** The last layer's output width. */
  get outFeatures(): number {
    return this.layers[this.layers.length - 1].outFeatures;
  }

  #release(): void {
    for (const t of this.#activations) t.dispose();
    this.#activations = [];
  }

  /** The model's output for x (a new tensor the caller owns; x is borrowed until backward). */
  async forward(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    this.#release();
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      const next = await this.layers[i].forward(h, mode);
      if (i > 0) {
        if (mode.training) this.#activations.push(h);
        else h.dispose();
      }
      h = next;
    }
    return h;
  }

  /** Back-propagates dy (the gradient of the output; the caller's) through every layer; sets every parameter's grad. The input's gradient is not computed. */
  async backward(dy: Tensor): Promise<void> {
    let g = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const next = await this.layers[i].backward(g, i > 0);
      if (g !== dy) g.dispose();
      g = next!;
    }
    this.#release();
  }

  /** Every layer's parameters, in order. */
  parameters(): Parameter[] {
    return this.layers.flatMap((layer) => layer.parameters());
  }

  /** Frees the kept activations and every layer. */
  dispose(): void {
    this.#release();
    for (const layer of this.layers) layer.dispose();
  }
}
