import { TRAINING_OPS, type TrainingOpName } from '../training-ops.js';

/*
 * The one description of what passes between the JavaScript side of the CPU backend and its
 * WebAssembly kernels (assembly/*.ts): each kernel's parameters, each job's parameters as they
 * travel to the threads in the control block, and the argument block of the training operations.
 * All are tables of names in order; every call, control-block word and argument word goes through
 * them by name, so positions are stated once. AssemblyScript cannot import this file:
 * test/kernels/cpu-abi.test.ts parses assembly/*.ts and checks that their exported functions are
 * these kernels with these parameters in this order, and one kernel per training operation.
 */

/**
 * The kernels assembly/kernels.ts and assembly/conv.ts export and their parameters, in
 * declaration order. Every parameter is a number: a byte offset into the shared memory (0 for an
 * absent operand), a count, or a flag (0 or 1).
 */
export const KERNEL_PARAMS = {
  packRowTiles: ['src', 'rows', 'features', 'stride', 'dst', 't0', 't1'],
  packColumnTiles: ['src', 'rows', 'features', 'dst', 't0', 't1'],
  packForward: ['w', 'gates', 'bs', 'colPtr', 'blockId', 'dst', 'k0', 'k1'],
  packBackward: ['w', 'gates', 'bs', 'rowPtr', 'dst', 'c0', 'c1'],
  packDense: ['b', 'depth', 'cols', 'transposeB', 'dst', 's0', 's1'],
  packColumnGroups: ['src', 'rows', 'features', 'width', 'dst', 'r0', 'r1'],
  sparseUnit: ['xi', 'F', 'y', 'yFeatures', 'panels', 'ptr', 'idx', 'bs', 'ob', 'r0', 'r1', 'chunk', 'scratch', 'buf'],
  denseUnit: ['xi', 'depth', 'y', 'cols', 'panels', 'group', 'r0', 'r1', 'chunk', 'scratch'],
  weightGradUnit: ['xg', 'dyg', 'rows', 'bs', 'pairRows', 'pairCols', 'dw', 'gates', 'weights', 'dgates', 'b0', 'b1', 'chunk', 'scratch'],
  sumColumns: ['src', 'rows', 'stride', 'from', 'dst', 'scale', 'c0', 'c1'],
  mathKernel: ['kind', 'src', 'dst', 'n'],
  // assembly/conv.ts: the convolutions
  packConvPanels: ['w', 'gates', 'bs', 'taps', 'ptr', 'blockId', 'transposed', 'dst', 's0', 's1'],
  convUnit: [
    'src', 'F', 'y', 'yFeatures', 'panels', 'ptr', 'idx', 'bs', 'taps', 'kw', 'transposed', 'rowH', 'rowW', 'srcH', 'srcW',
    'strideY', 'strideX', 'padY', 'padX', 'dilY', 'dilX', 'ob', 'r0', 'r1', 'chunk', 'scratch', 'buf',
  ],
  convWeightGradUnit: [
    'x', 'dy', 'C', 'K', 'bs', 'taps', 'kw', 'positions', 'outH', 'outW', 'inH', 'inW', 'strideY', 'strideX', 'padY', 'padX',
    'dilY', 'dilX', 'pairRows', 'pairCols', 'dw', 'u0', 'u1', 'chunk', 'scratch', 'buf',
  ],
  convGateGrad: ['dw', 'gates', 'weights', 'dgates', 'blockFloats', 'b0', 'b1'],
} as const;

/** A kernel of the module (assembly/*.ts) other than the training operations'. */
export type KernelName = keyof typeof KERNEL_PARAMS;

/** A function of one number per name of `Names`. */
type KernelFunction<Names extends readonly string[]> = (...args: { -readonly [I in keyof Names]: number }) => void;

/** The parameters of every training operation's kernel (the AssemblyScript function named after the op; sumRows has none). */
export const TRAINING_KERNEL_PARAMS = ['args', 'lo', 'hi'] as const;

/** A training operation's kernel: items [lo, hi) of its grid, its arguments in the block at byte `args`. */
export type TrainingKernel = (args: number, lo: number, hi: number) => void;

/** The kernel module's exports: each kernel takes its KERNEL_PARAMS in order; each training operation's kernel its TRAINING_KERNEL_PARAMS. */
export type KernelExports = { [K in KernelName]: KernelFunction<(typeof KERNEL_PARAMS)[K]> } & { readonly [N in TrainingOpName]?: TrainingKernel };

/**
 * The argument block of a training operation's kernel (ARGUMENT_WORDS words of 4 bytes at byte
 * `args`): the byte offsets of the read slots a .. e and write slots o0 .. o2 (0: absent), the
 * integers count, width, flag and per (items per unit), then the float32 hyper-parameters f0 .. f8.
 * assembly/training-args.ts reads it at these positions.
 */
