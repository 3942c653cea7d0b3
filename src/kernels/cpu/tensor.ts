import type { Backend, Tensor } from '../types.js';

/** Whether the backend that owns a tensor still exists (shared by its tensors). */
export interface BackendState {
  disposed: boolean;
}

/**
 * A float32 tensor in the CPU backend's shared memory: `size` values at byte `offset`
 * (0 for an empty tensor), row-major. Products pin their operands, so that a tensor disposed
 * while a product still reads it is freed only when that product ends.
 */
export class CpuTensor implements Tensor {
  readonly backend: Backend;
  readonly shape: readonly number[];
  readonly size: number;
  readonly offset: number;
  /** Bumped by every in-place write (caches of derived data, e.g. packed weight panels, compare it). */
  version = 0;
  #disposed = false;
  #pins = 0;
  readonly #state: BackendState;
  readonly #free: (tensor: CpuTensor) => void;

  constructor(backend: Backend, state: BackendState, shape: readonly number[], offset: number, free: (tensor: CpuTensor) => void) {
    this.backend = backend;
    this.#state = state;
    this.shape = Object.freeze([...shape]);
    this.size = shape.reduce((a, b) => a * b, 1);
    this.offset = offset;
    this.#free = free;
  }

  get disposed(): boolean {
    return this.#disposed || this.#state.disposed;
  }

  /** Frees the memory now, or when the last product reading it ends. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#pins === 0) this.#free(this);
  }

  /** Keeps the memory while a product uses it. */
  pin(): void {
    this.#pins++;
  }

  unpin(): void {
    this.#pins--;
    if (this.#pins === 0 && this.#disposed) this.#free(this);
  }
}
