import { checkNumber } from '../../check.js';
import { ParameterError, ShapeError } from '../../errors.js';
import type { Backend, HardConcreteOptions, Tensor, WeightGradOptions, WeightGradResult } from '../../kernels/types.js';
import { denseLayout } from '../../patterns/dense.js';
import type { BlockLayout } from '../../patterns/layout.js';
import { resolveRng, statefulRng, type RandomOptions, type Rng, type RngState, type StatefulRng } from '../../random.js';
import type { Optimizer } from '../optimizers.js';
import { disposeParameter, makeParameter, setGrad, type BiasedLayer, type ForwardMode, type Parameter } from './layer.js';

/*
 * What every block-sparse layer shares, whatever its product (a matrix product, a convolution):
 * a layout over blocks, a weight holding only the present blocks ([nnz, ...per block], in the
 * layout's block-id order), an optional bias over the output features, optional L0 gates per
 * block, and `setBlocks`, which pruning, regrowth and L0 use to change the layout in place. The
 * sparsity methods (src/train/sparsity) act on this class, so they work on every kind unchanged.
 */

/** L0 gates per block (Louizos, Welling & Kingma 2018): hard-concrete constants and the initial drop rate. */
export interface L0GateOptions extends HardConcreteOptions {
  /** Initial probability that a gate is closed: log alpha starts near log((1 - p) / p) (default 0.5, as their code). */
  dropRate?: number;
  /** Learning-rate multiplier of log alpha (default 1). The deterministic gate closes only when log alpha falls below log(-gamma/zeta) (about -2.4 for the defaults), a long way for Adam's ~lr-sized steps; a larger multiplier lets short runs learn layouts. */
  lrScale?: number;
}

/**
 * How the blocks of a new layout relate to the old one: `kept[j]` is the old block id whose
 * weights new block j takes, or -1 for a new block (zero weights, fresh gate, zero optimiser state).
 */
export interface BlockMap {
  kept: Int32Array;
}

/** Options every block-sparse layer takes. */
export interface BlockSparseLayerOptions extends RandomOptions {
  /** Add a bias (default true). */
  bias?: boolean;
  /** Gate every block with a hard-concrete L0 gate (trained through the gated kernels). */
  l0?: L0GateOptions;
  /**
   * The layout is part of the architecture, not something to learn (default false): the sparsity
   * methods leave the layer alone (`Sequential.blockSparseLayers` does not list it), as a CNN's
   * dense stem. Not with `l0`.
   */
  fixedLayout?: boolean;
}

/** The hard-concrete constants with the paper's defaults: beta 2/3, gamma -0.1, zeta 1.1. */
export function hardConcreteConstants(options: HardConcreteOptions = {}): Required<HardConcreteOptions> {
  const beta = options.beta ?? 2 / 3;
  const gamma = options.gamma ?? -0.1;
  const zeta = options.zeta ?? 1.1;
  if (!(beta > 0)) throw new ParameterError('beta', 'a number > 0', beta, 'hard-concrete gates');
  if (!(gamma < 0)) throw new ParameterError('gamma', 'a number < 0', gamma, 'hard-concrete gates');
  if (!(zeta > 1)) throw new ParameterError('zeta', 'a number > 1', zeta, 'hard-concrete gates');
  return { beta, gamma, zeta };
}

/** The pass in progress: its gates (null without L0) and their noise (null in evaluation). */
export interface GatedPass {
  gates: Tensor | null;
  u: Tensor | null;
  training: boolean;
}

/**
 * A layer whose weight holds the present blocks of a `BlockLayout` (see the file's comment).
 * Subclasses give the products (`product`, `productTranspose`, `productWeightGrad`) and the input
 * check; this class holds the parameters, samples the gates of each pass, runs forward and
 * backward around the products, and changes the layout (`setBlocks`).
 *
 * Initialisation (PyTorch's default for nn.Linear and nn.Conv2d, Kaiming uniform with a = sqrt 5,
 * with each output feature's real fan-in): the weights and bias of output block k are uniform in
 * [-1/sqrt(f_k), 1/sqrt(f_k)], f_k = (input blocks feeding k) x (inputs one block brings: bs for
 * a matrix product, kh kw bs for a convolution); an output block fed by nothing gets a zero bias.
 * With `l0`, block b is used as g_b W_b with a hard-concrete gate g_b: sampled in training,
 * deterministic in evaluation; log alpha is a parameter trained through the gate gradient of the
 * weight-gradient kernel.
 */
