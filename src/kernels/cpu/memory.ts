import { BlocksparseError } from '../../errors.js';
import { MAX_PAGES, PAGE_BYTES } from './wasm.js';
import { formatBytes } from '../../budget.js';

/** The CPU backend's memory cannot hold a new tensor or table: it is at its declared maximum. */
export class OutOfMemoryError extends BlocksparseError {
  constructor(message: string) {
    super('E_OUT_OF_MEMORY', message);
  }
}

/** Allocations are aligned to cache lines (and so to v128). */
const ALIGN = 64;
/** The first page is never handed out, so that offset 0 can mean "none" to the kernels. */
const RESERVED = PAGE_BYTES;

/**
 * The tensor store: one shared WebAssembly.Memory that every thread's kernel instance imports, so
 * workers see tensors without copies. Allocation is first fit over a free list kept sorted by
 * offset (neighbours merge on free) above a bump pointer; the memory grows by whole pages, at
 * least half again its size at a time, up to `maxBytes`, and never shrinks.
 */
export class SharedHeap {
  readonly memory: WebAssembly.Memory;
  readonly maxBytes: number;
  #top = RESERVED;
  /** Free ranges below #top, sorted by offset, never adjacent. */
  #freeOffsets: number[] = [];
  #freeSizes: number[] = [];
  /** Size of each live allocation, by offset. */
  #live = new Map<number, number>();
  #buffer: SharedArrayBuffer;
  #f32: Float32Array;
  #i32: Int32Array;

  constructor(maxBytes: number, initialBytes = 4 * 2 ** 20) {
    const maximum = Math.min(MAX_PAGES, Math.floor(maxBytes / PAGE_BYTES));
    const initial = Math.min(maximum, Math.max(2, Math.ceil(initialBytes / PAGE_BYTES)));
    this.memory = new WebAssembly.Memory({ initial, maximum, shared: true });
    this.maxBytes = maximum * PAGE_BYTES;
    this.#buffer = this.memory.buffer as unknown as SharedArrayBuffer;
    this.#f32 = new Float32Array(this.#buffer);
    this.#i32 = new Int32Array(this.#buffer);
  }

  /** Bytes the memory has now. */
  get capacityBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Bytes in live allocations. */
  get usedBytes(): number {
    let sum = 0;
    for (const size of this.#live.values()) sum += size;
    return sum;
  }

  /** A float32 view of the whole memory (renewed after growth). */
  get f32(): Float32Array {
    this.#refresh();
    return this.#f32;
  }

  /** An int32 view of the whole memory (renewed after growth). */
  get i32(): Int32Array {
    this.#refresh();
    return this.#i32;
  }

  #refresh(): void {
    if (this.#buffer.byteLength !== this.memory.buffer.byteLength) {
      this.#buffer = this.memory.buffer as unknown as SharedArrayBuffer;
      this.#f32 = new Float32Array(this.#buffer);
      this.#i32 = new Int32Array(this.#buffer);
    }
  }

  /**
   * Called when an allocation does not fit: frees what a cache can give back and says whether it
   * freed anything (then the allocation is tried once more).
   */
  onPressure: (() => boolean) | null = null;

  /** Offset of `bytes` new bytes (contents undefined), 64-byte aligned; 0 for 0 bytes. */
  alloc(bytes: number): number {
    try {
      return this.#alloc(bytes);
    } catch (error) {
      if (!(error instanceof OutOfMemoryError) || !this.onPressure?.()) throw error;
      return this.#alloc(bytes);
    }
  }

  #alloc(bytes: number): number {
    if (bytes === 0) return 0;
    const size = Math.ceil(bytes / ALIGN) * ALIGN;
    for (let i = 0; i < this.#freeOffsets.length; i++) {
      if (this.#freeSizes[i] >= size) {
        const offset = this.#freeOffsets[i];
        if (this.#freeSizes[i] === size) {
          this.#freeOffsets.splice(i, 1);
          this.#freeSizes.splice(i, 1);
        } else {
          this.#freeOffsets[i] += size;
          this.#freeSizes[i] -= size;
        }
        this.#live.set(offset, size);
        return offset;
      }
    }
    const offset = this.#top;
    this.#ensure(offset + size);
    this.#top = offset + size;
    this.#live.set(offset, size);
    return offset;
  }

  /** Frees an allocation made by alloc (0 is ignored). */
  free(offset: number): void {
    if (offset === 0) return;
    const size = this.#live.get(offset);
    if (size === undefined) throw new Error(`SharedHeap.free: ${offset} is not allocated`);
    this.#live.delete(offset);
    let start = offset;
    let end = offset + size;
    // insertion point in the sorted free list, then merge with the neighbours
    let lo = 0;
    let hi = this.#freeOffsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#freeOffsets[mid] < start) lo = mid + 1;
      else hi = mid;
    }
    let removeFrom = lo;
    let removeCount = 0;
    if (lo > 0 && this.#freeOffsets[lo - 1] + this.#freeSizes[lo - 1] === start) {
      start = this.#freeOffsets[lo - 1];
      removeFrom = lo - 1;
      removeCount++;
    }
    if (lo < this.#freeOffsets.length && this.#freeOffsets[lo] === end) {
      end += this.#freeSizes[lo];
      removeCount++;
    }
    this.#freeOffsets.splice(removeFrom, removeCount);
    this.#freeSizes.splice(removeFrom, removeCount);
    if (end === this.#top) {
      this.#top = start; // give the range back to the bump pointer
    } else {
      this.#freeOffsets.splice(removeFrom, 0, start);
      this.#freeSizes.splice(removeFrom, 0, end - start);
    }
  }

  /** Grows the memory to hold `end` bytes. */
  #ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    if (end > this.maxBytes) {
      throw new OutOfMemoryError(
        `the cpu backend's memory would need ${formatBytes(end)} but its maximum is ${formatBytes(this.maxBytes)} (option maxMemoryBytes; ${formatBytes(this.usedBytes)} in use)`,
      );
    }
    const needPages = Math.ceil((end - have) / PAGE_BYTES);
    const maxPages = this.maxBytes / PAGE_BYTES - have / PAGE_BYTES;
    const pages = Math.min(maxPages, Math.max(needPages, Math.ceil(have / PAGE_BYTES / 2)));
    try {
      this.memory.grow(pages);
    } catch (error) {
      throw new OutOfMemoryError(`the cpu backend's memory could not grow to ${formatBytes(have + pages * PAGE_BYTES)}: ${(error as Error).message}`);
    }
  }
}
