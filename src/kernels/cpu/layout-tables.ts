import type { BlockLayout } from '../../patterns/layout.js';
import type { SharedHeap } from './memory.js';

/** A layout's index tables in the shared memory (byte offsets): the three views the kernels read. */
export interface LayoutTables {
  /** The allocation holding them all. */
  readonly offset: number;
  /** Forward view: output block k's entries colPtr[k] .. colPtr[k+1], their input blocks and block ids. */
  readonly colPtr: number;
  readonly rowIdx: number;
  readonly blockId: number;
  /** Backward-data view (the CSR): input block c's blocks rowPtr[c] .. rowPtr[c+1] and their output blocks. */
  readonly rowPtr: number;
  readonly colIdx: number;
  /** Weight-gradient view: (input block, output block) of each block id. */
  readonly pairRows: number;
  readonly pairCols: number;
}

/**
 * Copies each layout's tables into the shared memory once and keeps them while the layout lives
 * (a layout that is garbage collected gives its tables back).
 */
export class LayoutTableCache {
  uploads = 0;
  readonly #heap: SharedHeap;
  readonly #tables = new WeakMap<BlockLayout, LayoutTables>();
  readonly #collected = new FinalizationRegistry<number>((offset) => {
    if (!this.#closed) this.#heap.free(offset);
  });
  #closed = false;

  constructor(heap: SharedHeap) {
    this.#heap = heap;
  }

  /** The tables of `layout`, uploaded on first use. */
  get(layout: BlockLayout): LayoutTables {
    const cached = this.#tables.get(layout);
    if (cached) return cached;
    const { colPtr, rowIdx, blockId } = layout.columns();
    const pairs = layout.pairs();
    const parts = [colPtr, rowIdx, blockId, layout.rowPtr, layout.colIdx, pairs.rows, pairs.cols];
    const words = parts.reduce((sum, part) => sum + part.length, 0);
    const offset = this.#heap.alloc(4 * words);
    const i32 = this.#heap.i32;
    const at: number[] = [];
    let word = offset / 4;
    for (const part of parts) {
      at.push(4 * word);
      i32.set(part, word);
      word += part.length;
    }
    const tables: LayoutTables = {
      offset, colPtr: at[0], rowIdx: at[1], blockId: at[2], rowPtr: at[3], colIdx: at[4], pairRows: at[5], pairCols: at[6],
    };
    this.#tables.set(layout, tables);
    this.#collected.register(layout, offset);
    this.uploads++;
    return tables;
  }

  /** Stops freeing tables (the heap is going away). */
  close(): void {
    this.#closed = true;
  }
}
