import { JOBS, KERNEL_PARAMS, MAX_JOB_PARAMS, packJobParams, readJobParams, trainingOpName, type JobName, type JobParams, type KernelExports, type KernelName, type Task } from './abi.js';

/*
 * Each product is a short list of phases; a phase is a few tasks, and a task is a kernel of
 * assembly/kernels.ts or assembly/conv.ts applied to a range of units that write disjoint
 * outputs. Threads (the calling thread and the workers) claim the units of a phase from one shared
 * counter, so they need no other synchronisation; phases are separated by a barrier (packing,
 * then products).
 *
 * A phase travels to the workers as words in the control block (a SharedArrayBuffer): per task
 * its job, its unit count and its parameters (abi.ts declares each job's parameters). Each thread
 * decodes a published phase's tasks once (the phase's serial number tells), into the kernel's
 * argument list; `runUnit` then sets unit u's own arguments and calls the kernel, with no
 * allocation per unit, the same code in every thread.
 * How a product becomes phases is its plan (plans.ts).
 *
 * How units split the work never changes what a unit adds up or in which order (the reduction
 * chunks are fixed), so results do not depend on the number of threads.
 */

/** Work between two barriers; `flops` (or bytes moved, for packing) decides whether the workers are woken. */
export interface Phase {
  tasks: Task[];
  flops: number;
}

// Control block words (Int32). The counters are used with Atomics; the task words are written by
// the calling thread before it publishes a phase, and read by threads after they claim a unit.
/** Bumped to publish a phase; workers sleep on it. */
export const GENERATION = 0;
/** Workers still busy with the current phase. */
export const PENDING = 1;
/** Next unit to claim. */
export const NEXT = 2;
/** Units in the current phase. */
export const TOTAL = 3;
/** Non-zero: workers leave their loop. */
export const SHUTDOWN = 4;
/** Test hook: non-zero makes the next worker that claims a unit throw. */
export const FAULT = 5;
const TASK_COUNT = 6;
/** Bumped by every phase written, so that threads decode a phase's tasks once (runUnit). */
const SERIAL = 7;
const TASK_BASE = 8;
const TASK_WORDS = 2 + MAX_JOB_PARAMS;
/** The most tasks a phase holds (a batch of training ops is one task each). */
export const MAX_TASKS = 64;
/** Int32 words in the control block. */
export const CONTROL_WORDS = TASK_BASE + MAX_TASKS * TASK_WORDS;

/** Writes a phase's tasks into the control block (`words`, a Uint32Array over it); returns its unit count. */
export function writePhase(words: Uint32Array, phase: Phase): number {
  if (phase.tasks.length > MAX_TASKS) throw new Error(`a phase holds at most ${MAX_TASKS} tasks`);
  let total = 0;
  phase.tasks.forEach((task, t) => {
    const at = TASK_BASE + t * TASK_WORDS;
    words[at] = JOBS.indexOf(task.job) + 1;
    words[at + 1] = task.units;
    packJobParams(task, words, at + 2);
    total += task.units;
  });
  words[TASK_COUNT] = phase.tasks.length;
  words[SERIAL] = (words[SERIAL] + 1) >>> 0;
  return total;
}

/** A thread's kernels and its own scratch (128 bytes) and gather buffer (GATHER_BYTES) in the shared memory; `decoded` caches the published phase's tasks. */
export interface ThreadKernels {
  kernels: KernelExports;
  scratch: number;
  buffer: number;
  decoded?: { serial: number; tasks: DecodedTask[] };
}

/** A task decoded once per phase and thread: its unit count, and how to run unit u of it (with no allocation). */
interface DecodedTask {
  units: number;
  run(u: number): void;
}

/**
 * How each job's unit calls its kernel: the unit's own arguments (its range, the thread's
 * scratch) by name, set into the kernel's argument list `set` (built once per task from the job's
 * parameters, in KERNEL_PARAMS order). Training operations' kernels instead take (args, lo, hi).
 */
