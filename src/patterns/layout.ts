import { checkInteger, checkOneOf } from '../check.js';
import { ParameterError, ShapeError } from '../errors.js';
import type { Seed } from '../random.js';
import { checkMemory } from '../budget.js';
import { checkLayoutMemory, checkViewMemory, describeLayoutSize } from './memory.js';

/** Block sizes the kernels support: a block is a bs x bs float32 matrix. */
export const BLOCK_SIZES = [8, 16, 32] as const;
/** One of 8, 16, 32. */
export type BlockSize = (typeof BLOCK_SIZES)[number];
/** Block size used when none is given (as OpenAI's blocksparse). */
export const DEFAULT_BLOCK_SIZE: BlockSize = 32;

/**
 * Where a layout came from: the generator (or operation) name, its parameters, its seed, and for
 * derived layouts (transpose, union, pruning, ...) the provenance of the layouts it was made from.
 * Everything in it is JSON-serialisable.
 */
export interface Provenance {
  generator: string;
  params: Record<string, unknown>;
  seed?: Seed | null;
  sources?: Provenance[];
}

/** The raw parts of a layout: CSR over input-block rows with sorted column indices. */
export interface LayoutParts {
  inBlocks: number;
  outBlocks: number;
  blockSize?: BlockSize;
  rowPtr: Int32Array;
  colIdx: Int32Array;
  provenance?: Provenance;
}

/** Column-major view for the forward kernel: output block k's inputs are rows[colPtr[k]..colPtr[k+1]). */
export interface ColumnView {
  readonly colPtr: Int32Array;
  readonly rowIdx: Int32Array;
  /** Block id (position in the row-major order) of each entry. */
  readonly blockId: Int32Array;
}

/** Every present block as a (c, k) pair, in block-id order (for the weight-gradient kernel). */
export interface PairView {
  readonly rows: Int32Array;
  readonly cols: Int32Array;
}

/**
 * A block-sparsity pattern: `inBlocks` x `outBlocks` blocks of `blockSize` x `blockSize`, where
 * block (c, k) present means input block c feeds output block k (Y[N, K] = X[N, C] . W).
 * Stored as CSR over input-block rows with sorted columns; block id = position in that order.
 * Immutable: every operation returns a new layout; do not write to the typed arrays.
 */
export class BlockLayout {
  readonly inBlocks: number;
  readonly outBlocks: number;
  readonly blockSize: BlockSize;
  readonly rowPtr: Int32Array;
  readonly colIdx: Int32Array;
  readonly provenance: Provenance;
  #columns: ColumnView | undefined;
  #pairs: PairView | undefined;

  private constructor(parts: Required<LayoutParts>) {
    this.inBlocks = parts.inBlocks;
    this.outBlocks = parts.outBlocks;
    this.blockSize = parts.blockSize;
    this.rowPtr = parts.rowPtr;
    this.colIdx = parts.colIdx;
    this.provenance = parts.provenance;
    Object.freeze(this);
  }

  /** A layout from its CSR parts, validated (shape, sorted unique in-range columns, block size). */
  static fromCSR(parts: LayoutParts): BlockLayout {
    const inBlocks = checkInteger('inBlocks', parts.inBlocks, 1);
    const outBlocks = checkInteger('outBlocks', parts.outBlocks, 1);
    const blockSize = checkOneOf('blockSize', parts.blockSize ?? DEFAULT_BLOCK_SIZE, BLOCK_SIZES);
    const { rowPtr, colIdx } = parts;
    if (!(rowPtr instanceof Int32Array) || rowPtr.length !== inBlocks + 1) {
      throw new ParameterError('rowPtr', `an Int32Array of length inBlocks + 1 = ${inBlocks + 1}`, rowPtr);
    }
    if (!(colIdx instanceof Int32Array) || rowPtr[0] !== 0 || rowPtr[inBlocks] !== colIdx.length) {
      throw new ParameterError('colIdx', `an Int32Array of length rowPtr[inBlocks] = ${rowPtr[inBlocks]} with rowPtr[0] = 0`, colIdx);
    }
    for (let c = 0; c < inBlocks; c++) {
      const start = rowPtr[c];
      const end = rowPtr[c + 1];
      if (end < start) throw new ParameterError('rowPtr', 'non-decreasing', `rowPtr[${c + 1}] < rowPtr[${c}]`);
      for (let i = start; i < end; i++) {
        const k = colIdx[i];
        if (k < 0 || k >= outBlocks) throw new ParameterError('colIdx', `in [0, ${outBlocks - 1}]`, `${k} in row ${c}`);
        if (i > start && k <= colIdx[i - 1]) {
          throw new ParameterError('colIdx', 'strictly increasing within each row (no duplicate blocks)', `row ${c}`);
        }
      }
    }
    const provenance = parts.provenance ?? { generator: 'custom', params: {} };
    return new BlockLayout({ inBlocks, outBlocks, blockSize, rowPtr, colIdx, provenance });
  }

