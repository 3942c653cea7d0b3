import { checkNumber } from '../../check.js';
import {
  checkActivationKind, checkAddBias, checkBlockNormKind, checkBlocks, checkDistinct, checkGatherIds, checkHardConcrete, checkLayerNorm, checkLayerNormGrad,
  checkMatrix, checkSameShape, checkSoftmaxCrossEntropy, checkTensor, resolveAdam, resolveHardConcrete, resolveSgd, scatterSources,
} from '../checks.js';
import type {
  ActivationKind, AdamStepOptions, Backend, BlockNormKind, HardConcreteOptions, L0PenaltyResult, LayerNormGradResult, LayerNormResult, SgdStepOptions,
  SoftmaxCrossEntropyResult, Tensor,
} from '../types.js';
import { elementIndex as at, type TensorStore } from './tensors.js';
import * as ops from './training-ops.js';

/*
 * The Backend's training operations on the CPU, as kernel functions (as on WebGPU): each checks
 * its arguments, then queues its loop (training-ops.ts, on the calling thread) after every call
 * before it, allocating its outputs when it runs. The backend class only forwards to them.
 */

/** What the training kernels use of the backend. */
export interface TrainingKernels {
  /** The backend the tensors belong to (for the argument checks). */
  readonly backend: Backend;
  readonly tensors: TensorStore;
}

type Operands = (Tensor | null | undefined)[];

/** Runs a loop after every call queued before it. */
function queue<T>(cpu: TrainingKernels, operands: Operands, body: () => T): Promise<T> {
  return cpu.tensors.exclusive(operands, async () => body());
}

/** A queued loop that writes new tensors of `shapes` (allocated in order): `body` gets the float32 view and their element indices. */
function produceAll(cpu: TrainingKernels, operands: Operands, shapes: (readonly number[])[], body: (f: Float32Array, outs: number[]) => void): Promise<Tensor[]> {
  return queue(cpu, operands, () => {
    const outs = shapes.map((shape) => cpu.tensors.allocate(shape));
    body(cpu.tensors.heap.f32, outs.map((t) => at(t)));
    return outs;
  });
}

/** A queued loop that writes one new tensor of `shape`: `body` gets the float32 view and its element index. */
async function produce(cpu: TrainingKernels, operands: Operands, shape: readonly number[], body: (f: Float32Array, out: number) => void): Promise<Tensor> {
  return (await produceAll(cpu, operands, [shape], (f, [out]) => body(f, out)))[0];
}

/** `Backend.addBias` on the CPU. */
export async function addBias(cpu: TrainingKernels, x: Tensor, bias: Tensor): Promise<Tensor> {
  const [n, width] = checkAddBias(cpu.backend, x, bias);
  return produce(cpu, [x, bias], [n, width], (f, out) => ops.addBias(f, at(x), at(bias), out, n, width));
}

/** `Backend.sumRows` on the CPU. */
export async function sumRows(cpu: TrainingKernels, x: Tensor): Promise<Tensor> {
  const [n, width] = checkMatrix(cpu.backend, x, 'x', 'sumRows');
  return produce(cpu, [x], [width], (f, out) => ops.sumRows(f, at(x), out, n, width));
}

/** `Backend.activation` on the CPU. */
export async function activation(cpu: TrainingKernels, kind: ActivationKind, x: Tensor): Promise<Tensor> {
  checkActivationKind(kind);
  checkTensor(cpu.backend, x, 'x');
  return produce(cpu, [x], x.shape, (f, out) => ops.activation(f, kind, at(x), out, x.size));
}

/** `Backend.activationGrad` on the CPU. */
export async function activationGrad(cpu: TrainingKernels, kind: ActivationKind, x: Tensor, dy: Tensor): Promise<Tensor> {
  checkActivationKind(kind);
  checkSameShape(cpu.backend, x, 'x', dy, 'dy', 'activationGrad');
  return produce(cpu, [x, dy], x.shape, (f, out) => ops.activationGrad(f, kind, at(x), at(dy), out, x.size));
}

