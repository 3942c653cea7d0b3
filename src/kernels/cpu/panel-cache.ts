import type { BlockLayout } from '../../patterns/layout.js';
import type { SharedHeap } from './memory.js';
import type { CpuTensor } from './tensor.js';

/**
 * The block products' packed weight panels (packForward / packBackward output), kept per weight
 * tensor and direction while the weights, the gates and the layout are unchanged: a product on
 * unchanged weights (evaluation, inference, repeated calls) skips the packing. Tensors carry a
 * version that every in-place write bumps (the training runner), so a step's update makes the
 * next product pack again, into the same memory. A weight tensor's panels are freed with it.
 */
export class PanelCache {
  readonly #heap: SharedHeap;
  /** Weakly by weight tensor: a tensor collected without dispose gives its panels back through #collected. */
  readonly #entries = new WeakMap<CpuTensor, PanelEntry[]>();
  readonly #collected = new FinalizationRegistry<PanelEntry[]>((list) => {
    if (!this.#closed) for (const entry of list) this.#heap.free(entry.offset);
  });
  #closed = false;
  /** Products that found their panels packed (for tests and benchmarks). */
  hits = 0;

  constructor(heap: SharedHeap) {
    this.#heap = heap;
  }

  /**
   * The panels of `w` for `layout` in one direction: `offset`, and `pack` true when they must be
   * (re)packed there first (new, or the weights or gates changed since).
   */
  panels(layout: BlockLayout, forward: boolean, w: CpuTensor, gates: CpuTensor | undefined): { offset: number; pack: boolean } {
    const bytes = 4 * w.size;
    let list = this.#entries.get(w);
    if (!list) {
      list = [];
      this.#entries.set(w, list);
      this.#collected.register(w, list, w);
    }
    const gatesVersion = gates ? gates.version : -1;
    let entry = list.find((e) => e.forward === forward);
    if (entry && entry.layout === layout && entry.wVersion === w.version && entry.gates?.deref() === gates && entry.gatesVersion === gatesVersion) {
      this.hits++;
      return { offset: entry.offset, pack: false };
    }
    if (!entry) {
      entry = { forward, layout, wVersion: w.version, gates: undefined, gatesVersion, offset: this.#heap.alloc(bytes) };
      list.push(entry);
    }
    entry.layout = layout;
    entry.wVersion = w.version;
    entry.gates = gates ? new WeakRef(gates) : undefined;
    entry.gatesVersion = gatesVersion;
    return { offset: entry.offset, pack: true };
  }

  /** Frees the panels of `w` (when it is freed). */
  drop(w: CpuTensor): void {
    const list = this.#entries.get(w);
    if (!list) return;
    this.#entries.delete(w);
    this.#collected.unregister(w);
    for (const entry of list) this.#heap.free(entry.offset);
  }

  /** Stops freeing panels (the heap is going away). */
  close(): void {
    this.#closed = true;
  }
}

interface PanelEntry {
  readonly forward: boolean;
  layout: BlockLayout;
  wVersion: number;
  gates: WeakRef<CpuTensor> | undefined;
  gatesVersion: number;
  readonly offset: number;
}
