import { checkInteger } from '../check.js';
import { checkLayoutMemory } from './memory.js';
import { ParameterError } from '../errors.js';
import type { RandomOptions, Seed } from '../random.js';
import { IntBuffer, MAX_BLOCKS, checkBlockSize, checkBoolean, layoutWithDiagonal, resolveSeed, sampleSorted, transposeCSR } from './build.js';
import { checkDiagonal } from './diagonal.js';
import type { BlockLayout, BlockSize } from './layout.js';

/*
 * Block-sparse attention patterns.
 *
 * ORIENTATION. A sequence of `blocks` blocks (of blockSize tokens each) attends to itself. In our
 * layouts the INPUT blocks (rows) are KEY blocks and the OUTPUT blocks (columns) are QUERY blocks:
 * query block q attends key block j  <=>  block (j, q) is present, so column q lists the keys that
 * query q sees (its fan-in), matching "input block c feeds output block k" of every other layout.
 * Triton's and DeepSpeed's block-sparse attention layouts (and the masks in the papers' figures)
 * are indexed [query, key], i.e. the TRANSPOSE of ours: use `transpose(layout).toMask()` to hand
 * one over, and transpose what you load from them.
 *
 * `causal: true` keeps only keys j <= q (autoregressive models). All these patterns hold the
 * diagonal (a query block always sees its own key block) unless `diagonal: false` removes it.
 */

/** Options every attention pattern takes. */
export interface AttentionCommonOptions {
  /** Sequence length in blocks (the layout is blocks x blocks). */
  blocks: number;
  /** Default DEFAULT_BLOCK_SIZE. */
  blockSize?: BlockSize;
  /** Only keys j <= query q. */
  causal?: boolean;
  /** true (default): every block (i, i) present; false: none. */
  diagonal?: boolean;
}

interface Common {
  blocks: number;
  blockSize: BlockSize;
  causal: boolean;
  diagonal: boolean;
}

function checkCommon(options: AttentionCommonOptions, causalDefault: boolean, context: string): Common {
  return {
    blocks: checkInteger('blocks', options.blocks, 1, MAX_BLOCKS, context),
    blockSize: checkBlockSize(options.blockSize, context),
    causal: checkBoolean('causal', options.causal, causalDefault, context),
    diagonal: checkDiagonal(options.diagonal, context),
  };
}

/**
 * The layout of a pattern given by its rule for one query: `pushKeys(q, keys)` appends the keys
 * query q attends, ascending (at most `perRow` of them). The per-query lists are transposed into
 * our key-row orientation and the diagonal option applied. Provenance: `generator` with `params`
 * {blocks, blockSize, ...ownParams, causal, diagonal} and `seed`.
 */
function attentionLayout(
  common: Common,
  perRow: number,
  pushKeys: (q: number, keys: IntBuffer) => void,
  generator: string,
  ownParams: Record<string, number>,
  seed: Seed | null = null,
): BlockLayout {
  const { blocks: n, blockSize, causal, diagonal } = common;
  checkLayoutMemory(generator, n, n, n * Math.min(n, perRow), 3);
  const queryPtr = new Int32Array(n + 1);
  const keys = new IntBuffer(n * Math.min(n, perRow));
  for (let q = 0; q < n; q++) {
    pushKeys(q, keys);
    queryPtr[q + 1] = keys.length;
  }
  const keyRows = transposeCSR(n, n, queryPtr, keys.toArray());
  const provenance = { generator, params: { blocks: n, blockSize, ...ownParams, causal, diagonal }, seed };
  return layoutWithDiagonal({ inBlocks: n, outBlocks: n, blockSize, ...keyRows, provenance }, diagonal);
}

function checkRowCapacity(blocks: number, perRow: number, context: string): void {
  if (blocks * Math.min(blocks, perRow) > MAX_BLOCKS) {
    throw new ParameterError('blocks', 'small enough that the layout has at most 2^31 - 1 blocks', blocks, context);
  }
}

/** Options of `slidingWindowLayout`. */
export interface SlidingWindowLayoutOptions extends AttentionCommonOptions {
  /** Key blocks on each side of the query block. */
  window: number;
}

