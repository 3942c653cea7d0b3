import { callKernel, JOBS, MAX_JOB_PARAMS, packJobParams, readJobParams, type KernelExports, type Task } from './abi.js';

/*
 * Each product is a short list of phases; a phase is a few tasks, and a task is a kernel of
 * assembly/kernels.ts applied to a range of units that write disjoint outputs. Threads (the
 * calling thread and the workers) claim the units of a phase from one shared counter, so they
 * need no other synchronisation; phases are separated by a barrier (packing, then products).
 *
 * A phase travels to the workers as words in the control block (a SharedArrayBuffer): per task
 * its job, its unit count and its parameters (abi.ts declares each job's parameters). `runUnit`
 * decodes unit u of the published phase and calls the kernel, the same code in every thread.
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
const TASK_BASE = 8;
const TASK_WORDS = 2 + MAX_JOB_PARAMS;
const MAX_TASKS = 4;
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
  return total;
}

/** A thread's kernels and its own scratch (128 bytes) and gather buffer (GATHER_BYTES) in the shared memory. */
export interface ThreadKernels {
  kernels: KernelExports;
  scratch: number;
  buffer: number;
}

/** Runs unit u of the phase in the control block (`words`, a Uint32Array over it; u below its unit count). */
export function runUnit(thread: ThreadKernels, words: Uint32Array, u: number): void {
  const tasks = words[TASK_COUNT];
  let at = TASK_BASE;
  for (let t = 0; t < tasks; t++, at += TASK_WORDS) {
    const units = words[at + 1];
    if (u < units) break;
    u -= units;
  }
  const job = JOBS[words[at] - 1];
  const k = thread.kernels;
  const { scratch, buffer: buf } = thread;
  switch (job) {
    case 'packRowTiles': {
      const p = readJobParams(job, words, at + 2);
      const [t0, t1] = range(u, p.perUnit, p.tiles);
      return callKernel(k, 'packRowTiles', { ...p, t0, t1 });
    }
    case 'packColumnTiles': {
      const p = readJobParams(job, words, at + 2);
      const [t0, t1] = range(u, p.perUnit, p.tiles);
      return callKernel(k, 'packColumnTiles', { ...p, t0, t1 });
    }
    case 'packForward': {
      const p = readJobParams(job, words, at + 2);
      const [k0, k1] = range(u, p.perUnit, p.segments);
      return callKernel(k, 'packForward', { ...p, k0, k1 });
    }
    case 'packBackward': {
      const p = readJobParams(job, words, at + 2);
      const [c0, c1] = range(u, p.perUnit, p.segments);
      return callKernel(k, 'packBackward', { ...p, c0, c1 });
    }
    case 'packDense': {
      const p = readJobParams(job, words, at + 2);
      const [s0, s1] = range(u, p.perUnit, p.slices);
      return callKernel(k, 'packDense', { ...p, s0, s1 });
    }
    case 'packColumnGroups': {
      const p = readJobParams(job, words, at + 2);
      const [r0, r1] = range(u, p.perUnit, p.rows);
      return callKernel(k, 'packColumnGroups', { ...p, r0, r1 });
    }
    case 'sparse': {
      // unit = (row block, output block), output blocks fastest: threads share a row block's inputs
      const p = readJobParams(job, words, at + 2);
      const [r0, r1] = range(Math.floor(u / p.segments), p.rowsPerUnit, p.rows);
      return callKernel(k, 'sparseUnit', { ...p, ob: u % p.segments, r0, r1, scratch, buf });
    }
    case 'dense': {
      const p = readJobParams(job, words, at + 2);
      const [r0, r1] = range(Math.floor(u / p.groups), p.rowsPerUnit, p.rows);
      return callKernel(k, 'denseUnit', { ...p, group: u % p.groups, r0, r1, scratch });
    }
    case 'weightGrad': {
      const p = readJobParams(job, words, at + 2);
      const [b0, b1] = range(u, p.perUnit, p.nnz);
      return callKernel(k, 'weightGradUnit', { ...p, b0, b1, scratch });
    }
    default:
      throw new Error(`unknown job ${words[at]}`);
  }
}

/** Items [u * per, min(count, (u + 1) * per)). */
function range(u: number, per: number, count: number): [number, number] {
  const start = u * per;
  return [start, Math.min(count, start + per)];
}
