import type { KernelExports } from './wasm.js';

/*
 * Each product is a short list of phases; a phase is a few tasks, and a task is a kernel of
 * assembly/kernels.ts applied to a range of units that write disjoint outputs. Threads (the
 * calling thread and the workers) claim the units of a phase from one shared counter, so they
 * need no other synchronisation; phases are separated by a barrier (packing, then products).
 *
 * A phase travels to the workers as words in the control block (a SharedArrayBuffer): per task
 * its kind, its unit count and its parameters. `runUnit` decodes unit u of the published phase
 * and calls the kernel, the same code in every thread.
 *
 * How units split the work never changes what a unit adds up or in which order (the reduction
 * chunks are fixed), so results do not depend on the number of threads.
 */

/** The task kinds (one kernel each). */
export const TaskKind = {
  packRowTiles: 1,
  packColumnTiles: 2,
  packForward: 3,
  packBackward: 4,
  packDense: 5,
  packColumnGroups: 6,
  sparse: 7,
  dense: 8,
  weightGrad: 9,
} as const;
/** One of TaskKind's values. */
export type TaskKind = (typeof TaskKind)[keyof typeof TaskKind];

/** One task of a phase: `units` units of a kernel with its parameters (byte offsets and counts). */
export interface Task {
  kind: TaskKind;
  units: number;
  params: number[];
}

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
const TASK_WORDS = 16;
const MAX_TASKS = 4;
/** Int32 words in the control block. */
export const CONTROL_WORDS = TASK_BASE + MAX_TASKS * TASK_WORDS;

