import type { BlockLayout } from '../../patterns/layout.js';
import { BufferUsage } from './device.js';

/**
 * A layout's index tables on the device: one i32 buffer holding, at the given offsets (in i32s),
 *   forwardPtr[outBlocks + 1], forwardEntries[nnz] as (c, block id)  - the column view (forward)
 *   backwardPtr[inBlocks + 1], backwardEntries[nnz] as (k, block id) - the CSR rows (backward-data)
 *   pairs[nnz] as (c, k)                                               - every block (weight-gradient)
 */
export interface LayoutTables {
  readonly buffer: GPUBuffer;
  readonly bytes: number;
  readonly forwardPtr: number;
  readonly forwardEntries: number;
  readonly backwardPtr: number;
  readonly backwardEntries: number;
  readonly pairs: number;
}

/** Packs the three views of a layout into one Int32Array (offsets as in LayoutTables). */
export function packLayoutTables(layout: BlockLayout): { data: Int32Array; offsets: Omit<LayoutTables, 'buffer' | 'bytes'> } {
  const { inBlocks, outBlocks, nnz, rowPtr, colIdx } = layout;
  const columns = layout.columns();
  const pairs = layout.pairs();
  const forwardPtr = 0;
  const forwardEntries = forwardPtr + outBlocks + 1;
  const backwardPtr = forwardEntries + 2 * nnz;
  const backwardEntries = backwardPtr + inBlocks + 1;
  const pairsAt = backwardEntries + 2 * nnz;
  const data = new Int32Array(pairsAt + 2 * nnz);
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
  return { data, offsets: { forwardPtr, forwardEntries, backwardPtr, backwardEntries, pairs: pairsAt } };
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

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** The tables of `layout`, uploaded on first use. */
  get(layout: BlockLayout): LayoutTables {
    const cached = this.#tables.get(layout);
    if (cached) return cached;
    const { data, offsets } = packLayoutTables(layout);
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
