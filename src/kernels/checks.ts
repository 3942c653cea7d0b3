import { checkMemory } from '../budget.js';
import { checkNumber, checkOneOf } from '../check.js';
import { ParameterError, ShapeError } from '../errors.js';
import type { BlockLayout } from '../patterns/layout.js';
import { TensorError } from './errors.js';
import type { ActivationKind, AdamStepOptions, Backend, BlockNormKind, HardConcreteOptions, SgdStepOptions, Tensor } from './types.js';

/*
 * The backends' argument checks, shared by both: each backend method calls one of these first
 * (TensorError for dead or foreign tensors, ShapeError naming both shapes, ParameterError naming
 * the parameter), then computes with the returned sizes and resolved hyper-parameters. The
 * products' checks come first, then the training operations'.
 */

const show = (shape: readonly number[]): string => `[${shape.join(', ')}]`;
const layoutShape = (layout: BlockLayout): string =>
  `layout ${layout.inBlocks} x ${layout.outBlocks} blocks of ${layout.blockSize} (C = ${layout.inFeatures}, K = ${layout.outFeatures}, nnz = ${layout.nnz})`;

/** Checks that a tensor is alive and belongs to `backend`. */
export function checkTensor(backend: Backend, tensor: Tensor, name: string): void {
  if (!tensor || typeof tensor !== 'object' || !('shape' in tensor)) throw new TensorError(`${name} is not a tensor`);
  if (tensor.backend !== backend) throw new TensorError(`${name} belongs to the ${tensor.backend.name} backend, not this ${backend.name} backend`);
  if (tensor.disposed) throw new TensorError(`${name} was disposed`);
}

/** The block weights must be [nnz, bs, bs]. */
export function checkWeights(layout: BlockLayout, w: Tensor, name = 'W'): void {
  const bs = layout.blockSize;
  if (w.shape.length !== 3 || w.shape[0] !== layout.nnz || w.shape[1] !== bs || w.shape[2] !== bs) {
    throw new ShapeError(`${name} has shape ${show(w.shape)} but the ${layoutShape(layout)} needs [${layout.nnz}, ${bs}, ${bs}]`);
  }
}

/** Gates must be [nnz]. */
export function checkGates(layout: BlockLayout, gates: Tensor): void {
  if (gates.shape.length !== 1 || gates.shape[0] !== layout.nnz) {
    throw new ShapeError(`gates have shape ${show(gates.shape)} but the ${layoutShape(layout)} needs [${layout.nnz}]`);
  }
}

/** An activation [N, features]; returns N. */
export function checkActivation(layout: BlockLayout, t: Tensor, name: string, features: number, side: 'C' | 'K'): number {
  if (t.shape.length !== 2 || t.shape[1] !== features || t.shape[0] < 1) {
    throw new ShapeError(`${name} has shape ${show(t.shape)} but the ${layoutShape(layout)} needs [N, ${side} = ${features}] with N >= 1`);
  }
  return t.shape[0];
}

/** Checks forward's operands; returns N. */
export function checkForward(backend: Backend, layout: BlockLayout, x: Tensor, w: Tensor, gates?: Tensor): number {
  checkTensor(backend, x, 'X');
  checkTensor(backend, w, 'W');
  checkWeights(layout, w);
  if (gates) {
    checkTensor(backend, gates, 'gates');
    checkGates(layout, gates);
  }
  return checkActivation(layout, x, 'X', layout.inFeatures, 'C');
}

/** Checks backwardData's operands; returns N. */
export function checkBackwardData(backend: Backend, layout: BlockLayout, dy: Tensor, w: Tensor, gates?: Tensor): number {
  checkTensor(backend, dy, 'dY');
  checkTensor(backend, w, 'W');
  checkWeights(layout, w);
  if (gates) {
    checkTensor(backend, gates, 'gates');
    checkGates(layout, gates);
  }
  return checkActivation(layout, dy, 'dY', layout.outFeatures, 'K');
}

/** Checks weightGrad's operands (X and dY must agree on N); returns N. */
export function checkWeightGrad(backend: Backend, layout: BlockLayout, x: Tensor, dy: Tensor, gates?: Tensor, weights?: Tensor): number {
  checkTensor(backend, x, 'X');
  checkTensor(backend, dy, 'dY');
  const n = checkActivation(layout, x, 'X', layout.inFeatures, 'C');
  const m = checkActivation(layout, dy, 'dY', layout.outFeatures, 'K');
  if (n !== m) throw new ShapeError(`X has shape ${show(x.shape)} and dY has shape ${show(dy.shape)}: their batch sizes N differ`);
  if (gates) {
    checkTensor(backend, gates, 'gates');
    checkGates(layout, gates);
  }
  if (weights) {
    checkTensor(backend, weights, 'weights');
    checkWeights(layout, weights, 'weights');
  }
  return n;
}

