import { ShapeError } from '../../errors.js';
import { checkNumber } from '../../check.js';
import {
  checkActivationKind, checkAddBias, checkBlockNormKind, checkBlocks, checkDistinct, checkGatherIds, checkHardConcrete, checkLayerNorm, checkLayerNormGrad,
  checkMatrix, checkSameShape, checkSoftmaxCrossEntropy, checkTensor, resolveAdam, resolveHardConcrete, resolveSgd, scatterSources,
} from '../checks.js';
import type {
  ActivationKind, AdamStepOptions, Backend, BlockNormKind, HardConcreteOptions, L0PenaltyResult, LayerNormGradResult, LayerNormResult, SgdStepOptions,
  SoftmaxCrossEntropyResult, Tensor,
} from '../types.js';
import type { DeviceMemory } from './memory.js';
import type { Dispatch, PlanContext } from './program.js';
import {
  ACTIVATION_CODES, ColumnOp, ElementwiseOp, hardConcreteValues, RowOp, type ColumnProgram, type ElementwiseProgram, type RowProgram, type TrainingOpValues,
} from './programs/training-ops.js';

/*
 * The Backend's training operations on WebGPU, as kernel functions (as tfjs-backend-webgpu's
 * kernels): each checks its arguments, allocates its outputs, and runs the plans of the
 * training-op programs with its op code and uniform values. The backend class only forwards to them.
 */

/** What the training kernels use of the backend. */
export interface TrainingKernels {
  /** The backend the tensors belong to (for the argument checks). */
  readonly backend: Backend;
  readonly memory: DeviceMemory;
  readonly context: PlanContext;
  readonly elementwise: ElementwiseProgram;
  readonly rows: RowProgram;
  readonly columns: ColumnProgram;
  /** Runs the plans' dispatches in order, in one command buffer. */
  run(...plans: Dispatch[][]): Promise<void>;
}

/** The plan of a training op over `units` elements, rows or columns of `program`. */
function plan(
  gpu: TrainingKernels, program: ElementwiseProgram | RowProgram | ColumnProgram, units: number, values: TrainingOpValues, inputs: (Tensor | null)[], outputs: Tensor[],
): Dispatch[] {
  return program.plan(units, values, inputs, outputs, gpu.context);
}

/** An elementwise op writing a new tensor of x's shape. */
async function map(gpu: TrainingKernels, values: TrainingOpValues, x: Tensor, inputs: (Tensor | null)[], what: string): Promise<Tensor> {
  const out = gpu.memory.allocate(x.shape, what);
  await gpu.run(plan(gpu, gpu.elementwise, x.size, values, inputs, [out]));
  return out;
}

/** `Backend.addBias` on WebGPU. */
export async function addBias(gpu: TrainingKernels, x: Tensor, bias: Tensor): Promise<Tensor> {
  const [, width] = checkAddBias(gpu.backend, x, bias);
  return map(gpu, { op: ElementwiseOp.addBias, count: x.size, width }, x, [x, bias], 'addBias');
}

/** `Backend.sumRows` on WebGPU. */
export async function sumRows(gpu: TrainingKernels, x: Tensor): Promise<Tensor> {
  const [n, width] = checkMatrix(gpu.backend, x, 'x', 'sumRows');
  const out = gpu.memory.allocate([width], 'sumRows');
  await gpu.run(plan(gpu, gpu.columns, width, { op: ColumnOp.sum, count: width, width, rows: n, floats: [1] }, [x], [out]));
  return out;
}

/** `Backend.activation` on WebGPU. */
export async function activation(gpu: TrainingKernels, kind: ActivationKind, x: Tensor): Promise<Tensor> {
  checkActivationKind(kind);
  checkTensor(gpu.backend, x, 'x');
  return map(gpu, { op: ElementwiseOp.activation, count: x.size, flag: ACTIVATION_CODES[kind] }, x, [x], kind);
}

/** `Backend.activationGrad` on WebGPU. */
export async function activationGrad(gpu: TrainingKernels, kind: ActivationKind, x: Tensor, dy: Tensor): Promise<Tensor> {
  checkActivationKind(kind);
  checkSameShape(gpu.backend, x, 'x', dy, 'dy', 'activationGrad');
  return map(gpu, { op: ElementwiseOp.activationGrad, count: x.size, flag: ACTIVATION_CODES[kind] }, x, [x, dy], `${kind} gradient`);
}

/** `Backend.softmaxCrossEntropy` on WebGPU. */
export async function softmaxCrossEntropy(gpu: TrainingKernels, logits: Tensor, labels: Tensor): Promise<SoftmaxCrossEntropyResult> {
  const [n, classes] = checkSoftmaxCrossEntropy(gpu.backend, logits, labels);
  const [dlogits, loss, correct, rowLoss, rowHits] = ([[n, classes], [1], [1], [n], [n]] as const).map((shape, i) =>
    gpu.memory.allocate(shape, ['dlogits', 'loss', 'correct', 'row losses', 'row hits'][i]));
  try {
    await gpu.run(
      plan(gpu, gpu.rows, n, { op: RowOp.softmaxCrossEntropy, count: n, width: classes, floats: [1 / n, NaN] }, [logits, labels], [dlogits, rowLoss, rowHits]),
      plan(gpu, gpu.columns, 1, { op: ColumnOp.sum, count: 1, width: 1, rows: n, floats: [1 / n] }, [rowLoss], [loss]),
      plan(gpu, gpu.columns, 1, { op: ColumnOp.sum, count: 1, width: 1, rows: n, floats: [1] }, [rowHits], [correct]),
    );
  } finally {
    rowLoss.dispose();
    rowHits.dispose();
  }
  return { loss, dlogits, correct };
}

