import { diagonalBlockCount } from './diagonal.js';
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

/** Min, mean (sum / length) and max of a degree array. */
function degreeStats(degrees: Int32Array, total: number): DegreeStats {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < degrees.length; i++) {
    const x = degrees[i];
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { min, mean: total / degrees.length, max };
}

/** Number of zeros in an array. */
function countZeros(values: Int32Array): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) count++;
  return count;
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
 * symmetry, diagonal blocks, empty rows and columns, provenance. O(nnz + inBlocks + outBlocks);
 * never builds the dense mask, so it works for 1e6 x 1e6-block layouts.
 */
export function summarize(layout: BlockLayout): LayoutSummary {
  const { inBlocks, outBlocks, blockSize, nnz } = layout;
  const inDegrees = layout.inDegrees();
  const outDegrees = layout.outDegrees();
  return {
    inBlocks,
    outBlocks,
    blockSize,
    inFeatures: layout.inFeatures,
    outFeatures: layout.outFeatures,
    nnz,
    density: layout.density,
    parameters: nnz * blockSize * blockSize,
    inDegree: degreeStats(inDegrees, nnz),
    outDegree: degreeStats(outDegrees, nnz),
    symmetric: isSymmetric(layout),
    diagonalBlocks: diagonalBlockCount(layout),
    emptyRows: countZeros(outDegrees),
    emptyColumns: countZeros(inDegrees),
    provenance: layout.provenance,
  };
}
