import { ParameterError } from '../errors.js';
import { checkLayoutMemory } from './memory.js';
import type { BlockLayout } from './layout.js';

/*
 * The shared meaning of every constructor's `diagonal: boolean` option. The diagonal blocks of an
 * inBlocks x outBlocks layout are (i, i) for i < min(inBlocks, outBlocks): input block i feeding
 * output block i (in an RNN or a residual-style layer, a unit's own state). `diagonal: true`
 * guarantees all of them are present, `false` that none is. Where a constructor promises an exact
 * count (random nnz, fan-in), the count includes the diagonal blocks when `diagonal` is true.
 */

/** Raw CSR arrays (row pointers and sorted column indices). */
export interface CSRArrays {
  rowPtr: Int32Array;
  colIdx: Int32Array;
}

/** Checks a `diagonal` option (default true); returns it. */
export function checkDiagonal(value: unknown, context?: string): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw new ParameterError('diagonal', 'true or false', value, context);
  return value;
}

/** Number of diagonal positions (i, i) of an inBlocks x outBlocks layout: min(inBlocks, outBlocks). */
export function diagonalLength(inBlocks: number, outBlocks: number): number {
  return Math.min(inBlocks, outBlocks);
}

/** Whether row c of a sorted CSR holds column k (binary search). */
function rowHas(rowPtr: Int32Array, colIdx: Int32Array, c: number, k: number): boolean {
  let lo = rowPtr[c];
  let hi = rowPtr[c + 1] - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const x = colIdx[mid];
    if (x === k) return true;
    if (x < k) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Number of diagonal blocks (i, i) present in a sorted CSR. */
export function countDiagonalBlocks(inBlocks: number, outBlocks: number, rowPtr: Int32Array, colIdx: Int32Array): number {
  const d = diagonalLength(inBlocks, outBlocks);
  let count = 0;
  for (let i = 0; i < d; i++) if (rowHas(rowPtr, colIdx, i, i)) count++;
  return count;
}

/** Number of diagonal blocks (i, i) present in a layout. */
export function diagonalBlockCount(layout: BlockLayout): number {
  return countDiagonalBlocks(layout.inBlocks, layout.outBlocks, layout.rowPtr, layout.colIdx);
}

/**
 * A sorted CSR with every diagonal block added (`diagonal` true) or removed (false), in
 * O(nnz + inBlocks). Returns the input arrays themselves when nothing changes.
 */
export function setDiagonal(inBlocks: number, outBlocks: number, csr: CSRArrays, diagonal: boolean): CSRArrays {
  const { rowPtr, colIdx } = csr;
  const d = diagonalLength(inBlocks, outBlocks);
  const present = countDiagonalBlocks(inBlocks, outBlocks, rowPtr, colIdx);
  if ((diagonal && present === d) || (!diagonal && present === 0)) return csr;
  const nnz = rowPtr[inBlocks] + (diagonal ? d - present : -present);
  checkLayoutMemory(diagonal ? 'adding the diagonal blocks' : 'removing the diagonal blocks', inBlocks, outBlocks, nnz, 1);
  const outPtr = new Int32Array(inBlocks + 1);
  const outIdx = new Int32Array(nnz);
  let w = 0;
  for (let c = 0; c < inBlocks; c++) {
    const start = rowPtr[c];
    const end = rowPtr[c + 1];
    if (c >= d) {
      outIdx.set(colIdx.subarray(start, end), w);
      w += end - start;
    } else if (diagonal) {
      let inserted = false;
      for (let b = start; b < end; b++) {
        const k = colIdx[b];
        if (!inserted && k >= c) {
          if (k !== c) outIdx[w++] = c;
          inserted = true;
        }
        outIdx[w++] = k;
      }
      if (!inserted) outIdx[w++] = c;
    } else {
      for (let b = start; b < end; b++) if (colIdx[b] !== c) outIdx[w++] = colIdx[b];
    }
    outPtr[c + 1] = w;
  }
  return { rowPtr: outPtr, colIdx: outIdx };
}
