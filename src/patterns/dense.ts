import { checkCapacity, checkShape, layoutWithDiagonal } from './build.js';
import { checkLayoutMemory } from './memory.js';
import { checkDiagonal } from './diagonal.js';
import type { BlockLayout, BlockSize } from './layout.js';

/** Options of `denseLayout`. */
export interface DenseLayoutOptions {
  inBlocks: number;
  /** Default inBlocks. */
  outBlocks?: number;
  /** Default DEFAULT_BLOCK_SIZE. */
  blockSize?: BlockSize;
  /** true (default): every block; false: every block except the diagonal ones (i, i). */
  diagonal?: boolean;
}

/**
 * The dense layout: every input block feeds every output block (an ordinary dense layer cut into
 * blocks), the baseline every sparse pattern is compared with. Provenance: generator 'dense'.
 *
 * Raises ParameterError for a bad shape or block size, or when inBlocks * outBlocks exceeds the
 * 2^31 - 1 blocks a layout can hold.
 */
export function denseLayout(options: DenseLayoutOptions): BlockLayout {
  const context = 'denseLayout';
  const { inBlocks, outBlocks, blockSize } = checkShape(options, context);
  const diagonal = checkDiagonal(options.diagonal, context);
  checkCapacity(inBlocks * outBlocks, 'inBlocks * outBlocks', context);
  checkLayoutMemory(context, inBlocks, outBlocks, inBlocks * outBlocks);
  const rowPtr = new Int32Array(inBlocks + 1);
  const colIdx = new Int32Array(inBlocks * outBlocks);
  for (let c = 0; c < inBlocks; c++) {
    rowPtr[c + 1] = (c + 1) * outBlocks;
    for (let k = 0; k < outBlocks; k++) colIdx[c * outBlocks + k] = k;
  }
  const provenance = { generator: 'dense', params: { inBlocks, outBlocks, blockSize, diagonal }, seed: null };
  return layoutWithDiagonal({ inBlocks, outBlocks, blockSize, rowPtr, colIdx, provenance }, diagonal);
}
