import { checkInteger, checkNumber, checkOneOf } from '../check.js';
import { ParameterError, ShapeError } from '../errors.js';
import { checkBlocks, checkDistinct, checkMatrix, checkRows, checkSameShape, checkShape, checkTensor, checkVector, show, type Operand, type OperandOwner } from './checks.js';
import { convOutputSize, taps, type Conv2dGeometry } from './conv.js';
import { resolvePool2d, type AvgPool2dGradOptions, type Pool2dParams } from './pool.js';

export { resolvePool2d, type AvgPool2dGradOptions, type Pool2dParams } from './pool.js';

/*
 * The training operations, each declared here once: as a method of `TrainingOps` (which the
 * Backend interface extends) and as a spec in `TRAINING_OP_SPECS`, which checks the method's
 * arguments and says how the operation runs in terms that both backends execute with no code of
 * their own per operation (cpu/training-runner.ts, webgpu/training-runner.ts):
 *
 *   main stage   the op's kernel over a grid of `count` elements, or of `count` rows of `width`:
 *                on the CPU the AssemblyScript function named after the op (assembly/training-*.ts),
 *                on WebGPU the case OP_<name> of the elementwise or row program
 *                (webgpu/programs/training-ops.ts). Operands are bound to slots: reads a .. e,
 *                writes o0 .. o2 (in-place operands, or new tensors of a given shape), integers
 *                count, width, flag, and float32 hyper-parameters f0 .. f8.
 *   partial sums an op may also write P partial sums per unit of its grid (a unit is a few rows or
 *                elements on the CPU, one on WebGPU) to the write slot after its writes; the
 *   sum stage    column sums of those partials (or of a read operand), scaled, make new tensors.
 *
 * So a new training operation is: its method and spec here, its AssemblyScript kernel, its WGSL
 * case, and its conformance case (docs/architecture.md, "Add a training operation").
 */

/** Elementwise activations: relu, gelu (the tanh approximation, PyTorch's approximate='tanh'), tanh, sigmoid. */
export type ActivationKind = 'relu' | 'gelu' | 'tanh' | 'sigmoid';
/** The activation kinds. */
export const ACTIVATION_KINDS: readonly ActivationKind[] = ['relu', 'gelu', 'tanh', 'sigmoid'];
/** The kernels' code of each activation (the `flag` of activation and activationGrad). */
export const ACTIVATION_CODES: Readonly<Record<ActivationKind, number>> = { relu: 0, gelu: 1, tanh: 2, sigmoid: 3 };

/** The block norm used for magnitude pruning: Frobenius (l2) or largest absolute value (max). */
export type BlockNormKind = 'l2' | 'max';
/** The block norm kinds. */
export const BLOCK_NORM_KINDS: readonly BlockNormKind[] = ['l2', 'max'];

/** Softmax cross-entropy of a batch: mean loss [1], its gradient [N, K], and the count of correct argmax predictions [1]. */
export interface SoftmaxCrossEntropyResultOf<T> {
  loss: T;
  dlogits: T;
  correct: T;
}

/** Layer norm's output [N, F] and the per-row mean [N] and 1/sqrt(var + eps) [N] that the gradient needs. */
export interface LayerNormResultOf<T> {
  y: T;
  mean: T;
  rstd: T;
}

/** Layer norm's gradients: dx [N, F], dgamma [F], dbeta [F]. */
export interface LayerNormGradResultOf<T> {
  dx: T;
  dgamma: T;
  dbeta: T;
}

/** addBiasActivation's pre-activation z = x + bias [N, F] (what the gradient takes) and output y = f(z) [N, F]. */
export interface BiasActivationResultOf<T> {
  z: T;
  y: T;
}

/** activationGradBias's dz = dy * f'(z) [N, F] and the bias gradient dbias[f] = sum_n dz[n, f] [F]. */
export interface ActivationGradBiasResultOf<T> {
  dz: T;
  dbias: T;
}

/** The expected-L0 penalty sum_b P(gate_b != 0) as a [1] tensor, and its gradient with respect to log alpha [nnz]. */
export interface L0PenaltyResultOf<T> {
  value: T;
  grad: T;
}

/**
 * One LSTM cell step (PyTorch's gate order i, f, g, o): the hidden state h [N, H], the cell state
 * c [N, H], and the gate activations [N, 4H] (sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
 * as column blocks [0, H), [H, 2H), [2H, 3H), [3H, 4H)) that lstmCellGrad takes.
 */
export interface LstmCellResultOf<T> {
  h: T;
  c: T;
  gates: T;
}

/** lstmCellGrad's gradients: dz [N, 4H] with respect to the pre-activations (gate order i, f, g, o), and dcPrev [N, H] with respect to the previous cell state. */
export interface LstmCellGradResultOf<T> {
  dz: T;
  dcPrev: T;
}

/** Hyper-parameters of one SGD step (PyTorch's torch.optim.SGD, dampening 0). */
export interface SgdStepOptions {
  lr: number;
  /** Momentum factor (default 0: plain SGD, no velocity). */
  momentum?: number;
  /** Nesterov momentum (default false; needs momentum > 0). */
  nesterov?: boolean;
  /** L2 penalty added to the gradient, weightDecay * param (default 0). */
  weightDecay?: number;
}

/** Hyper-parameters of one Adam / AdamW step (PyTorch's torch.optim.Adam / AdamW, amsgrad off). */
export interface AdamStepOptions {
  lr: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Default 0. Adam adds weightDecay * param to the gradient; AdamW (decoupled) multiplies param by 1 - lr * weightDecay. */
  weightDecay?: number;
  /** AdamW's decoupled weight decay (default false: Adam). */
  decoupled?: boolean;
  /** The step number, 1 for the first step: bias corrections 1 - beta^step. */
  step: number;
}

/** Hard-concrete gate constants (Louizos, Welling & Kingma 2018): temperature beta, stretch interval (gamma, zeta). */
export interface HardConcreteOptions {
  /** Temperature, > 0 (default 2/3). */
  beta?: number;
  /** Lower end of the stretch, < 0 (default -0.1). */
  gamma?: number;
  /** Upper end of the stretch, > 1 (default 1.1). */
  zeta?: number;
}

/** Louizos et al.'s hard-concrete constants: beta = 2/3, gamma = -0.1, zeta = 1.1. */
export const HARD_CONCRETE_DEFAULTS: Readonly<Required<HardConcreteOptions>> = Object.freeze({ beta: 2 / 3, gamma: -0.1, zeta: 1.1 });

