import { checkInteger, checkNumber } from '../../check.js';
import { ParameterError, ShapeError } from '../../errors.js';
import type { Backend, Tensor } from '../../kernels/types.js';
import { repeatColumns } from '../../patterns/layout-operations.js';
import type { BlockLayout } from '../../patterns/layout.js';
import { resolveRng, type RandomOptions, type Rng } from '../../random.js';
import { BlockSparseLinear, type L0GateOptions } from './block-sparse-linear.js';
import { uniform } from './init.js';
import { disposeParameter, makeParameter, setGrad, type ForwardMode, type Parameter } from './layer.js';
import type { RecurrentLayer } from './recurrent.js';
import { checkLayerInput, Linear } from './linear.js';

/** Options of `LSTM`. */
export interface LSTMOptions extends RandomOptions {
  /**
   * The recurrent weights' layout (hidden -> 4 gates): square, hidden/bs x hidden/bs blocks, which
   * the four gates share (repeated for i, f, g, o), or rectangular, hidden/bs x 4 hidden/bs blocks
   * (gate g's outputs are columns [g hidden, (g + 1) hidden), each gate with blocks of its own).
   * Without it the recurrent weights are dense.
   */
  recurrentLayout?: BlockLayout;
  /** The input weights' layout (inFeatures -> 4 gates), square-shared or rectangular as above (inFeatures/bs rows). Dense without it. */
  inputLayout?: BlockLayout;
  /** Hard-concrete L0 gates on the block-sparse weights (those given a layout; needs one). */
  l0?: L0GateOptions;
  /** Added to the forget gate's initial bias (default 1: remember at first, Jozefowicz et al. 2015; 0 gives PyTorch's initialisation). */
  forgetBias?: number;
}

/** A weight product the LSTM applies at every step: dense or block-sparse, without bias. */
type Weights = Linear | BlockSparseLinear;

/** What a training forward keeps for backward. */
interface SequenceCache {
  x: Tensor;
  steps: number;
  n: number;
  /** The activated gates (i, f, g, o) of each step, [N, 4H]. */
  gates: Tensor[];
  /** The cell states c_{-1} .. c_{T-1}, [N, H] each. */
  cells: Tensor[];
  /** The hidden states entering each step, stacked as rows [T N, H] (the recurrent weights' gradient input). */
  hiddenIn: Tensor;
}

/**
 * A long short-term memory layer with PyTorch's equations and gate order (torch.nn.LSTM):
 * z = x W_ih + h W_hh + b, split into (i, f, g, o); i, f, o = sigmoid, g = tanh;
 * c' = f c + i g; h' = o tanh(c'). x is a sequence, `ForwardMode.steps` blocks of N rows
 * (time-major); the output is every step's h', [T N, hidden]. W_hh and W_ih are dense or
 * block-sparse (`LSTMOptions`); b [4 hidden] is PyTorch's b_ih + b_hh. Back-propagation through
 * time is explicit: each step's cell runs as one backend operation each way (lstmCell,
 * lstmCellGrad), the input weights run as one product over all steps, and every weight gradient
 * is one product over all steps' rows. The last (h, c) is carried into the next forward call
 * (truncated back-propagation: no gradient flows into it) until `resetState`; an input of
 * fewer streams than the state continues its first ones (an evaluation's last, shorter batch).
 * Initialisation: the weights as their Linear or BlockSparseLinear (uniform, 1/sqrt(fan-in)),
 * b uniform in [-1/sqrt(hidden), 1/sqrt(hidden)] plus `forgetBias` on the forget gate.
 */
export class LSTM implements RecurrentLayer {
  readonly kind = 'lstm';
  readonly backend: Backend;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Hidden units H. */
  readonly hidden: number;
  /** W_ih: inFeatures -> 4 hidden (parameters named input.*). */
  readonly input: Weights;
  /** W_hh: hidden -> 4 hidden (parameters named recurrent.*). */
  readonly recurrent: Weights;
  /** b = b_ih + b_hh, [4 hidden]. */
  readonly bias: Parameter;
  #state: { h: Tensor; c: Tensor } | null = null;
  #cache: SequenceCache | null = null;