/** Writes a phase's tasks into the control block (`words`, a Uint32Array over it); returns its unit count. */
export function writePhase(words: Uint32Array, phase: Phase): number {
  if (phase.tasks.length > MAX_TASKS) throw new Error(`a phase holds at most ${MAX_TASKS} tasks`);
  let total = 0;
  phase.tasks.forEach((task, t) => {
    const at = TASK_BASE + t * TASK_WORDS;
    if (task.params.length > TASK_WORDS - 2) throw new Error(`a task has at most ${TASK_WORDS - 2} parameters`);
    words[at] = task.kind;
    words[at + 1] = task.units;
    for (let p = 0; p < task.params.length; p++) words[at + 2 + p] = task.params[p];
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
  const p = (i: number) => words[at + 2 + i];
  const k = thread.kernels;
  switch (words[at]) {
    case TaskKind.packRowTiles: {
      const [t0, t1] = range(u, p(6), p(5));
      k.packRowTiles(p(0), p(1), p(2), p(3), p(4), t0, t1);
      return;
    }
    case TaskKind.packColumnTiles: {
      const [t0, t1] = range(u, p(5), p(4));
      k.packColumnTiles(p(0), p(1), p(2), p(3), t0, t1);
      return;
    }
    case TaskKind.packForward: {
      const [k0, k1] = range(u, p(7), p(6));
      k.packForward(p(0), p(1), p(2), p(3), p(4), p(5), k0, k1);
      return;
    }
    case TaskKind.packBackward: {
      const [c0, c1] = range(u, p(6), p(5));
      k.packBackward(p(0), p(1), p(2), p(3), p(4), c0, c1);
      return;
    }
    case TaskKind.packDense: {
      const [s0, s1] = range(u, p(6), p(5));
      k.packDense(p(0), p(1), p(2), p(3), p(4), s0, s1);
      return;
    }
    case TaskKind.packColumnGroups: {
      const [r0, r1] = range(u, p(5), p(1));
      k.packColumnGroups(p(0), p(1), p(2), p(3), p(4), r0, r1);
      return;
    }
    case TaskKind.sparse: {
      // unit = (row block, output block), output blocks fastest: threads share a row block's inputs
      const segments = p(8);
      const [r0, r1] = range(Math.floor(u / segments), p(10), p(9));
      k.sparseUnit(p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7), u % segments, r0, r1, p(11), thread.scratch, thread.buffer);
      return;
    }
    case TaskKind.dense: {
      const groups = p(5);
      const [r0, r1] = range(Math.floor(u / groups), p(7), p(6));
      k.denseUnit(p(0), p(1), p(2), p(3), p(4), u % groups, r0, r1, p(8), thread.scratch);
      return;
    }
    case TaskKind.weightGrad: {
      const [b0, b1] = range(u, p(11), p(10));
      k.weightGradUnit(p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(8), p(9), b0, b1, p(12), thread.scratch);
      return;
    }
    default:
      throw new Error(`unknown task kind ${words[at]}`);
  }
}

/** Items [u * per, min(count, (u + 1) * per)). */
function range(u: number, per: number, count: number): [number, number] {
  const start = u * per;
  return [start, Math.min(count, start + per)];
}

// ---------------------------------------------------------------------------------------------
// Splitting products into tasks

/** Rows per unit of the block products at most (a multiple of 4: row tiles). */
export const MAX_UNIT_ROWS = 128;
/** Reduction steps per chunk of the sparse products (chunk = REDUCTION_STEPS / bs blocks). */
export const SPARSE_CHUNK_STEPS = 256;
/** Reduction steps per chunk of the dense product. */
export const DENSE_CHUNK_STEPS = 256;
/** Batch rows per chunk of the weight gradient. */
export const WEIGHT_GRAD_CHUNK_ROWS = 128;
/** Bytes of each thread's gather buffer: a unit's row tiles of one chunk (sparseUnit). */
export const GATHER_BYTES = MAX_UNIT_ROWS * SPARSE_CHUNK_STEPS * 4;

/** Units to aim for per thread, so that threads finishing early find more work. */
const UNITS_PER_THREAD = 8;

/** Items per unit so that `count` items make about `target` units (at least `minimum` items each). */
function perUnit(count: number, target: number, minimum = 1): number {
  return Math.max(minimum, Math.ceil(count / Math.max(1, target)));
}

/** Rows per unit (a multiple of 4, at most MAX_UNIT_ROWS) so that rows x columns units give every thread several. */
function unitRows(rows: number, columns: number, threads: number): number {
  let r = MAX_UNIT_ROWS;
  while (r > 4 && Math.ceil(rows / r) * columns < UNITS_PER_THREAD * threads) r >>= 1;
  return Math.min(r, Math.ceil(rows / 4) * 4);
}

/** Row-tile packing of a row-major [rows, features] matrix (or, transposed, of a [features, rows] one) into dst. */
export function packRowTilesTask(src: number, rows: number, features: number, transposed: boolean, dst: number, threads: number): Task {
  const tiles = Math.ceil(rows / 4);
  const per = perUnit(tiles, UNITS_PER_THREAD * threads);
  const units = Math.ceil(tiles / per);
  return transposed
    ? { kind: TaskKind.packColumnTiles, units, params: [src, rows, features, dst, tiles, per] }
    : { kind: TaskKind.packRowTiles, units, params: [src, rows, features, features, dst, tiles, per] };
}

/** Bytes of the row tiles of `rows` rows of `features` features. */
export const rowTileBytes = (rows: number, features: number): number => Math.ceil(rows / 4) * features * 16;

/** The forward (per output block) or backward-data (per input block) panel packing. */
export function packPanelsTask(forward: boolean, w: number, gates: number, bs: number, ptr: number, blockId: number, dst: number, segments: number, threads: number): Task {
  const per = perUnit(segments, UNITS_PER_THREAD * threads);
  const units = Math.ceil(segments / per);
  return forward
    ? { kind: TaskKind.packForward, units, params: [w, gates, bs, ptr, blockId, dst, segments, per] }
    : { kind: TaskKind.packBackward, units, params: [w, gates, bs, ptr, dst, segments, per] };
}

/** The block product proper: `segments` output blocks of bs columns of y [rows, yFeatures]. */
export function sparseTask(xi: number, F: number, y: number, yFeatures: number, panels: number, ptr: number, idx: number,
  bs: number, segments: number, rows: number, threads: number): Task {
  const rowsPer = unitRows(rows, segments, threads);
  const units = Math.ceil(rows / rowsPer) * segments;
  const chunk = SPARSE_CHUNK_STEPS / bs;
  return { kind: TaskKind.sparse, units, params: [xi, F, y, yFeatures, panels, ptr, idx, bs, segments, rows, rowsPer, chunk] };
}

/** Column panels of op(B) [depth, cols] for the dense product. */
export function packDenseTask(b: number, depth: number, cols: number, transposeB: boolean, dst: number, threads: number): Task {
  const slices = Math.ceil(cols / 8);
  const per = perUnit(slices, UNITS_PER_THREAD * threads);
  return { kind: TaskKind.packDense, units: Math.ceil(slices / per), params: [b, depth, cols, transposeB ? 1 : 0, dst, slices, per] };
}

/** Bytes of the dense panels of op(B) [depth, cols]. */
export const densePanelBytes = (depth: number, cols: number): number => Math.ceil(cols / 8) * depth * 32;

/** The dense product C [rows, cols] from the row tiles of op(A) and the panels of op(B). */
export function denseTask(xi: number, depth: number, y: number, cols: number, panels: number, rows: number, threads: number): Task {
  const groups = Math.ceil(cols / 32);
  const rowsPer = unitRows(rows, groups, threads);
  const units = Math.ceil(rows / rowsPer) * groups;
  return { kind: TaskKind.dense, units, params: [xi, depth, y, cols, panels, groups, rows, rowsPer, DENSE_CHUNK_STEPS] };
}

/** Column groups of width 4 or 8 of a row-major [rows, features] matrix, split over rows. */
export function packColumnGroupsTask(src: number, rows: number, features: number, width: number, dst: number, threads: number): Task {
  const per = Math.ceil(perUnit(rows, UNITS_PER_THREAD * threads, 16) / 16) * 16;
  return { kind: TaskKind.packColumnGroups, units: Math.ceil(rows / per), params: [src, rows, features, width, dst, per] };
}

/** The weight gradient of nnz blocks, split over block ranges. */
export function weightGradTask(xg: number, dyg: number, rows: number, bs: number, pairRows: number, pairCols: number,
  dw: number, gates: number, weights: number, dgates: number, nnz: number, threads: number): Task {
  const per = perUnit(nnz, UNITS_PER_THREAD * threads);
  return {
    kind: TaskKind.weightGrad,
    units: Math.ceil(nnz / per),
    params: [xg, dyg, rows, bs, pairRows, pairCols, dw, gates, weights, dgates, nnz, per, WEIGHT_GRAD_CHUNK_ROWS],
  };
}