/**
 * The training operations of a backend whose tensors are `T` (the Backend interface extends
 * `TrainingOps<Tensor>`). They run in call order with the products (an in-place step never
 * overtakes a product called before it that reads its tensor; `read` waits for both) and resolve
 * as the products do: on the CPU when done, on WebGPU once submitted.
 */
export interface TrainingOps<T> {
  /**
   * y[n, f] = x[n, f] + bias[f] for x [N, F], bias [F]; x may be any tensor [..., F] of rank >= 2
   * (an NHWC activation [N, H, W, C]: a bias per channel), read as the matrix [rows, F], and y has
   * x's shape.
   */
  addBias(x: T, bias: T): Promise<T>;
  /** out[f] = sum_n x[n, f] for x [N, F] (the bias gradient); x may be [..., F] of rank >= 2, summed over every leading dimension. */
  sumRows(x: T): Promise<T>;
  /** f(x) elementwise, any shape; gelu is the tanh approximation (PyTorch's approximate='tanh'). */
  activation(kind: ActivationKind, x: T): Promise<T>;
  /** dy * f'(x) elementwise for x and dy of one shape (relu'(0) = 0, as PyTorch). */
  activationGrad(kind: ActivationKind, x: T, dy: T): Promise<T>;
  /** addBias then activation in one pass: z = x + bias and y = f(z) for x [N, F] (or [..., F], rank >= 2: z and y of x's shape), bias [F] (a layer with a bias followed by an activation). */
  addBiasActivation(kind: ActivationKind, x: T, bias: T): Promise<BiasActivationResultOf<T>>;
  /** activationGrad then sumRows in one pass: dz = dy * f'(z) for z, dy [N, F] (or [..., F], rank >= 2: dz of z's shape), and its column sums dbias [F] (the bias gradient of that layer). */
  activationGradBias(kind: ActivationKind, z: T, dy: T): Promise<ActivationGradBiasResultOf<T>>;
  /** a + b elementwise, a new tensor (a and b of one shape). */
  add(a: T, b: T): Promise<T>;
  /** a * b elementwise, a new tensor (a and b of one shape). */
  multiply(a: T, b: T): Promise<T>;
  /** Mean over rows of -log softmax(logits)[label], its gradient (softmax - onehot) / N, and the count of rows whose first argmax is the label; logits [N, K], labels [N] class indices as float32 (a label that is not an integer in [0, K) makes the loss NaN). */
  softmaxCrossEntropy(logits: T, labels: T): Promise<SoftmaxCrossEntropyResultOf<T>>;
  /**
   * y = (x - mean) * rstd * gamma + beta per row of x [N, F], with the biased variance and
   * rstd = 1/sqrt(var + eps) (as PyTorch's layer_norm over the last dimension). x may be [..., F] of
   * rank >= 2, read as the matrix [rows, F] (an NHWC activation: each position's channels
   * normalised); y has x's shape, mean and rstd are [rows].
   */
  layerNorm(x: T, gamma: T, beta: T, eps?: number): Promise<LayerNormResultOf<T>>;
  /** Gradients of layerNorm given dy (x's shape: [N, F], or [..., F] as layerNorm reads it) and the forward's mean and rstd [rows]; dx has x's shape. */
  layerNormGrad(x: T, dy: T, gamma: T, mean: T, rstd: T): Promise<LayerNormGradResultOf<T>>;
  /** One SGD step in place (PyTorch's update rule); velocity (zeros at first) is needed exactly when momentum > 0. */
  sgdStep(param: T, grad: T, velocity: T | null, options: SgdStepOptions): Promise<void>;
  /** One Adam or AdamW step in place on param and the moments m, v (zeros at first), PyTorch's update rule with bias correction. */
  adamStep(param: T, grad: T, m: T, v: T, options: AdamStepOptions): Promise<void>;
  /** s * x, a new tensor. */
  scale(x: T, s: number): Promise<T>;
  /** y += alpha * x in place (x and y of one shape, different tensors). */
  axpy(alpha: number, x: T, y: T): Promise<void>;
  /**
   * A new tensor with x's values; with `shape` (as many elements as x) the new tensor has that
   * shape, the values in the same row-major order: a reshape (e.g. [N H W, C] to [N, H, W, C]).
   */
  copy(x: T, shape?: readonly number[]): Promise<T>;
  /** Sets every element of x to value, in place. */
  fill(x: T, value: number): Promise<void>;
  /** Per-block norm of w [nnz, bs, bs] (any [nnz, ...]): l2 = sqrt(sum w^2), max = max |w|; [nnz]. */
  blockNorms(w: T, kind: BlockNormKind): Promise<T>;
  /** out[j] = w[ids[j]] along the first axis: w [nnz, ...] to [m, ...] for m = ids.length, ids in [0, nnz). */
  gatherBlocks(w: T, ids: Int32Array): Promise<T>;
  /** out[ids[j]] = src[j] along the first axis, zeros elsewhere: src [m, ...] to [nnzOut, ...]; ids distinct, in [0, nnzOut). */
  scatterBlocks(src: T, ids: Int32Array, nnzOut: number): Promise<T>;
  /** Hard-concrete gates [nnz]: with noise u in (0, 1), min(1, max(0, sigmoid((log u - log(1 - u) + logAlpha) / beta) (zeta - gamma) + gamma)); with u null the test-time gate min(1, max(0, sigmoid(logAlpha) (zeta - gamma) + gamma)). */
  hardConcreteGates(logAlpha: T, u: T | null, options?: HardConcreteOptions): Promise<T>;
  /** dlogAlpha = dgates * d gate / d logAlpha for the same u (zero where the stretched value is clamped, outside [0, 1]). */
  hardConcreteGrad(logAlpha: T, u: T | null, dgates: T, options?: HardConcreteOptions): Promise<T>;
  /** The expected L0 norm sum_b sigmoid(logAlpha_b - beta log(-gamma / zeta)) (Louizos et al. 2018, eq. 12; unweighted) and its gradient. */
  l0Penalty(logAlpha: T, options?: HardConcreteOptions): Promise<L0PenaltyResultOf<T>>;
  /**
   * One LSTM cell step, PyTorch's equations and gate order (i, f, g, o: column blocks [0, H),
   * [H, 2H), [2H, 3H), [3H, 4H)): z = recurrent + input + bias for recurrent, input [N, 4H] (the
   * two products) and bias [4H] (per column); gates = (sigmoid(z_i), sigmoid(z_f), tanh(z_g),
   * sigmoid(z_o)) [N, 4H]; c = f cPrev + i g and h = o tanh(c) [N, H] for cPrev [N, H]. New tensors.
   * With `inputRow`, input is [R, 4H] and its rows [inputRow, inputRow + N) are read (one step of a
   * sequence's input projection, without copying it out).
   */
  lstmCell(recurrent: T, input: T, bias: T, cPrev: T, inputRow?: number): Promise<LstmCellResultOf<T>>;
  /**
   * The gradients of lstmCell from its gates [N, 4H], cPrev and c [N, H], and the gradients dh, dc
   * [N, H] arriving at its outputs (dc null: zero): with tc = tanh(c) and
   * dct = dc + dh o (1 - tc^2), dz = (dct g i (1 - i), dct cPrev f (1 - f), dct i (1 - g^2),
   * dh tc o (1 - o)) [N, 4H] and dcPrev = dct f [N, H].
   */
  lstmCellGrad(gates: T, cPrev: T, c: T, dh: T, dc: T | null): Promise<LstmCellGradResultOf<T>>;
  /** dst[row + i, :] = src[i, :] in place, for src [n, w] and dst [m, w] (different tensors), 0 <= row <= m - n (a time step's rows into a sequence's). */
  copyRows(src: T, dst: T, row: number): Promise<void>;
  /** A new [count, w] tensor holding rows [row, row + count) of src [m, w]. */
  sliceRows(src: T, row: number, count: number): Promise<T>;
  /** out[r, :] = table[index[r], :] [R, E] for table [V, E] and R = index.length >= 1 row indices in [0, V) (an embedding lookup). */
  gatherRows(table: T, index: Int32Array): Promise<T>;
  /**
   * out[v, :] = sum of dy[r, :] over the r with index[r] = v, [rows, E] for dy [R, E] and R =
   * index.length indices in [0, rows) (gatherRows' gradient); rows no index names are zero. Each
   * row's terms are added in increasing r, in float32 from 0, on both backends: the same bytes
   * on any number of threads.
   */
  scatterAddRows(dy: T, index: Int32Array, rows: number): Promise<T>;
  /** The sum of x's squared elements as a [1] tensor (any shape; 0 for none): a squared norm, for clipping gradients by their global norm. */
  sumSquares(x: T): Promise<T>;
  /**
   * Max pooling of x [N, H, W, C] (NHWC) over the windows of `params` (pool.ts: stride defaults to
   * the kernel, padding counts as -infinity), [N, Ho, Wo, C]: PyTorch's max_pool2d, with its NaN
   * rule on the CPU (a NaN in a window gives NaN; WGSL lets a driver assume there are no NaNs).
   */
  maxPool2d(x: T, params: Pool2dParams): Promise<T>;
  /**
   * maxPool2d's gradient dx [N, H, W, C] from x and dy [N, Ho, Wo, C]: each window's dy goes to its
   * first maximum in row-major order (the last NaN where it holds one: PyTorch's choice), summed
   * where windows overlap. Computed as a gather (each input position adds, in increasing window
   * order from 0, the dy of the windows whose maximum it is): the same bytes on any thread count.
   */
  maxPool2dGrad(x: T, dy: T, params: Pool2dParams): Promise<T>;
  /** Average pooling of x [N, H, W, C] over the windows of `params`, [N, Ho, Wo, C]: each window's sum divided by kh kw, padding included (PyTorch's avg_pool2d, count_include_pad true). */
  avgPool2d(x: T, params: Pool2dParams): Promise<T>;
  /** avgPool2d's gradient dx [N, H, W, C] for the input size `options.inputSize` [H, W] from dy [N, Ho, Wo, C]: each position's windows' dy, summed in increasing window order, over kh kw. */
  avgPool2dGrad(dy: T, options: AvgPool2dGradOptions): Promise<T>;
  /** The mean over positions of x [N, H, W, C], [N, C] (PyTorch's adaptive_avg_pool2d to 1 x 1). */
  globalAvgPool(x: T): Promise<T>;
  /** globalAvgPool's gradient: dx[n, y, x, c] = dy[n, c] / (H W), [N, H, W, C] for dy [N, C] and `inputSize` [H, W]. */
  globalAvgPoolGrad(dy: T, inputSize: readonly [number, number]): Promise<T>;
}

