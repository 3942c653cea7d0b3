import { checkInteger } from '../../check.js';
import { ParameterError } from '../../errors.js';
import { BlockLayout, type Provenance } from '../../patterns/layout.js';
import { BlockSparseLayer } from '../layers/block-sparse-layer.js';

/**
 * Block selection shared by pruning, regrowth and L0: which blocks to keep, and the layout made of them.
 */

/**
 * The ids of the `count` largest scores, in ascending id order. Ties go to the lower id (so the
 * choice is reproducible); NaN ranks below every number.
 */
export function largestBlocks(scores: ArrayLike<number>, count: number): Int32Array {
  checkInteger('count', count, 0, scores.length, 'largestBlocks');
  const ids = new Int32Array(scores.length);
  for (let i = 0; i < ids.length; i++) ids[i] = i;
  const score = Float64Array.from(scores, (v) => (Number.isNaN(v) ? -Infinity : v));
  ids.sort((a, b) => (score[a] > score[b] ? -1 : score[a] < score[b] ? 1 : a - b));
  return ids.subarray(0, count).sort();
}

/** The layout made of the blocks `ids` (ascending block ids of `layout`), with the given provenance; new block j is old block ids[j]. */
export function keepBlocks(layout: BlockLayout, ids: Int32Array, provenance: Provenance): BlockLayout {
  const rowPtr = new Int32Array(layout.inBlocks + 1);
  const colIdx = new Int32Array(ids.length);
  const rows = layout.pairs().rows;
  for (let j = 0; j < ids.length; j++) {
    const id = ids[j];
    if (!(id >= 0 && id < layout.nnz) || (j > 0 && id <= ids[j - 1])) {
      throw new ParameterError(`ids[${j}]`, `strictly increasing block ids in [0, ${layout.nnz})`, id, 'keepBlocks');
    }
    rowPtr[rows[id] + 1]++;
    colIdx[j] = layout.colIdx[id];
  }
  for (let c = 0; c < layout.inBlocks; c++) rowPtr[c + 1] += rowPtr[c];
  // A subsequence of the row-major order is still row-major with sorted columns.
  return BlockLayout.fromCSR({ inBlocks: layout.inBlocks, outBlocks: layout.outBlocks, blockSize: layout.blockSize, rowPtr, colIdx, provenance });
}

/** Checks a hook's layer list: non-empty, block-sparse layers (BlockSparseLinear, BlockSparseConv2d: any BlockSparseLayer), no layer twice. */
export function checkBlockSparseLayers(layers: readonly BlockSparseLayer[], context: string): readonly BlockSparseLayer[] {
  if (!Array.isArray(layers) || layers.length === 0) throw new ParameterError('layers', 'a non-empty array of block-sparse layers (BlockSparseLinear, BlockSparseConv2d)', layers, context);
  layers.forEach((layer, i) => {
    if (!(layer instanceof BlockSparseLayer)) throw new ParameterError(`layers[${i}]`, 'a block-sparse layer (BlockSparseLinear, BlockSparseConv2d)', layer, context);
    if (layers.indexOf(layer) !== i) throw new ParameterError(`layers[${i}]`, 'a layer not listed before', i, context);
  });
  return [...layers];
}
