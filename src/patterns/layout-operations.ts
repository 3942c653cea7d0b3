import { checkInteger } from '../check.js';
import { ParameterError, ShapeError } from '../errors.js';
import { checkLayoutMemory } from './memory.js';
import { type RandomOptions, type Seed, randomPermutation } from '../random.js';
import { csrFromDistinctPairs, resolveSeed, transposeCSR } from './build.js';
import { setDiagonal } from './diagonal.js';
import { BlockLayout } from './layout.js';

/*
 * Operations on layouts. Each returns a new layout (layouts are immutable) whose provenance is
 * {generator: <operation>, params, seed?, sources: [the operands' provenances]}. All run in
 * O(nnz + inBlocks + outBlocks).
 */

/**
 * The transpose: block (k, c) present iff (c, k) is in `layout`; an outBlocks x inBlocks layout
 * (for a layer, the pattern of the backward-data product; for attention, Triton/DeepSpeed's
 * [query, key] orientation). Provenance: generator 'transpose'.
 */
export function transpose(layout: BlockLayout): BlockLayout {
  checkLayoutMemory('transpose', layout.outBlocks, layout.inBlocks, layout.nnz, 1, 4 * layout.outBlocks);
  const { rowPtr, colIdx } = transposeCSR(layout.inBlocks, layout.outBlocks, layout.rowPtr, layout.colIdx);
  return BlockLayout.fromCSR({
    inBlocks: layout.outBlocks,
    outBlocks: layout.inBlocks,
    blockSize: layout.blockSize,
    rowPtr,
    colIdx,
    provenance: { generator: 'transpose', params: {}, sources: [layout.provenance] },
  });
}

function checkSameShape(a: BlockLayout, b: BlockLayout, operation: string): void {
  if (a.inBlocks !== b.inBlocks || a.outBlocks !== b.outBlocks || a.blockSize !== b.blockSize) {
    throw new ShapeError(
      `${operation} needs layouts of the same shape and block size: ` +
        `${a.inBlocks} x ${a.outBlocks} blocks of ${a.blockSize} vs ${b.inBlocks} x ${b.outBlocks} blocks of ${b.blockSize}`,
    );
  }
}

/** Row-wise merge of two sorted CSRs: keeps a column when present in both (`both`) or in either. */
function merge(a: BlockLayout, b: BlockLayout, both: boolean, operation: string): BlockLayout {
  checkSameShape(a, b, operation);
  const rows = a.inBlocks;
  checkLayoutMemory(operation, rows, a.outBlocks, both ? Math.min(a.nnz, b.nnz) : a.nnz + b.nnz, 1);
  const rowPtr = new Int32Array(rows + 1);
  const colIdx = new Int32Array(both ? Math.min(a.nnz, b.nnz) : a.nnz + b.nnz);
  const ac = a.colIdx;
  const bc = b.colIdx;
  let w = 0;
  for (let c = 0; c < rows; c++) {
    let i = a.rowPtr[c];
    let j = b.rowPtr[c];
    const iEnd = a.rowPtr[c + 1];
    const jEnd = b.rowPtr[c + 1];
    while (i < iEnd && j < jEnd) {
      const x = ac[i];
      const y = bc[j];
      if (x === y) {
        colIdx[w++] = x;
        i++;
        j++;
      } else if (x < y) {
        if (!both) colIdx[w++] = x;
        i++;
      } else {
        if (!both) colIdx[w++] = y;
        j++;
      }
    }
    if (!both) {
      while (i < iEnd) colIdx[w++] = ac[i++];
      while (j < jEnd) colIdx[w++] = bc[j++];
    }
    rowPtr[c + 1] = w;
  }
  return BlockLayout.fromCSR({
    inBlocks: rows,
    outBlocks: a.outBlocks,
    blockSize: a.blockSize,
    rowPtr,
    colIdx: w === colIdx.length ? colIdx : colIdx.slice(0, w),
    provenance: { generator: operation, params: {}, sources: [a.provenance, b.provenance] },
  });
}

/** Blocks present in `a` or `b` (same shape and block size, else ShapeError). Provenance: 'union'. */
export function union(a: BlockLayout, b: BlockLayout): BlockLayout {
  return merge(a, b, false, 'union');
}