export const ARGUMENT_WORDS_LAYOUT = ['a', 'b', 'c', 'd', 'e', 'o0', 'o1', 'o2', 'count', 'width', 'flag', 'per', 'f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8'] as const;
/** Words in a training operation's argument block. */
export const ARGUMENT_WORDS = ARGUMENT_WORDS_LAYOUT.length;
/** The first float word of the argument block. */
export const FIRST_FLOAT_WORD = ARGUMENT_WORDS_LAYOUT.indexOf('f0');

/** The training operation of op code `op` (its index in TRAINING_OPS). */
export function trainingOpName(op: number): TrainingOpName {
  const name = TRAINING_OPS[op];
  if (name === undefined) throw new Error(`no training operation has op code ${op}`);
  return name;
}


/**
 * The jobs and their parameters, in control-block order. A job is one kernel applied to a range of
 * units; its words are the kernel's arguments shared by every unit (same names as the kernel's
 * parameters) and how units split the work (`perUnit` items, or `rowsPerUnit` rows, of a count).
 * A unit's own arguments (its range, the thread's scratch) are computed when it runs (jobs.ts).
 */
export const JOB_PARAMS = {
  packRowTiles: ['src', 'rows', 'features', 'stride', 'dst', 'tiles', 'perUnit'],
  packColumnTiles: ['src', 'rows', 'features', 'dst', 'tiles', 'perUnit'],
  packForward: ['w', 'gates', 'bs', 'colPtr', 'blockId', 'dst', 'segments', 'perUnit'],
  packBackward: ['w', 'gates', 'bs', 'rowPtr', 'dst', 'segments', 'perUnit'],
  packDense: ['b', 'depth', 'cols', 'transposeB', 'dst', 'slices', 'perUnit'],
  packColumnGroups: ['src', 'rows', 'features', 'width', 'dst', 'perUnit'],
  sparse: ['xi', 'F', 'y', 'yFeatures', 'panels', 'ptr', 'idx', 'bs', 'segments', 'rows', 'rowsPerUnit', 'chunk'],
  dense: ['xi', 'depth', 'y', 'cols', 'panels', 'groups', 'rows', 'rowsPerUnit', 'chunk'],
  weightGrad: ['xg', 'dyg', 'rows', 'bs', 'pairRows', 'pairCols', 'dw', 'gates', 'weights', 'dgates', 'nnz', 'perUnit', 'chunk'],
  trainingOp: ['op', 'args', 'count', 'per'],
  sumColumns: ['src', 'rows', 'stride', 'from', 'dst', 'scale', 'columns', 'perUnit'],
  packConvPanels: ['w', 'gates', 'bs', 'taps', 'ptr', 'blockId', 'transposed', 'dst', 'segments', 'perUnit'],
  conv: [
    'src', 'F', 'y', 'yFeatures', 'panels', 'ptr', 'idx', 'bs', 'taps', 'kw', 'transposed', 'rowH', 'rowW', 'srcH', 'srcW',
    'strideY', 'strideX', 'padY', 'padX', 'dilY', 'dilX', 'segments', 'rows', 'rowsPerUnit', 'chunk',
  ],
  convWeightGrad: [
    'x', 'dy', 'C', 'K', 'bs', 'taps', 'kw', 'positions', 'outH', 'outW', 'inH', 'inW', 'strideY', 'strideX', 'padY', 'padX',
    'dilY', 'dilX', 'pairRows', 'pairCols', 'dw', 'pairs', 'perUnit', 'chunk',
  ],
  convGateGrad: ['dw', 'gates', 'weights', 'dgates', 'blockFloats', 'nnz', 'perUnit'],
} as const;

/** A job of JOB_PARAMS. */
export type JobName = keyof typeof JOB_PARAMS;

/** A job's parameters by name. */
export type JobParams<J extends JobName> = Record<(typeof JOB_PARAMS)[J][number], number>;

/** The jobs in control-block numbering: job JOBS[i] travels as i + 1 (0 is no job). */
export const JOBS = Object.keys(JOB_PARAMS) as JobName[];

/** The most parameters a job has (control-block words per task, less the job and unit count). */
export const MAX_JOB_PARAMS = Math.max(...JOBS.map((job) => JOB_PARAMS[job].length));

/** One task of a phase: `units` units of a job with its parameters. */
export type Task = { [J in JobName]: { job: J; units: number; params: JobParams<J> } }[JobName];

/** Writes a task's parameters into `words` from `at` on, in JOB_PARAMS order. */
export function packJobParams(task: Task, words: Uint32Array, at: number): void {
  const order: readonly string[] = JOB_PARAMS[task.job];
  const params = task.params as Record<string, number>;
  for (let i = 0; i < order.length; i++) {
    const value = params[order[i]];
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`job ${task.job}: parameter ${order[i]} is ${value}, not a 32-bit word`);
    words[at + i] = value;
  }
}

/** Reads a job's parameters (packed by packJobParams) from `words` at `at`. */
export function readJobParams<J extends JobName>(job: J, words: Uint32Array, at: number): JobParams<J> {
  const order: readonly string[] = JOB_PARAMS[job];
  const params: Record<string, number> = {};
  for (let i = 0; i < order.length; i++) params[order[i]] = words[at + i];
  return params as JobParams<J>;
}
