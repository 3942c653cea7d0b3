import { add, and, div, mod, mul, sym, xor, type IndexExpr, type IndexLike } from './index-expr.js';
import { sharedRef, type SharedAccess, type SharedArray, type SharedStep } from './shared-memory.js';

/*
 * WGSL building blocks of the matrix kernels: swizzled shared-memory tiles, staging with register
 * prefetch, and register-tiled products. Every shared address is an index expression
 * (index-expr.ts), so the kernels' bank conflicts and FMAs per shared load can be checked
 * statically (shared-memory.ts) on exactly the code that runs.
 *
 * A tile is `rows` rows of `vecs` vec4s, in `buffers` buffers (two for double buffering). Its
 * vec4 p = row * vecs + col4 is stored at p ^ f(p / 8): within each 128-byte line of 8 vec4s the
 * position is XORed with a function of the line (the swizzle), which spreads the columns that one
 * instruction touches in different rows over the 32 banks. f(line) = XOR over the tile's shifts s
 * of (line >> s) (or line << -s), masked to 3 bits; the shifts are chosen per tile so that its stores and loads
 * are conflict-free (the static test checks it).
 *
 * Products accumulate C[m, n] += sum_k A[m, k] B[k, n]. B tiles are k-major (row k, vec4 along n).
 * A tiles are either row-major (row m, vec4 along k: each vec4 read serves four k steps) or
 * k-major like B. A thread owns `rows` output rows ty + r TY and `colVecs` vec4 columns tx + v TX.
 */

/** A swizzled 2-D tile of vec4s in workgroup memory. */
export interface Tile {
  readonly array: SharedArray;
  readonly rows: number;
  readonly vecs: number;
  readonly buffers: number;
  /** Shifts of the line index XORed into the position within the line, right (s >= 0) or left (s < 0); [] for none. */
  readonly swizzle: readonly number[];
}

/** A tile named `name` of `rows` x `vecs` vec4s in `buffers` buffers. */
export function makeTile(name: string, rows: number, vecs: number, buffers: number, swizzle: readonly number[]): Tile {
  if (vecs % 8 !== 0 && 8 % vecs !== 0) throw new RangeError(`tile ${name}: ${vecs} vec4s per row neither divides nor is a multiple of 8`);
  if ((rows * vecs) % 8 !== 0 && buffers > 1) throw new RangeError(`tile ${name}: ${rows} x ${vecs} vec4s is not whole 128-byte lines`);
  return { array: { name, element: 'vec4<f32>', length: rows * vecs * buffers }, rows, vecs, buffers, swizzle };
}

/**
 * The element index of (row, col4), 0 <= col4 < vecs, in buffer `buffer` of `tile`. The line
 * p / 8 is written as row (vecs / 8) + col4 / 8 or row / (8 / vecs), which is the same for such
 * col4, so that the swizzle of a row is computed once per row, outside loops over columns.
 */
export function tileIndex(tile: Tile, row: IndexLike, col4: IndexLike, buffer: IndexLike = 0): IndexExpr {
  const p = add(mul(row, tile.vecs), col4);
  let f: IndexLike = 0;
  if (tile.swizzle.length > 0) {
    const line = tile.vecs % 8 === 0 ? add(mul(row, tile.vecs / 8), div(col4, 8)) : div(row, 8 / tile.vecs);
    let h: IndexLike = 0;
    for (const s of tile.swizzle) h = xor(h, s >= 0 ? div(line, 2 ** s) : mul(line, 2 ** -s));
    f = and(h, 7);
  }
  return add(mul(buffer, tile.rows * tile.vecs), xor(p, f));
}

/** A WGSL expression reading one vec4 of the source, given two i32 WGSL expressions. */
export type SourceRead = (first: string, second: string) => string;

/** Staging of one tile from global memory through registers (one vec4 register per thread and round). */
export interface Staging {
  /** WGSL loading the registers `regs` from global memory (declared by `declare`). */
  readonly load: string;
  /** WGSL declaring the registers (at function scope). */
  readonly declare: string;
  /** WGSL storing the registers into buffer `buffer` (a WGSL i32 expression or constant). */
  store(buffer: IndexLike): string;
  /** The store instructions (one thread's, in terms of tid), for the analysis. */
  storeAccesses(buffer: IndexLike): SharedAccess[];
}

const tid = sym('itid');

/** Rounds of a staging: whole rounds of all threads, or one round of the first `count` threads. */
function splitRounds(tile: Tile, count: number, threads: number): { rounds: number; activeBelow?: number } {
  if (count % threads === 0) return { rounds: count / threads };
  if (threads % count === 0) return { rounds: 1, activeBelow: count };
  throw new RangeError(`tile ${tile.array.name}: ${count} vec4s do not split over ${threads} threads`);
}