/**
 * Sliding-window (local) attention, as in Longformer (Beltagy et al. 2020) and the local part of
 * BigBird: query q attends key j when |q - j| <= window (causal: 0 <= q - j <= window). In our
 * orientation block (j, q) is present; see the note at the top of attention.ts.
 *
 * Parameters: `blocks` (>= 1); `window`, an integer in [0, blocks - 1]; `causal` (default false);
 * `diagonal`; `blockSize`. Raises ParameterError otherwise. Provenance: generator 'sliding-window'.
 */
export function slidingWindowLayout(options: SlidingWindowLayoutOptions): BlockLayout {
  const context = 'slidingWindowLayout';
  const common = checkCommon(options, false, context);
  const n = common.blocks;
  const window = checkInteger('window', options.window, 0, n - 1, context);
  const perRow = 2 * window + 1;
  checkRowCapacity(n, perRow, context);
  const pushKeys = (q: number, keys: IntBuffer): void => {
    keys.pushRange(Math.max(0, q - window), common.causal ? q : Math.min(n - 1, q + window));
  };
  return attentionLayout(common, perRow, pushKeys, 'sliding-window', { window });
}

/** Options of `bigBirdLayout`. */
export interface BigBirdLayoutOptions extends AttentionCommonOptions, RandomOptions {
  /** Key blocks on each side of the query block (the sliding window). */
  window: number;
  /** The first globalBlocks blocks attend to, and are attended by, every block. */
  globalBlocks: number;
  /** Random key blocks per query block, beyond the window and global blocks. */
  randomBlocks: number;
}

/**
 * BigBird attention (Zaheer et al. 2020, "Big Bird: Transformers for Longer Sequences"), at block
 * granularity as in its block-sparse implementation. Query q attends:
 * - the window: keys j with |q - j| <= window;
 * - the global blocks: keys j < globalBlocks (every query sees them), and a global query
 *   q < globalBlocks sees every key;
 * - `randomBlocks` random keys, distinct and not already attended by the two rules above, drawn
 *   uniformly (seeded) for each query. A query with fewer than `randomBlocks` keys left (global
 *   queries, early queries when causal, short sequences) gets all that are left: each query has
 *   exactly min(randomBlocks, keys not otherwise attended) random keys.
 * With `causal` every rule is restricted to keys j <= q (the random keys are drawn among those).
 * In our orientation block (j, q) is present; see the note at the top of attention.ts.
 *
 * Parameters: `blocks` (>= 1); `window` in [0, blocks - 1]; `globalBlocks` in [0, blocks];
 * `randomBlocks` in [0, blocks - 1]; `causal` (default false); `seed` or `rng`; `diagonal`;
 * `blockSize`. Raises ParameterError otherwise. Provenance: generator 'bigbird' with the seed.
 */
export function bigBirdLayout(options: BigBirdLayoutOptions): BlockLayout {
  const context = 'bigBirdLayout';
  const common = checkCommon(options, false, context);
  const n = common.blocks;
  const window = checkInteger('window', options.window, 0, n - 1, context);
  const globalBlocks = checkInteger('globalBlocks', options.globalBlocks, 0, n, context);
  const randomBlocks = checkInteger('randomBlocks', options.randomBlocks, 0, n - 1, context);
  const perRow = 2 * window + 1 + randomBlocks + globalBlocks;
  checkRowCapacity(n, perRow, context);
  const { rng, seed } = resolveSeed(options, context);
  const pushKeys = (q: number, keys: IntBuffer): void => {
    const top = common.causal ? q : n - 1; // last key q may see
    if (q < globalBlocks) {
      keys.pushRange(0, top);
      return;
    }
    const start = keys.length;
    const lo = Math.max(0, q - window);
    const hi = Math.min(top, q + window);
    // Keys not yet attended: [globalBlocks, lo) and [max(globalBlocks, hi + 1), top].
    const gapLo = Math.max(0, lo - globalBlocks);
    const secondStart = Math.max(globalBlocks, hi + 1);
    const gapHi = Math.max(0, top - secondStart + 1);
    keys.pushRange(0, globalBlocks - 1);
    keys.pushRange(Math.max(lo, globalBlocks), hi);
    const picks = sampleSorted(rng, gapLo + gapHi, Math.min(randomBlocks, gapLo + gapHi));
    for (let i = 0; i < picks.length; i++) {
      const t = picks[i];
      keys.push(t < gapLo ? globalBlocks + t : secondStart + (t - gapLo));
    }
    keys.data.subarray(start, keys.length).sort();
  };
  return attentionLayout(common, perRow, pushKeys, 'bigbird', { window, globalBlocks, randomBlocks }, seed);
}

