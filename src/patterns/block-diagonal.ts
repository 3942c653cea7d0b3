import { checkInteger } from '../check.js';
import { checkLayoutMemory } from './memory.js';
import { ParameterError } from '../errors.js';
import { checkCapacity, checkShape, layoutWithDiagonal } from './build.js';
import { checkDiagonal } from './diagonal.js';
import type { BlockLayout, BlockSize } from './layout.js';

/** Options of `blockDiagonalLayout`. */
export interface BlockDiagonalLayoutOptions {
  inBlocks: number;
  /** Default inBlocks. */
  outBlocks?: number;
  /** Default DEFAULT_BLOCK_SIZE. */
  blockSize?: BlockSize;
  /** Number of dense groups; divides both inBlocks and outBlocks. */
  groups: number;
  /** true (default): every block (i, i) present; false: none. */
  diagonal?: boolean;
}

/**
 * A block-diagonal layout: `groups` independent dense groups (as in grouped convolutions or a
 * mixture of small experts). Group g joins input blocks [g*inBlocks/groups, (g+1)*inBlocks/groups)
 * to output blocks [g*outBlocks/groups, (g+1)*outBlocks/groups), all of them. With `diagonal` true
 * the blocks (i, i) are added where a rectangular shape puts them outside the groups; with false
 * they are removed.
 *
 * Raises ParameterError (naming `groups`) unless groups is an integer >= 1 dividing both
 * inBlocks and outBlocks. Provenance: generator 'block-diagonal'.
 */
export function blockDiagonalLayout(options: BlockDiagonalLayoutOptions): BlockLayout {
  const context = 'blockDiagonalLayout';
  const { inBlocks, outBlocks, blockSize } = checkShape(options, context);
  const groups = checkInteger('groups', options.groups, 1, Math.min(inBlocks, outBlocks), context);
  const diagonal = checkDiagonal(options.diagonal, context);
  if (inBlocks % groups !== 0 || outBlocks % groups !== 0) {
    throw new ParameterError('groups', `a common divisor of inBlocks (${inBlocks}) and outBlocks (${outBlocks})`, groups, context);
  }
  const rowsPerGroup = inBlocks / groups;
  const colsPerGroup = outBlocks / groups;
  checkCapacity(inBlocks * colsPerGroup, 'groups', context);
  checkLayoutMemory(context, inBlocks, outBlocks, inBlocks * colsPerGroup);
  const rowPtr = new Int32Array(inBlocks + 1);
  const colIdx = new Int32Array(inBlocks * colsPerGroup);
  for (let c = 0, w = 0; c < inBlocks; c++) {
    const first = Math.floor(c / rowsPerGroup) * colsPerGroup;
    for (let k = first; k < first + colsPerGroup; k++) colIdx[w++] = k;
    rowPtr[c + 1] = w;
  }
  const provenance = { generator: 'block-diagonal', params: { inBlocks, outBlocks, blockSize, groups, diagonal }, seed: null };
  return layoutWithDiagonal({ inBlocks, outBlocks, blockSize, rowPtr, colIdx, provenance }, diagonal);
}