  constructor(backend: Backend, inFeatures: number, hidden: number, options: LSTMOptions = {}) {
    this.backend = backend;
    this.inFeatures = checkInteger('inFeatures', inFeatures, 1, 2 ** 24, 'LSTM');
    this.hidden = checkInteger('hidden', hidden, 1, 2 ** 22, 'LSTM');
    this.outFeatures = hidden;
    const rng = resolveRng(options, 'LSTM');
    if (options.l0 && !options.recurrentLayout && !options.inputLayout) {
      throw new ParameterError('l0', 'given with a recurrentLayout or inputLayout (L0 gates are per block)', 'no layout', 'LSTM');
    }
    const forgetBias = checkNumber('forgetBias', options.forgetBias ?? 1, -1e6, 1e6, 'LSTM');
    this.input = weights(backend, 'input', inFeatures, hidden, options.inputLayout, options.l0, rng);
    this.recurrent = weights(backend, 'recurrent', hidden, hidden, options.recurrentLayout, options.l0, rng);
    const bias = uniform(rng, 4 * hidden, 1 / Math.sqrt(hidden));
    for (let j = hidden; j < 2 * hidden; j++) bias[j] += forgetBias;
    this.bias = makeParameter('bias', backend.tensor(bias, [4 * hidden]), false);
  }

  /** The (h, c) carried into the next forward, each [N, hidden] (the layer's; null after resetState). */
  get state(): { readonly h: Tensor; readonly c: Tensor } | null {
    return this.#state;
  }

  /** Forgets the carried state: the next forward starts from h = c = 0. */
  resetState(): void {
    this.#state?.h.dispose();
    this.#state?.c.dispose();
    this.#state = null;
  }

  /**
   * Makes (h, c), each [N, hidden] on this layer's backend with the same N >= 1, the state carried
   * into the next forward (a checkpoint's state restored); the layer takes both tensors over (and
   * frees the state it held). ShapeError for other shapes.
   */
  setState(state: { h: Tensor; c: Tensor }): void {
    const { h, c } = state;
    for (const [name, t] of [['h', h], ['c', c]] as const) {
      if (t.backend !== this.backend) throw new ShapeError(`LSTM.setState: ${name} is on another backend`);
      if (t.shape.length !== 2 || t.shape[0] < 1 || t.shape[1] !== this.hidden || t.shape[0] !== h.shape[0]) {
        throw new ShapeError(`LSTM.setState: ${name} has shape [${t.shape.join(', ')}] but the state is [N, ${this.hidden}] for h and c alike`);
      }
    }
    this.resetState();
    this.#state = { h, c };
  }