/** `Backend.softmaxCrossEntropy` on the CPU. */
export async function softmaxCrossEntropy(cpu: TrainingKernels, logits: Tensor, labels: Tensor): Promise<SoftmaxCrossEntropyResult> {
  const [n, k] = checkSoftmaxCrossEntropy(cpu.backend, logits, labels);
  const [loss, dlogits, correct] = await produceAll(cpu, [logits, labels], [[1], [n, k], [1]], (f, [l, d, c]) =>
    ops.softmaxCrossEntropy(f, at(logits), at(labels), l, d, c, n, k));
  return { loss, dlogits, correct };
}

/** `Backend.layerNorm` on the CPU. */
export async function layerNorm(cpu: TrainingKernels, x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Promise<LayerNormResult> {
  const [n, width] = checkLayerNorm(cpu.backend, x, gamma, beta, eps);
  const [y, mean, rstd] = await produceAll(cpu, [x, gamma, beta], [[n, width], [n], [n]], (f, [yAt, meanAt, rstdAt]) =>
    ops.layerNorm(f, at(x), at(gamma), at(beta), eps, yAt, meanAt, rstdAt, n, width));
  return { y, mean, rstd };
}

/** `Backend.layerNormGrad` on the CPU. */
export async function layerNormGrad(cpu: TrainingKernels, x: Tensor, dy: Tensor, gamma: Tensor, mean: Tensor, rstd: Tensor): Promise<LayerNormGradResult> {
  const [n, width] = checkLayerNormGrad(cpu.backend, x, dy, gamma, mean, rstd);
  const [dx, dgamma, dbeta] = await produceAll(cpu, [x, dy, gamma, mean, rstd], [[n, width], [width], [width]], (f, outs) =>
    ops.layerNormGrad(f, at(x), at(dy), at(gamma), at(mean), at(rstd), outs[0], outs[1], outs[2], n, width));
  return { dx, dgamma, dbeta };
}

/** `Backend.sgdStep` on the CPU. */
export async function sgdStep(cpu: TrainingKernels, param: Tensor, grad: Tensor, velocity: Tensor | null, options: SgdStepOptions): Promise<void> {
  const h = resolveSgd(cpu.backend, param, grad, velocity, options);
  return queue(cpu, [param, grad, velocity], () => ops.sgdStep(cpu.tensors.heap.f32, at(param), at(grad), at(velocity), param.size, h));
}

/** `Backend.adamStep` on the CPU. */
export async function adamStep(cpu: TrainingKernels, param: Tensor, grad: Tensor, m: Tensor, v: Tensor, options: AdamStepOptions): Promise<void> {
  const h = resolveAdam(cpu.backend, param, grad, m, v, options);
  return queue(cpu, [param, grad, m, v], () => ops.adamStep(cpu.tensors.heap.f32, at(param), at(grad), at(m), at(v), param.size, h));
}

/** `Backend.scale` on the CPU. */
export async function scale(cpu: TrainingKernels, x: Tensor, s: number): Promise<Tensor> {
  checkTensor(cpu.backend, x, 'x');
  checkNumber('s', s, -Number.MAX_VALUE, Number.MAX_VALUE, 'scale');
  return produce(cpu, [x], x.shape, (f, out) => ops.scale(f, at(x), s, out, x.size));
}

/** `Backend.axpy` on the CPU. */
export async function axpy(cpu: TrainingKernels, alpha: number, x: Tensor, y: Tensor): Promise<void> {
  checkNumber('alpha', alpha, -Number.MAX_VALUE, Number.MAX_VALUE, 'axpy');
  checkSameShape(cpu.backend, x, 'x', y, 'y', 'axpy');
  checkDistinct('axpy', [[y, 'y']], [[x, 'x']]);
  return queue(cpu, [x, y], () => ops.axpy(cpu.tensors.heap.f32, alpha, at(x), at(y), x.size));
}

/** `Backend.copy` on the CPU. */
export async function copy(cpu: TrainingKernels, x: Tensor): Promise<Tensor> {
  checkTensor(cpu.backend, x, 'x');
  return queue(cpu, [x], () => {
    const out = cpu.tensors.allocate(x.shape);
    if (x.size > 0) cpu.tensors.heap.f32.copyWithin(at(out), at(x), at(x) + x.size);
    return out;
  });
}

/** `Backend.fill` on the CPU. */
export async function fill(cpu: TrainingKernels, x: Tensor, value: number): Promise<void> {
  checkTensor(cpu.backend, x, 'x');
  if (typeof value !== 'number') checkNumber('value', value, -Infinity, Infinity, 'fill');
  return queue(cpu, [x], () => {
    if (x.size > 0) cpu.tensors.heap.f32.fill(value, at(x), at(x) + x.size);
  });
}

/** `Backend.blockNorms` on the CPU. */
export async function blockNorms(cpu: TrainingKernels, w: Tensor, kind: BlockNormKind): Promise<Tensor> {
  checkBlockNormKind(kind);
  const [nnz, per] = checkBlocks(cpu.backend, w, 'w', 'blockNorms');
  return produce(cpu, [w], [nnz], (f, out) => ops.blockNorms(f, kind, at(w), out, nnz, per));
}

/** `Backend.gatherBlocks` on the CPU. */
export async function gatherBlocks(cpu: TrainingKernels, w: Tensor, ids: Int32Array): Promise<Tensor> {
  const [nnz, per] = checkBlocks(cpu.backend, w, 'w', 'gatherBlocks');
  checkGatherIds(ids, nnz);
  const sources = ids.slice();
  return produce(cpu, [w], [sources.length, ...w.shape.slice(1)], (f, out) => ops.gatherBlocks(f, at(w), sources, out, per));
}

/** `Backend.scatterBlocks` on the CPU. */
export async function scatterBlocks(cpu: TrainingKernels, src: Tensor, ids: Int32Array, nnzOut: number): Promise<Tensor> {
  const [m, per] = checkBlocks(cpu.backend, src, 'src', 'scatterBlocks');
  const sources = scatterSources(ids, m, nnzOut);
  return produce(cpu, [src], [nnzOut, ...src.shape.slice(1)], (f, out) => ops.gatherBlocks(f, at(src), sources, out, per));
}

/** `Backend.hardConcreteGates` on the CPU. */
export async function hardConcreteGates(cpu: TrainingKernels, logAlpha: Tensor, u: Tensor | null, options: HardConcreteOptions = {}): Promise<Tensor> {
  const nnz = checkHardConcrete(cpu.backend, 'hardConcreteGates', logAlpha, u);
  const h = resolveHardConcrete(options, 'hardConcreteGates');
  return produce(cpu, [logAlpha, u], [nnz], (f, out) => ops.hardConcreteGates(f, at(logAlpha), at(u), out, nnz, h));
}

/** `Backend.hardConcreteGrad` on the CPU. */
export async function hardConcreteGrad(cpu: TrainingKernels, logAlpha: Tensor, u: Tensor | null, dgates: Tensor, options: HardConcreteOptions = {}): Promise<Tensor> {
  const nnz = checkHardConcrete(cpu.backend, 'hardConcreteGrad', logAlpha, u, dgates);
  const h = resolveHardConcrete(options, 'hardConcreteGrad');
  return produce(cpu, [logAlpha, u, dgates], [nnz], (f, out) => ops.hardConcreteGrad(f, at(logAlpha), at(u), at(dgates), out, nnz, h));
}

/** `Backend.l0Penalty` on the CPU. */
export async function l0Penalty(cpu: TrainingKernels, logAlpha: Tensor, options: HardConcreteOptions = {}): Promise<L0PenaltyResult> {
  const nnz = checkHardConcrete(cpu.backend, 'l0Penalty', logAlpha, null);
  const h = resolveHardConcrete(options, 'l0Penalty');
  const [value, grad] = await produceAll(cpu, [logAlpha], [[1], [nnz]], (f, [valueAt, gradAt]) => ops.l0Penalty(f, at(logAlpha), valueAt, gradAt, nnz, h));
  return { value, grad };
}
