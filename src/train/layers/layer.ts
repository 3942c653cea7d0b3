import type { Backend, Tensor } from '../../kernels/types.js';

/** Whether a forward pass is for training (stochastic gates sampled, caches kept for backward) or evaluation. */
export interface ForwardMode {
  training: boolean;
  /**
   * Time steps in x, for recurrent layers (default 1): x's rows are `steps` blocks of N rows,
   * time-major (row t * N + n is stream n at step t). Other layers treat rows alike and ignore it.
   */
  steps?: number;
}

/** A trainable tensor of a layer and its gradient from the last backward pass (null before one). */
export interface Parameter {
  /** Unique within a model, e.g. "0.weight" (set by Sequential). */
  name: string;
  value: Tensor;
  grad: Tensor | null;
  /** Whether weight decay applies (weights yes; biases, norm gains and gate logits no). */
  readonly decay: boolean;
  /** 'blocks' for block weights [nnz, bs, bs] and per-block tensors [nnz], which pruning remaps; 'dense' otherwise. */
  readonly shapeKind: 'blocks' | 'dense';
  /** Multiplies the optimiser's learning rate for this parameter (default 1; e.g. gate logits may learn faster). */
  lrScale?: number;
}

/**
 * A layer with an explicit backward pass. forward(x) returns a new tensor the caller owns and
 * keeps what backward needs (x itself is borrowed: the caller keeps it alive until backward);
 * backward(dy) sets every parameter's grad and returns dx (caller owns; dy stays the caller's),
 * or null when `inputGrad` is false (the first layer of a model needs no dx).
 */
export interface Layer {
  readonly kind: string;
  readonly backend: Backend;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Runs the layer on x [N, inFeatures]; returns y [N, outFeatures], owned by the caller. */
  forward(x: Tensor, mode: ForwardMode): Promise<Tensor>;
  /** Sets every parameter's grad from dy [N, outFeatures]; returns dx, or null when inputGrad is false. */
  backward(dy: Tensor, inputGrad?: boolean): Promise<Tensor | null>;
  /** The trainable parameters, in a fixed order (the order checkpoints and optimisers use). */
  parameters(): Parameter[];
  /** Frees the parameters, gradients and caches. */
  dispose(): void;
}

/**
 * A layer whose output is a product plus a bias, which lets the caller add the bias: Sequential
 * fuses the bias with a following activation (the backend's addBiasActivation forward and
 * activationGradBias backward: one pass over the activations each way instead of two).
 */
export interface BiasedLayer extends Layer {
  /** The bias, or null (then there is nothing to fuse). */
  readonly bias: Parameter | null;
  /** forward without the bias: the product alone (keeping what backward needs, as forward does). */
  forwardWithoutBias(x: Tensor, mode: ForwardMode): Promise<Tensor>;
  /** backward given the bias gradient `dbias` (computed by the caller; the layer owns it afterwards). */
  backwardWithBiasGrad(dy: Tensor, dbias: Tensor, inputGrad?: boolean): Promise<Tensor | null>;
}

/**
 * The weight product of a layer, x W, usable many times per pass with the same weights and the
 * same L0 gates: what a recurrent layer needs, which applies its weights at every time step and
 * sets their gradients once from all the steps' rows. `begin` starts a pass (samples the gates
 * when training), `apply` and `applyTranspose` run x W and dy W^T any number of times,
 * `gradients(x, dy)` sets the weight's (and gate logits') gradient from the pass's inputs and
 * output gradients stacked as rows, `end` frees the pass. Linear and BlockSparseLinear are
 * projections (their bias is not part of it); their own forward and backward are one pass of it.
 */
export interface Projection {
  readonly backend: Backend;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Starts a pass (ends the previous one): gates sampled for training, deterministic for evaluation. */
  begin(mode: ForwardMode): Promise<void>;
  /** x W [N, outFeatures] for x [N, inFeatures], a new tensor. */
  apply(x: Tensor): Promise<Tensor>;
  /** dy W^T [N, inFeatures] for dy [N, outFeatures], a new tensor. */
  applyTranspose(dy: Tensor): Promise<Tensor>;
  /** Sets the weight's gradient x^T dy (and the gate logits') for x [R, inFeatures], dy [R, outFeatures]; needs a training pass. */
  gradients(x: Tensor, dy: Tensor): Promise<void>;
  /** Ends the pass, freeing its gates. */
  end(): void;
}

/**
 * The backward of a layer y = x W + b through its Projection: W's gradient from x and dy, the
 * bias gradient (`dbias` when the caller computed it, else the row sums of dy; `dbias` is freed
 * when there is no bias), and dx = dy W^T when `inputGrad`, else null.
 */
export async function projectionBackward(projection: Projection, bias: Parameter | null, x: Tensor, dy: Tensor, dbias: Tensor | null, inputGrad: boolean): Promise<Tensor | null> {
  await projection.gradients(x, dy);
  if (bias) setGrad(bias, dbias ?? (await projection.backend.sumRows(dy)));
  else dbias?.dispose();
  return inputGrad ? projection.applyTranspose(dy) : null;
}

/** Whether `layer` can leave its bias to the caller. */
export function isBiasedLayer(layer: Layer): layer is BiasedLayer {
  const l = layer as Partial<BiasedLayer>;
  return typeof l.forwardWithoutBias === 'function' && typeof l.backwardWithBiasGrad === 'function' && l.bias !== undefined;
}

/** xw + bias as a new tensor (xw is freed), or xw itself when there is no bias: a BiasedLayer's forward. */
export async function withBias(backend: Backend, xw: Tensor, bias: Parameter | null): Promise<Tensor> {
  if (!bias) return xw;
  const y = await backend.addBias(xw, bias.value);
  xw.dispose();
  return y;
}

/** Replaces a parameter's gradient, disposing the old one. */
export function setGrad(parameter: Parameter, grad: Tensor): void {
  if (parameter.grad && parameter.grad !== grad) parameter.grad.dispose();
  parameter.grad = grad;
}

/** A new parameter (grad null). */
export function makeParameter(name: string, value: Tensor, decay: boolean, shapeKind: 'blocks' | 'dense' = 'dense'): Parameter {
  return { name, value, grad: null, decay, shapeKind };
}

/** Disposes a parameter's value and gradient. */
export function disposeParameter(p: Parameter): void {
  p.value.dispose();
  p.grad?.dispose();
  p.grad = null;
}
