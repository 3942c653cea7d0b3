import { checkInteger } from '../check.js';
import { checkLayoutMemory } from './memory.js';
import { ParameterError } from '../errors.js';
import { IntBuffer, checkBoolean, checkCapacity, checkShape, layoutWithDiagonal } from './build.js';
import { checkDiagonal } from './diagonal.js';
import type { BlockLayout, BlockSize } from './layout.js';

/** Options of `bandedLayout`. */
export interface BandedLayoutOptions {
  inBlocks: number;
  /** Default inBlocks. */
  outBlocks?: number;
  /** Default DEFAULT_BLOCK_SIZE. */
  blockSize?: BlockSize;
  /** Blocks on each side of the (scaled) diagonal, counted in output blocks along each row. */
  bandwidth: number;
  /** Circular distance (a circulant layout); square only. Default false. */
  wrap?: boolean;
  /** true (default): every block (i, i) present; false: none. */
  diagonal?: boolean;
}

/**
 * A banded layout: each input block feeds the output blocks near it.
 *
 * Square (inBlocks = outBlocks = n): block (c, k) is present when |c - k| <= bandwidth, or with
 * `wrap` when the circular distance min(|c - k|, n - |c - k|) <= bandwidth.
 *
 * Rectangular: the band follows the scaled diagonal, the line k = c * outBlocks / inBlocks from
 * corner to corner. Input row c covers [c, c+1), which the line maps to the output interval
 * [c * outBlocks/inBlocks, (c+1) * outBlocks/inBlocks); call the output blocks that interval
 * overlaps kLo(c)..kHi(c) (one block when outBlocks <= inBlocks). Row c then holds
 * kLo(c) - bandwidth .. kHi(c) + bandwidth (clipped to the layout): the bandwidth is counted in
 * output blocks along each row. bandwidth 0 gives the "staircase" where each input block feeds the
 * output blocks it overlaps; for square shapes this is exactly |c - k| <= bandwidth. With
 * `diagonal` true the blocks (i, i) are added even where the scaled band misses them.
 *
 * Parameters: `inBlocks`, `outBlocks` (default inBlocks); `bandwidth`, an integer in
 * [0, max(inBlocks, outBlocks) - 1]; `wrap` (square only); `diagonal`; `blockSize`.
 *
 * Raises ParameterError for anything else, and (naming `wrap`) for wrap with a rectangular shape.
 * Provenance: generator 'banded'.
 */
export function bandedLayout(options: BandedLayoutOptions): BlockLayout {
  const context = 'bandedLayout';
  const { inBlocks, outBlocks, blockSize } = checkShape(options, context);
  const bandwidth = checkInteger('bandwidth', options.bandwidth, 0, Math.max(inBlocks, outBlocks) - 1, context);
  const wrap = checkBoolean('wrap', options.wrap, false, context);
  const diagonal = checkDiagonal(options.diagonal, context);
  if (wrap && inBlocks !== outBlocks) {
    throw new ParameterError('wrap', `false for a rectangular ${inBlocks} x ${outBlocks} layout (wrapping needs inBlocks === outBlocks)`, wrap, context);
  }
  const most = Math.min(inBlocks * outBlocks, inBlocks * (2 * bandwidth + 1 + Math.ceil(outBlocks / inBlocks)));
  checkCapacity(most, 'bandwidth', context);
  checkLayoutMemory(context, inBlocks, outBlocks, most, 3);

  const rowPtr = new Int32Array(inBlocks + 1);
  const cols = new IntBuffer(inBlocks * Math.min(outBlocks, 2 * bandwidth + 2));
  const n = inBlocks;
  for (let c = 0; c < inBlocks; c++) {
    if (wrap) {
      if (2 * bandwidth + 1 >= n) cols.pushRange(0, n - 1);
      else if (c - bandwidth < 0) {
        cols.pushRange(0, c + bandwidth);
        cols.pushRange(n + c - bandwidth, n - 1);
      } else if (c + bandwidth >= n) {
        cols.pushRange(0, c + bandwidth - n);
        cols.pushRange(c - bandwidth, n - 1);
      } else cols.pushRange(c - bandwidth, c + bandwidth);
    } else {
      // Output blocks overlapped by [c*out/in, (c+1)*out/in), in exact integer arithmetic.
      const kLo = floorDiv(c * outBlocks, inBlocks);
      const kHi = ceilDiv((c + 1) * outBlocks, inBlocks) - 1;
      cols.pushRange(Math.max(0, kLo - bandwidth), Math.min(outBlocks - 1, kHi + bandwidth));
    }
    rowPtr[c + 1] = cols.length;
  }
  const provenance = { generator: 'banded', params: { inBlocks, outBlocks, blockSize, bandwidth, wrap, diagonal }, seed: null };
  return layoutWithDiagonal({ inBlocks, outBlocks, blockSize, rowPtr, colIdx: cols.toArray(), provenance }, diagonal);
}

/** floor(a / b) for non-negative integers a < 2^53, b >= 1. */
function floorDiv(a: number, b: number): number {
  return (a - (a % b)) / b;
}

/** ceil(a / b) for non-negative integers a < 2^53, b >= 1. */
function ceilDiv(a: number, b: number): number {
  return floorDiv(a + b - 1, b);
}
