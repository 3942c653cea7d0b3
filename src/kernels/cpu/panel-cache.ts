import type { BlockLayout } from '../../patterns/layout.js';
import type { SharedHeap } from './memory.js';
import type { CpuTensor } from './tensor.js';

/**
 * The products' packed weight panels (packForward / packBackward / packDense output), kept per
 * weight tensor and kind of product while the weights, the gates and the layout are unchanged: a
 * product on unchanged weights (evaluation, inference, a recurrent layer's steps) skips the packing. Tensors carry a
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
  /** The last dense use of a tensor not cached yet: its kind and version (a second use caches it). */
  readonly #seen = new WeakMap<CpuTensor, { kind: PanelKind; version: number }>();

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
   * The panels of `w` packed for a product `kind` (the block products' two directions, for
   * `layout` and `gates`; the dense product's B operand, plain or transposed, `bytes` long):
   * `offset`, and `pack` true when they must be (re)packed there first (new, or the weights,
   * layout or gates changed since). A dense B is cached only from its second use at the same
   * version (a weight applied again, as a recurrent layer's at every step; not an activation used
   * once): null the first time, and the product packs into a temporary.
   */
  panels(w: CpuTensor, kind: PanelKind, bytes: number, layout: BlockLayout | null = null, gates?: CpuTensor): { offset: number; pack: boolean } | null {
    let list = this.#entries.get(w);
    const gatesVersion = gates ? gates.version : -1;
    let entry = list?.find((e) => e.kind === kind);
    if (entry && entry.layout === layout && entry.wVersion === w.version && entry.gates?.deref() === gates && entry.gatesVersion === gatesVersion) {
      this.hits++;
      this.#busy = entry;
      this.#packing = null;
      return { offset: entry.offset, pack: false };
    }
    if (!entry && (kind === 'dense' || kind === 'dense-transposed')) {
      const seen = this.#seen.get(w);
      if (!seen || seen.kind !== kind || seen.version !== w.version) {
        this.#seen.set(w, { kind, version: w.version });
        return null;
      }
    }
    if (!list) {
      list = [];
      this.#entries.set(w, list);
      this.#lists.set(list, new WeakRef(w));
      this.#collected.register(w, list, w);
    }
    if (!entry) {
      entry = { kind, layout, wVersion: w.version, gates: undefined, gatesVersion, offset: this.#heap.alloc(bytes) };
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

/** What a weight's panels are packed for: a block product's direction, or the dense product's B operand (op(B) = B or B^T). */
export type PanelKind = 'forward' | 'backward' | 'dense' | 'dense-transposed';

interface PanelEntry {
  readonly kind: PanelKind;
  layout: BlockLayout | null;
  wVersion: number;
  gates: WeakRef<CpuTensor> | undefined;
  gatesVersion: number;
  readonly offset: number;
}