/** `code` run by the threads below `activeBelow` only (all when absent). */
const guarded = (code: string, activeBelow?: number): string => (activeBelow === undefined ? code : `if (itid < ${activeBelow}) {\n${code}\n}`);

/**
 * Stages a tile whose source is contiguous along the tile's vec4 dimension: round j moves vec4
 * i = tid + j * threads to row i / vecs, column i % vecs. `read(row, col4)` reads it.
 */
export function stageDirect(tile: Tile, threads: number, regs: string, read: SourceRead): Staging {
  const count = tile.rows * tile.vecs;
  const { rounds, activeBelow } = splitRounds(tile, count, threads);
  const at = (j: number) => {
    const i = add(tid, j * threads);
    return { row: div(i, tile.vecs), col4: mod(i, tile.vecs) };
  };
  const loads: string[] = [];
  for (let j = 0; j < rounds; j++) {
    const { row, col4 } = at(j);
    loads.push(`${regs}[${j}] = ${read(row.wgsl, col4.wgsl)};`);
  }
  const accesses = (buffer: IndexLike): SharedAccess[] => Array.from({ length: rounds }, (_, j) => {
    const { row, col4 } = at(j);
    return { array: tile.array, index: tileIndex(tile, row, col4, buffer), activeBelow };
  });
  return {
    declare: `var ${regs}: array<vec4<f32>, ${rounds}>;`,
    load: guarded(loads.join('\n'), activeBelow),
    store: (buffer) => guarded(accesses(buffer).map((a, j) => `${sharedRef(a)} = ${regs}[${j}];`).join('\n'), activeBelow),
    storeAccesses: accesses,
  };
}

/**
 * Stages a tile whose source is contiguous along the tile's rows: a source vec4 holds rows
 * 4 r4 .. 4 r4 + 3 of one column c, and goes to the tile as four scalars. Threads take r4 in
 * groups of up to 8 (coalesced reads of 128 bytes), then c, then the next group of r4.
 * `read(r4, c)` reads it.
 */
export function stageTransposed(tile: Tile, threads: number, regs: string, read: SourceRead): Staging {
  const cols = 4 * tile.vecs;
  const r4s = tile.rows / 4;
  const count = r4s * cols;
  if (tile.rows % 4 !== 0) throw new RangeError(`tile ${tile.array.name}: ${tile.rows} rows are not a multiple of 4`);
  const group = Math.min(r4s, 8);
  const { rounds, activeBelow } = splitRounds(tile, count, threads);
  const at = (j: number) => {
    const i = add(tid, j * threads);
    const r4 = add(mod(i, group), mul(div(i, group * cols), group));
    return { r4, c: mod(div(i, group), cols) };
  };
  const loads: string[] = [];
  for (let j = 0; j < rounds; j++) {
    const { r4, c } = at(j);
    loads.push(`${regs}[${j}] = ${read(r4.wgsl, c.wgsl)};`);
  }
  const accesses = (buffer: IndexLike) => {
    const out: SharedAccess[] = [];
    for (let j = 0; j < rounds; j++) {
      const { r4, c } = at(j);
      for (let q = 0; q < 4; q++) out.push({ array: tile.array, index: tileIndex(tile, add(mul(r4, 4), q), div(c, 4), buffer), lane: mod(c, 4), activeBelow });
    }
    return out;
  };
  const lanes = ['x', 'y', 'z', 'w'];
  return {
    declare: `var ${regs}: array<vec4<f32>, ${rounds}>;`,
    load: guarded(loads.join('\n'), activeBelow),
    store: (buffer) => guarded(accesses(buffer).map((a, n) => `${sharedRef(a)} = ${regs}[${Math.floor(n / 4)}].${lanes[n % 4]};`).join('\n'), activeBelow),
    storeAccesses: accesses,
  };
}

/** How a workgroup's threads cover an output tile. */
export interface RegisterTile {
  /** Threads across output columns (TX). */
  readonly threadsX: number;
  /** Threads across output rows (TY). */
  readonly threadsY: number;
  /** Output rows per thread (rows ty + r TY). */
  readonly rows: number;
  /** vec4 columns per thread (columns tx + v TX). */
  readonly colVecs: number;
}

