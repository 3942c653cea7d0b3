import type { NdArray } from 'ndarray';
import type { BlockLayout } from '../patterns/layout.js';
import type { Conv2dParams } from './conv.js';
import type { L0PenaltyResultOf, LayerNormGradResultOf, LayerNormResultOf, SoftmaxCrossEntropyResultOf, TrainingOpName, TrainingOps } from './training-ops.js';

export type { ActivationKind, AdamStepOptions, BlockNormKind, HardConcreteOptions, SgdStepOptions } from './training-ops.js';

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

/** Options of the block-sparse convolutions (conv.ts): the geometry, and optional gates as in GateOptions. */
export interface Conv2dOptions extends Conv2dParams {
  gates?: Tensor;
}

/** Options of conv2dBackwardData: also the input's spatial size [H, W] (with strides, dY does not fix it). */
export interface Conv2dBackwardDataOptions extends Conv2dOptions {
  inputSize: readonly [number, number];
}

/** Options of conv2dWeightGrad: the geometry, gates and weights as in WeightGradOptions. */
export interface Conv2dWeightGradOptions extends Conv2dParams, WeightGradOptions {}

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

/**
 * A kernel backend. For a layout with inBlocks x outBlocks blocks of bs x bs, C = inBlocks * bs,
 * K = outBlocks * bs, X is [N, C], dY is [N, K] and W is [nnz, bs, bs] (block b a row-major
 * bs x bs matrix: input feature within block c down, output feature within block k across):
 *   forward        Y  = X . W               [N, K]
 *   backwardData   dX = dY . W^T            [N, C]
 *   weightGrad     dW = X^T . dY, present blocks only   [nnz, bs, bs]
 * each optionally gated by per-block scalars. Work is proportional to the present blocks; the
 * layout's tables are uploaded once per backend and reused. The training operations (bias,
 * activations, losses, layer norm, optimiser steps, block norms and gathers, gates) are declared
 * in training-ops.ts (`TrainingOps`).
 */
export interface Backend extends TrainingOps<Tensor> {
  readonly name: BackendName;
  /** What runs the kernels, in words (the adapter, or the CPU and its threads). */
  readonly description: string;
  readonly stats: BackendStats;
  /** A tensor holding `data` (copied). A Float32Array needs `shape`; an ndarray brings its own. */
  tensor(data: HostData, shape?: readonly number[]): Tensor;
  /** A tensor of zeros. */
  zeros(shape: readonly number[]): Tensor;
  /**
   * A tensor whose values are undefined until written: for an output the caller fills completely
   * (row by row with copyRows, say), which spares zeros' pass over the memory on the CPU.
   */
  empty(shape: readonly number[]): Tensor;
  /** The tensor's values, row-major: in `into` when given (a Float32Array of exactly tensor.size values, reused across calls to spare an allocation), else in a new array. */
  read(tensor: Tensor, into?: Float32Array): Promise<Float32Array>;
  /** The tensor's values as an ndarray of its shape (over `into` when given, as `read`). */
  readNdarray(tensor: Tensor, into?: Float32Array): Promise<NdArray<Float32Array>>;
  /** Y = X . (g W) [N, K] for X [N, C] and W [nnz, bs, bs], optionally gated per block. */
  forward(layout: BlockLayout, x: Tensor, w: Tensor, options?: GateOptions): Promise<Tensor>;
  /** dX = dY . (g W)^T [N, C] for dY [N, K], optionally gated per block. */
  backwardData(layout: BlockLayout, dy: Tensor, w: Tensor, options?: GateOptions): Promise<Tensor>;
  /** dW_b = g_b (X^T . dY)_b for present blocks only [nnz, bs, bs]; with `weights`, also the gate gradient. */
  weightGrad(layout: BlockLayout, x: Tensor, dy: Tensor, options?: WeightGradOptions): Promise<WeightGradResult>;
  /** Dense C = op(A) . op(B) for 2-D tensors: the baseline, and dense layers. */
  matmul(a: Tensor, b: Tensor, options?: MatmulOptions): Promise<Tensor>;
  /** Block-sparse 2-D convolution Y = conv(X, g W): X [N, H, W, C], W [nnz, kh, kw, bs, bs] -> Y [N, Ho, Wo, K] (conv.ts). */
  conv2d(layout: BlockLayout, x: Tensor, w: Tensor, options: Conv2dOptions): Promise<Tensor>;
  /** The convolution's gradient in X: dY [N, Ho, Wo, K] -> dX [N, H, W, C]. */
  conv2dBackwardData(layout: BlockLayout, dy: Tensor, w: Tensor, options: Conv2dBackwardDataOptions): Promise<Tensor>;
  /** The convolution's weight gradient for present blocks, [nnz, kh, kw, bs, bs] (gated as weightGrad), and the gate gradient with `weights`. */
  conv2dWeightGrad(layout: BlockLayout, x: Tensor, dy: Tensor, options: Conv2dWeightGradOptions): Promise<WeightGradResult>;

  /**
   * Runs training operation `name` once per argument list in `calls`, as one pass: on the CPU one
   * phase of the thread pool (every call's units together), on WebGPU one command buffer. The
   * results in call order. No call may write a tensor another call reads or writes. For example
   * one Adam step over all of a model's parameters: `batch('adamStep', params.map(...))`.
   */
  batch<N extends TrainingOpName>(name: N, calls: readonly Parameters<TrainingOps<Tensor>[N]>[]): Promise<Awaited<ReturnType<TrainingOps<Tensor>[N]>>[]>;
  /** Waits for all queued work. */
  sync(): Promise<void>;
  /** Frees every tensor and table and releases the device or the threads. */
  dispose(): Promise<void>;
}

/** Softmax cross-entropy of a batch: mean loss [1], its gradient [N, K], and the count of correct argmax predictions [1]. */
export type SoftmaxCrossEntropyResult = SoftmaxCrossEntropyResultOf<Tensor>;
/** Layer norm's output [N, F] and the per-row mean [N] and 1/sqrt(var + eps) [N] that the gradient needs. */
export type LayerNormResult = LayerNormResultOf<Tensor>;
/** Layer norm's gradients: dx [N, F], dgamma [F], dbeta [F]. */
export type LayerNormGradResult = LayerNormGradResultOf<Tensor>;
/** The expected-L0 penalty sum_b P(gate_b != 0) as a [1] tensor, and its gradient with respect to log alpha [nnz]. */
export type L0PenaltyResult = L0PenaltyResultOf<Tensor>;