/** Checks a dense matmul's operands; returns [M, K, N] of C[M, N] = op(A)[M, K] . op(B)[K, N]. */
export function checkMatmul(backend: Backend, a: Tensor, b: Tensor, transposeA = false, transposeB = false): [number, number, number] {
  checkTensor(backend, a, 'A');
  checkTensor(backend, b, 'B');
  if (a.shape.length !== 2 || b.shape.length !== 2) throw new ShapeError(`matmul needs 2-D tensors; got A ${show(a.shape)} and B ${show(b.shape)}`);
  const [m, ka] = transposeA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = transposeB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (ka !== kb) {
    throw new ShapeError(`matmul: op(A) is ${m} x ${ka} (A ${show(a.shape)}${transposeA ? ', transposed' : ''}) but op(B) is ${kb} x ${n} (B ${show(b.shape)}${transposeB ? ', transposed' : ''})`);
  }
  return [m, ka, n];
}

/**
 * Checks a tensor's shape and returns its element count. Every tensor a backend allocates passes
 * here, so a float32 tensor whose size comes from input is checked against the memory budget (and
 * the 2^32 elements of one typed array) before it is allocated: a ResourceError, not a crash.
 */
export function checkShape(shape: readonly number[], name = 'shape'): number {
  if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new ShapeError(`${name} must be a non-empty list of non-negative integers; got ${JSON.stringify(shape)}`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  checkMemory(() => `a float32 tensor of shape ${show(shape)}`, 4 * size, { elements: size });
  return size;
}

// ---------------------------------------------------------------------------------------------
// Training operations

/** The activation kinds. */
export const ACTIVATION_KINDS: readonly ActivationKind[] = ['relu', 'gelu', 'tanh'];
/** The block norm kinds. */
export const BLOCK_NORM_KINDS: readonly BlockNormKind[] = ['l2', 'max'];
/** Louizos et al.'s hard-concrete constants: beta = 2/3, gamma = -0.1, zeta = 1.1. */
export const HARD_CONCRETE_DEFAULTS: Readonly<Required<HardConcreteOptions>> = Object.freeze({ beta: 2 / 3, gamma: -0.1, zeta: 1.1 });

/** A matrix [N, F] with N, F >= 1; returns [N, F]. */
export function checkMatrix(backend: Backend, t: Tensor, name: string, context: string): [number, number] {
  checkTensor(backend, t, name);
  if (t.shape.length !== 2 || t.shape[0] < 1 || t.shape[1] < 1) {
    throw new ShapeError(`${context}: ${name} has shape ${show(t.shape)} but must be a matrix [N, F] with N, F >= 1`);
  }
  return [t.shape[0], t.shape[1]];
}

/** A vector of `length` values. */
export function checkVector(backend: Backend, t: Tensor, name: string, length: number, other: string, otherShape: readonly number[], context: string): void {
  checkTensor(backend, t, name);
  if (t.shape.length !== 1 || t.shape[0] !== length) {
    throw new ShapeError(`${context}: ${name} has shape ${show(t.shape)} but ${other} ${show(otherShape)} needs [${length}]`);
  }
}

/** Two tensors of one shape. */
export function checkSameShape(backend: Backend, a: Tensor, aName: string, b: Tensor, bName: string, context: string): void {
  checkTensor(backend, a, aName);
  checkTensor(backend, b, bName);
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(`${context}: ${aName} has shape ${show(a.shape)} and ${bName} has shape ${show(b.shape)}; they must be equal`);
  }
}

/** Tensors an op writes in place must not also be another operand (a GPU cannot bind one buffer as both). */
export function checkDistinct(context: string, written: readonly [Tensor, string][], read: readonly [Tensor | null, string][]): void {
  const all = [...written, ...read];
  for (const [t, name] of written) {
    for (const [other, otherName] of all) {
      if (other === t && otherName !== name) throw new ParameterError(name, `a different tensor from ${otherName}`, 'the same tensor', context);
    }
  }
}

/** addBias's operands; returns [N, F]. */
export function checkAddBias(backend: Backend, x: Tensor, bias: Tensor): [number, number] {
  const [n, f] = checkMatrix(backend, x, 'x', 'addBias');
  checkVector(backend, bias, 'bias', f, 'x', x.shape, 'addBias');
  return [n, f];
}