type UnitArguments = { [J in JobName]: J extends 'trainingOp' ? null : { kernel: KernelName; unit(p: JobParams<J>, u: number, set: (name: string, value: number) => void): void } };
const UNIT_ARGUMENTS: UnitArguments = {
  packRowTiles: { kernel: 'packRowTiles', unit: (p, u, set) => setRange(set, 't0', 't1', u, p.perUnit, p.tiles) },
  packColumnTiles: { kernel: 'packColumnTiles', unit: (p, u, set) => setRange(set, 't0', 't1', u, p.perUnit, p.tiles) },
  packForward: { kernel: 'packForward', unit: (p, u, set) => setRange(set, 'k0', 'k1', u, p.perUnit, p.segments) },
  packBackward: { kernel: 'packBackward', unit: (p, u, set) => setRange(set, 'c0', 'c1', u, p.perUnit, p.segments) },
  packDense: { kernel: 'packDense', unit: (p, u, set) => setRange(set, 's0', 's1', u, p.perUnit, p.slices) },
  packColumnGroups: { kernel: 'packColumnGroups', unit: (p, u, set) => setRange(set, 'r0', 'r1', u, p.perUnit, p.rows) },
  // unit = (row block, output block), output blocks fastest: threads share a row block's inputs
  sparse: {
    kernel: 'sparseUnit',
    unit: (p, u, set) => {
      set('ob', u % p.segments);
      setRange(set, 'r0', 'r1', Math.floor(u / p.segments), p.rowsPerUnit, p.rows);
    },
  },
  dense: {
    kernel: 'denseUnit',
    unit: (p, u, set) => {
      set('group', u % p.groups);
      setRange(set, 'r0', 'r1', Math.floor(u / p.groups), p.rowsPerUnit, p.rows);
    },
  },
  weightGrad: { kernel: 'weightGradUnit', unit: (p, u, set) => setRange(set, 'b0', 'b1', u, p.perUnit, p.nnz) },
  trainingOp: null,
  sumColumns: { kernel: 'sumColumns', unit: (p, u, set) => setRange(set, 'c0', 'c1', u, p.perUnit, p.columns) },
  packConvPanels: { kernel: 'packConvPanels', unit: (p, u, set) => setRange(set, 's0', 's1', u, p.perUnit, p.segments) },
  // as sparse: unit = (row block, output block), output blocks fastest
  conv: {
    kernel: 'convUnit',
    unit: (p, u, set) => {
      set('ob', u % p.segments);
      setRange(set, 'r0', 'r1', Math.floor(u / p.segments), p.rowsPerUnit, p.rows);
    },
  },
  convWeightGrad: { kernel: 'convWeightGradUnit', unit: (p, u, set) => setRange(set, 'u0', 'u1', u, p.perUnit, p.pairs) },
  convGateGrad: { kernel: 'convGateGrad', unit: (p, u, set) => setRange(set, 'b0', 'b1', u, p.perUnit, p.nnz) },
};

/** Sets items [u * per, min(count, (u + 1) * per)) as the arguments lo and hi. */
function setRange(set: (name: string, value: number) => void, lo: string, hi: string, u: number, per: number, count: number): void {
  const start = u * per;
  set(lo, start);
  set(hi, Math.min(count, start + per));
}

/** Decodes the task whose words start at `at`. */
function decodeTask(thread: ThreadKernels, words: Uint32Array, at: number): DecodedTask {
  const job = JOBS[words[at] - 1];
  if (job === undefined) throw new Error(`unknown job ${words[at]}`);
  const units = words[at + 1];
  const k = thread.kernels;
  if (job === 'trainingOp') {
    const p = readJobParams(job, words, at + 2);
    const name = trainingOpName(p.op);
    const kernel = k[name];
    if (!kernel) throw new Error(`the kernel module has no kernel for training operation ${name}`);
    const { args, per, count } = p;
    return { units, run: (u) => kernel(args, u * per, Math.min(count, (u + 1) * per)) };
  }
  const p = readJobParams(job, words, at + 2) as Record<string, number>;
  const spec = UNIT_ARGUMENTS[job] as { kernel: KernelName; unit(p: Record<string, number>, u: number, set: (name: string, value: number) => void): void };
  const names: readonly string[] = KERNEL_PARAMS[spec.kernel];
  const values = names.map((name) => (name === 'scratch' ? thread.scratch : name === 'buf' ? thread.buffer : p[name] ?? 0));
  const position = new Map(names.map((name, i) => [name, i]));
  const set = (name: string, value: number): void => {
    values[position.get(name)!] = value;
  };
  const kernel = k[spec.kernel] as (...args: number[]) => void;
  return {
    units,
    run: (u) => {
      spec.unit(p, u, set);
      kernel.apply(null, values);
    },
  };
}

/** Runs unit u of the phase in the control block (`words`, a Uint32Array over it; u below its unit count). */
export function runUnit(thread: ThreadKernels, words: Uint32Array, u: number): void {
  const serial = words[SERIAL];
  let decoded = thread.decoded;
  if (!decoded || decoded.serial !== serial) {
    const tasks: DecodedTask[] = [];
    for (let t = 0; t < words[TASK_COUNT]; t++) tasks.push(decodeTask(thread, words, TASK_BASE + t * TASK_WORDS));
    decoded = { serial, tasks };
    thread.decoded = decoded;
  }
  for (const task of decoded.tasks) {
    if (u < task.units) return task.run(u);
    u -= task.units;
  }
  throw new Error(`unit ${u} is past the phase's units`);
}
