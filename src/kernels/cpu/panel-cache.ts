import type { BlockLayout } from '../../patterns/layout.js';
import type { SharedHeap } from './memory.js';
import type { CpuTensor } from './tensor.js';

/**
 * The block products' packed weight panels (packForward / packBackward output), kept per weight
 * tensor and direction while the weights, the gates and the layout are unchanged: a product on
 * unchanged weights (evaluation, inference, repeated calls) skips the packing. Tensors carry a
 * version that every in-place write bumps (the training runner), so a step's update makes the
 * next product pack again, into the same memory. A weight tensor's panels are freed with it, and
 * every panel but the product in flight's when an allocation would not fit otherwise.
 */
export class PanelCache {
  readonly #heap: SharedHeap;
  /** Weakly by weight tensor: a tensor collected without dispose gives its panels back through #collected. */
  readonly #entries = new WeakMap<CpuTensor, PanelEntry[]>();
  readonly #collected = new FinalizationRegistry<PanelEntry[]>((list) => {
    this.#lists.delete(list);
    if (!this.#closed) for (const entry of list) this.#heap.free(entry.offset);
  });
  /** Every list of entries, to give panels back under memory pressure (their tensors weakly). */
  readonly #lists = new Map<PanelEntry[], WeakRef<CpuTensor>>();
  /** The entry of the product in flight, never given back. */
  #busy: PanelEntry | null = null;
  /** The weights' version the product in flight packs, if it packs. */
  #packing: number | null = null;
  #closed = false;
  /** Products that found their panels packed (for tests and benchmarks). */
  hits = 0;

  constructor(heap: SharedHeap) {
    this.#heap = heap;
    heap.onPressure = () => this.#reclaim();
  }

  /** Frees every cached panel but the product in flight's; whether it freed any. */
  #reclaim(): boolean {
    let freed = false;
    for (const [list, w] of this.#lists) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i] === this.#busy) continue;
        this.#heap.free(list[i].offset);
        list.splice(i, 1);
        freed = true;
      }
      if (list.length === 0) {
        this.#lists.delete(list);
        const tensor = w.deref();
        if (tensor) {
          this.#entries.delete(tensor);
          this.#collected.unregister(tensor);
        }
      }
    }
    return freed;
  }

  /** The product in flight is done with its panels; `ok` when it succeeded (the panels it packed are then valid). */
  release(ok: boolean): void {
    if (ok && this.#busy && this.#packing !== null) this.#busy.wVersion = this.#packing;
    this.#busy = null;
    this.#packing = null;
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
      this.#lists.set(list, new WeakRef(w));
      this.#collected.register(w, list, w);
    }
    const gatesVersion = gates ? gates.version : -1;
    let entry = list.find((e) => e.forward === forward);
    if (entry && entry.layout === layout && entry.wVersion === w.version && entry.gates?.deref() === gates && entry.gatesVersion === gatesVersion) {
      this.hits++;
      this.#busy = entry;
      this.#packing = null;
      return { offset: entry.offset, pack: false };
    }
    if (!entry) {
      entry = { forward, layout, wVersion: w.version, gates: undefined, gatesVersion, offset: this.#heap.alloc(bytes) };
      list.push(entry);
    }
    this.#busy = entry;
    // Valid once the product that packs them succeeds (release(true)): a failed pack leaves them unused.
    entry.layout = layout;
    entry.wVersion = -1;
    entry.gates = gates ? new WeakRef(gates) : undefined;
    entry.gatesVersion = gatesVersion;
    this.#packing = w.version;
    return { offset: entry.offset, pack: true };
  }

  /** Frees the panels of `w` (when it is freed). */
  drop(w: CpuTensor): void {
    const list = this.#entries.get(w);
    if (!list) return;
    this.#entries.delete(w);
    this.#lists.delete(list);
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
