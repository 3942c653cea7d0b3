import { checkMemory } from '../budget.js';
import { diagonalBlockCount } from './diagonal.js';
import { describeLayoutSize } from './memory.js';
import type { BlockLayout, BlockSize, Provenance } from './layout.js';

/** Minimum, mean and maximum of a degree sequence. */
export interface DegreeStats {
  min: number;
  mean: number;
  max: number;
}

/** The headline numbers of a layout; a plain JSON-serialisable object. */
export interface LayoutSummary {
  inBlocks: number;
  outBlocks: number;
  blockSize: BlockSize;
  /** inBlocks * blockSize. */
  inFeatures: number;
  /** outBlocks * blockSize. */
  outFeatures: number;
  /** Present blocks. */
  nnz: number;
  /** nnz / (inBlocks * outBlocks). */
  density: number;
  /** Weights: nnz * blockSize^2. */
  parameters: number;
  /** Fan-in: input blocks per output block. */
  inDegree: DegreeStats;
  /** Fan-out: output blocks per input block. */
  outDegree: DegreeStats;
  /** Square and equal to its transpose. */
  symmetric: boolean;
  /** Diagonal blocks (i, i) present, of min(inBlocks, outBlocks). */
  diagonalBlocks: number;
  /** Input blocks that feed nothing (empty rows). */
  emptyRows: number;
  /** Output blocks fed by nothing (empty columns). */
  emptyColumns: number;
  provenance: Provenance;
}

/**
 * Fan-out statistics and empty rows, read off rowPtr: O(inBlocks) time, no allocation.
 */
function outDegreeStats(layout: BlockLayout): { stats: DegreeStats; empty: number } {
  const { rowPtr, inBlocks, nnz } = layout;
  let min = Infinity;
  let max = -Infinity;
  let empty = 0;
  for (let c = 0; c < inBlocks; c++) {
    const d = rowPtr[c + 1] - rowPtr[c];
    if (d < min) min = d;
    if (d > max) max = d;
    if (d === 0) empty++;
  }
  return { stats: { min, mean: nnz / inBlocks, max }, empty };
}

/**
 * Fan-in statistics and empty columns. When outBlocks is no larger than the layout's own arrays,
 * from a count per column; otherwise (a wide layout with few blocks, e.g. 1 x 2^31 - 2) from a
 * sorted copy of colIdx, so the memory is O(nnz) and never O(outBlocks).
 */
function inDegreeStats(layout: BlockLayout): { stats: DegreeStats; empty: number } {
  const { outBlocks, nnz, inBlocks } = layout;
  const mean = nnz / outBlocks;
  if (outBlocks <= nnz + inBlocks + 1) {
    const degrees = layout.inDegrees();
    let min = Infinity;
    let max = -Infinity;
    let empty = 0;
    for (let k = 0; k < outBlocks; k++) {
      const d = degrees[k];
      if (d < min) min = d;
      if (d > max) max = d;
      if (d === 0) empty++;
    }
    return { stats: { min, mean, max }, empty };
  }
  checkMemory(`the in-degree summary of a layout of ${describeLayoutSize(inBlocks, outBlocks, nnz)}`, 4 * nnz);
  const sorted = layout.colIdx.slice().sort();
  let distinct = 0;
  let max = 0;
  let minRun = Infinity;
  for (let i = 0; i < nnz; ) {
    let j = i + 1;
    while (j < nnz && sorted[j] === sorted[i]) j++;
    distinct++;
    if (j - i > max) max = j - i;
    if (j - i < minRun) minRun = j - i;
    i = j;
  }
  const empty = outBlocks - distinct;
  return { stats: { min: empty > 0 ? 0 : minRun, mean, max }, empty };
}

/** Whether a layout is square and equal to its transpose (O(nnz), via the cached column view). */
export function isSymmetric(layout: BlockLayout): boolean {
  if (!layout.isSquare) return false;
  const { colPtr, rowIdx } = layout.columns();
  // Column k of a symmetric layout lists the same blocks as row k, both sorted ascending.
  const { rowPtr, colIdx } = layout;
  for (let i = 0; i <= layout.inBlocks; i++) if (colPtr[i] !== rowPtr[i]) return false;
  for (let b = 0; b < layout.nnz; b++) if (rowIdx[b] !== colIdx[b]) return false;
  return true;
}

/**
 * The summary of a layout: shape, nnz, density, weight count, fan-in and fan-out statistics,
 * symmetry, diagonal blocks, empty rows and columns, provenance. O(nnz + inBlocks) memory (a
 * per-column count only when outBlocks is no larger than that); never builds the dense mask, so
 * it works for 1e6 x 1e6-block layouts and for 1 x 2^31 - 2 ones.
 */
export function summarize(layout: BlockLayout): LayoutSummary {
  const { inBlocks, outBlocks, blockSize, nnz } = layout;
  const inDegree = inDegreeStats(layout);
  const outDegree = outDegreeStats(layout);
  return {
    inBlocks,
    outBlocks,
    blockSize,
    inFeatures: layout.inFeatures,
    outFeatures: layout.outFeatures,
    nnz,
    density: layout.density,
    parameters: nnz * blockSize * blockSize,
    inDegree: inDegree.stats,
    outDegree: outDegree.stats,
    symmetric: isSymmetric(layout),
    diagonalBlocks: diagonalBlockCount(layout),
    emptyRows: outDegree.empty,
    emptyColumns: inDegree.empty,
    provenance: layout.provenance,
  };
}