/** Blocks present in both `a` and `b` (same shape and block size, else ShapeError). Provenance: 'intersection'. */
export function intersection(a: BlockLayout, b: BlockLayout): BlockLayout {
  return merge(a, b, true, 'intersection');
}

function diagonalOp(layout: BlockLayout, diagonal: boolean): BlockLayout {
  const { rowPtr, colIdx } = setDiagonal(layout.inBlocks, layout.outBlocks, layout, diagonal);
  return BlockLayout.fromCSR({
    inBlocks: layout.inBlocks,
    outBlocks: layout.outBlocks,
    blockSize: layout.blockSize,
    rowPtr,
    colIdx,
    provenance: { generator: diagonal ? 'with-diagonal' : 'without-diagonal', params: {}, sources: [layout.provenance] },
  });
}

/** The layout with all min(inBlocks, outBlocks) diagonal blocks (i, i) added. Provenance: 'with-diagonal'. */
export function withDiagonal(layout: BlockLayout): BlockLayout {
  return diagonalOp(layout, true);
}

/** The layout with every diagonal block (i, i) removed. Provenance: 'without-diagonal'. */
export function withoutDiagonal(layout: BlockLayout): BlockLayout {
  return diagonalOp(layout, false);
}

/**
 * Options of `permute`: a seed (or rng) for random permutations, or the permutations themselves.
 * Block (c, k) moves to (rowPerm[c], colPerm[k]).
 */
export interface PermuteOptions extends RandomOptions {
  /** Explicit row permutation of 0..inBlocks-1. */
  rowPerm?: ArrayLike<number>;
  /** Explicit column permutation of 0..outBlocks-1; defaults to rowPerm for a square layout. */
  colPerm?: ArrayLike<number>;
}

function checkPermutation(name: string, perm: ArrayLike<number>, n: number): Int32Array {
  if (perm === null || typeof perm !== 'object' || perm.length !== n) {
    throw new ParameterError(name, `a permutation of 0..${n - 1} (length ${n})`, perm);
  }
  const out = new Int32Array(n);
  const seen = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = perm[i];
    if (!Number.isInteger(v) || v < 0 || v >= n || seen[v]) {
      throw new ParameterError(name, `a permutation of 0..${n - 1}`, `${String(v)} at position ${i}${seen[v] ? ' (repeated)' : ''}`);
    }
    seen[v] = 1;
    out[i] = v;
  }
  return out;
}

/** The row and column permutations `permute` applies (block (c, k) -> (rowPerm[c], colPerm[k])). */
export interface LayoutPermutations {
  rowPerm: Int32Array;
  /** The same array as rowPerm when rows and columns are relabelled alike. */
  colPerm: Int32Array;
  /** The seed they were drawn from; null for explicit permutations or an rng. */
  seed: Seed | null;
}

/**
 * The permutations `permute(layout, options)` applies: the checked explicit ones, or the seeded
 * draw (one permutation for both sides of a square layout, two independent ones otherwise). Lets
 * a caller recover the arrays from the seed recorded in a permuted layout's provenance.
 */
export function permutations(layout: BlockLayout, options: PermuteOptions = {}): LayoutPermutations {
  const context = 'permute';
  const { inBlocks, outBlocks } = layout;
  if (options.rowPerm !== undefined || options.colPerm !== undefined) {
    if (options.seed !== undefined || options.rng !== undefined) {
      throw new ParameterError('seed', 'absent when rowPerm/colPerm are given', options.seed ?? 'an rng', context);
    }
    if (options.rowPerm === undefined) throw new ParameterError('rowPerm', 'given together with colPerm', undefined, context);
    const rowPerm = checkPermutation('rowPerm', options.rowPerm, inBlocks);
    if (options.colPerm === undefined && !layout.isSquare) {
      throw new ParameterError('colPerm', `given for a rectangular ${inBlocks} x ${outBlocks} layout`, undefined, context);
    }
    const colPerm = options.colPerm === undefined ? rowPerm : checkPermutation('colPerm', options.colPerm, outBlocks);
    return { rowPerm, colPerm, seed: null };
  }
  const { rng, seed } = resolveSeed(options, context);
  const rowPerm = randomPermutation(rng, inBlocks);
  const colPerm = layout.isSquare ? rowPerm : randomPermutation(rng, outBlocks);
  return { rowPerm, colPerm, seed };
}