export abstract class BlockSparseLayer implements BiasedLayer {
  abstract readonly kind: string;
  readonly backend: Backend;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  /** log alpha of the L0 gates, [nnz] (null without L0). */
  readonly logAlpha: Parameter | null;
  readonly hardConcrete: Required<HardConcreteOptions> | null;
  /** Whether the layout stays as built (BlockSparseLayerOptions.fixedLayout). */
  readonly fixedLayout: boolean;
  /** The shape of one block's weights ([bs, bs], or [kh, kw, bs, bs] for a convolution). */
  readonly blockShape: readonly number[];
  /**
   * When true, backward also computes the dense weight gradient over every (c, k) block and keeps
   * its block L2 norms (for RigL's regrowth); see `denseGradNorms`.
   */
  recordDenseGradNorms = false;
  /** The class's name in messages ("BlockSparseLinear"). */
  readonly #context: string;
  /** The gate noise stream (seeded from the layer's seed; saved in checkpoints). */
  #noise: StatefulRng | null = null;
  #pass: GatedPass | null = null;
  /** The input of the last training forward, for backward. */
  #x: Tensor | null = null;
  #layout: BlockLayout;
  /** log alpha's initial mean log((1 - p) / p) (new blocks of setBlocks start there); null without L0. */
  #logAlphaInit: number | null = null;
  #denseGradNorms: Tensor | null = null;
  #denseLayout: BlockLayout | null = null;

  /**
   * `blockShape`: one block's weights; `inputsPerBlock`: the inputs one input block brings to an
   * output feature (the fan-in unit of the initialisation); `context`: the class's name.
   */
  protected constructor(backend: Backend, layout: BlockLayout, blockShape: readonly number[], inputsPerBlock: number, options: BlockSparseLayerOptions, context: string) {
    this.backend = backend;
    this.#context = context;
    this.#layout = layout;
    this.inFeatures = layout.inFeatures;
    this.outFeatures = layout.outFeatures;
    this.blockShape = Object.freeze([...blockShape]);
    this.fixedLayout = options.fixedLayout ?? false;
    if (typeof this.fixedLayout !== 'boolean') throw new ParameterError('fixedLayout', 'a boolean', options.fixedLayout, context);
    if (this.fixedLayout && options.l0) throw new ParameterError('l0', 'absent with fixedLayout (L0 gates learn a layout)', 'given', context);
    const rng = resolveRng(options, context);
    const per = this.weightsPerBlock;
    const fanIn = layout.inDegrees();
    const cols = layout.pairs().cols;
    const w = new Float32Array(layout.nnz * per);
    for (let b = 0; b < layout.nnz; b++) {
      const bound = 1 / Math.sqrt(fanIn[cols[b]] * inputsPerBlock);
      for (let i = b * per; i < (b + 1) * per; i++) w[i] = (rng() * 2 - 1) * bound;
    }
    this.weight = makeParameter('weight', backend.tensor(w, [layout.nnz, ...blockShape]), true, 'blocks');
    if (options.bias === false) this.bias = null;
    else {
      const bs = layout.blockSize;
      const bias = new Float32Array(layout.outFeatures);
      for (let k = 0; k < layout.outBlocks; k++) {
        if (fanIn[k] === 0) continue;
        const bound = 1 / Math.sqrt(fanIn[k] * inputsPerBlock);
        for (let j = k * bs; j < (k + 1) * bs; j++) bias[j] = (rng() * 2 - 1) * bound;
      }
      this.bias = makeParameter('bias', backend.tensor(bias, [layout.outFeatures]), false);
    }
    if (options.l0) {
      this.hardConcrete = hardConcreteConstants(options.l0);
      const p = checkNumber('dropRate', options.l0.dropRate ?? 0.5, 0, 1, context);
      if (p === 0 || p === 1) throw new ParameterError('dropRate', 'a number in (0, 1)', p, context);
      const mean = Math.log(1 - p) - Math.log(p);
      this.#logAlphaInit = mean;
      const logAlpha = new Float32Array(layout.nnz);
      for (let b = 0; b < layout.nnz; b++) logAlpha[b] = mean + 0.01 * gaussian(rng);
      this.logAlpha = makeParameter('logAlpha', backend.tensor(logAlpha, [layout.nnz]), false, 'blocks');
      this.logAlpha.lrScale = checkNumber('lrScale', options.l0.lrScale ?? 1, 0, 1e6, context);
      this.#noise = statefulRng(Math.floor(rng() * 2 ** 32), context);
    } else {
      this.hardConcrete = null;
      this.logAlpha = null;
    }
  }