/** An activation kind. */
export function checkActivationKind(kind: ActivationKind): ActivationKind {
  return checkOneOf('kind', kind, ACTIVATION_KINDS, 'activation');
}

/** softmaxCrossEntropy's operands; returns [N, K]. */
export function checkSoftmaxCrossEntropy(backend: Backend, logits: Tensor, labels: Tensor): [number, number] {
  const [n, k] = checkMatrix(backend, logits, 'logits', 'softmaxCrossEntropy');
  checkVector(backend, labels, 'labels', n, 'logits', logits.shape, 'softmaxCrossEntropy');
  return [n, k];
}

/** layerNorm's operands; returns [N, F, eps]. */
export function checkLayerNorm(backend: Backend, x: Tensor, gamma: Tensor, beta: Tensor, eps: number): [number, number, number] {
  const [n, f] = checkMatrix(backend, x, 'x', 'layerNorm');
  checkVector(backend, gamma, 'gamma', f, 'x', x.shape, 'layerNorm');
  checkVector(backend, beta, 'beta', f, 'x', x.shape, 'layerNorm');
  checkNumber('eps', eps, 0, Number.MAX_VALUE, 'layerNorm');
  return [n, f, eps];
}

/** layerNormGrad's operands; returns [N, F]. */
export function checkLayerNormGrad(backend: Backend, x: Tensor, dy: Tensor, gamma: Tensor, mean: Tensor, rstd: Tensor): [number, number] {
  const [n, f] = checkMatrix(backend, x, 'x', 'layerNormGrad');
  checkSameShape(backend, x, 'x', dy, 'dy', 'layerNormGrad');
  checkVector(backend, gamma, 'gamma', f, 'x', x.shape, 'layerNormGrad');
  checkVector(backend, mean, 'mean', n, 'x', x.shape, 'layerNormGrad');
  checkVector(backend, rstd, 'rstd', n, 'x', x.shape, 'layerNormGrad');
  return [n, f];
}

/** SGD's numbers. */
export interface SgdParams {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}

/** sgdStep's operands and hyper-parameters. */
export function resolveSgd(backend: Backend, param: Tensor, grad: Tensor, velocity: Tensor | null, options: SgdStepOptions): SgdParams {
  const context = 'sgdStep';
  checkSameShape(backend, param, 'param', grad, 'grad', context);
  const lr = checkNumber('lr', options?.lr, 0, Number.MAX_VALUE, context);
  const momentum = checkNumber('momentum', options.momentum ?? 0, 0, Number.MAX_VALUE, context);
  const weightDecay = checkNumber('weightDecay', options.weightDecay ?? 0, 0, Number.MAX_VALUE, context);
  const nesterov = options.nesterov ?? false;
  if (typeof nesterov !== 'boolean') throw new ParameterError('nesterov', 'a boolean', nesterov, context);
  if (nesterov && momentum === 0) throw new ParameterError('momentum', 'greater than 0 with nesterov', momentum, context);
  if (momentum > 0) {
    if (!velocity) throw new ParameterError('velocity', `a tensor of param's shape when momentum > 0`, velocity, context);
    checkSameShape(backend, param, 'param', velocity, 'velocity', context);
  } else if (velocity) {
    throw new ParameterError('velocity', 'null when momentum is 0 (plain SGD keeps no velocity)', 'a tensor', context);
  }
  checkDistinct(context, [[param, 'param'], ...(velocity ? [[velocity, 'velocity'] as [Tensor, string]] : [])], [[grad, 'grad']]);
  return { lr, momentum, nesterov, weightDecay };
}

/** Adam's numbers, with the bias corrections folded in as PyTorch does. */
export interface AdamParams {
  beta1: number;
  beta2: number;
  eps: number;
  /** Adam's L2 coefficient added to the gradient (0 for AdamW). */
  l2: number;
  /** AdamW's factor 1 - lr * weightDecay on the parameter (1 for Adam). */
  decay: number;
  /** lr / (1 - beta1^step). */
  stepSize: number;
  /** sqrt(1 - beta2^step). */
  bias2Sqrt: number;
}

/** adamStep's operands and hyper-parameters. */
export function resolveAdam(backend: Backend, param: Tensor, grad: Tensor, m: Tensor, v: Tensor, options: AdamStepOptions): AdamParams {
  const context = 'adamStep';
  checkSameShape(backend, param, 'param', grad, 'grad', context);
  checkSameShape(backend, param, 'param', m, 'm', context);
  checkSameShape(backend, param, 'param', v, 'v', context);
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
  return {
    beta1,
    beta2,
    eps,
    l2: decoupled ? 0 : weightDecay,
    decay: decoupled ? 1 - lr * weightDecay : 1,
    stepSize: lr / (1 - beta1 ** step),
    bias2Sqrt: Math.sqrt(1 - beta2 ** step),
  };
}

