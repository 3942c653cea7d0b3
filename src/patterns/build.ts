import { checkInteger, checkOneOf } from '../check.js';
import { ParameterError } from '../errors.js';
import { type RandomOptions, type Rng, type Seed, resolveRng } from '../random.js';
import { setDiagonal, type CSRArrays } from './diagonal.js';
import { BLOCK_SIZES, BlockLayout, type BlockSize, DEFAULT_BLOCK_SIZE, type LayoutParts } from './layout.js';

// Internal helpers shared by the layout constructors and operations (not part of the public API).

/** Most blocks a layout can hold: block ids and rowPtr entries are Int32. */
export const MAX_BLOCKS = 2 ** 31 - 1;

/** The checked shape and block size every rectangular constructor starts from. */
export interface CheckedShape {
  inBlocks: number;
  outBlocks: number;
  blockSize: BlockSize;
}

/** Checks `{inBlocks, outBlocks = inBlocks, blockSize = DEFAULT_BLOCK_SIZE}`. */
export function checkShape(
  options: { inBlocks?: unknown; outBlocks?: unknown; blockSize?: unknown },
  context: string,
): CheckedShape {
  const inBlocks = checkInteger('inBlocks', options.inBlocks, 1, MAX_BLOCKS, context);
  const outBlocks = checkInteger('outBlocks', options.outBlocks ?? inBlocks, 1, MAX_BLOCKS, context);
  const blockSize = checkBlockSize(options.blockSize, context);
  return { inBlocks, outBlocks, blockSize };
}

/** Checks a block size (default DEFAULT_BLOCK_SIZE). */
export function checkBlockSize(value: unknown, context: string): BlockSize {
  return checkOneOf('blockSize', value ?? DEFAULT_BLOCK_SIZE, BLOCK_SIZES, context);
}

/** Checks that `value` is a boolean (default `fallback`); returns it. */
export function checkBoolean(name: string, value: unknown, fallback: boolean, context: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ParameterError(name, 'true or false', value, context);
  return value;
}

/** Raises when `count` blocks would not fit a layout (Int32 block ids). */
export function checkCapacity(count: number, what: string, context: string): void {
  if (count > MAX_BLOCKS) {
    throw new ParameterError(what, `small enough that the layout has at most 2^31 - 1 blocks (it would have ${count})`, count, context);
  }
}

/** `BlockLayout.fromCSR(parts)` with every diagonal block added (`diagonal` true) or removed (false) first. */
export function layoutWithDiagonal(parts: LayoutParts, diagonal: boolean): BlockLayout {
  const { rowPtr, colIdx } = setDiagonal(parts.inBlocks, parts.outBlocks, parts, diagonal);
  return BlockLayout.fromCSR({ ...parts, rowPtr, colIdx });
}

/**
 * Resolves `{seed, rng}` into an Rng and the seed to record in provenance: the given seed; null
 * when an rng was passed; and when neither was given, a fresh seed drawn here so that the result
 * can be reproduced from its provenance.
 */
export function resolveSeed(options: RandomOptions, context: string): { rng: Rng; seed: Seed | null } {
  if (options.rng !== undefined) return { rng: resolveRng(options, context), seed: null };
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  return { rng: resolveRng({ seed }, context), seed };
}

/**
 * A uniform integer in [0, n), exact for n up to 2^53: a single draw carries about 32 random bits
 * (seedrandom's Alea), so large ranges combine two draws.
 */
export function uniformBelow(rng: Rng, n: number): number {
  if (n <= 2 ** 32) return Math.floor(rng() * n);
  const high = Math.floor(rng() * 2 ** 21);
  const low = Math.floor(rng() * 2 ** 32);
  return Math.floor(((high * 2 ** 32 + low) / 2 ** 53) * n);
}

/** A growable Int32 buffer (for columns whose count is not known in advance). */
export class IntBuffer {
  data: Int32Array;
  length = 0;

  constructor(capacity = 64) {
    this.data = new Int32Array(Math.max(8, capacity));
  }

  /** Appends one value. */
  push(value: number): void {
    if (this.length === this.data.length) this.grow(this.length + 1);
    this.data[this.length++] = value;
  }

  /** Appends lo, lo+1, ..., hi (nothing when hi < lo). */
  pushRange(lo: number, hi: number): void {
    if (hi < lo) return;
    const count = hi - lo + 1;
    if (this.length + count > this.data.length) this.grow(this.length + count);
    for (let v = lo; v <= hi; v++) this.data[this.length++] = v;
  }

  /** The values written so far (a trimmed copy). */
  toArray(): Int32Array {
    return this.data.slice(0, this.length);
  }

  private grow(needed: number): void {
    let capacity = this.data.length * 2;
    while (capacity < needed) capacity *= 2;
    const data = new Int32Array(capacity);
    data.set(this.data.subarray(0, this.length));
    this.data = data;
  }
}

/**
 * The transpose of a CSR matrix with `rows` rows and `cols` columns, in O(nnz + rows + cols) by
 * counting sort. The result's rows are sorted whether or not the input's are.
 */
export function transposeCSR(rows: number, cols: number, rowPtr: Int32Array, colIdx: Int32Array): CSRArrays {
  const outPtr = new Int32Array(cols + 1);
  const nnz = rowPtr[rows];
  for (let b = 0; b < nnz; b++) outPtr[colIdx[b] + 1]++;
  for (let k = 0; k < cols; k++) outPtr[k + 1] += outPtr[k];
  const fill = outPtr.slice(0, cols);
  const outIdx = new Int32Array(nnz);
  for (let c = 0; c < rows; c++) {
    for (let b = rowPtr[c]; b < rowPtr[c + 1]; b++) outIdx[fill[colIdx[b]]++] = c;
  }
  return { rowPtr: outPtr, colIdx: outIdx };
}