/** Options of `fixedLayout`. */
export interface FixedLayoutOptions extends AttentionCommonOptions {
  /** Chunk length in blocks (the paper's l). */
  stride: number;
  /** Summary blocks at the end of every chunk (the paper's c). Default 1. */
  summary?: number;
}

/**
 * The "fixed" pattern of the Sparse Transformer (Child et al. 2019, "Generating Long Sequences
 * with Sparse Transformers", section 4.3), at block granularity: the sequence is cut into chunks of
 * `stride` blocks, and query q attends
 * - every key in its own chunk: floor(j / stride) = floor(q / stride) (the paper's A(1)), and
 * - the last `summary` blocks of every chunk: j mod stride >= stride - summary (A(2), with the
 *   paper's c = summary), which carry information between chunks;
 * with `causal` (the default, as in the paper) only keys j <= q. A short last chunk (blocks not a
 * multiple of stride) has summary blocks only where j mod stride >= stride - summary falls inside
 * the sequence (DeepSpeed's FixedSparsityConfig instead moves them into the short chunk).
 * In our orientation block (j, q) is present; see the note at the top of attention.ts.
 *
 * Parameters: `blocks` (>= 1); `stride` in [1, blocks]; `summary` in [0, stride] (default 1);
 * `causal` (default true); `diagonal`; `blockSize`. Raises ParameterError otherwise.
 * Provenance: generator 'fixed'.
 */
export function fixedLayout(options: FixedLayoutOptions): BlockLayout {
  const context = 'fixedLayout';
  const common = checkCommon(options, true, context);
  const n = common.blocks;
  const stride = checkInteger('stride', options.stride, 1, n, context);
  const summary = checkInteger('summary', options.summary ?? 1, 0, stride, context);
  const perRow = stride + Math.ceil(n / stride) * summary;
  checkRowCapacity(n, perRow, context);
  const pushKeys = (q: number, keys: IntBuffer): void => {
    const top = common.causal ? q : n - 1;
    const own = q - (q % stride); // first block of q's chunk
    for (let chunk = 0; chunk < n && chunk <= top; chunk += stride) {
      if (chunk === own) keys.pushRange(own, Math.min(own + stride - 1, top));
      else keys.pushRange(chunk + stride - summary, Math.min(chunk + stride - 1, top));
    }
  };
  return attentionLayout(common, perRow, pushKeys, 'fixed', { stride, summary });
}

/** Options of `stridedLayout`. */
export interface StridedLayoutOptions extends AttentionCommonOptions {
  /** The stride in blocks (the paper's l). */
  stride: number;
}

/**
 * The "strided" pattern of the Sparse Transformer (Child et al. 2019, section 4.3), at block
 * granularity: query q attends
 * - the previous `stride` keys, q - stride + 1 .. q (the paper's A(1) = {q - l, ..., q}; its
 *   extra key q - l is also in A(2)), and
 * - every key a multiple of `stride` away: (q - j) mod stride = 0 (A(2));
 * with `causal` (the default, as in the paper) only keys j <= q; without it the pattern is
 * mirrored: |q - j| < stride or |q - j| mod stride = 0.
 * In our orientation block (j, q) is present; see the note at the top of attention.ts.
 *
 * Parameters: `blocks` (>= 1); `stride` in [1, blocks]; `causal` (default true); `diagonal`;
 * `blockSize`. Raises ParameterError otherwise. Provenance: generator 'strided'.
 */
export function stridedLayout(options: StridedLayoutOptions): BlockLayout {
  const context = 'stridedLayout';
  const common = checkCommon(options, true, context);
  const n = common.blocks;
  const stride = checkInteger('stride', options.stride, 1, n, context);
  const perRow = 2 * stride + 2 * Math.ceil(n / stride);
  checkRowCapacity(n, perRow, context);
  const { causal } = common;
  const pushKeys = (q: number, keys: IntBuffer): void => {
    // Ascending: the strided keys before the window, the window, the strided keys after it.
    for (let j = q % stride; j <= q - stride; j += stride) keys.push(j);
    keys.pushRange(Math.max(0, q - stride + 1), causal ? q : Math.min(n - 1, q + stride - 1));
    if (!causal) for (let j = q + stride; j < n; j += stride) keys.push(j);
  };
  return attentionLayout(common, perRow, pushKeys, 'strided', { stride });
}
