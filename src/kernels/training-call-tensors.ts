import type { Operand } from './checks.js';
import type { TrainingOpCall } from './training-ops.js';
import type { Tensor } from './types.js';

/** How a backend makes the tensors of a training-op call. */
export interface TensorMaker {
  /** A new tensor of `shape` (contents undefined unless the backend zeroes them); `what` names it in errors. */
  allocate(shape: readonly number[], what: string): Tensor;
  /** A new tensor holding `values` (an index map of the call). */
  upload(values: Float32Array): Tensor;
}

/**
 * The tensors of one training-op call on a backend, for both training runners: the read slots
 * (index maps uploaded for the call), the write slots (new tensors for the shapes), temporaries
 * (freed when the call ends) and the call's new tensors (freed if it fails).
 */
export class CallTensors {
  readonly #maker: TensorMaker;
  readonly #temporaries: Tensor[] = [];
  readonly #created: Tensor[] = [];

  constructor(maker: TensorMaker) {
    this.#maker = maker;
  }

  /** The read slots: tensors as given, index maps uploaded as temporaries. */
  reads(call: TrainingOpCall<unknown>): (Tensor | null)[] {
    return (call.reads ?? []).map((slot) => {
      if (!(slot instanceof Float32Array)) return slot as Tensor | null;
      const t = this.#maker.upload(slot);
      this.#temporaries.push(t);
      return t;
    });
  }

  /** The write slots: in-place tensors as given, new ones allocated for shapes. */
  writes(call: TrainingOpCall<unknown>, what: string): Tensor[] {
    return (call.writes ?? []).map((slot) => (isShape(slot) ? this.created(slot, what) : (slot as Tensor)));
  }

  /** A new tensor the call returns (freed if the call fails). */
  created(shape: readonly number[], what: string): Tensor {
    const t = this.#maker.allocate(shape, what);
    this.#created.push(t);
    return t;
  }

  /** A new tensor freed when the call ends. */
  temporary(shape: readonly number[], what: string): Tensor {
    const t = this.#maker.allocate(shape, what);
    this.#temporaries.push(t);
    return t;
  }

  /** Runs the call's `body`: frees the new tensors if it fails, and the temporaries when it ends. */
  async run<R>(body: () => Promise<R>): Promise<R> {
    try {
      return await body();
    } catch (error) {
      for (const t of this.#created) t.dispose();
      throw error;
    } finally {
      for (const t of this.#temporaries) t.dispose();
    }
  }

  /** The new tensors made so far. */
  get all(): readonly Tensor[] {
    return this.#created;
  }
}

/** Whether a write slot is a new tensor's shape (not a tensor written in place). */
export const isShape = (slot: Operand | readonly number[]): slot is readonly number[] => Array.isArray(slot);
