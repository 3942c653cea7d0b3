import { checkInteger, checkProbability } from '../check.js';
import { checkLayoutMemory } from './memory.js';
import { ParameterError } from '../errors.js';
import type { RandomOptions } from '../random.js';
import { MAX_BLOCKS, checkShape, layoutWithDiagonal, resolveSeed, sampleSorted } from './build.js';
import { checkDiagonal, diagonalLength } from './diagonal.js';
import type { BlockLayout, BlockSize } from './layout.js';

/** Options of `randomLayout`: give exactly one of `nnz` and `density`. */
export interface RandomLayoutOptions extends RandomOptions {
  inBlocks: number;
  /** Default inBlocks. */
  outBlocks?: number;
  /** Default DEFAULT_BLOCK_SIZE. */
  blockSize?: BlockSize;
  /** Exact number of blocks, counting the diagonal blocks when `diagonal` is true. */
  nnz?: number;
  /** Fraction of all blocks: nnz = round(density * inBlocks * outBlocks). */
  density?: number;
  /** true (default): all min(inBlocks, outBlocks) blocks (i, i) present; false: none. */
  diagonal?: boolean;
}

/**
 * A uniformly random layout with exactly `nnz` blocks.
 *
 * With `diagonal` true the min(inBlocks, outBlocks) diagonal blocks are present and the other
 * nnz - min(inBlocks, outBlocks) blocks are a uniform sample (without replacement) of the
 * off-diagonal positions; with `diagonal` false all nnz blocks are a uniform sample of the
 * off-diagonal positions. Sampling is Floyd's algorithm over the off-diagonal positions with a
 * typed hash set, O(nnz log nnz) time and O(nnz) memory whatever the shape (so 1e6 x 1e6 blocks
 * with a few million present is cheap); when more than half the positions are taken it samples the
 * positions to leave out instead.
 *
 * Parameters:
 * - `inBlocks`, `outBlocks` (default inBlocks): the shape, integers >= 1.
 * - `nnz`: an integer in [d, inBlocks*outBlocks] with diagonal (d = min(inBlocks, outBlocks)),
 *   in [0, inBlocks*outBlocks - d] without; or
 * - `density`: a number in [0, 1], turned into nnz = round(density * inBlocks * outBlocks), which
 *   must then lie in the same range.
 * - `seed` or `rng`: the same seed gives the same layout. Provenance records the seed (a fresh
 *   one is drawn and recorded when neither is given; null when an rng is passed).
 *
 * Raises ParameterError when both or neither of nnz and density are given, or a count is out of
 * range (naming the parameter and the range). Provenance: generator 'random'.
 */
export function randomLayout(options: RandomLayoutOptions): BlockLayout {
  const context = 'randomLayout';
  const { inBlocks, outBlocks, blockSize } = checkShape(options, context);
  const diagonal = checkDiagonal(options.diagonal, context);
  const total = inBlocks * outBlocks;
  const d = diagonalLength(inBlocks, outBlocks);
  const lo = diagonal ? d : 0;
  const hi = Math.min(diagonal ? total : total - d, MAX_BLOCKS);
  const range = `[${lo}, ${hi}] (${diagonal ? `at least the ${d} diagonal blocks` : `the ${total - d} off-diagonal positions`} of a ${inBlocks} x ${outBlocks} layout)`;
  let nnz: number;
  const density = options.density;
  if (options.nnz !== undefined && density !== undefined) {
    throw new ParameterError('nnz', 'given alone: pass exactly one of nnz and density', options.nnz, context);
  }
  if (options.nnz !== undefined) {
    nnz = checkInteger('nnz', options.nnz, lo, hi, context);
  } else if (density !== undefined) {
    checkProbability('density', density, context);
    nnz = Math.round(density * total);
    if (nnz < lo || nnz > hi) {
      throw new ParameterError('density', `such that round(density * ${total}) is in ${range}`, density, context);
    }
  } else {
    throw new ParameterError('nnz', 'given (or density)', undefined, context);
  }
  if (nnz < lo || nnz > hi) throw new ParameterError('nnz', `an integer in ${range}`, nnz, context);
  const { rng, seed } = resolveSeed(options, context);

  const offDiagonal = total - d;
  // The sample (Float64) and, when dense, the sampler's bitmap of every position.
  const sampled = nnz - (diagonal ? d : 0);
  checkLayoutMemory(context, inBlocks, outBlocks, nnz, 2, 8 * sampled + (offDiagonal < 4 * sampled ? offDiagonal : 0));
  const picks = sampleSorted(rng, offDiagonal, nnz - (diagonal ? d : 0));
  // Map off-diagonal position t (row-major, skipping the diagonal) to (c, k). Rows c < d have
  // outBlocks - 1 off-diagonal positions, the others outBlocks.
  const rowPtr = new Int32Array(inBlocks + 1);
  const colIdx = new Int32Array(picks.length);
  const short = outBlocks - 1;
  const firstPart = d * short;
  for (let i = 0; i < picks.length; i++) {
    const t = picks[i];
    let c: number;
    let k: number;
    if (t < firstPart) {
      c = Math.floor(t / short);
      const r = t - c * short;
      k = r < c ? r : r + 1;
    } else {
      const u = t - firstPart;
      const row = Math.floor(u / outBlocks);
      c = d + row;
      k = u - row * outBlocks;
    }
    colIdx[i] = k;
    rowPtr[c + 1]++;
  }
  for (let c = 0; c < inBlocks; c++) rowPtr[c + 1] += rowPtr[c];
  const provenance = { generator: 'random', params: { inBlocks, outBlocks, blockSize, nnz, density: density ?? null, diagonal }, seed };
  return layoutWithDiagonal({ inBlocks, outBlocks, blockSize, rowPtr, colIdx, provenance }, diagonal);
}
