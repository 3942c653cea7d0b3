import { checkMemory } from '../budget.js';
import { ParameterError, ShapeError } from '../errors.js';
import type { BlockLayout } from '../patterns/layout.js';
import { TensorError } from './errors.js';

/*
 * The backends' argument checks, shared by both: each product calls one of these first, and the
 * training operations' specs (training-ops.ts) build theirs from the generic ones at the end
 * (TensorError for dead or foreign tensors, ShapeError naming both shapes, ParameterError naming
 * the parameter). They read tensors and backends structurally (`Operand`, `OperandOwner`), so this
 * module does not depend on the Backend interface that the specs help declare.
 */

/** What the checks read of a backend. */
export interface OperandOwner {
  readonly name: string;
}

/** What the checks read of a tensor (a `Tensor` is one). */
export interface Operand {
  readonly backend: OperandOwner;
  readonly shape: readonly number[];
  readonly size: number;
  readonly disposed: boolean;
}

/** A shape in brackets, for messages. */
export const show = (shape: readonly number[]): string => `[${shape.join(', ')}]`;
const layoutShape = (layout: BlockLayout): string =>
  `layout ${layout.inBlocks} x ${layout.outBlocks} blocks of ${layout.blockSize} (C = ${layout.inFeatures}, K = ${layout.outFeatures}, nnz = ${layout.nnz})`;

/** Checks that a tensor is alive and belongs to `backend`. */
export function checkTensor(backend: OperandOwner, tensor: Operand, name: string): void {
  if (!tensor || typeof tensor !== 'object' || !('shape' in tensor)) throw new TensorError(`${name} is not a tensor`);
  if (tensor.backend !== backend) throw new TensorError(`${name} belongs to the ${tensor.backend.name} backend, not this ${backend.name} backend`);
  if (tensor.disposed) throw new TensorError(`${name} was disposed`);
}

/** A caller's array for `read`: a Float32Array of exactly the tensor's size. */
export function checkReadTarget(tensor: Operand, into: Float32Array | undefined): void {
  if (into === undefined) return;
  if (!(into instanceof Float32Array)) throw new ParameterError('into', 'a Float32Array', into, 'read');
  if (into.length !== tensor.size) throw new ShapeError(`read: into holds ${into.length} values but the tensor ${show(tensor.shape)} has ${tensor.size}`);
}

/** The block weights must be [nnz, bs, bs]. */
export function checkWeights(layout: BlockLayout, w: Operand, name = 'W'): void {
  const bs = layout.blockSize;
  if (w.shape.length !== 3 || w.shape[0] !== layout.nnz || w.shape[1] !== bs || w.shape[2] !== bs) {
    throw new ShapeError(`${name} has shape ${show(w.shape)} but the ${layoutShape(layout)} needs [${layout.nnz}, ${bs}, ${bs}]`);
  }
}

/** Gates must be [nnz]. */
export function checkGates(layout: BlockLayout, gates: Operand): void {
  if (gates.shape.length !== 1 || gates.shape[0] !== layout.nnz) {
    throw new ShapeError(`gates have shape ${show(gates.shape)} but the ${layoutShape(layout)} needs [${layout.nnz}]`);
  }
}

/** An activation [N, features]; returns N. */
export function checkActivation(layout: BlockLayout, t: Operand, name: string, features: number, side: 'C' | 'K'): number {
  if (t.shape.length !== 2 || t.shape[1] !== features || t.shape[0] < 1) {
    throw new ShapeError(`${name} has shape ${show(t.shape)} but the ${layoutShape(layout)} needs [N, ${side} = ${features}] with N >= 1`);
  }
  return t.shape[0];
}

/** Checks forward's operands; returns N. */
export function checkForward(backend: OperandOwner, layout: BlockLayout, x: Operand, w: Operand, gates?: Operand): number {
  return checkBlockProduct(backend, layout, x, 'X', layout.inFeatures, 'C', w, gates);
}

/** Checks backwardData's operands; returns N. */
export function checkBackwardData(backend: OperandOwner, layout: BlockLayout, dy: Operand, w: Operand, gates?: Operand): number {
  return checkBlockProduct(backend, layout, dy, 'dY', layout.outFeatures, 'K', w, gates);
}

