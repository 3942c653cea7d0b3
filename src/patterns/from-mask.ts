import type ndarray from 'ndarray';
import { checkLayoutMemory } from './memory.js';
import { ParameterError } from '../errors.js';
import { IntBuffer, MAX_BLOCKS, checkBlockSize } from './build.js';
import { BlockLayout, type BlockSize, type Provenance } from './layout.js';

/** A mask value: 0/1, false/true (or 0n/1n from a BigInt array). */
export type MaskValue = number | boolean | bigint;

/**
 * A 0/1 block mask of shape [inBlocks, outBlocks]: a 2-D ndarray of any dtype (any strides, so
 * transposed and Fortran-ordered views work), or nested arrays (rows may be typed arrays).
 */
export type MaskInput = ndarray.NdArray<any> | ArrayLike<ArrayLike<MaskValue>>;

/** Options of `layoutFromMask`. */
export interface LayoutFromMaskOptions {
  /** Block size (default DEFAULT_BLOCK_SIZE). */
  blockSize?: BlockSize;
  /** The provenance to record, as given. Default: {generator: 'from-mask', params: {inBlocks, outBlocks, blockSize}, seed: null}. */
  provenance?: Provenance;
}

/** Whether `mask` looks like an ndarray (has `shape`, `stride` and `get`). */
function isNdArray(mask: unknown): mask is ndarray.NdArray<any> {
  const m = mask as Partial<ndarray.NdArray<any>> | null;
  return typeof m === 'object' && m !== null && Array.isArray(m.shape) && Array.isArray(m.stride) && typeof m.get === 'function';
}

/** 0 or 1 for an allowed mask value, -1 otherwise. */
function bit(value: unknown): number {
  if (value === 0 || value === false || value === 0n) return 0;
  if (value === 1 || value === true || value === 1n) return 1;
  return -1;
}

function badValue(c: number, k: number, value: unknown): ParameterError {
  return new ParameterError(`mask[${c}][${k}]`, '0 or 1 (or false/true)', value, 'layoutFromMask');
}

/**
 * The layout whose present blocks are the 1 entries of `mask` ([inBlocks, outBlocks]: row c,
 * column k set means input block c feeds output block k; numpy/PyTorch users' masks in this
 * orientation load as they are). Every value must be exactly 0 or 1 (or false/true).
 *
 * Raises ParameterError naming the position of the first value that is not 0/1 (2, -1, 0.5, NaN,
 * ...), for a mask that is not 2-D, is empty, or has rows of different lengths (ragged).
 */
export function layoutFromMask(mask: MaskInput, options: LayoutFromMaskOptions = {}): BlockLayout {
  const context = 'layoutFromMask';
  const blockSize = checkBlockSize(options.blockSize, context);
  let inBlocks: number;
  let outBlocks: number;
  const cols = new IntBuffer();
  let rowPtr: Int32Array;

  if (isNdArray(mask)) {
    if (mask.shape.length !== 2) throw new ParameterError('mask', 'a 2-D array [inBlocks, outBlocks]', `a ${mask.shape.length}-D array`, context);
    [inBlocks, outBlocks] = mask.shape;
    checkMaskShape(inBlocks, outBlocks);
    checkLayoutMemory(context, inBlocks, outBlocks, 0, 1);
    rowPtr = new Int32Array(inBlocks + 1);
    const { data, offset } = mask;
    const [s0, s1] = mask.stride;
    // Direct indexing for arrays and typed arrays; the ndarray's get() for other stores.
    const direct = Array.isArray(data) || ArrayBuffer.isView(data);
    const store = data as ArrayLike<unknown>;
    for (let c = 0; c < inBlocks; c++) {
      for (let k = 0; k < outBlocks; k++) {
        const value = direct ? store[offset + c * s0 + k * s1] : mask.get(c, k);
        const b = bit(value);
        if (b < 0) throw badValue(c, k, value);
        if (b === 1) cols.push(k);
      }
      rowPtr[c + 1] = cols.length;
    }
  } else {
    if (mask === null || typeof mask !== 'object' || typeof (mask as ArrayLike<unknown>).length !== 'number') {
      throw new ParameterError('mask', 'a 2-D ndarray or nested arrays [inBlocks][outBlocks] of 0/1', mask, context);
    }
    inBlocks = mask.length;
    const first = inBlocks > 0 ? mask[0] : undefined;
    outBlocks = first !== null && typeof first === 'object' && typeof first.length === 'number' ? first.length : -1;
    if (inBlocks > 0 && outBlocks < 0) throw new ParameterError('mask[0]', 'an array (a row of the mask)', first, context);
    checkMaskShape(inBlocks, outBlocks);
    rowPtr = new Int32Array(inBlocks + 1);
    for (let c = 0; c < inBlocks; c++) {
      const row = mask[c];
      if (row === null || typeof row !== 'object' || typeof row.length !== 'number') {
        throw new ParameterError(`mask[${c}]`, 'an array (a row of the mask)', row, context);
      }
      if (row.length !== outBlocks) {
        throw new ParameterError(`mask[${c}]`, `a row of length ${outBlocks} like mask[0] (the mask is ragged)`, `length ${row.length}`, context);
      }
      for (let k = 0; k < outBlocks; k++) {
        const value = row[k];
        const b = bit(value);
        if (b < 0) throw badValue(c, k, value);
        if (b === 1) cols.push(k);
      }
      rowPtr[c + 1] = cols.length;
    }
  }
  const provenance = options.provenance ?? { generator: 'from-mask', params: { inBlocks, outBlocks, blockSize }, seed: null };
  return BlockLayout.fromCSR({ inBlocks, outBlocks, blockSize, rowPtr, colIdx: cols.toArray(), provenance });
}

function checkMaskShape(inBlocks: number, outBlocks: number): void {
  if (!(inBlocks >= 1 && outBlocks >= 1)) {
    throw new ParameterError('mask', 'a non-empty 2-D mask (at least one row and one column)', `shape [${inBlocks}, ${Math.max(outBlocks, 0)}]`, 'layoutFromMask');
  }
  if (inBlocks > MAX_BLOCKS || outBlocks > MAX_BLOCKS) {
    throw new ParameterError('mask', 'at most 2^31 - 1 rows and columns', `shape [${inBlocks}, ${outBlocks}]`, 'layoutFromMask');
  }
}
