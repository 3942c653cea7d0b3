import { checkShape } from '../checks.js';
import { packHostData } from '../host-data.js';
import type { Eventually } from '../settle.js';
import type { Backend, HostData, Tensor } from '../types.js';
import type { SharedHeap } from './memory.js';
import { CpuTensor, type BackendState } from './tensor.js';

/** A tensor's byte offset in the shared memory, 0 for none. */
export const byteOffset = (t: Tensor | undefined): number => (t ? (t as CpuTensor).offset : 0);

/** A tensor's element index in the heap's float32 view, -1 for none. */
export const elementIndex = (t: Tensor | null): number => (t ? (t as CpuTensor).offset / 4 : -1);

/**
 * The CPU backend's tensors in its shared heap, and the order its calls run in: allocation,
 * uploads and reads, freeing a tensor's memory when it is disposed or collected, and the queue
 * that runs each operation after every one called before it, with its operands pinned until it ends.
 */
export class TensorStore {
  readonly heap: SharedHeap;
  readonly #owner: Backend;
  readonly #state: BackendState = { disposed: false };
  /** Throws when the backend cannot take work (run before each queued operation). */
  readonly #check: () => void;
  readonly #collected = new FinalizationRegistry<number>((offset) => {
    if (!this.#state.disposed) this.heap.free(offset);
  });
  #tail: Promise<unknown> = Promise.resolve();
  /** Operations queued or running whose body has not ended. */
  #pending = 0;

  /** Called when a tensor's memory is freed (caches of data derived from it let go). */
  readonly #freed: (tensor: CpuTensor) => void;

  constructor(heap: SharedHeap, owner: Backend, check: () => void, freed: (tensor: CpuTensor) => void = () => undefined) {
    this.heap = heap;
    this.#owner = owner;
    this.#check = check;
    this.#freed = freed;
  }

  /** Whether the store was closed (the backend disposed). */
  get disposed(): boolean {
    return this.#state.disposed;
  }

  /** Settles once every operation queued so far has ended. */
  get settled(): Promise<unknown> {
    return this.#tail;
  }

  /** A new tensor of `shape`, contents undefined. */
  allocate(shape: readonly number[]): CpuTensor {
    const size = checkShape(shape);
    const offset = this.heap.alloc(4 * size);
    const tensor = new CpuTensor(this.#owner, this.#state, shape, offset, (t) => {
      this.#collected.unregister(t);
      if (this.#state.disposed) return;
      this.heap.free(t.offset);
      this.#freed(t);
    });
    if (offset !== 0) this.#collected.register(tensor, offset, tensor);
    return tensor;
  }

  /** A new tensor holding `data`. */
  upload(data: HostData, shape?: readonly number[]): CpuTensor {
    const packed = packHostData(data, shape);
    const tensor = this.allocate(packed.shape);
    if (tensor.size > 0) this.heap.f32.set(packed.values, tensor.offset / 4);
    return tensor;
  }

  /** A new zero-filled tensor of `shape`. */
  zeros(shape: readonly number[]): CpuTensor {
    const tensor = this.allocate(shape);
    this.fillZero(tensor);
    return tensor;
  }

  /** Sets every value of `tensor` to 0. */
  fillZero(tensor: CpuTensor): void {
    if (tensor.size > 0) this.heap.f32.fill(0, tensor.offset / 4, tensor.offset / 4 + tensor.size);
  }

  /** A copy of the tensor's values, in `into` when given (now: await `settled` first for the operations queued before). */
  values(tensor: CpuTensor, into?: Float32Array): Float32Array {
    const start = tensor.offset / 4;
    if (into) {
      if (tensor.size > 0) into.set(this.heap.f32.subarray(start, start + tensor.size));
      return into;
    }
    return tensor.size === 0 ? new Float32Array(0) : this.heap.f32.slice(start, start + tensor.size);
  }

  /**
   * Runs `body` after every operation queued before it, with `operands` kept alive until it ends.
   * When nothing is queued, `body` starts at once, and a body that returns a value (not a promise:
   * a small operation run in the calling thread) has ended when this returns its settled promise.
   */
  exclusive<T>(operands: (Tensor | null | undefined)[], body: () => Eventually<T>): Promise<T> {
    if (this.#pending === 0) {
      let out: Eventually<T>;
      try {
        this.#check();
        out = body();
      } catch (error) {
        return Promise.reject(error);
      }
      if (!(out instanceof Promise)) return Promise.resolve(out);
      return this.#enqueue(operands, out);
    }
    return this.#enqueue(operands, this.#tail.then(() => {
      this.#check();
      return body();
    }));
  }

  /** Keeps `operands` alive and later calls queued until `running` settles. */
  #enqueue<T>(operands: (Tensor | null | undefined)[], running: Promise<T>): Promise<T> {
    const pinned = operands.filter((t): t is CpuTensor => t !== undefined && t !== null) as CpuTensor[];
    for (const t of pinned) t.pin();
    this.#pending++;
    const done = running.finally(() => {
      this.#pending--;
      for (const t of pinned) t.unpin();
    });
    this.#tail = done.catch(() => undefined);
    return done;
  }

  /** Marks the store closed (its tensors report disposed, nothing more is freed) and waits for the queued operations. */
  async close(): Promise<void> {
    const tail = this.#tail;
    this.#state.disposed = true;
    await tail;
  }
}
