import { checkMemory } from '../budget.js';
import { ShapeError } from '../errors.js';
import type { BlockLayout } from '../patterns/layout.js';
import { TensorError } from './errors.js';
import type { Backend, Tensor } from './types.js';

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
  checkMemory(`a float32 tensor of shape ${show(shape)}`, 4 * size, { elements: size });
  return size;
}