/** `Backend.layerNorm` on WebGPU. */
export async function layerNorm(gpu: TrainingKernels, x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Promise<LayerNormResult> {
  const [n, width] = checkLayerNorm(gpu.backend, x, gamma, beta, eps);
  const [y, mean, rstd] = [gpu.memory.allocate([n, width], 'layerNorm'), gpu.memory.allocate([n], 'layerNorm mean'), gpu.memory.allocate([n], 'layerNorm rstd')];
  await gpu.run(plan(gpu, gpu.rows, n, { op: RowOp.layerNorm, count: n, width, floats: [eps] }, [x, gamma, beta], [y, mean, rstd]));
  return { y, mean, rstd };
}

/** `Backend.layerNormGrad` on WebGPU. */
export async function layerNormGrad(gpu: TrainingKernels, x: Tensor, dy: Tensor, gamma: Tensor, mean: Tensor, rstd: Tensor): Promise<LayerNormGradResult> {
  const [n, width] = checkLayerNormGrad(gpu.backend, x, dy, gamma, mean, rstd);
  const [dx, dgamma, dbeta] = [gpu.memory.allocate([n, width], 'layerNorm dx'), gpu.memory.allocate([width], 'layerNorm dgamma'), gpu.memory.allocate([width], 'layerNorm dbeta')];
  await gpu.run(
    plan(gpu, gpu.rows, n, { op: RowOp.layerNormGrad, count: n, width }, [x, dy, gamma, mean, rstd], [dx]),
    plan(gpu, gpu.columns, width, { op: ColumnOp.layerNormParams, count: width, width, rows: n }, [x, dy, mean, rstd], [dgamma, dbeta]),
  );
  return { dx, dgamma, dbeta };
}

/** `Backend.sgdStep` on WebGPU. */
export async function sgdStep(gpu: TrainingKernels, param: Tensor, grad: Tensor, velocity: Tensor | null, options: SgdStepOptions): Promise<void> {
  const h = resolveSgd(gpu.backend, param, grad, velocity, options);
  const values = { op: ElementwiseOp.sgd, count: param.size, flag: h.nesterov ? 1 : 0, floats: [h.lr, h.momentum, h.weightDecay] };
  await gpu.run(plan(gpu, gpu.elementwise, param.size, values, [grad], velocity ? [param, velocity] : [param]));
}

/** `Backend.adamStep` on WebGPU. */
export async function adamStep(gpu: TrainingKernels, param: Tensor, grad: Tensor, m: Tensor, v: Tensor, options: AdamStepOptions): Promise<void> {
  const h = resolveAdam(gpu.backend, param, grad, m, v, options);
  const floats = [h.beta1, h.beta2, h.eps, h.l2, h.decay, h.stepSize, h.bias2Sqrt, 1 - h.beta1, 1 - h.beta2];
  await gpu.run(plan(gpu, gpu.elementwise, param.size, { op: ElementwiseOp.adam, count: param.size, floats }, [grad], [param, m, v]));
}

/** `Backend.scale` on WebGPU. */
export async function scale(gpu: TrainingKernels, x: Tensor, s: number): Promise<Tensor> {
  checkTensor(gpu.backend, x, 'x');
  checkNumber('s', s, -Number.MAX_VALUE, Number.MAX_VALUE, 'scale');
  return map(gpu, { op: ElementwiseOp.scale, count: x.size, floats: [s] }, x, [x], 'scale');
}

/** `Backend.axpy` on WebGPU. */
export async function axpy(gpu: TrainingKernels, alpha: number, x: Tensor, y: Tensor): Promise<void> {
  checkNumber('alpha', alpha, -Number.MAX_VALUE, Number.MAX_VALUE, 'axpy');
  checkSameShape(gpu.backend, x, 'x', y, 'y', 'axpy');
  checkDistinct('axpy', [[y, 'y']], [[x, 'x']]);
  await gpu.run(plan(gpu, gpu.elementwise, x.size, { op: ElementwiseOp.axpy, count: x.size, floats: [alpha] }, [x], [y]));
}

/** `Backend.copy` on WebGPU. */
export async function copy(gpu: TrainingKernels, x: Tensor): Promise<Tensor> {
  checkTensor(gpu.backend, x, 'x');
  return map(gpu, { op: ElementwiseOp.copy, count: x.size }, x, [x], 'copy');
}

/** `Backend.fill` on WebGPU. */
export async function fill(gpu: TrainingKernels, x: Tensor, value: number): Promise<void> {
  checkTensor(gpu.backend, x, 'x');
  if (typeof value !== 'number') checkNumber('value', value, -Infinity, Infinity, 'fill');
  await gpu.run(plan(gpu, gpu.elementwise, x.size, { op: ElementwiseOp.fill, count: x.size, floats: [value] }, [], [x]));
}

/** `Backend.blockNorms` on WebGPU. */
export async function blockNorms(gpu: TrainingKernels, w: Tensor, kind: BlockNormKind): Promise<Tensor> {
  checkBlockNormKind(kind);
  const [nnz, per] = checkBlocks(gpu.backend, w, 'w', 'blockNorms');
  const out = gpu.memory.allocate([nnz], 'block norms');
  await gpu.run(plan(gpu, gpu.rows, nnz, { op: RowOp.blockNorm, count: nnz, width: per, flag: kind === 'l2' ? 0 : 1 }, [w], [out]));
  return out;
}

/** out block j = src block sources[j] (or zeros for -1); sources travel as float32, exact below 2^24. */
async function gather(gpu: TrainingKernels, src: Tensor, sources: Int32Array, per: number, shape: number[], what: string): Promise<Tensor> {
  if (src.shape[0] > 2 ** 24) throw new ShapeError(`${what}: ${src.shape[0]} blocks; the WebGPU backend gathers at most 2^24`);
  const out = gpu.memory.allocate(shape, what);
  if (out.size === 0) return out;
  const map = gpu.backend.tensor(Float32Array.from(sources), [sources.length]);
  try {
    await gpu.run(plan(gpu, gpu.elementwise, out.size, { op: ElementwiseOp.gather, count: out.size, width: per }, [src, map], [out]));
  } finally {
    map.dispose();
  }
  return out;
}

/** `Backend.gatherBlocks` on WebGPU. */
export async function gatherBlocks(gpu: TrainingKernels, w: Tensor, ids: Int32Array): Promise<Tensor> {
  const [nnz, per] = checkBlocks(gpu.backend, w, 'w', 'gatherBlocks');
  checkGatherIds(ids, nnz);
  return gather(gpu, w, ids, per, [ids.length, ...w.shape.slice(1)], 'gatherBlocks');
}

/** `Backend.scatterBlocks` on WebGPU. */
export async function scatterBlocks(gpu: TrainingKernels, src: Tensor, ids: Int32Array, nnzOut: number): Promise<Tensor> {
  const [m, per] = checkBlocks(gpu.backend, src, 'src', 'scatterBlocks');
  const sources = scatterSources(ids, m, nnzOut);
  return gather(gpu, src, sources, per, [nnzOut, ...src.shape.slice(1)], 'scatterBlocks');
}

/** `Backend.hardConcreteGates` on WebGPU. */
export async function hardConcreteGates(gpu: TrainingKernels, logAlpha: Tensor, u: Tensor | null, options: HardConcreteOptions = {}): Promise<Tensor> {
  const nnz = checkHardConcrete(gpu.backend, 'hardConcreteGates', logAlpha, u);
  const h = resolveHardConcrete(options, 'hardConcreteGates');
  return map(gpu, hardConcreteValues(ElementwiseOp.hardConcreteGates, nnz, h, u !== null), logAlpha, [logAlpha, u], 'gates');
}

/** `Backend.hardConcreteGrad` on WebGPU. */
export async function hardConcreteGrad(gpu: TrainingKernels, logAlpha: Tensor, u: Tensor | null, dgates: Tensor, options: HardConcreteOptions = {}): Promise<Tensor> {
  const nnz = checkHardConcrete(gpu.backend, 'hardConcreteGrad', logAlpha, u, dgates);
  const h = resolveHardConcrete(options, 'hardConcreteGrad');
  return map(gpu, hardConcreteValues(ElementwiseOp.hardConcreteGrad, nnz, h, u !== null), logAlpha, [logAlpha, u, dgates], 'dlogAlpha');
}

/** `Backend.l0Penalty` on WebGPU. */
export async function l0Penalty(gpu: TrainingKernels, logAlpha: Tensor, options: HardConcreteOptions = {}): Promise<L0PenaltyResult> {
  const nnz = checkHardConcrete(gpu.backend, 'l0Penalty', logAlpha, null);
  const h = resolveHardConcrete(options, 'l0Penalty');
  const value = gpu.memory.allocate([1], 'L0 penalty');
  const grad = gpu.memory.allocate([nnz], 'L0 penalty gradient');
  if (nnz === 0) return { value, grad }; // new buffers are zeros
  const probabilities = gpu.memory.allocate([nnz], 'gate probabilities');
  try {
    await gpu.run(
      plan(gpu, gpu.elementwise, nnz, hardConcreteValues(ElementwiseOp.l0, nnz, h, false), [logAlpha], [grad, probabilities]),
      plan(gpu, gpu.columns, 1, { op: ColumnOp.sum, count: 1, width: 1, rows: nnz, floats: [1] }, [probabilities], [value]),
    );
  } finally {
    probabilities.dispose();
  }
  return { value, grad };
}