/**
 * A relabelling of the blocks: block (c, k) moves to (rowPerm[c], colPerm[k]).
 *
 * Seeded (`seed` or `rng`; a fresh seed, recorded, when none is given): a square layout uses ONE
 * uniform permutation p for rows and columns, so (c, k) -> (p[c], p[k]) is a graph relabelling and
 * every graph metric (degrees, path lengths, clustering, symmetry, the diagonal) is unchanged; a
 * rectangular layout gets independent row and column permutations. Explicit: `rowPerm` and
 * `colPerm` (colPerm defaults to rowPerm when square). Preserves nnz and the degree multisets.
 * `permutations(layout, options)` returns the arrays.
 *
 * Raises ParameterError for a seed together with permutations, a non-permutation, or a missing
 * colPerm for a rectangular layout. Provenance: generator 'permute', params {samePermutation
 * (rows and columns relabelled alike), explicit}, and the seed (never the arrays; null for an rng
 * or explicit permutations).
 */
export function permute(layout: BlockLayout, options: PermuteOptions = {}): BlockLayout {
  const { inBlocks, outBlocks } = layout;
  const explicit = options.rowPerm !== undefined || options.colPerm !== undefined;
  // The pairs, their images, and the two counting sorts of csrFromDistinctPairs.
  checkLayoutMemory('permute', inBlocks, outBlocks, layout.nnz, 4, 8 * (inBlocks + outBlocks));
  const { rowPerm, colPerm, seed } = permutations(layout, options);
  const { rows, cols } = layout.pairs();
  const newRows = new Int32Array(layout.nnz);
  const newCols = new Int32Array(layout.nnz);
  for (let b = 0; b < layout.nnz; b++) {
    newRows[b] = rowPerm[rows[b]];
    newCols[b] = colPerm[cols[b]];
  }
  const { rowPtr, colIdx } = csrFromDistinctPairs(inBlocks, outBlocks, newRows, newCols, layout.nnz);
  return BlockLayout.fromCSR({
    inBlocks,
    outBlocks,
    blockSize: layout.blockSize,
    rowPtr,
    colIdx,
    provenance: {
      generator: 'permute',
      params: { samePermutation: rowPerm === colPerm || sameArray(rowPerm, colPerm), explicit },
      seed,
      sources: [layout.provenance],
    },
  });
}

function sameArray(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The layout repeated side by side `times` times along the outputs: block (c, k) of `layout`
 * gives blocks (c, g * outBlocks + k) for g in [0, times), an inBlocks x (times * outBlocks)
 * layout. An LSTM's recurrent weights [H, 4H] use it so that the four gates share one square
 * layout's blocks. Provenance: generator 'repeat-columns', params {times}.
 */
export function repeatColumns(layout: BlockLayout, times: number): BlockLayout {
  checkInteger('times', times, 1, 1024, 'repeatColumns');
  const { inBlocks, outBlocks, rowPtr, colIdx } = layout;
  checkLayoutMemory('repeatColumns', inBlocks, outBlocks * times, colIdx.length * times, 1);
  const nextPtr = new Int32Array(inBlocks + 1);
  const nextIdx = new Int32Array(colIdx.length * times);
  for (let c = 0; c < inBlocks; c++) {
    nextPtr[c + 1] = nextPtr[c] + (rowPtr[c + 1] - rowPtr[c]) * times;
    let w = nextPtr[c];
    for (let g = 0; g < times; g++) for (let i = rowPtr[c]; i < rowPtr[c + 1]; i++) nextIdx[w++] = g * outBlocks + colIdx[i];
  }
  return BlockLayout.fromCSR({
    inBlocks,
    outBlocks: outBlocks * times,
    blockSize: layout.blockSize,
    rowPtr: nextPtr,
    colIdx: nextIdx,
    provenance: { generator: 'repeat-columns', params: { times }, sources: [layout.provenance] },
  });
}
