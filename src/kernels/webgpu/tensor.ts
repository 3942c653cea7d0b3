import type { Backend, Tensor } from '../types.js';

/** Bytes allocated for `elements` float32 values: a multiple of 16 (vec4 bindings), at least 16. */
export const bufferBytes = (elements: number): number => Math.max(16, Math.ceil((4 * elements) / 16) * 16);

/** A float32 tensor in one GPU buffer (STORAGE | COPY_SRC | COPY_DST), row-major. */
export class WebGPUTensor implements Tensor {
  readonly backend: Backend;
  readonly shape: readonly number[];
  readonly size: number;
  readonly buffer: GPUBuffer;
  #disposed = false;
  readonly #onDispose: (tensor: WebGPUTensor) => void;

  constructor(backend: Backend, shape: readonly number[], buffer: GPUBuffer, onDispose: (tensor: WebGPUTensor) => void) {
    this.backend = backend;
    this.shape = Object.freeze([...shape]);
    this.size = shape.reduce((a, b) => a * b, 1);
    this.buffer = buffer;
    this.#onDispose = onDispose;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Frees the GPU buffer now (work already queued on it still completes). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.buffer.destroy();
    this.#onDispose(this);
  }
}