  /**
   * A layout from (c, k) pairs in any order. Repeated pairs raise unless `duplicates` is 'merge'.
   */
  static fromPairs(
    shape: { inBlocks: number; outBlocks: number; blockSize?: BlockSize },
    rows: ArrayLike<number>,
    cols: ArrayLike<number>,
    options: { provenance?: Provenance; duplicates?: 'error' | 'merge' } = {},
  ): BlockLayout {
    const inBlocks = checkInteger('inBlocks', shape.inBlocks, 1);
    const outBlocks = checkInteger('outBlocks', shape.outBlocks, 1);
    if (rows.length !== cols.length) throw new ShapeError(`rows has ${rows.length} entries but cols has ${cols.length}`);
    const count = rows.length;
    // rowPtr, its fill copy, outPtr and colIdx.
    checkLayoutMemory('BlockLayout.fromPairs', inBlocks, outBlocks, count, 1, 8 * (inBlocks + 1));
    const rowPtr = new Int32Array(inBlocks + 1);
    for (let i = 0; i < count; i++) {
      const c = rows[i];
      const k = cols[i];
      if (!Number.isInteger(c) || c < 0 || c >= inBlocks) throw new ParameterError('rows', `integers in [0, ${inBlocks - 1}]`, c);
      if (!Number.isInteger(k) || k < 0 || k >= outBlocks) throw new ParameterError('cols', `integers in [0, ${outBlocks - 1}]`, k);
      rowPtr[c + 1]++;
    }
    for (let c = 0; c < inBlocks; c++) rowPtr[c + 1] += rowPtr[c];
    const fill = rowPtr.slice(0, inBlocks);
    const colIdx = new Int32Array(count);
    for (let i = 0; i < count; i++) colIdx[fill[rows[i]]++] = cols[i];
    // Sort each row, then drop or reject repeats.
    let w = 0;
    const outPtr = new Int32Array(inBlocks + 1);
    for (let c = 0; c < inBlocks; c++) {
      const row = colIdx.subarray(rowPtr[c], rowPtr[c + 1]);
      row.sort();
      for (let i = 0; i < row.length; i++) {
        if (i > 0 && row[i] === row[i - 1]) {
          if (options.duplicates === 'merge') continue;
          throw new ParameterError('pairs', 'free of repeated blocks (or pass duplicates: "merge")', `block (${c}, ${row[i]}) twice`);
        }
        colIdx[w++] = row[i];
      }
      outPtr[c + 1] = w;
    }
    return BlockLayout.fromCSR({
      inBlocks,
      outBlocks,
      blockSize: shape.blockSize,
      rowPtr: outPtr,
      colIdx: w === count ? colIdx : colIdx.slice(0, w),
      provenance: options.provenance,
    });
  }

  /** Number of present blocks. */
  get nnz(): number {
    return this.colIdx.length;
  }

  /** Fraction of the inBlocks x outBlocks blocks that are present. */
  get density(): number {
    return this.nnz / (this.inBlocks * this.outBlocks);
  }

  /** Whether inBlocks === outBlocks. */
  get isSquare(): boolean {
    return this.inBlocks === this.outBlocks;
  }

  /** Input features C = inBlocks * blockSize. */
  get inFeatures(): number {
    return this.inBlocks * this.blockSize;
  }

  /** Output features K = outBlocks * blockSize. */
  get outFeatures(): number {
    return this.outBlocks * this.blockSize;
  }