  #release(): void {
    const cache = this.#cache;
    if (cache) {
      for (const t of [...cache.gates, ...cache.cells, cache.hiddenIn]) t.dispose();
      this.#cache = null;
    }
    this.input.end();
    this.recurrent.end();
  }

  /** Runs the sequence x [T N, inFeatures] (T = mode.steps) from the carried state; returns every step's h, [T N, hidden]. */
  async forward(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    const rows = checkLayerInput(x, this.inFeatures, 'LSTM');
    const steps = checkInteger('steps', mode.steps ?? 1, 1, rows, 'LSTM');
    if (rows % steps !== 0) throw new ShapeError(`LSTM: ${rows} rows are not ${steps} steps of equal batches (rows must be steps x N)`);
    const n = rows / steps;
    if (this.#state && this.#state.h.shape[0] < n) {
      throw new ShapeError(`LSTM: the carried state has ${this.#state.h.shape[0]} streams but this input has ${n} (call resetState to start new streams)`);
    }
    this.#release();
    const b = this.backend;
    const H = this.hidden;
    const training = mode.training;
    await this.input.begin(mode);
    await this.recurrent.begin(mode);
    const projected = await this.input.apply(x);
    // Fewer streams than the carried state: the first n go on (the others end here).
    if (this.#state && this.#state.h.shape[0] > n) {
      const { h: fullH, c: fullC } = this.#state;
      this.#state = { h: await b.sliceRows(fullH, 0, n), c: await b.sliceRows(fullC, 0, n) };
      fullH.dispose();
      fullC.dispose();
    }
    let h = this.#state?.h ?? b.zeros([n, H]);
    let c = this.#state?.c ?? b.zeros([n, H]);
    this.#state = null;
    const y = b.empty([rows, H]);
    const cache: SequenceCache | null = training ? { x, steps, n, gates: [], cells: [c], hiddenIn: b.empty([rows, H]) } : null;
    for (let t = 0; t < steps; t++) {
      const rec = await this.recurrent.apply(h);
      const cell = await b.lstmCell(rec, projected, this.bias.value, c, t * n);
      rec.dispose();
      await b.copyRows(cell.h, y, t * n);
      if (cache) {
        await b.copyRows(h, cache.hiddenIn, t * n);
        cache.gates.push(cell.gates);
        cache.cells.push(cell.c);
      } else {
        cell.gates.dispose();
        c.dispose();
      }
      h.dispose();
      h = cell.h;
      c = cell.c;
    }
    projected.dispose();
    // The carried state is the layer's own: the cache keeps its c for backward.
    this.#state = { h, c: cache ? await b.copy(c) : c };
    if (cache) this.#cache = cache;
    else {
      this.input.end();
      this.recurrent.end();
    }
    return y;
  }

  /** Back-propagates dy [T N, hidden] through time; sets every parameter's grad; returns dx [T N, inFeatures] or null. */
  async backward(dy: Tensor, inputGrad = true): Promise<Tensor | null> {
    const cache = this.#cache;
    if (!cache) throw new ShapeError('LSTM: backward needs a training forward pass first');
    const { x, steps, n, gates, cells, hiddenIn } = cache;
    if (dy.shape.length !== 2 || dy.shape[0] !== steps * n || dy.shape[1] !== this.hidden) {
      throw new ShapeError(`LSTM: dy has shape [${dy.shape.join(', ')}] but the forward pass gave [${steps * n}, ${this.hidden}]`);
    }
    const b = this.backend;
    const dz = b.empty([steps * n, 4 * this.hidden]);
    let dhNext: Tensor | null = null;
    let dcNext: Tensor | null = null;
    try {
      for (let t = steps - 1; t >= 0; t--) {
        let dh = await b.sliceRows(dy, t * n, n);
        if (dhNext) {
          const sum = await b.add(dh, dhNext);
          dh.dispose();
          dhNext.dispose();
          dhNext = null;
          dh = sum;
        }
        const grad = await b.lstmCellGrad(gates[t], cells[t], cells[t + 1], dh, dcNext);
        dh.dispose();
        dcNext?.dispose();
        dcNext = grad.dcPrev;
        await b.copyRows(grad.dz, dz, t * n);
        if (t > 0) dhNext = await this.recurrent.applyTranspose(grad.dz);
        grad.dz.dispose();
      }
      await this.input.gradients(x, dz);
      await this.recurrent.gradients(hiddenIn, dz);
      setGrad(this.bias, await b.sumRows(dz));
      return inputGrad ? await this.input.applyTranspose(dz) : null;
    } finally {
      dhNext?.dispose();
      dcNext?.dispose();
      dz.dispose();
      this.#release();
    }
  }

  /** input.*, recurrent.*, then bias. */
  parameters(): Parameter[] {
    return [...this.input.parameters(), ...this.recurrent.parameters(), this.bias];
  }

  /** The block-sparse weight layers (for pruning, regrowth and L0 hooks): input and recurrent when block-sparse. */
  blockSparseLayers(): BlockSparseLinear[] {
    return [this.input, this.recurrent].filter((w): w is BlockSparseLinear => w instanceof BlockSparseLinear);
  }

  dispose(): void {
    this.#release();
    this.resetState();
    this.input.dispose();
    this.recurrent.dispose();
    disposeParameter(this.bias);
  }
}

/** The weights inFeatures -> 4 hidden: dense, or block-sparse on `layout` (square-shared or rectangular). */
function weights(backend: Backend, name: string, inFeatures: number, hidden: number, layout: BlockLayout | undefined, l0: L0GateOptions | undefined, rng: Rng): Weights {
  const seed = Math.floor(rng() * 2 ** 32);
  let layer: Weights;
  if (!layout) {
    layer = new Linear(backend, inFeatures, 4 * hidden, { bias: false, seed });
  } else {
    const bs = layout.blockSize;
    const inBlocks = inFeatures / bs;
    const hiddenBlocks = hidden / bs;
    const square = layout.inBlocks === inBlocks && layout.outBlocks === hiddenBlocks;
    const rectangular = layout.inBlocks === inBlocks && layout.outBlocks === 4 * hiddenBlocks;
    if (!Number.isInteger(inBlocks) || !Number.isInteger(hiddenBlocks) || !(square || rectangular)) {
      throw new ParameterError(
        `${name}Layout`,
        `${inFeatures / bs} x ${hidden / bs} blocks (shared by the four gates) or ${inFeatures / bs} x ${(4 * hidden) / bs} (inFeatures ${inFeatures} and hidden ${hidden} multiples of its block size ${bs})`,
        `${layout.inBlocks} x ${layout.outBlocks} blocks of ${bs}`,
        'LSTM',
      );
    }
    layer = new BlockSparseLinear(backend, square ? repeatColumns(layout, 4) : layout, { bias: false, seed, ...(l0 ? { l0 } : {}) });
  }
  for (const p of layer.parameters()) p.name = `${name}.${p.name}`;
  return layer;
}
