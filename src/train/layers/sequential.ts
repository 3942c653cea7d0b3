import { ShapeError } from '../../errors.js';
import type { Backend, Tensor } from '../../kernels/types.js';
import { Activation } from './activation.js';
import { BlockSparseLayer } from './block-sparse-layer.js';
import { isBiasedLayer, type BiasedLayer, type ForwardMode, type Layer, type Parameter } from './layer.js';
import type { RecurrentLayer } from './recurrent.js';

/** Options of `Sequential`. */
export interface SequentialOptions {
  /**
   * Fuse each layer's bias with an activation right after it (default true): the backend's
   * addBiasActivation forward and activationGradBias backward, one pass each way instead of two.
   * The results are those of the layers run one by one (the bias gradient's sum in another order).
   */
  fuse?: boolean;
}

/**
 * Layers applied in order. forward keeps the intermediate activations for backward (and frees
 * them after it, or at the next forward); parameters are named "<index>.<name>". A layer with a
 * bias followed by an activation runs as one fused pair (SequentialOptions.fuse).
 */
export class Sequential {
  readonly layers: readonly Layer[];
  readonly backend: Backend;
  /** fused[i]: layer i (biased) and layer i + 1 (its activation) run as one pair. */
  readonly #fused: readonly boolean[];
  #activations: Tensor[] = [];
  /** The pre-activations of the fused pairs, by the pair's first layer (training forward passes). */
  #preActivations = new Map<number, Tensor>();

  constructor(layers: readonly Layer[], options: SequentialOptions = {}) {
    if (layers.length === 0) throw new ShapeError('Sequential needs at least one layer');
    for (let i = 1; i < layers.length; i++) {
      if (layers[i].inFeatures !== layers[i - 1].outFeatures) {
        throw new ShapeError(`Sequential: layer ${i} (${layers[i].kind}) takes ${layers[i].inFeatures} features but layer ${i - 1} (${layers[i - 1].kind}) gives ${layers[i - 1].outFeatures}`);
      }
      if (layers[i].backend !== layers[0].backend) throw new ShapeError(`Sequential: layer ${i} is on another backend`);
    }
    this.layers = layers;
    this.backend = layers[0].backend;
    const fuse = options.fuse ?? true;
    this.#fused = layers.map((layer, i) => fuse && i + 1 < layers.length && isBiasedLayer(layer) && layer.bias !== null && layers[i + 1] instanceof Activation);
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

  /** Whether layers i and i + 1 run as a fused pair (a biased layer and its activation). */
  fused(i: number): boolean {
    return this.#fused[i] ?? false;
  }

  #release(): void {
    for (const t of this.#activations) t.dispose();
    this.#activations = [];
    this.#preActivations.clear();
  }

  /** Keeps an intermediate tensor until backward (training), or frees it. */
  #keep(t: Tensor, mode: ForwardMode): void {
    if (mode.training) this.#activations.push(t);
    else t.dispose();
  }

  /** The model's output for x (a new tensor the caller owns; x is borrowed until backward). */
  async forward(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    this.#release();
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      let next: Tensor;
      if (this.#fused[i]) {
        const layer = this.layers[i] as BiasedLayer;
        const xw = await layer.forwardWithoutBias(h, mode);
        const { z, y } = await this.backend.addBiasActivation((this.layers[i + 1] as Activation).kind, xw, layer.bias!.value);
        xw.dispose();
        this.#keep(z, mode);
        if (mode.training) this.#preActivations.set(i, z);
        next = y;
      } else {
        next = await this.layers[i].forward(h, mode);
      }
      if (i > 0) this.#keep(h, mode);
      h = next;
      if (this.#fused[i]) i++;
    }
    return h;
  }

  /** Back-propagates dy (the gradient of the output; the caller's) through every layer; sets every parameter's grad. The input's gradient is not computed. */
  async backward(dy: Tensor): Promise<void> {
    let g = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      let next: Tensor | null;
      if (i > 0 && this.#fused[i - 1]) {
        const z = this.#preActivations.get(i - 1);
        if (!z) throw new ShapeError(`Sequential: backward needs a training forward pass first`);
        const { dz, dbias } = await this.backend.activationGradBias((this.layers[i] as Activation).kind, z, g);
        next = await (this.layers[i - 1] as BiasedLayer).backwardWithBiasGrad(dz, dbias, i - 1 > 0);
        dz.dispose();
        i--;
      } else {
        next = await this.layers[i].backward(g, i > 0);
      }
      if (g !== dy) g.dispose();
      g = next!;
    }
    this.#release();
  }

  /** Forgets every recurrent layer's carried state (the next forward starts new streams). */
  resetState(): void {
    for (const layer of this.layers) (layer as Partial<RecurrentLayer>).resetState?.();
  }

  /**
   * Every block-sparse weight layer whose layout may be learned (BlockSparseLinear,
   * BlockSparseConv2d), those inside other layers (an LSTM's) included, in layer order: what
   * pruning, regrowth and L0 act on and checkpoints find gate noise in. A layer made with
   * `fixedLayout` (a CNN's dense stem) is left out.
   */
  blockSparseLayers(): BlockSparseLayer[] {
    const all = this.layers.flatMap((layer) => (layer instanceof BlockSparseLayer ? [layer] : ((layer as Partial<RecurrentLayer>).blockSparseLayers?.() ?? [])));
    return all.filter((layer) => !layer.fixedLayout);
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