  /** Block id of (c, k), or -1 when absent. */
  blockId(c: number, k: number): number {
    let lo = this.rowPtr[c];
    let hi = this.rowPtr[c + 1] - 1;
    const cols = this.colIdx;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const x = cols[mid];
      if (x === k) return mid;
      if (x < k) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Whether block (c, k) is present. */
  has(c: number, k: number): boolean {
    return c >= 0 && c < this.inBlocks && this.blockId(c, k) >= 0;
  }

  /** Column-major view (cached): for each output block, its input blocks and their block ids. */
  columns(): ColumnView {
    if (this.#columns) return this.#columns;
    const { inBlocks, outBlocks, rowPtr, colIdx } = this;
    checkViewMemory('column view', this.sizeText(), [outBlocks + 1, outBlocks, colIdx.length, colIdx.length]);
    const colPtr = new Int32Array(outBlocks + 1);
    for (let i = 0; i < colIdx.length; i++) colPtr[colIdx[i] + 1]++;
    for (let k = 0; k < outBlocks; k++) colPtr[k + 1] += colPtr[k];
    const fill = colPtr.slice(0, outBlocks);
    const rowIdx = new Int32Array(colIdx.length);
    const blockId = new Int32Array(colIdx.length);
    for (let c = 0; c < inBlocks; c++) {
      for (let b = rowPtr[c]; b < rowPtr[c + 1]; b++) {
        const slot = fill[colIdx[b]]++;
        rowIdx[slot] = c;
        blockId[slot] = b;
      }
    }
    this.#columns = Object.freeze({ colPtr, rowIdx, blockId });
    return this.#columns;
  }

  /** (c, k) of every block in block-id order (cached). */
  pairs(): PairView {
    if (this.#pairs) return this.#pairs;
    checkViewMemory('(c, k) pair view', this.sizeText(), [this.nnz]);
    const rows = new Int32Array(this.nnz);
    for (let c = 0; c < this.inBlocks; c++) rows.fill(c, this.rowPtr[c], this.rowPtr[c + 1]);
    this.#pairs = Object.freeze({ rows, cols: this.colIdx });
    return this.#pairs;
  }

  /** Number of input blocks feeding each output block (fan-in), length outBlocks. */
  inDegrees(): Int32Array {
    const { colPtr } = this.columns();
    checkViewMemory('in-degrees', this.sizeText(), [this.outBlocks]);
    const out = new Int32Array(this.outBlocks);
    for (let k = 0; k < this.outBlocks; k++) out[k] = colPtr[k + 1] - colPtr[k];
    return out;
  }

  /** Number of output blocks each input block feeds (fan-out), length inBlocks. */
  outDegrees(): Int32Array {
    checkViewMemory('out-degrees', this.sizeText(), [this.inBlocks]);
    const out = new Int32Array(this.inBlocks);
    for (let c = 0; c < this.inBlocks; c++) out[c] = this.rowPtr[c + 1] - this.rowPtr[c];
    return out;
  }

  /** The 0/1 block matrix, row-major [inBlocks, outBlocks]. */
  toMask(): Uint8Array {
    const size = this.inBlocks * this.outBlocks;
    if (size > 2 ** 31) throw new ShapeError(`a ${this.inBlocks} x ${this.outBlocks} mask is too large to materialise`);
    checkMemory(`the dense 0/1 mask of a layout of ${this.sizeText()}`, size);
    const mask = new Uint8Array(size);
    for (let c = 0; c < this.inBlocks; c++) {
      for (let b = this.rowPtr[c]; b < this.rowPtr[c + 1]; b++) mask[c * this.outBlocks + this.colIdx[b]] = 1;
    }
    return mask;
  }

  /** Same shape, block size and blocks (provenance is not compared). */
  equals(other: BlockLayout): boolean {
    if (this.inBlocks !== other.inBlocks || this.outBlocks !== other.outBlocks || this.blockSize !== other.blockSize) return false;
    if (this.nnz !== other.nnz) return false;
    for (let i = 0; i <= this.inBlocks; i++) if (this.rowPtr[i] !== other.rowPtr[i]) return false;
    for (let i = 0; i < this.nnz; i++) if (this.colIdx[i] !== other.colIdx[i]) return false;
    return true;
  }

  /** A copy with other provenance (the blocks are shared, not copied). */
  withProvenance(provenance: Provenance): BlockLayout {
    return new BlockLayout({ ...this.parts(), provenance });
  }

  /** A copy with another block size (same blocks; provenance notes the change). */
  withBlockSize(blockSize: BlockSize): BlockLayout {
    checkOneOf('blockSize', blockSize, BLOCK_SIZES);
    return new BlockLayout({ ...this.parts(), blockSize });
  }

  /** "1 x 2147483646 blocks, 5 present", for messages. */
  private sizeText(): string {
    return describeLayoutSize(this.inBlocks, this.outBlocks, this.nnz);
  }

  private parts(): Required<LayoutParts> {
    const { inBlocks, outBlocks, blockSize, rowPtr, colIdx, provenance } = this;
    return { inBlocks, outBlocks, blockSize, rowPtr, colIdx, provenance };
  }
}