  /** Checks the input of forward (ShapeError naming both shapes). */
  protected abstract checkInput(x: Tensor): void;
  /** The product of x with the gated weights, a new tensor. */
  protected abstract product(x: Tensor, gates: Tensor | null): Promise<Tensor>;
  /** The product's gradient in its input from dy (x: the forward's input when known, for its shape), a new tensor. */
  protected abstract productTranspose(dy: Tensor, x: Tensor | null, gates: Tensor | null): Promise<Tensor>;
  /** The weight gradient of the product on `layout` (this layer's, or the dense one of RigL's scores), as the backend's weightGrad. */
  protected abstract productWeightGrad(layout: BlockLayout, x: Tensor, dy: Tensor, options: WeightGradOptions): Promise<WeightGradResult>;

  /** The layout in use (setBlocks replaces it). */
  get layout(): BlockLayout {
    return this.#layout;
  }

  /** Weights per block (the product of `blockShape`): what the L0 penalty weighs each block by. */
  get weightsPerBlock(): number {
    return this.blockShape.reduce((a, b) => a * b, 1);
  }

  /**
   * The L2 norms of the dense weight gradient's blocks from the last backward with
   * `recordDenseGradNorms` on: [inBlocks * outBlocks], block (c, k) at c * outBlocks + k (the
   * layer keeps it; null before). Absent blocks included: RigL regrows where these are largest.
   */
  get denseGradNorms(): Tensor | null {
    return this.#denseGradNorms;
  }

  /** Hands the recorded dense gradient norms to the caller (who then owns them) and forgets them; null when none. */
  takeDenseGradNorms(): Tensor | null {
    const norms = this.#denseGradNorms;
    this.#denseGradNorms = null;
    return norms;
  }

  /**
   * Replaces the layout (same inBlocks, outBlocks and block size): new block j takes the weights
   * and gate logit of old block `map.kept[j]`, or zero weights and the initial gate logit when
   * that is -1 (RigL and SET start regrown weights at zero); the optimiser's state of the weight
   * and of log alpha is remapped the same way (zeros for new blocks). Their gradients and the
   * forward cache are dropped (the bias is untouched). Without `map`, blocks are matched by (c, k). The new layout's provenance
   * is the caller's to set (pruning and regrowth record theirs).
   */
  async setBlocks(layout: BlockLayout, map?: BlockMap, optimizer?: Optimizer): Promise<void> {
    const old = this.#layout;
    if (layout.inBlocks !== old.inBlocks || layout.outBlocks !== old.outBlocks || layout.blockSize !== old.blockSize) {
      throw new ShapeError(
        `${this.#context}.setBlocks: the layout has ${layout.inBlocks} x ${layout.outBlocks} blocks of ${layout.blockSize} but the layer has ${old.inBlocks} x ${old.outBlocks} blocks of ${old.blockSize}`,
      );
    }
    const kept = map ? checkBlockMap(map, layout.nnz, old.nnz, `${this.#context}.setBlocks`) : blockMapOf(old, layout).kept;
    this.#release();
    const remap = (t: Tensor) => remapBlocks(this.backend, t, kept, layout.nnz);
    const blockParameters = [this.weight, ...(this.logAlpha ? [this.logAlpha] : [])];
    for (const p of blockParameters) {
      const next = p === this.logAlpha ? await this.#remapLogAlpha(kept) : await remap(p.value);
      p.value.dispose();
      p.value = next;
      p.grad?.dispose();
      p.grad = null;
      if (optimizer) await optimizer.remap(p, remap);
    }
    this.#layout = layout;
  }

