import type { BlockLayout } from '../../patterns/layout.js';
import { BufferUsage } from './device.js';

/** Most entries one workgroup of a block product takes (its staged look-up table holds this many). */
export const MAX_SEGMENT_ENTRIES = 64;

/**
 * The segments of one product's columns (forward: output block columns; backward-data: input
 * block rows). A column of more than `limit` entries is split into near-equal segments that write
 * partial sums to scratch slots, which a second pass adds in a fixed order (deterministic, no
 * atomics); other columns are one segment writing the output directly.
 */
export interface SegmentTable {
  /** Offset (i32s) of the segments, 4 i32 each: column, first entry, end entry, scratch slot (-1: writes the output). */
  readonly segmentsAt: number;
  readonly segments: number;
  /** Offset (i32s) of the split columns, 3 i32 each: column, first slot, slots (in order). */
  readonly splitsAt: number;
  readonly splits: number;
  /** Scratch slots (segments of split columns). */
  readonly slots: number;
  /** Entries per segment at most. */
  readonly limit: number;
}

/**
 * A layout's index tables on the device: one i32 buffer holding, at the given offsets (in i32s),
 *   forwardPtr[outBlocks + 1], forwardEntries[nnz] as (c, block id)  - the column view (forward)
 *   backwardPtr[inBlocks + 1], backwardEntries[nnz] as (k, block id) - the CSR rows (backward-data)
 *   pairs[nnz] as (c, k)                                               - every block (weight-gradient)
 * and the segment tables of both products.
 */
export interface LayoutTables {
  readonly buffer: GPUBuffer;
  readonly bytes: number;
  readonly forwardPtr: number;
  readonly forwardEntries: number;
  readonly backwardPtr: number;
  readonly backwardEntries: number;
  readonly pairs: number;
  readonly forward: SegmentTable;
  readonly backward: SegmentTable;
}

/**
 * The segment limit for columns with pointers `ptr`: `override` when given, else twice the mean
 * length of the non-empty columns (at least 8, at most MAX_SEGMENT_ENTRIES), so that a hub column
 * does not hold up a whole product while typical ones are left whole.
 */
export function segmentLimit(ptr: ArrayLike<number>, override?: number): number {
  if (override !== undefined) return Math.min(Math.max(1, Math.floor(override)), MAX_SEGMENT_ENTRIES);
  let entries = 0;
  let columns = 0;
  for (let c = 0; c + 1 < ptr.length; c++) {
    const length = ptr[c + 1] - ptr[c];
    if (length > 0) {
      entries += length;
      columns++;
    }
  }
  const mean = columns === 0 ? 0 : entries / columns;
  return Math.min(MAX_SEGMENT_ENTRIES, Math.max(8, Math.ceil(2 * mean)));
}

/** Segments and splits (flat, as in SegmentTable) of columns with pointers `ptr`, at most `limit` entries each. */
export function splitColumns(ptr: ArrayLike<number>, limit: number): { segments: number[]; splits: number[]; slots: number } {
  const segments: number[] = [];
  const splits: number[] = [];
  let slots = 0;
  for (let c = 0; c + 1 < ptr.length; c++) {
    const first = ptr[c];
    const length = ptr[c + 1] - first;
    const pieces = Math.max(1, Math.ceil(length / limit));
    if (pieces === 1) {
      segments.push(c, first, first + length, -1);
      continue;
    }
    splits.push(c, slots, pieces);
    for (let p = 0; p < pieces; p++) {
      segments.push(c, first + Math.floor((p * length) / pieces), first + Math.floor(((p + 1) * length) / pieces), slots++);
    }
  }
  return { segments, splits, slots };
}