/** Rows of the output tile. */
export const tileRows = (t: RegisterTile): number => t.rows * t.threadsY;
/** Columns of the output tile. */
export const tileCols = (t: RegisterTile): number => 4 * t.colVecs * t.threadsX;
/** Accumulator vec4s per thread (`acc[r * colVecs + v]`: row ty + r TY, vec4 column tx + v TX). */
export const accumulatorCount = (t: RegisterTile): number => t.rows * t.colVecs;

/** A compute step: its WGSL and its shared loads (in terms of tid/tx/ty and the step's symbols). */
export interface ProductStep {
  readonly wgsl: string;
  readonly accesses: readonly SharedAccess[];
  /** Scalar multiply-adds per thread. */
  readonly fmas: number;
}

const tx = sym('tx');
const ty = sym('ty');
const LANES = ['x', 'y', 'z', 'w'];

/**
 * Four k steps with a row-major A tile: reads vec4 `k4` of each of the thread's rows of A (four k
 * each) and, for each of the four k, the thread's vec4 columns of B's row 4 k4 + q.
 */
export function rowMajorProductStep(t: RegisterTile, a: Tile, b: Tile, k4: IndexExpr, bufferA: IndexLike, bufferB: IndexLike): ProductStep {
  const lines: string[] = [];
  const accesses: SharedAccess[] = [];
  for (let r = 0; r < t.rows; r++) {
    const access = { array: a.array, index: tileIndex(a, add(ty, r * t.threadsY), k4, bufferA) };
    accesses.push(access);
    lines.push(`let a${r} = ${sharedRef(access)};`);
  }
  for (let q = 0; q < 4; q++) {
    for (let v = 0; v < t.colVecs; v++) {
      const access = { array: b.array, index: tileIndex(b, add(mul(k4, 4), q), add(tx, v * t.threadsX), bufferB) };
      accesses.push(access);
      lines.push(`let b${q}_${v} = ${sharedRef(access)};`);
    }
    for (let r = 0; r < t.rows; r++) {
      for (let v = 0; v < t.colVecs; v++) {
        const i = r * t.colVecs + v;
        lines.push(`acc[${i}] = fma(vec4<f32>(a${r}.${LANES[q]}), b${q}_${v}, acc[${i}]);`);
      }
    }
  }
  return { wgsl: lines.join('\n'), accesses, fmas: 16 * t.rows * t.colVecs };
}

/**
 * One k step with a k-major A tile (vec4 along m: `rows` must be a multiple of 4, the thread's
 * rows being the four of each vec4 ty + u TY): reads A's and B's row k.
 */
export function kMajorProductStep(t: RegisterTile, a: Tile, b: Tile, k: IndexExpr, bufferA: IndexLike, bufferB: IndexLike): ProductStep {
  const lines: string[] = [];
  const accesses: SharedAccess[] = [];
  const rowVecs = t.rows / 4;
  for (let u = 0; u < rowVecs; u++) {
    const access = { array: a.array, index: tileIndex(a, k, add(ty, u * t.threadsY), bufferA) };
    accesses.push(access);
    lines.push(`let a${u} = ${sharedRef(access)};`);
  }
  for (let v = 0; v < t.colVecs; v++) {
    const access = { array: b.array, index: tileIndex(b, k, add(tx, v * t.threadsX), bufferB) };
    accesses.push(access);
    lines.push(`let b${v} = ${sharedRef(access)};`);
  }
  for (let u = 0; u < rowVecs; u++) {
    for (let q = 0; q < 4; q++) {
      for (let v = 0; v < t.colVecs; v++) {
        const i = (u * 4 + q) * t.colVecs + v;
        lines.push(`acc[${i}] = fma(vec4<f32>(a${u}.${LANES[q]}), b${v}, acc[${i}]);`);
      }
    }
  }
  return { wgsl: lines.join('\n'), accesses, fmas: 4 * t.rows * t.colVecs };
}

/** The output row (within the tile) of accumulator row r of a row-major product. */
export const rowMajorRow = (t: RegisterTile, r: number): IndexExpr => add(ty, r * t.threadsY);

/** The output row of accumulator row 4u + q of a k-major product. */
export const kMajorRow = (t: RegisterTile, u: number, q: number): IndexExpr => add(mul(add(ty, u * t.threadsY), 4), q);

/** The output vec4 column (within the tile) of accumulator column v. */
export const accColumn = (t: RegisterTile, v: number): IndexExpr => add(tx, v * t.threadsX);

/** A shared-memory step for the analysis, swept over the given values of its symbols. */
export function step(name: string, kind: 'store' | 'load', accesses: readonly SharedAccess[], envs: SharedStep['envs'], fmas?: number): SharedStep {
  return { name, kind, accesses, envs, fmas };
}