/** The name of a training operation. */
export type TrainingOpName = keyof TrainingOps<Operand>;

/** A new tensor that the sum stage makes: scale times the column sums of columns [from, from + count). */
export interface TrainingOpSum {
  readonly shape: readonly number[];
  readonly from: number;
  readonly count: number;
  readonly scale: number;
}

/** How one call of a training operation runs (see the file's comment); backends execute it as it says. */
export interface TrainingOpCall<R> {
  /** The main stage's grid: `count` elements, or `count` rows of `width`. */
  readonly grid: 'elements' | 'rows';
  /** Elements or rows of the main stage (0: no main stage). */
  readonly count: number;
  /** Row width (rows), or the period an elementwise op needs (bias width, elements per block); default 0. */
  readonly width?: number;
  /** A small integer variant (activation code, norm kind, nesterov, noise); default 0. */
  readonly flag?: number;
  /** float32 hyper-parameters f0 .. f8. */
  readonly floats?: readonly number[];
  /**
   * Work per element, in the floating-point operations of a product, for the CPU's choice between
   * the calling thread and the worker pool (CpuBackendOptions.minParallelFlops): about MEMORY_BOUND
   * for an op that moves memory (add, copy, bias), TRANSCENDENTAL for one that takes an exp, log
   * or tanh per element. Default MEMORY_BOUND.
   */
  readonly cost?: number;
  /** Read slots a .. e (null: absent); a Float32Array is uploaded for the call (an index map). */
  readonly reads?: readonly (Operand | Float32Array | null)[];
  /** Write slots o0 .. o2: a tensor written in place, or the shape of a new tensor. */
  readonly writes?: readonly (Operand | readonly number[])[];
  /** Partial sums per unit the main stage writes to the write slot after `writes`. */
  readonly partials?: number;
  /** The sum stage: column sums of the partials, or of read slot `read` as `rows` x `width`, into new tensors. */
  readonly sums?: { readonly of: 'partials' | { readonly read: number; readonly rows: number; readonly width: number }; readonly into: readonly TrainingOpSum[] };
  /** The method's result from the write slots' tensors and the sum stage's. */
  result(writes: Operand[], sums: Operand[]): R;
}

/** The spec of operation N: checks the method's arguments (owner: the backend) and describes the call. */
export type TrainingOpSpec<N extends TrainingOpName> = (
  owner: OperandOwner,
  ...args: Parameters<TrainingOps<Operand>[N]>
) => TrainingOpCall<Awaited<ReturnType<TrainingOps<Operand>[N]>>>;