/**
 * Sorted CSR from `count` distinct (row, col) pairs in any order, in O(count + rows + cols): a
 * counting sort by column, then one by row (a two-pass radix sort). The caller promises distinct
 * pairs in range.
 */
export function csrFromDistinctPairs(
  rows: number,
  cols: number,
  rowOf: ArrayLike<number>,
  colOf: ArrayLike<number>,
  count: number,
): CSRArrays {
  const colPtr = new Int32Array(cols + 1);
  for (let i = 0; i < count; i++) colPtr[colOf[i] + 1]++;
  for (let k = 0; k < cols; k++) colPtr[k + 1] += colPtr[k];
  const fill = colPtr.slice(0, cols);
  const rowIdx = new Int32Array(count);
  for (let i = 0; i < count; i++) rowIdx[fill[colOf[i]]++] = rowOf[i];
  return transposeCSR(cols, rows, colPtr, rowIdx);
}


/**
 * `count` distinct integers drawn uniformly from [0, n) (n < 2^53), sorted ascending: a uniformly
 * random count-subset.
 * - Dense (n < 4 count): Floyd's algorithm into a bitmap (for j = n - m .. n - 1 draw t in [0, j]
 *   and take t, or j when t is taken), on the n - count integers to leave out when that is fewer.
 * - Sparse: the first `count` distinct values of an i.i.d. uniform stream, found in rounds: draw as
 *   many values as are still missing, sort them (bucket sort: they are uniform), drop repeats and
 *   values already taken, merge. Every new distinct value of a round is kept (a round never draws
 *   more than the shortfall), so the result is exactly the stream's first count distinct values,
 *   a uniform subset. Collisions are rare (n >= 4 count), so this is O(count) time and memory
 *   whatever n, with no hash table.
 */
export function sampleSorted(rng: Rng, n: number, count: number): Float64Array {
  if (count === 0) return new Float64Array(0);
  if (n < 4 * count) {
    const leaveOut = 2 * count > n;
    const m = leaveOut ? n - count : count;
    const mark = new Uint8Array(n);
    for (let j = n - m; j < n; j++) {
      const t = uniformBelow(rng, j + 1);
      mark[mark[t] ? j : t] = 1;
    }
    const out = new Float64Array(count);
    const want = leaveOut ? 0 : 1;
    for (let x = 0, w = 0; x < n; x++) if (mark[x] === want) out[w++] = x;
    return out;
  }
  let taken: Float64Array = new Float64Array(0);
  while (taken.length < count) {
    const batch = new Float64Array(count - taken.length);
    for (let i = 0; i < batch.length; i++) batch[i] = uniformBelow(rng, n);
    const before = taken.length;
    taken = mergeDistinct(taken, dedupeSorted(sortUniform(batch, n)));
    // A round that finds nothing new only happens with a degenerate rng (e.g. a constant one);
    // finish with Floyd over the values not yet taken, which is what the stream would give.
    if (taken.length === before) return mergeDistinct(taken, floydOutside(rng, n, taken, count - taken.length));
  }
  return taken;
}

/**
 * `count` distinct integers drawn uniformly from [0, n) minus the sorted values `taken`, sorted:
 * Floyd's algorithm on ranks in the complement, then each rank mapped to its value.
 */
function floydOutside(rng: Rng, n: number, taken: Float64Array, count: number): Float64Array {
  const size = n - taken.length;
  const chosen = new Set<number>();
  for (let j = size - count; j < size; j++) {
    const t = uniformBelow(rng, j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  const ranks = Float64Array.from(chosen).sort();
  const out = new Float64Array(count);
  let p = 0; // taken values <= the current candidate
  for (let i = 0; i < count; i++) {
    let value = ranks[i] + p;
    while (p < taken.length && taken[p] <= value) value = ranks[i] + ++p;
    out[i] = value;
  }
  return out;
}

/** Sorts values spread roughly uniformly over [0, n): a bucket sort, one bucket per value on average. */
function sortUniform(values: Float64Array, n: number): Float64Array {
  const count = values.length;
  const start = new Int32Array(count + 1);
  const bucket = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const b = Math.min(count - 1, Math.floor((values[i] / n) * count));
    bucket[i] = b;
    start[b + 1]++;
  }
  for (let b = 0; b < count; b++) start[b + 1] += start[b];
  const fill = start.slice(0, count);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[fill[bucket[i]]++] = values[i];
  for (let b = 0; b < count; b++) {
    const lo = start[b];
    const hi = start[b + 1];
    if (hi - lo > 32) out.subarray(lo, hi).sort(); // only with a skewed rng
    else {
      for (let i = lo + 1; i < hi; i++) {
        const x = out[i];
        let j = i - 1;
        while (j >= lo && out[j] > x) {
          out[j + 1] = out[j];
          j--;
        }
        out[j + 1] = x;
      }
    }
  }
  return out;
}

/** A sorted array without its repeats. */
function dedupeSorted(sorted: Float64Array): Float64Array {
  let w = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[w++] = sorted[i];
  return sorted.subarray(0, w);
}

/** The sorted union of two sorted arrays of distinct values. */
function mergeDistinct(a: Float64Array, b: Float64Array): Float64Array {
  if (a.length === 0) return b.slice();
  const out = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let w = 0;
  while (i < a.length && j < b.length) {
    if (a[i] < b[j]) out[w++] = a[i++];
    else if (a[i] > b[j]) out[w++] = b[j++];
    else {
      out[w++] = a[i++];
      j++;
    }
  }
  while (i < a.length) out[w++] = a[i++];
  while (j < b.length) out[w++] = b[j++];
  return out.subarray(0, w);
}
