import type { NdArray } from 'ndarray';
import type { BlockLayout } from '../patterns/layout.js';

/** The kernel backends: WGSL on WebGPU (Dawn), or the CPU (WebAssembly SIMD on worker threads). */
export type BackendName = 'cpu' | 'webgpu';

/**
 * A float32 tensor that lives on a backend (GPU buffer, or CPU shared memory), row-major. Tensors
 * stay where they are between calls, so a training step makes no host round trip; `read` brings
 * one back. A tensor belongs to the backend that made it.
 */
export interface Tensor {
  readonly backend: Backend;
  readonly shape: readonly number[];
  /** Number of elements (product of the shape). */
  readonly size: number;
  readonly disposed: boolean;
  /** Frees the memory now (otherwise when the backend is disposed). */
  dispose(): void;
}

/** Host data accepted for a tensor: a Float32Array (with a shape) or an ndarray (any layout; it is packed row-major). */
export type HostData = Float32Array | NdArray;

/** Options of the gated products: per-block scalars g (a tensor of nnz values); block b is used as g_b * W_b. */
export interface GateOptions {
  gates?: Tensor;
}

/** Options of the weight gradient. */
export interface WeightGradOptions {
  /** With gates, dW_b = g_b * (X^T dY)_b, the gradient of the gated weights. */
  gates?: Tensor;
  /** With weights, also the gate gradient dg_b = <W_b, (X^T dY)_b> (for L0 training), in the same pass. */
  weights?: Tensor;
}

/** The weight gradient (nnz x bs x bs, block-id order) and, when weights were given, the gate gradient (nnz). */
export interface WeightGradResult {
  dw: Tensor;
  dgates?: Tensor;
}

/** Options of the dense matmul C = op(A) . op(B). */
export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
}

/** Counters a backend keeps (tests check caching with them). */
export interface BackendStats {
  /** Layout tables uploaded (once per layout and backend). */
  layoutUploads: number;
  /** Pipelines / kernels compiled (once per kernel variant). */
  compilations: number;
}

/** Elementwise activations: relu, gelu (the tanh approximation, PyTorch's approximate='tanh'), tanh. */
export type ActivationKind = 'relu' | 'gelu' | 'tanh';

/** The block norm used for magnitude pruning: Frobenius (l2) or largest absolute value (max). */
export type BlockNormKind = 'l2' | 'max';

/** Softmax cross-entropy of a batch: mean loss [1], its gradient [N, K], and the count of correct argmax predictions [1]. */
export interface SoftmaxCrossEntropyResult {
  loss: Tensor;
  dlogits: Tensor;
  correct: Tensor;
}

/** Layer norm's output [N, F] and the per-row mean [N] and 1/sqrt(var + eps) [N] that the gradient needs. */
export interface LayerNormResult {
  y: Tensor;
  mean: Tensor;
  rstd: Tensor;
}

/** Layer norm's gradients: dx [N, F], dgamma [F], dbeta [F]. */
export interface LayerNormGradResult {
  dx: Tensor;
  dgamma: Tensor;
  dbeta: Tensor;
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

/** The expected-L0 penalty sum_b P(gate_b != 0) as a [1] tensor, and its gradient with respect to log alpha [nnz]. */
export interface L0PenaltyResult {
  value: Tensor;
  grad: Tensor;
}

/**
 * A kernel backend. For a layout with inBlocks x outBlocks blocks of bs x bs, C = inBlocks * bs,
 * K = outBlocks * bs, X is [N, C], dY is [N, K] and W is [nnz, bs, bs] (block b a row-major
 * bs x bs matrix: input feature within block c down, output feature within block k across):
 *   forward        Y  = X . W               [N, K]
 *   backwardData   dX = dY . W^T            [N, C]
 *   weightGrad     dW = X^T . dY, present blocks only   [nnz, bs, bs]
 * each optionally gated by per-block scalars. Work is proportional to the present blocks; the
 * layout's tables are uploaded once per backend and reused.
 */
export interface Backend {
  readonly name: BackendName;
  /** What runs the kernels, in words (the adapter, or the CPU and its threads). */
  readonly description: string;
  readonly stats: BackendStats;
  /** A tensor holding `data` (copied). A Float32Array needs `shape`; an ndarray brings its own. */
  tensor(data: HostData, shape?: readonly number[]): Tensor;
  /** A tensor of zeros. */
  zeros(shape: readonly number[]): Tensor;
  /** The tensor's values, row-major. */
  read(tensor: Tensor): Promise<Float32Array>;
  /** The tensor's values as an ndarray of its shape. */
  readNdarray(tensor: Tensor): Promise<NdArray<Float32Array>>;
  /** Y = X . (g W) [N, K] for X [N, C] and W [nnz, bs, bs], optionally gated per block. */
  forward(layout: BlockLayout, x: Tensor, w: Tensor, options?: GateOptions): Promise<Tensor>;
  /** dX = dY . (g W)^T [N, C] for dY [N, K], optionally gated per block. */
  backwardData(layout: BlockLayout, dy: Tensor, w: Tensor, options?: GateOptions): Promise<Tensor>;
  /** dW_b = g_b (X^T . dY)_b for present blocks only [nnz, bs, bs]; with `weights`, also the gate gradient. */
  weightGrad(layout: BlockLayout, x: Tensor, dy: Tensor, options?: WeightGradOptions): Promise<WeightGradResult>;
  /** Dense C = op(A) . op(B) for 2-D tensors: the baseline, and dense layers. */
  matmul(a: Tensor, b: Tensor, options?: MatmulOptions): Promise<Tensor>;