/** Packs the views of a layout into one Int32Array (offsets as in LayoutTables); `limit` overrides the segment limit. */
export function packLayoutTables(layout: BlockLayout, limit?: number): { data: Int32Array; offsets: Omit<LayoutTables, 'buffer' | 'bytes'> } {
  const { inBlocks, outBlocks, nnz, rowPtr, colIdx } = layout;
  const columns = layout.columns();
  const pairs = layout.pairs();
  const forwardPtr = 0;
  const forwardEntries = forwardPtr + outBlocks + 1;
  const backwardPtr = forwardEntries + 2 * nnz;
  const backwardEntries = backwardPtr + inBlocks + 1;
  const pairsAt = backwardEntries + 2 * nnz;
  const forwardLimit = segmentLimit(columns.colPtr, limit);
  const backwardLimit = segmentLimit(rowPtr, limit);
  const fw = splitColumns(columns.colPtr, forwardLimit);
  const bw = splitColumns(rowPtr, backwardLimit);
  const fwAt = pairsAt + 2 * nnz;
  const bwAt = fwAt + fw.segments.length + fw.splits.length;
  const data = new Int32Array(bwAt + bw.segments.length + bw.splits.length);
  data.set(columns.colPtr, forwardPtr);
  data.set(rowPtr, backwardPtr);
  for (let e = 0; e < nnz; e++) {
    data[forwardEntries + 2 * e] = columns.rowIdx[e];
    data[forwardEntries + 2 * e + 1] = columns.blockId[e];
    data[backwardEntries + 2 * e] = colIdx[e];
    data[backwardEntries + 2 * e + 1] = e;
    data[pairsAt + 2 * e] = pairs.rows[e];
    data[pairsAt + 2 * e + 1] = pairs.cols[e];
  }
  const place = (at: number, split: typeof fw, segmentLimit: number): SegmentTable => {
    data.set(split.segments, at);
    data.set(split.splits, at + split.segments.length);
    return { segmentsAt: at, segments: split.segments.length / 4, splitsAt: at + split.segments.length, splits: split.splits.length / 3, slots: split.slots, limit: segmentLimit };
  };
  const forward = place(fwAt, fw, forwardLimit);
  const backward = place(bwAt, bw, backwardLimit);
  return { data, offsets: { forwardPtr, forwardEntries, backwardPtr, backwardEntries, pairs: pairsAt, forward, backward } };
}

/**
 * Uploads each layout's tables once per device and keeps them while the layout lives (a WeakMap;
 * the buffer is destroyed when the layout is collected or the cache is destroyed).
 */
export class LayoutTableCache {
  readonly #device: GPUDevice;
  readonly #tables = new WeakMap<BlockLayout, LayoutTables>();
  readonly #live = new Set<GPUBuffer>();
  readonly #collected = new FinalizationRegistry<GPUBuffer>((buffer) => {
    if (this.#live.delete(buffer)) buffer.destroy();
  });
  /** Number of uploads so far. */
  uploads = 0;

  readonly #limit: number | undefined;

  /** `segmentLimit` overrides the entries per segment of the block products (a test hook: forces column splits). */
  constructor(device: GPUDevice, segmentLimit?: number) {
    this.#device = device;
    this.#limit = segmentLimit;
  }

  /** The tables of `layout`, uploaded on first use. */
  get(layout: BlockLayout): LayoutTables {
    const cached = this.#tables.get(layout);
    if (cached) return cached;
    const { data, offsets } = packLayoutTables(layout, this.#limit);
    const bytes = Math.max(16, Math.ceil((4 * data.length) / 16) * 16);
    const buffer = this.#device.createBuffer({ size: bytes, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST, mappedAtCreation: true, label: 'layout tables' });
    new Int32Array(buffer.getMappedRange()).set(data);
    buffer.unmap();
    const tables: LayoutTables = { buffer, bytes, ...offsets };
    this.#tables.set(layout, tables);
    this.#live.add(buffer);
    this.#collected.register(layout, buffer);
    this.uploads++;
    return tables;
  }

  /** Destroys every table buffer. */
  destroy(): void {
    for (const buffer of this.#live) buffer.destroy();
    this.#live.clear();
  }
}