  /** log alpha for the new blocks: carried over, or the initial mean for new blocks (without the tiny init noise, which only breaks ties). */
  async #remapLogAlpha(kept: Int32Array): Promise<Tensor> {
    const old = await this.backend.read(this.logAlpha!.value);
    const next = new Float32Array(kept.length);
    for (let j = 0; j < kept.length; j++) next[j] = kept[j] >= 0 ? old[kept[j]] : this.#logAlphaInit!;
    return this.backend.tensor(next, [kept.length]);
  }

  #release(): void {
    this.end();
    this.#x = null;
  }

  /** The gates a pass uses: sampled (training) or deterministic (evaluation); null without L0. */
  async #gates(training: boolean): Promise<{ gates: Tensor | null; u: Tensor | null }> {
    if (!this.logAlpha || !this.hardConcrete) return { gates: null, u: null };
    let u: Tensor | null = null;
    if (training) {
      const noise = new Float32Array(this.layout.nnz);
      // u in (0, 1): [1e-6, 1 - 1e-6], so that log u and log(1 - u) stay finite in float32.
      for (let b = 0; b < noise.length; b++) noise[b] = 1e-6 + this.#noise!() * (1 - 2e-6);
      u = this.backend.tensor(noise, [noise.length]);
    }
    return { gates: await this.backend.hardConcreteGates(this.logAlpha.value, u, this.hardConcrete), u };
  }

  /** y = x (g W) + b (the layer's product). */
  async forward(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    const xw = await this.forwardWithoutBias(x, mode);
    if (!this.bias) return xw;
    const y = await this.backend.addBias(xw, this.bias.value);
    xw.dispose();
    return y;
  }

  /** The product alone (the caller adds the bias). */
  async forwardWithoutBias(x: Tensor, mode: ForwardMode): Promise<Tensor> {
    this.checkInput(x);
    this.#release();
    await this.begin(mode);
    const xw = await this.product(x, this.#pass!.gates);
    if (mode.training) this.#x = x;
    else this.end();
    return xw;
  }

  /** dW = g (x^T dy) on present blocks, db, dlogAlpha through the gate gradient, and dx = dy (g W)^T. */
  async backward(dy: Tensor, inputGrad = true): Promise<Tensor | null> {
    return this.#backward(dy, null, inputGrad);
  }

  /** backward with db given. */
  async backwardWithBiasGrad(dy: Tensor, dbias: Tensor, inputGrad = true): Promise<Tensor | null> {
    return this.#backward(dy, dbias, inputGrad);
  }

  async #backward(dy: Tensor, dbias: Tensor | null, inputGrad: boolean): Promise<Tensor | null> {
    const x = this.#x;
    if (!x) throw new ShapeError(`${this.#context}: backward needs a training forward pass first`);
    await this.gradients(x, dy);
    if (this.bias) setGrad(this.bias, dbias ?? (await this.backend.sumRows(dy)));
    else dbias?.dispose();
    const dx = inputGrad ? await this.productTranspose(dy, x, this.#pass!.gates) : null;
    this.#release();
    return dx;
  }

  /** Starts a pass: samples the gates (training) or takes the deterministic ones. */
  async begin(mode: ForwardMode): Promise<void> {
    this.end();
    const { gates, u } = await this.#gates(mode.training);
    this.#pass = { gates, u, training: mode.training };
  }

  /** The pass in progress (ShapeError naming `what` when there is none). */
  protected currentPass(what: string): GatedPass {
    if (!this.#pass) throw new ShapeError(`${this.#context}.${what}: no pass in progress (call begin first)`);
    return this.#pass;
  }

  /**
   * Sets dW = g (x^T dy) on the present blocks (the product's weight gradient) and log alpha's
   * gradient through the gates (a training pass), and the dense gradient's block norms when
   * recorded.
   */
  async gradients(x: Tensor, dy: Tensor): Promise<void> {
    const { gates, u, training } = this.currentPass('gradients');
    if (!training) throw new ShapeError(`${this.#context}.gradients: the pass is not a training pass`);
    const { dw, dgates } = await this.productWeightGrad(this.layout, x, dy, gates ? { gates, weights: this.weight.value } : {});
    setGrad(this.weight, dw);
    if (this.recordDenseGradNorms) {
      const { inBlocks, outBlocks, blockSize } = this.layout;
      this.#denseLayout ??= denseLayout({ inBlocks, outBlocks, blockSize });
      // The gradient of the loss with respect to every block's (ungated) weights, as RigL reads it.
      const { dw: dense } = await this.productWeightGrad(this.#denseLayout, x, dy, {});
      const norms = await this.backend.blockNorms(dense, 'l2');
      dense.dispose();
      this.#denseGradNorms?.dispose();
      this.#denseGradNorms = norms;
    }
    if (this.logAlpha && dgates) {
      setGrad(this.logAlpha, await this.backend.hardConcreteGrad(this.logAlpha.value, u, dgates, this.hardConcrete!));
      dgates.dispose();
    }
  }

  /** Ends the pass, freeing its gates. */
  end(): void {
    this.#pass?.gates?.dispose();
    this.#pass?.u?.dispose();
    this.#pass = null;
  }

  /**
   * Adds the expected-L0 penalty lambda * w * sum_b P(g_b != 0) to log alpha's gradient, after
   * backward, each block weighted by its weight count w (`weightsPerBlock`: bs^2, or kh kw bs^2
   * for a convolution); returns the penalty's value as a [1] tensor (on the backend: reading it is
   * the caller's choice).
   */
  async addL0Penalty(lambda: number): Promise<Tensor> {
    if (!this.logAlpha || !this.hardConcrete) throw new ParameterError('l0', 'set when the layer was made (the layer has no gates)', undefined, 'addL0Penalty');
    checkNumber('lambda', lambda, 0, Number.MAX_VALUE, 'addL0Penalty');
    const weight = lambda * this.weightsPerBlock;
    const { value, grad } = await this.backend.l0Penalty(this.logAlpha.value, this.hardConcrete);
    if (!this.logAlpha.grad) setGrad(this.logAlpha, await this.backend.scale(grad, weight));
    else await this.backend.axpy(weight, grad, this.logAlpha.grad);
    grad.dispose();
    const scaled = await this.backend.scale(value, weight);
    value.dispose();
    return scaled;
  }

  /** The test-time gates on the host ([nnz]; null without L0): blocks whose gate is 0 are effectively removed. */
  async testGates(): Promise<Float32Array | null> {
    const { gates } = await this.#gates(false);
    if (!gates) return null;
    const values = await this.backend.read(gates);
    gates.dispose();
    return values;
  }

  /** The gate noise generator's state (null without L0), for checkpoints. */
  noiseState(): RngState | null {
    return this.#noise ? this.#noise.state() : null;
  }

  /** Resumes the gate noise from a saved state: the next training passes draw exactly what they would have. */
  setNoiseState(state: RngState): void {
    if (!this.#noise) throw new ParameterError('l0', 'set when the layer was made (the layer has no gates)', undefined, 'setNoiseState');
    this.#noise = statefulRng(state, 'setNoiseState');
  }

  /** The weight, the bias (if any) and log alpha (with L0), in this order. */
  parameters(): Parameter[] {
    return [this.weight, ...(this.bias ? [this.bias] : []), ...(this.logAlpha ? [this.logAlpha] : [])];
  }

  /** Frees the parameters, gradients, gates and kept norms. */
  dispose(): void {
    this.#release();
    this.#denseGradNorms?.dispose();
    this.#denseGradNorms = null;
    for (const p of this.parameters()) disposeParameter(p);
  }
}

/** A standard normal draw (Box-Muller; V8's Math.log/cos, so the same bytes on every machine running Node). */
function gaussian(rng: Rng): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** The map that carries over every block of `to` also present in `from` (matched by (c, k)); the others are new. */
export function blockMapOf(from: BlockLayout, to: BlockLayout): BlockMap {
  const kept = new Int32Array(to.nnz);
  for (let c = 0; c < to.inBlocks; c++) {
    for (let j = to.rowPtr[c]; j < to.rowPtr[c + 1]; j++) kept[j] = c < from.inBlocks ? from.blockId(c, to.colIdx[j]) : -1;
  }
  return { kept };
}

function checkBlockMap(map: BlockMap, nnz: number, oldNnz: number, context: string): Int32Array {
  const { kept } = map;
  if (!(kept instanceof Int32Array) || kept.length !== nnz) {
    throw new ParameterError('map.kept', `an Int32Array of one entry per block of the new layout (${nnz})`, kept, context);
  }
  const seen = new Uint8Array(oldNnz);
  for (let j = 0; j < nnz; j++) {
    const id = kept[j];
    if (id === -1) continue;
    if (id < 0 || id >= oldNnz) throw new ParameterError(`map.kept[${j}]`, `-1 or an old block id in [0, ${oldNnz})`, id, context);
    if (seen[id]) throw new ParameterError(`map.kept[${j}]`, 'distinct old block ids', id, context);
    seen[id] = 1;
  }
  return kept;
}

/** t [oldNnz, ...] -> [nnz, ...]: block j is t[kept[j]], or zeros where kept[j] is -1. */
async function remapBlocks(backend: Backend, t: Tensor, kept: Int32Array, nnz: number): Promise<Tensor> {
  let m = 0;
  for (let j = 0; j < nnz; j++) if (kept[j] >= 0) m++;
  if (m === 0) return backend.zeros([nnz, ...t.shape.slice(1)]);
  const sources = new Int32Array(m);
  const targets = new Int32Array(m);
  for (let j = 0, i = 0; j < nnz; j++) {
    if (kept[j] < 0) continue;
    sources[i] = kept[j];
    targets[i++] = j;
  }
  const gathered = await backend.gatherBlocks(t, sources);
  // targets ascend, so when every block is kept they are 0..nnz-1 and the gather is the answer.
  if (m === nnz) return gathered;
  const out = await backend.scatterBlocks(gathered, targets, nnz);
  gathered.dispose();
  return out;
}