/**
 * The `cost` of an op that only moves memory: with the CPU's default minParallelFlops (2^22) a call
 * wakes the workers from 2^18 elements, where two threads start to beat one on a 2-core machine
 * (measured: add, relu and copy break even between 2^17 and 2^19 elements).
 */
export const MEMORY_BOUND = 16;
/** The `cost` of an op with an exp, log or tanh per element: the workers from 2^15 elements (tanh: two threads win from 2^15). */
export const TRANSCENDENTAL = 128;

/**
 * lstmCell's cost per item (the four gates of one unit: three sigmoids, two tanh, 15 floats moved):
 * measured on one thread, an item takes as long as about 10 tanh elements (5.4 ns against 0.52).
 */
const LSTM_CELL_COST = 10 * TRANSCENDENTAL;
/** lstmCellGrad's cost per item (one tanh, 13 floats moved): measured, about 3 tanh elements (1.6 ns). */
const LSTM_CELL_GRAD_COST = 3 * TRANSCENDENTAL;

/** The new tensor in write slot 0. */
const first = (writes: Operand[]): Operand => writes[0];
const nothing = (): void => undefined;
/** Gather maps and block ids travel as float32: exact below 2^24. */
const MAX_MAPPED_BLOCKS = 2 ** 24;

/** The kernels' integers (count, width, flag) are 32-bit: an element offset passed as the flag must fit. */
const MAX_KERNEL_INTEGER = 2 ** 31 - 1;
/** Elements per row of sumSquares' grid: a row is one partial sum (on WebGPU a workgroup's reduction, on the CPU within a unit of 8 rows). */
const SUM_SQUARES_ROW = 1024;

/** An element offset the kernel takes as its flag (copyRows, sliceRows: row * width). */
function elementOffset(offset: number, what: string, context: string): number {
  if (offset > MAX_KERNEL_INTEGER) throw new ShapeError(`${context}: ${what} starts at element ${offset}; the kernels address at most 2^31 - 1`);
  return offset;
}

/** LSTM gates (pre-activations, activations or their gradient): a matrix [N, 4H]; returns [N, H]. */
function checkGateMatrix(owner: OperandOwner, t: Operand, name: string, context: string): [number, number] {
  const [n, width] = checkMatrix(owner, t, name, context);
  if (width % 4 !== 0) throw new ShapeError(`${context}: ${name} has shape ${show(t.shape)} but must be [N, 4H] (the gates i, f, g, o side by side)`);
  return [n, width / 4];
}

/** An LSTM state [N, H] that goes with the gates `gates` [N, 4H]. */
function checkState(owner: OperandOwner, t: Operand, name: string, n: number, hidden: number, gates: Operand, gatesName: string, context: string): void {
  checkTensor(owner, t, name);
  if (t.shape.length !== 2 || t.shape[0] !== n || t.shape[1] !== hidden) {
    throw new ShapeError(`${context}: ${name} has shape ${show(t.shape)} but ${gatesName} ${show(gates.shape)} needs [${n}, ${hidden}]`);
  }
}

/** Row indices: an Int32Array of at least one. */
function checkRowIndex(index: Int32Array, context: string): void {
  if (!(index instanceof Int32Array) || index.length < 1) throw new ParameterError('index', 'an Int32Array of at least one row index', index, context);
}

/** Hard-concrete constants, and the shift beta log(-gamma / zeta) of the L0 penalty. */
function hardConcreteFloats(options: HardConcreteOptions | undefined, context: string): number[] {
  const o = options ?? {};
  const beta = checkNumber('beta', o.beta ?? HARD_CONCRETE_DEFAULTS.beta, Number.MIN_VALUE, Number.MAX_VALUE, context);
  const gamma = checkNumber('gamma', o.gamma ?? HARD_CONCRETE_DEFAULTS.gamma, -Number.MAX_VALUE, -Number.MIN_VALUE, context);
  const zeta = checkNumber('zeta', o.zeta ?? HARD_CONCRETE_DEFAULTS.zeta, 1 + Number.EPSILON, Number.MAX_VALUE, context);
  return [beta, gamma, zeta, beta * Math.log(-gamma / zeta)];
}

/** The hard-concrete operands: logAlpha [nnz], u null or [nnz], dgates [nnz] for the gradient; returns nnz. */
function checkHardConcrete(owner: OperandOwner, context: string, logAlpha: Operand, u: Operand | null, dgates?: Operand): number {
  checkTensor(owner, logAlpha, 'logAlpha');
  if (logAlpha.shape.length !== 1) throw new ShapeError(`${context}: logAlpha has shape ${show(logAlpha.shape)} but must be [nnz]`);
  const nnz = logAlpha.shape[0];
  if (u) checkVector(owner, u, 'u', nnz, 'logAlpha', logAlpha.shape, context);
  if (dgates) checkVector(owner, dgates, 'dgates', nnz, 'logAlpha', logAlpha.shape, context);
  return nnz;
}

/** A block map's operand: at most 2^24 blocks (the map travels as float32). */
function checkMappedBlocks(owner: OperandOwner, w: Operand, name: string, context: string): [number, number] {
  const [nnz, per] = checkBlocks(owner, w, name, context);
  if (nnz > MAX_MAPPED_BLOCKS) throw new ShapeError(`${context}: ${name} has ${nnz} blocks; at most 2^24 can be gathered`);
  return [nnz, per];
}

function checkIds(ids: Int32Array, context: string): void {
  if (!(ids instanceof Int32Array)) throw new ParameterError('ids', 'an Int32Array of block ids', ids, context);
}

/** The largest spatial size the pooling kernels take as a float32 hyper-parameter (an exact integer). */
const MAX_POOL_SIZE = 2 ** 24;

/** An NHWC activation [N, H, W, C] with every size >= 1 (H, W <= 2^24); returns its shape. */
function checkImage(owner: OperandOwner, t: Operand, name: string, context: string): [number, number, number, number] {
  checkTensor(owner, t, name);
  if (t.shape.length !== 4 || t.shape.some((d) => d < 1) || t.shape[1] > MAX_POOL_SIZE || t.shape[2] > MAX_POOL_SIZE) {
    throw new ShapeError(`${context}: ${name} has shape ${show(t.shape)} but must be [N, H, W, C] (channels last) with every size >= 1 and H, W <= 2^24`);
  }
  return [t.shape[0], t.shape[1], t.shape[2], t.shape[3]];
}

/** An input size [H, W] (integers in [1, 2^24]). */
function checkInputSize(inputSize: readonly [number, number], context: string): [number, number] {
  if (!Array.isArray(inputSize) || inputSize.length !== 2) throw new ParameterError('inputSize', 'a pair [H, W]', inputSize, context);
  return [checkInteger('inputSize[0]', inputSize[0], 1, MAX_POOL_SIZE, context), checkInteger('inputSize[1]', inputSize[1], 1, MAX_POOL_SIZE, context)];
}

