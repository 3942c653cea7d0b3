import { checkInteger } from '../../check.js';
import { ParameterError, ShapeError } from '../../errors.js';
import type { Backend, Tensor } from '../../kernels/types.js';
import { resolveRng, type RandomOptions } from '../../random.js';
import { disposeParameter, makeParameter, setGrad, type ForwardMode, type Layer, type Parameter } from './layer.js';

/** Options of `Embedding`. */
export type EmbeddingOptions = RandomOptions;

/**
 * A lookup table: input x [R, 1] holds symbol indices (integers in [0, symbols) stored as
 * floats, exact below 2^24), output row r is the table's row x[r], [R, features]. The same as a
 * one-hot input times a dense weight, without the product. The gradient adds each output row's
 * gradient into its symbol's row (scatterAddRows, deterministic). The indices are read to the
 * host once per forward (they index the table there and are checked: a value that is not a valid
 * index raises ParameterError). Initialised as PyTorch's nn.Embedding: standard normal (seeded).
 */
export class Embedding implements Layer {
  readonly kind = 'embedding';
  readonly backend: Backend;
  /** 1: a column of indices. */
  readonly inFeatures = 1;
  readonly outFeatures: number;
  /** Table rows: the number of symbols. */
  readonly symbols: number;
  readonly weight: Parameter;
  #index: Int32Array | null = null;

  constructor(backend: Backend, symbols: number, features: number, options: EmbeddingOptions = {}) {
    this.backend = backend;
    this.symbols = checkInteger('symbols', symbols, 1, 2 ** 24, 'Embedding');
    this.outFeatures = checkInteger('features', features, 1, 2 ** 24, 'Embedding');
    const rng = resolveRng(options, 'Embedding');
    const table = new Float32Array(symbols * features);
    for (let i = 0; i < table.length; i++) table[i] = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    this.weight = makeParameter('weight', backend.tensor(table, [symbols, features]), true);
  }

  /** The rows of the table that x [R, 1] names, [R, features]. */
  async forward(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    if (x.shape.length !== 2 || x.shape[1] !== 1 || x.shape[0] < 1) {
      throw new ShapeError(`Embedding: input has shape [${x.shape.join(', ')}] but the layer needs [R, 1] (one symbol index per row)`);
    }
    const values = await this.backend.read(x);
    const index = new Int32Array(values.length);
    for (let r = 0; r < values.length; r++) {
      const v = values[r];
      if (!Number.isInteger(v) || v < 0 || v >= this.symbols) throw new ParameterError(`x[${r}]`, `a symbol index in [0, ${this.symbols})`, v, 'Embedding');
      index[r] = v;
    }
    this.#index = mode.training ? index : null;
    return this.backend.gatherRows(this.weight.value, index);
  }

  /** The table's gradient: each row of dy added into its symbol's row. Embedding has no input gradient (returns null). */
  async backward(dy: Tensor): Promise<Tensor | null> {
    const index = this.#index;
    if (!index) throw new ShapeError('Embedding: backward needs a training forward pass first');
    setGrad(this.weight, await this.backend.scatterAddRows(dy, index, this.symbols));
    this.#index = null;
    return null;
  }

  parameters(): Parameter[] {
    return [this.weight];
  }

  dispose(): void {
    disposeParameter(this.weight);
  }
}
