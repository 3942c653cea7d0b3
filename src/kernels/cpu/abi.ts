/*
 * The one description of what passes between the JavaScript side of the CPU backend and its
 * WebAssembly kernels (assembly/kernels.ts): each kernel's parameters, and each job's parameters
 * as they travel to the threads in the control block. Both are tables of names in order; every
 * call and every control-block word goes through them by name, so positions are stated once.
 * AssemblyScript cannot import this file: test/kernels/cpu-abi.test.ts parses assembly/kernels.ts
 * and checks that its exported functions are these kernels with these parameters in this order.
 */

/**
 * The kernels assembly/kernels.ts exports and their parameters, in declaration order. Every
 * parameter is a number: a byte offset into the shared memory (0 for an absent operand), a count,
 * or a flag (0 or 1).
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
} as const;

/** A kernel of assembly/kernels.ts. */
export type KernelName = keyof typeof KERNEL_PARAMS;

/** A kernel's arguments by name. */
export type KernelArgs<K extends KernelName> = Record<(typeof KERNEL_PARAMS)[K][number], number>;

/** A function of one number per name of `Names`. */
type KernelFunction<Names extends readonly string[]> = (...args: { -readonly [I in keyof Names]: number }) => void;

/** The kernel module's exports: each kernel takes its KERNEL_PARAMS in order. */
export type KernelExports = { [K in KernelName]: KernelFunction<(typeof KERNEL_PARAMS)[K]> };

/** Calls kernel `name` with `args` put in its declared order (fields it does not declare are ignored). */
export function callKernel<K extends KernelName>(kernels: KernelExports, name: K, args: KernelArgs<K>): void {
  const order: readonly string[] = KERNEL_PARAMS[name];
  const values = order.map((param) => (args as Record<string, number>)[param]);
  (kernels[name] as (...values: number[]) => void)(...values);
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