/** dy [N, Ho, Wo, C] of a pooling of an [N, H, W, C] input. */
function checkPoolGrad(owner: OperandOwner, dy: Operand, expected: readonly number[], context: string): void {
  checkTensor(owner, dy, 'dy');
  if (dy.shape.length !== expected.length || dy.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(`${context}: dy has shape ${show(dy.shape)} but the pooling's output is ${show(expected)}`);
  }
}

/**
 * A pooling kernel's call: grid of `count` elements of width C (the channels), and the window as
 * float32 hyper-parameters: f0 H, f1 W (the input), f2 kh, f3 kw, f4 sh, f5 sw, f6 ph, f7 pw (the
 * kernels derive Ho and Wo). `work`: the taps an element's kernel visits (its cost in memory-bound
 * elements).
 */
function poolCall(count: number, channels: number, input: readonly [number, number], g: Conv2dGeometry, work: number, reads: Operand[], out: readonly number[]): TrainingOpCall<Operand> {
  const floats = [input[0], input[1], g.kernel[0], g.kernel[1], g.stride[0], g.stride[1], g.padding[0], g.padding[1]];
  return { grid: 'elements', count, width: channels, floats, cost: MEMORY_BOUND * work, reads, writes: [out], result: first };
}

/** The most windows that hold one input position. */
const windowsPerPosition = (g: Conv2dGeometry): number => Math.ceil(g.kernel[0] / g.stride[0]) * Math.ceil(g.kernel[1] / g.stride[1]);

/** Global average pooling as one window of the whole input: kernel and stride [H, W], no padding. */
function globalWindow(h: number, w: number): Conv2dGeometry {
  return { kernel: [h, w], stride: [h, w], padding: [0, 0], dilation: [1, 1] };
}

/** An elementwise op of two same-shape operands into a new tensor. */
function binary(owner: OperandOwner, a: Operand, b: Operand, context: string): TrainingOpCall<Operand> {
  checkSameShape(owner, a, 'a', b, 'b', context);
  return { grid: 'elements', count: a.size, reads: [a, b], writes: [a.shape], result: first };
}

/** An activation and its gradient: kind and x (and dy). */
function activationCall(owner: OperandOwner, kind: ActivationKind, x: Operand, dy: Operand | null): TrainingOpCall<Operand> {
  const context = dy ? 'activationGrad' : 'activation';
  checkOneOf('kind', kind, ACTIVATION_KINDS, context);
  if (dy) checkSameShape(owner, x, 'x', dy, 'dy', context);
  else checkTensor(owner, x, 'x');
  const cost = kind === 'relu' ? MEMORY_BOUND : TRANSCENDENTAL;
  return { grid: 'elements', count: x.size, flag: ACTIVATION_CODES[kind], cost, reads: dy ? [x, dy] : [x], writes: [x.shape], result: first };
}

/** The hard-concrete gates and their gradient. */
function hardConcreteCall(owner: OperandOwner, context: string, logAlpha: Operand, u: Operand | null, dgates: Operand | null, options?: HardConcreteOptions): TrainingOpCall<Operand> {
  const nnz = checkHardConcrete(owner, context, logAlpha, u, dgates ?? undefined);
  const floats = hardConcreteFloats(options, context);
  return { grid: 'elements', count: nnz, flag: u ? 1 : 0, floats, cost: TRANSCENDENTAL, reads: [logAlpha, u, dgates], writes: [[nnz]], result: first };
}

/**
 * Every training operation's spec, in op-code order (a kernel's op code is its index in
 * TRAINING_OPS). The backends run each call as its spec describes.
 */