  // Training operations. They run in call order with the products (an in-place step never
  // overtakes a product called before it that reads its tensor; `read` waits for both) and
  // resolve as the products do: on the CPU when done, on WebGPU once submitted.
  /** y[n, f] = x[n, f] + bias[f] for x [N, F], bias [F]. */
  addBias(x: Tensor, bias: Tensor): Promise<Tensor>;
  /** out[f] = sum_n x[n, f] for x [N, F] (the bias gradient). */
  sumRows(x: Tensor): Promise<Tensor>;
  /** f(x) elementwise, any shape; gelu is the tanh approximation (PyTorch's approximate='tanh'). */
  activation(kind: ActivationKind, x: Tensor): Promise<Tensor>;
  /** dy * f'(x) elementwise for x and dy of one shape (relu'(0) = 0, as PyTorch). */
  activationGrad(kind: ActivationKind, x: Tensor, dy: Tensor): Promise<Tensor>;
  /** Mean over rows of -log softmax(logits)[label], its gradient (softmax - onehot) / N, and the count of rows whose first argmax is the label; logits [N, K], labels [N] class indices as float32 (a label that is not an integer in [0, K) makes the loss NaN). */
  softmaxCrossEntropy(logits: Tensor, labels: Tensor): Promise<SoftmaxCrossEntropyResult>;
  /** y = (x - mean) * rstd * gamma + beta per row of x [N, F], with the biased variance and rstd = 1/sqrt(var + eps) (as PyTorch's layer_norm). */
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps?: number): Promise<LayerNormResult>;
  /** Gradients of layerNorm given dy [N, F] and the forward's mean and rstd. */
  layerNormGrad(x: Tensor, dy: Tensor, gamma: Tensor, mean: Tensor, rstd: Tensor): Promise<LayerNormGradResult>;
  /** One SGD step in place (PyTorch's update rule); velocity (zeros at first) is needed exactly when momentum > 0. */
  sgdStep(param: Tensor, grad: Tensor, velocity: Tensor | null, options: SgdStepOptions): Promise<void>;
  /** One Adam or AdamW step in place on param and the moments m, v (zeros at first), PyTorch's update rule with bias correction. */
  adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, options: AdamStepOptions): Promise<void>;
  /** s * x, a new tensor. */
  scale(x: Tensor, s: number): Promise<Tensor>;
  /** y += alpha * x in place (x and y of one shape, different tensors). */
  axpy(alpha: number, x: Tensor, y: Tensor): Promise<void>;
  /** A new tensor with x's values. */
  copy(x: Tensor): Promise<Tensor>;
  /** Sets every element of x to value, in place. */
  fill(x: Tensor, value: number): Promise<void>;
  /** Per-block norm of w [nnz, bs, bs] (any [nnz, ...]): l2 = sqrt(sum w^2), max = max |w|; [nnz]. */
  blockNorms(w: Tensor, kind: BlockNormKind): Promise<Tensor>;
  /** out[j] = w[ids[j]] along the first axis: w [nnz, ...] to [m, ...] for m = ids.length, ids in [0, nnz). */
  gatherBlocks(w: Tensor, ids: Int32Array): Promise<Tensor>;
  /** out[ids[j]] = src[j] along the first axis, zeros elsewhere: src [m, ...] to [nnzOut, ...]; ids distinct, in [0, nnzOut). */
  scatterBlocks(src: Tensor, ids: Int32Array, nnzOut: number): Promise<Tensor>;
  /** Hard-concrete gates [nnz]: with noise u in (0, 1), min(1, max(0, sigmoid((log u - log(1 - u) + logAlpha) / beta) (zeta - gamma) + gamma)); with u null the test-time gate min(1, max(0, sigmoid(logAlpha) (zeta - gamma) + gamma)). */
  hardConcreteGates(logAlpha: Tensor, u: Tensor | null, options?: HardConcreteOptions): Promise<Tensor>;
  /** dlogAlpha = dgates * d gate / d logAlpha for the same u (zero where the stretched value is clamped, outside [0, 1]). */
  hardConcreteGrad(logAlpha: Tensor, u: Tensor | null, dgates: Tensor, options?: HardConcreteOptions): Promise<Tensor>;
  /** The expected L0 norm sum_b sigmoid(logAlpha_b - beta log(-gamma / zeta)) (Louizos et al. 2018, eq. 12; unweighted) and its gradient. */
  l0Penalty(logAlpha: Tensor, options?: HardConcreteOptions): Promise<L0PenaltyResult>;
  /** Waits for all queued work. */
  sync(): Promise<void>;
  /** Frees every tensor and table and releases the device or the threads. */
  dispose(): Promise<void>;
}

/**
 * The `Backend` methods that are training operations. Each backend implements them as kernel
 * functions of its own context (cpu/training-kernels.ts, webgpu/training-kernels.ts) and gets the
 * methods from `installTrainingOps`, so a new operation is declared here and in the interface, and
 * implemented once per backend, with no forwarding method to write (training-op-methods.ts).
 */
export const TRAINING_OPS = [
  'addBias', 'sumRows', 'activation', 'activationGrad', 'softmaxCrossEntropy', 'layerNorm', 'layerNormGrad',
  'sgdStep', 'adamStep', 'scale', 'axpy', 'copy', 'fill', 'blockNorms', 'gatherBlocks', 'scatterBlocks',
  'hardConcreteGates', 'hardConcreteGrad', 'l0Penalty',
] as const satisfies readonly (keyof Backend)[];