/** A tensor with a first axis of blocks; returns [nnz, elements per block]. */
export function checkBlocks(backend: Backend, w: Tensor, name: string, context: string): [number, number] {
  checkTensor(backend, w, name);
  if (w.shape.length < 1) throw new ShapeError(`${context}: ${name} has shape ${show(w.shape)} but needs a first axis of blocks [nnz, ...]`);
  const per = w.shape.slice(1).reduce((a, b) => a * b, 1);
  return [w.shape[0], per];
}

/** A block norm kind. */
export function checkBlockNormKind(kind: BlockNormKind): BlockNormKind {
  return checkOneOf('kind', kind, BLOCK_NORM_KINDS, 'blockNorms');
}

function checkIds(ids: Int32Array, context: string): void {
  if (!(ids instanceof Int32Array)) throw new ParameterError('ids', 'an Int32Array of block ids', ids, context);
}

/** gatherBlocks' ids: each in [0, nnz). */
export function checkGatherIds(ids: Int32Array, nnz: number): void {
  checkIds(ids, 'gatherBlocks');
  for (let j = 0; j < ids.length; j++) {
    if (ids[j] < 0 || ids[j] >= nnz) throw new ParameterError(`ids[${j}]`, `a block id in [0, ${nnz})`, ids[j], 'gatherBlocks');
  }
}

/**
 * scatterBlocks' ids (one per source block, distinct, in [0, nnzOut)); returns the inverse map:
 * for each output block the source block it takes, or -1 for a zero block.
 */
export function scatterSources(ids: Int32Array, m: number, nnzOut: number): Int32Array {
  const context = 'scatterBlocks';
  checkIds(ids, context);
  if (typeof nnzOut !== 'number' || !Number.isInteger(nnzOut) || nnzOut < 0) throw new ParameterError('nnzOut', 'an integer >= 0', nnzOut, context);
  if (ids.length !== m) throw new ShapeError(`${context}: ids has ${ids.length} entries but src has ${m} blocks`);
  const source = new Int32Array(nnzOut).fill(-1);
  for (let j = 0; j < m; j++) {
    const id = ids[j];
    if (id < 0 || id >= nnzOut) throw new ParameterError(`ids[${j}]`, `a block id in [0, ${nnzOut})`, id, context);
    if (source[id] !== -1) throw new ParameterError(`ids[${j}]`, `distinct from ids[${source[id]}]`, id, context);
    source[id] = j;
  }
  return source;
}

/** Hard-concrete constants, and the shift beta log(-gamma / zeta) of the L0 penalty. */
export interface HardConcreteParams {
  beta: number;
  gamma: number;
  zeta: number;
  shift: number;
}

/** Checks hard-concrete options (defaults HARD_CONCRETE_DEFAULTS). */
export function resolveHardConcrete(options: HardConcreteOptions = {}, context: string): HardConcreteParams {
  const beta = checkNumber('beta', options.beta ?? HARD_CONCRETE_DEFAULTS.beta, Number.MIN_VALUE, Number.MAX_VALUE, context);
  const gamma = checkNumber('gamma', options.gamma ?? HARD_CONCRETE_DEFAULTS.gamma, -Number.MAX_VALUE, -Number.MIN_VALUE, context);
  const zeta = checkNumber('zeta', options.zeta ?? HARD_CONCRETE_DEFAULTS.zeta, 1 + Number.EPSILON, Number.MAX_VALUE, context);
  return { beta, gamma, zeta, shift: beta * Math.log(-gamma / zeta) };
}

/** The hard-concrete operands: logAlpha [nnz], u null or [nnz], dgates [nnz] for the gradient; returns nnz. */
export function checkHardConcrete(backend: Backend, context: string, logAlpha: Tensor, u: Tensor | null, dgates?: Tensor): number {
  checkTensor(backend, logAlpha, 'logAlpha');
  if (logAlpha.shape.length !== 1) throw new ShapeError(`${context}: logAlpha has shape ${show(logAlpha.shape)} but must be [nnz]`);
  const nnz = logAlpha.shape[0];
  if (u) checkVector(backend, u, 'u', nnz, 'logAlpha', logAlpha.shape, context);
  if (dgates) checkVector(backend, dgates, 'dgates', nnz, 'logAlpha', logAlpha.shape, context);
  return nnz;
}