/** A block product's activation (named `name`, `features` wide on `side`), weights and gates; returns N. */
function checkBlockProduct(backend: OperandOwner, layout: BlockLayout, a: Operand, name: string, features: number, side: 'C' | 'K', w: Operand, gates?: Operand): number {
  checkTensor(backend, a, name);
  checkTensor(backend, w, 'W');
  checkWeights(layout, w);
  if (gates) {
    checkTensor(backend, gates, 'gates');
    checkGates(layout, gates);
  }
  return checkActivation(layout, a, name, features, side);
}

/** Checks weightGrad's operands (X and dY must agree on N); returns N. */
export function checkWeightGrad(backend: OperandOwner, layout: BlockLayout, x: Operand, dy: Operand, gates?: Operand, weights?: Operand): number {
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
export function checkMatmul(backend: OperandOwner, a: Operand, b: Operand, transposeA = false, transposeB = false): [number, number, number] {
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
// Generic checks the training operations' specs build on

/** A matrix [N, F] with N, F >= 1; returns [N, F]. */
export function checkMatrix(backend: OperandOwner, t: Operand, name: string, context: string): [number, number] {
  checkTensor(backend, t, name);
  if (t.shape.length !== 2 || t.shape[0] < 1 || t.shape[1] < 1) {
    throw new ShapeError(`${context}: ${name} has shape ${show(t.shape)} but must be a matrix [N, F] with N, F >= 1`);
  }
  return [t.shape[0], t.shape[1]];
}

/**
 * A tensor of rank >= 2 read as the matrix [product of the leading dimensions, last dimension]
 * (an NHWC activation [N, H, W, C] is the matrix [N H W, C]: a row per position), every dimension
 * >= 1; returns [rows, width].
 */
export function checkRows(backend: OperandOwner, t: Operand, name: string, context: string): [number, number] {
  checkTensor(backend, t, name);
  if (t.shape.length < 2 || t.shape.some((d) => d < 1)) {
    throw new ShapeError(`${context}: ${name} has shape ${show(t.shape)} but must be a matrix [N, F] or a tensor [..., F] read as one (rank >= 2, every size >= 1)`);
  }
  const width = t.shape[t.shape.length - 1];
  return [t.size / width, width];
}

/** A vector of `length` values. */
export function checkVector(backend: OperandOwner, t: Operand, name: string, length: number, other: string, otherShape: readonly number[], context: string): void {
  checkTensor(backend, t, name);
  if (t.shape.length !== 1 || t.shape[0] !== length) {
    throw new ShapeError(`${context}: ${name} has shape ${show(t.shape)} but ${other} ${show(otherShape)} needs [${length}]`);
  }
}

/** Two tensors of one shape. */
export function checkSameShape(backend: OperandOwner, a: Operand, aName: string, b: Operand, bName: string, context: string): void {
  checkTensor(backend, a, aName);
  checkTensor(backend, b, bName);
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(`${context}: ${aName} has shape ${show(a.shape)} and ${bName} has shape ${show(b.shape)}; they must be equal`);
  }
}

/** Tensors an op writes in place must not also be another operand (a GPU cannot bind one buffer as both). */
export function checkDistinct(context: string, written: readonly [Operand, string][], read: readonly [Operand | null, string][]): void {
  const all = [...written, ...read];
  for (const [t, name] of written) {
    for (const [other, otherName] of all) {
      if (other === t && otherName !== name) throw new ParameterError(name, `a different tensor from ${otherName}`, 'the same tensor', context);
    }
  }
}

/** A tensor with a first axis of blocks; returns [nnz, elements per block]. */
export function checkBlocks(backend: OperandOwner, w: Operand, name: string, context: string): [number, number] {
  checkTensor(backend, w, name);
  if (w.shape.length < 1) throw new ShapeError(`${context}: ${name} has shape ${show(w.shape)} but needs a first axis of blocks [nnz, ...]`);
  const per = w.shape.slice(1).reduce((a, b) => a * b, 1);
  return [w.shape[0], per];
}