export const TRAINING_OP_SPECS: { readonly [N in TrainingOpName]: TrainingOpSpec<N> } = {
  addBias(owner, x, bias) {
    const [n, width] = checkRows(owner, x, 'x', 'addBias');
    checkVector(owner, bias, 'bias', width, 'x', x.shape, 'addBias');
    return { grid: 'elements', count: n * width, width, reads: [x, bias], writes: [x.shape], result: first };
  },
  sumRows(owner, x) {
    const [n, width] = checkRows(owner, x, 'x', 'sumRows');
    return { grid: 'elements', count: 0, reads: [x], sums: { of: { read: 0, rows: n, width }, into: [{ shape: [width], from: 0, count: width, scale: 1 }] }, result: (_, [out]) => out };
  },
  activation: (owner, kind, x) => activationCall(owner, kind, x, null),
  activationGrad: (owner, kind, x, dy) => activationCall(owner, kind, x, dy),
  addBiasActivation(owner, kind, x, bias) {
    const context = 'addBiasActivation';
    checkOneOf('kind', kind, ACTIVATION_KINDS, context);
    const [n, width] = checkRows(owner, x, 'x', context);
    checkVector(owner, bias, 'bias', width, 'x', x.shape, context);
    const cost = kind === 'relu' ? MEMORY_BOUND : TRANSCENDENTAL;
    return { grid: 'elements', count: n * width, width, flag: ACTIVATION_CODES[kind], cost, reads: [x, bias], writes: [x.shape, x.shape], result: ([z, y]) => ({ z, y }) };
  },
  activationGradBias(owner, kind, z, dy) {
    const context = 'activationGradBias';
    checkOneOf('kind', kind, ACTIVATION_KINDS, context);
    const [n, width] = checkRows(owner, z, 'z', context);
    checkSameShape(owner, z, 'z', dy, 'dy', context);
    const cost = kind === 'relu' ? MEMORY_BOUND : TRANSCENDENTAL;
    return {
      grid: 'rows', count: n, width, flag: ACTIVATION_CODES[kind], cost, reads: [z, dy], writes: [z.shape], partials: width,
      sums: { of: 'partials', into: [{ shape: [width], from: 0, count: width, scale: 1 }] },
      result: ([dz], [dbias]) => ({ dz, dbias }),
    };
  },
  add: (owner, a, b) => binary(owner, a, b, 'add'),
  multiply: (owner, a, b) => binary(owner, a, b, 'multiply'),
  softmaxCrossEntropy(owner, logits, labels) {
    const [n, k] = checkMatrix(owner, logits, 'logits', 'softmaxCrossEntropy');
    checkVector(owner, labels, 'labels', n, 'logits', logits.shape, 'softmaxCrossEntropy');
    return {
      grid: 'rows', count: n, width: k, floats: [1 / n, NaN], cost: TRANSCENDENTAL, reads: [logits, labels], writes: [[n, k]], partials: 2,
      sums: { of: 'partials', into: [{ shape: [1], from: 0, count: 1, scale: 1 / n }, { shape: [1], from: 1, count: 1, scale: 1 }] },
      result: ([dlogits], [loss, correct]) => ({ loss, dlogits, correct }),
    };
  },
  layerNorm(owner, x, gamma, beta, eps = 1e-5) {
    const [n, width] = checkRows(owner, x, 'x', 'layerNorm');
    checkVector(owner, gamma, 'gamma', width, 'x', x.shape, 'layerNorm');
    checkVector(owner, beta, 'beta', width, 'x', x.shape, 'layerNorm');
    checkNumber('eps', eps, 0, Number.MAX_VALUE, 'layerNorm');
    return { grid: 'rows', count: n, width, floats: [eps], cost: 2 * MEMORY_BOUND, reads: [x, gamma, beta], writes: [x.shape, [n], [n]], result: ([y, mean, rstd]) => ({ y, mean, rstd }) };
  },
  layerNormGrad(owner, x, dy, gamma, mean, rstd) {
    const context = 'layerNormGrad';
    const [n, width] = checkRows(owner, x, 'x', context);
    checkSameShape(owner, x, 'x', dy, 'dy', context);
    checkVector(owner, gamma, 'gamma', width, 'x', x.shape, context);
    checkVector(owner, mean, 'mean', n, 'x', x.shape, context);
    checkVector(owner, rstd, 'rstd', n, 'x', x.shape, context);
    return {
      grid: 'rows', count: n, width, cost: 2 * MEMORY_BOUND, reads: [x, dy, gamma, mean, rstd], writes: [x.shape], partials: 2 * width,
      sums: { of: 'partials', into: [{ shape: [width], from: 0, count: width, scale: 1 }, { shape: [width], from: width, count: width, scale: 1 }] },
      result: ([dx], [dgamma, dbeta]) => ({ dx, dgamma, dbeta }),
    };
  },
  sgdStep(owner, param, grad, velocity, options) {
    const context = 'sgdStep';
    checkSameShape(owner, param, 'param', grad, 'grad', context);
    const lr = checkNumber('lr', options?.lr, 0, Number.MAX_VALUE, context);
    const momentum = checkNumber('momentum', options.momentum ?? 0, 0, Number.MAX_VALUE, context);
    const weightDecay = checkNumber('weightDecay', options.weightDecay ?? 0, 0, Number.MAX_VALUE, context);
    const nesterov = options.nesterov ?? false;
    if (typeof nesterov !== 'boolean') throw new ParameterError('nesterov', 'a boolean', nesterov, context);
    if (nesterov && momentum === 0) throw new ParameterError('momentum', 'greater than 0 with nesterov', momentum, context);
    if (momentum > 0) {
      if (!velocity) throw new ParameterError('velocity', `a tensor of param's shape when momentum > 0`, velocity, context);
      checkSameShape(owner, param, 'param', velocity, 'velocity', context);
    } else if (velocity) {
      throw new ParameterError('velocity', 'null when momentum is 0 (plain SGD keeps no velocity)', 'a tensor', context);
    }
    checkDistinct(context, [[param, 'param'], ...(velocity ? [[velocity, 'velocity'] as [Operand, string]] : [])], [[grad, 'grad']]);
    return {
      grid: 'elements', count: param.size, flag: nesterov ? 1 : 0, floats: [lr, momentum, weightDecay], reads: [grad], writes: velocity ? [param, velocity] : [param], result: nothing,
    };
  },
  adamStep(owner, param, grad, m, v, options) {
    const context = 'adamStep';
    checkSameShape(owner, param, 'param', grad, 'grad', context);
    checkSameShape(owner, param, 'param', m, 'm', context);
    checkSameShape(owner, param, 'param', v, 'v', context);
    checkDistinct(context, [[param, 'param'], [m, 'm'], [v, 'v']], [[grad, 'grad']]);
    const lr = checkNumber('lr', options?.lr, 0, Number.MAX_VALUE, context);
    const beta1 = checkNumber('beta1', options.beta1 ?? 0.9, 0, 1 - Number.EPSILON / 2, context);
    const beta2 = checkNumber('beta2', options.beta2 ?? 0.999, 0, 1 - Number.EPSILON / 2, context);
    const eps = checkNumber('eps', options.eps ?? 1e-8, 0, Number.MAX_VALUE, context);
    const weightDecay = checkNumber('weightDecay', options.weightDecay ?? 0, 0, Number.MAX_VALUE, context);
    const decoupled = options.decoupled ?? false;
    if (typeof decoupled !== 'boolean') throw new ParameterError('decoupled', 'a boolean', decoupled, context);
    const step = options.step;
    if (typeof step !== 'number' || !Number.isInteger(step) || step < 1) throw new ParameterError('step', 'an integer >= 1 (the first step is 1)', step, context);
    // PyTorch's rule with the bias corrections folded in: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps);
    // 1 - beta travels from float64 (1 - f32(0.999) is 1.3e-5 off).
    const floats = [
      beta1, beta2, eps, decoupled ? 0 : weightDecay, decoupled ? 1 - lr * weightDecay : 1, lr / (1 - beta1 ** step), Math.sqrt(1 - beta2 ** step), 1 - beta1, 1 - beta2,
    ];
    return { grid: 'elements', count: param.size, floats, cost: 2 * MEMORY_BOUND, reads: [grad], writes: [param, m, v], result: nothing };
  },
  scale(owner, x, s) {
    checkTensor(owner, x, 'x');
    checkNumber('s', s, -Number.MAX_VALUE, Number.MAX_VALUE, 'scale');
    return { grid: 'elements', count: x.size, floats: [s], reads: [x], writes: [x.shape], result: first };
  },
  axpy(owner, alpha, x, y) {
    checkNumber('alpha', alpha, -Number.MAX_VALUE, Number.MAX_VALUE, 'axpy');
    checkSameShape(owner, x, 'x', y, 'y', 'axpy');
    checkDistinct('axpy', [[y, 'y']], [[x, 'x']]);
    return { grid: 'elements', count: x.size, floats: [alpha], reads: [x], writes: [y], result: nothing };
  },
  copy(owner, x, shape) {
    checkTensor(owner, x, 'x');
    if (shape !== undefined) {
      const size = checkShape(shape, 'copy\'s shape');
      if (size !== x.size) throw new ShapeError(`copy: shape ${show(shape)} holds ${size} elements but x ${show(x.shape)} has ${x.size}`);
    }
    return { grid: 'elements', count: x.size, reads: [x], writes: [shape ?? x.shape], result: first };
  },
  fill(owner, x, value) {
    checkTensor(owner, x, 'x');
    if (typeof value !== 'number') checkNumber('value', value, -Infinity, Infinity, 'fill');
    return { grid: 'elements', count: x.size, floats: [value], writes: [x], result: nothing };
  },
  blockNorms(owner, w, kind) {
    checkOneOf('kind', kind, BLOCK_NORM_KINDS, 'blockNorms');
    const [nnz, per] = checkBlocks(owner, w, 'w', 'blockNorms');
    return { grid: 'rows', count: per === 0 ? 0 : nnz, width: per, flag: kind === 'l2' ? 0 : 1, reads: [w], writes: [[nnz]], result: first };
  },
  gatherBlocks(owner, w, ids) {
    const context = 'gatherBlocks';
    const [nnz, per] = checkMappedBlocks(owner, w, 'w', context);
    checkIds(ids, context);
    for (let j = 0; j < ids.length; j++) {
      if (ids[j] < 0 || ids[j] >= nnz) throw new ParameterError(`ids[${j}]`, `a block id in [0, ${nnz})`, ids[j], context);
    }
    return { grid: 'elements', count: ids.length * per, width: per, reads: [w, Float32Array.from(ids)], writes: [[ids.length, ...w.shape.slice(1)]], result: first };
  },
  scatterBlocks(owner, src, ids, nnzOut) {
    const context = 'scatterBlocks';
    const [m, per] = checkMappedBlocks(owner, src, 'src', context);
    checkIds(ids, context);
    if (typeof nnzOut !== 'number' || !Number.isInteger(nnzOut) || nnzOut < 0) throw new ParameterError('nnzOut', 'an integer >= 0', nnzOut, context);
    if (ids.length !== m) throw new ShapeError(`${context}: ids has ${ids.length} entries but src has ${m} blocks`);
    // For each output block the source block it takes, or -1 for a zero block.
    const sources = new Float32Array(nnzOut).fill(-1);
    const taken = new Int32Array(nnzOut).fill(-1);
    for (let j = 0; j < m; j++) {
      const id = ids[j];
      if (id < 0 || id >= nnzOut) throw new ParameterError(`ids[${j}]`, `a block id in [0, ${nnzOut})`, id, context);
      if (taken[id] !== -1) throw new ParameterError(`ids[${j}]`, `distinct from ids[${taken[id]}]`, id, context);
      taken[id] = j;
      sources[id] = j;
    }
    return { grid: 'elements', count: nnzOut * per, width: per, reads: [src, sources], writes: [[nnzOut, ...src.shape.slice(1)]], result: first };
  },
  hardConcreteGates: (owner, logAlpha, u, options) => hardConcreteCall(owner, 'hardConcreteGates', logAlpha, u, null, options),
  hardConcreteGrad: (owner, logAlpha, u, dgates, options) => hardConcreteCall(owner, 'hardConcreteGrad', logAlpha, u, dgates, options),
  l0Penalty(owner, logAlpha, options) {
    const nnz = checkHardConcrete(owner, 'l0Penalty', logAlpha, null);
    const floats = hardConcreteFloats(options, 'l0Penalty');
    return {
      grid: 'elements', count: nnz, floats, cost: TRANSCENDENTAL, reads: [logAlpha], writes: [[nnz]], partials: 1,
      sums: { of: 'partials', into: [{ shape: [1], from: 0, count: 1, scale: 1 }] },
      result: ([grad], [value]) => ({ value, grad }),
    };
  },
  lstmCell(owner, recurrent, input, bias, cPrev, inputRow) {
    const context = 'lstmCell';
    const [n, hidden] = checkGateMatrix(owner, recurrent, 'recurrent', context);
    let offset = 0;
    if (inputRow === undefined) checkSameShape(owner, recurrent, 'recurrent', input, 'input', context);
    else {
      const [rows, width] = checkMatrix(owner, input, 'input', context);
      if (width !== 4 * hidden) throw new ShapeError(`${context}: input has shape ${show(input.shape)} but recurrent ${show(recurrent.shape)} needs [R, ${4 * hidden}]`);
      if (rows < n) throw new ShapeError(`${context}: input has ${rows} rows but recurrent has ${n}`);
      checkInteger('inputRow', inputRow, 0, rows - n, context);
      offset = inputRow * 4 * hidden;
    }
    checkVector(owner, bias, 'bias', 4 * hidden, 'recurrent', recurrent.shape, context);
    checkState(owner, cPrev, 'cPrev', n, hidden, recurrent, 'recurrent', context);
    // An elements grid of N H items (each the four gates of one unit): N is only a batch (32 to
    // 128), so on WebGPU a thread per item fills the device where a workgroup per row would not;
    // the CPU kernel walks the items row segment by row segment, vectorised along the row.
    return {
      grid: 'elements', count: n * hidden, width: hidden, flag: offset, cost: LSTM_CELL_COST, reads: [recurrent, input, bias, cPrev], writes: [[n, hidden], [n, hidden], [n, 4 * hidden]],
      result: ([h, c, gates]) => ({ h, c, gates }),
    };
  },
  lstmCellGrad(owner, gates, cPrev, c, dh, dc) {
    const context = 'lstmCellGrad';
    const [n, hidden] = checkGateMatrix(owner, gates, 'gates', context);
    checkState(owner, cPrev, 'cPrev', n, hidden, gates, 'gates', context);
    checkState(owner, c, 'c', n, hidden, gates, 'gates', context);
    checkState(owner, dh, 'dh', n, hidden, gates, 'gates', context);
    if (dc !== null) checkState(owner, dc, 'dc', n, hidden, gates, 'gates', context);
    return {
      grid: 'elements', count: n * hidden, width: hidden, flag: dc === null ? 0 : 1, cost: LSTM_CELL_GRAD_COST, reads: [gates, cPrev, c, dh, dc], writes: [[n, 4 * hidden], [n, hidden]],
      result: ([dz, dcPrev]) => ({ dz, dcPrev }),
    };
  },
  copyRows(owner, src, dst, row) {
    const context = 'copyRows';
    const [n, width] = checkMatrix(owner, src, 'src', context);
    const [m, dstWidth] = checkMatrix(owner, dst, 'dst', context);
    if (width !== dstWidth || n > m) throw new ShapeError(`${context}: src has shape ${show(src.shape)} and dst has shape ${show(dst.shape)}; src needs dst's width and at most its rows`);
    checkInteger('row', row, 0, m - n, context);
    checkDistinct(context, [[dst, 'dst']], [[src, 'src']]);
    return { grid: 'elements', count: n * width, flag: elementOffset(row * width, `row ${row} of dst`, context), reads: [src], writes: [dst], result: nothing };
  },
  sliceRows(owner, src, row, count) {
    const context = 'sliceRows';
    const [m, width] = checkMatrix(owner, src, 'src', context);
    checkInteger('count', count, 0, m, context);
    checkInteger('row', row, 0, m - count, context);
    return { grid: 'elements', count: count * width, flag: elementOffset(row * width, `row ${row} of src`, context), reads: [src], writes: [[count, width]], result: first };
  },
  gatherRows(owner, table, index) {
    const context = 'gatherRows';
    const [rows, width] = checkMatrix(owner, table, 'table', context);
    if (rows > MAX_MAPPED_BLOCKS) throw new ShapeError(`${context}: table has ${rows} rows; at most 2^24 can be gathered`);
    checkRowIndex(index, context);
    for (let r = 0; r < index.length; r++) {
      if (index[r] < 0 || index[r] >= rows) throw new ParameterError(`index[${r}]`, `a row of table in [0, ${rows})`, index[r], context);
    }
    // gatherBlocks' kernel: table's rows are its blocks.
    return { grid: 'elements', count: index.length * width, width, reads: [table, Float32Array.from(index)], writes: [[index.length, width]], result: first };
  },
  scatterAddRows(owner, dy, index, rows) {
    const context = 'scatterAddRows';
    const [count, width] = checkMatrix(owner, dy, 'dy', context);
    checkRowIndex(index, context);
    if (index.length !== count) throw new ShapeError(`${context}: index has ${index.length} entries but dy ${show(dy.shape)} has ${count} rows`);
    if (count > MAX_MAPPED_BLOCKS) throw new ShapeError(`${context}: dy has ${count} rows; at most 2^24 can be scattered`);
    checkInteger('rows', rows, 1, MAX_MAPPED_BLOCKS, context);
    checkShape([rows, width], `${context}'s output`); // before the host maps, which are smaller
    // A counting sort of the rows by their index (stable: increasing r within an output row):
    // output row v adds dy's rows order[offsets[v] .. offsets[v + 1]), in that order.
    const start = new Int32Array(rows + 1);
    for (let r = 0; r < count; r++) {
      const v = index[r];
      if (v < 0 || v >= rows) throw new ParameterError(`index[${r}]`, `an output row in [0, ${rows})`, v, context);
      start[v + 1]++;
    }
    for (let v = 0; v < rows; v++) start[v + 1] += start[v];
    const offsets = Float32Array.from(start);
    const order = new Float32Array(count);
    for (let r = 0; r < count; r++) order[start[index[r]]++] = r;
    // Per output element: one write, and count / rows reads on average.
    return { grid: 'rows', count: rows, width, cost: MEMORY_BOUND * (1 + count / rows), reads: [dy, order, offsets], writes: [[rows, width]], result: first };
  },
  sumSquares(owner, x) {
    checkTensor(owner, x, 'x');
    // Rows of SUM_SQUARES_ROW elements (the last one short: the flag is the element count), a
    // partial sum per row (per unit on the CPU), added by the sum stage.
    return {
      grid: 'rows', count: Math.ceil(x.size / SUM_SQUARES_ROW), width: SUM_SQUARES_ROW, flag: elementOffset(x.size, 'x\'s end', 'sumSquares'), reads: [x], partials: 1,
      sums: { of: 'partials', into: [{ shape: [1], from: 0, count: 1, scale: 1 }] },
      result: (_, [sum]) => sum,
    };
  },
  maxPool2d(owner, x, params) {
    const g = resolvePool2d(params, 'maxPool2d');
    const [n, h, w, c] = checkImage(owner, x, 'x', 'maxPool2d');
    const [ho, wo] = convOutputSize(g, [h, w]);
    return poolCall(n * ho * wo * c, c, [h, w], g, taps(g), [x], [n, ho, wo, c]);
  },
  maxPool2dGrad(owner, x, dy, params) {
    const g = resolvePool2d(params, 'maxPool2dGrad');
    const [n, h, w, c] = checkImage(owner, x, 'x', 'maxPool2dGrad');
    const [ho, wo] = convOutputSize(g, [h, w]);
    checkPoolGrad(owner, dy, [n, ho, wo, c], 'maxPool2dGrad');
    // Each input element finds the maximum of every window that holds it again.
    return poolCall(n * h * w * c, c, [h, w], g, windowsPerPosition(g) * taps(g), [x, dy], x.shape);
  },
  avgPool2d(owner, x, params) {
    const g = resolvePool2d(params, 'avgPool2d');
    const [n, h, w, c] = checkImage(owner, x, 'x', 'avgPool2d');
    const [ho, wo] = convOutputSize(g, [h, w]);
    return poolCall(n * ho * wo * c, c, [h, w], g, taps(g), [x], [n, ho, wo, c]);
  },
  avgPool2dGrad(owner, dy, options) {
    const context = 'avgPool2dGrad';
    const g = resolvePool2d(options, context);
    const [h, w] = checkInputSize(options.inputSize, context);
    const [ho, wo] = convOutputSize(g, [h, w]);
    checkTensor(owner, dy, 'dy');
    const [n, , , c] = dy.shape;
    if (dy.shape.length !== 4 || !(n >= 1 && c >= 1) || dy.shape[1] !== ho || dy.shape[2] !== wo) {
      throw new ShapeError(`${context}: dy has shape ${show(dy.shape)} but pooling an input of ${h} x ${w} gives [N, ${ho}, ${wo}, C] with N, C >= 1`);
    }
    return poolCall(n * h * w * c, c, [h, w], g, windowsPerPosition(g), [dy], [n, h, w, c]);
  },
  globalAvgPool(owner, x) {
    const [n, h, w, c] = checkImage(owner, x, 'x', 'globalAvgPool');
    // avgPool2d's kernel with one window of the whole input.
    return poolCall(n * c, c, [h, w], globalWindow(h, w), h * w, [x], [n, c]);
  },
  globalAvgPoolGrad(owner, dy, inputSize) {
    const context = 'globalAvgPoolGrad';
    const [n, c] = checkMatrix(owner, dy, 'dy', context);
    const [h, w] = checkInputSize(inputSize, context);
    return poolCall(n * h * w * c, c, [h, w], globalWindow(h, w), 1, [dy], [n, h, w, c]);
  },
};

/** The training operations in op-code order (a kernel's op code is the index here). */
export const TRAINING_OPS = Object.keys(TRAINING_OP_SPECS) as TrainingOpName[];
