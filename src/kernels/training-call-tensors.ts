import { checkOneOf } from '../check.js';
import { ParameterError } from '../errors.js';
import type { Operand, OperandOwner } from './checks.js';
import { TRAINING_OP_SPECS, TRAINING_OPS, type TrainingOpCall, type TrainingOpName } from './training-ops.js';
import { settle, type Eventually } from './settle.js';
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

  /**
   * Runs the call's `body`: frees the new tensors if it fails, and the temporaries when it ends.
   * A body that returns a value (it ran to its end synchronously) gives the value; one that
   * returns a promise gives a promise.
   */
  run<R>(body: () => Eventually<R>): Eventually<R> {
    return settle(
      body,
      (ok) => {
        if (!ok) for (const t of this.#created) t.dispose();
        for (const t of this.#temporaries) t.dispose();
      },
      (value) => value,
    );
  }

  /** The new tensors made so far. */
  get all(): readonly Tensor[] {
    return this.#created;
  }
}

/** Whether a write slot is a new tensor's shape (not a tensor written in place). */
export const isShape = (slot: Operand | readonly number[]): slot is readonly number[] => Array.isArray(slot);

/** The call of training operation `name` with the method's arguments, checked by its spec. */
export function specCall(owner: OperandOwner, name: TrainingOpName, args: readonly unknown[]): TrainingOpCall<unknown> {
  const spec = TRAINING_OP_SPECS[name] as (owner: OperandOwner, ...args: unknown[]) => TrainingOpCall<unknown>;
  return spec(owner, ...args);
}

/** The tensors a call reads or writes in place (not index maps, not new tensors' shapes). */
export function tensorsOf(call: TrainingOpCall<unknown>): Operand[] {
  return [...(call.reads ?? []), ...(call.writes ?? [])].filter((t): t is Operand => t !== null && !(t instanceof Float32Array) && !isShape(t as Operand));
}

/**
 * The calls of `Backend.batch(name, argLists)`, each checked by its spec. A batch's calls run at
 * once, so none may write a tensor that another call of the batch reads or writes.
 */
export function batchCalls(owner: OperandOwner, name: TrainingOpName, argLists: readonly (readonly unknown[])[]): TrainingOpCall<unknown>[] {
  checkOneOf('name', name, TRAINING_OPS, 'batch');
  if (!Array.isArray(argLists) || argLists.some((args) => !Array.isArray(args))) {
    throw new ParameterError('calls', "an array of argument lists (each the method's arguments)", argLists, `batch(${name})`);
  }
  const calls = argLists.map((args) => specCall(owner, name, args));
  checkDisjoint(name, calls);
  return calls;
}

function checkDisjoint(name: TrainingOpName, calls: readonly TrainingOpCall<unknown>[]): void {
  const writer = new Map<Operand, number>();
  calls.forEach((call, i) => {
    for (const slot of call.writes ?? []) if (!isShape(slot)) writer.set(slot as Operand, i);
  });
  calls.forEach((call, i) => {
    for (const t of tensorsOf(call)) {
      const j = writer.get(t);
      if (j !== undefined && j !== i) throw new ParameterError(`calls[${i}]`, `no tensor that calls[${j}] writes`, 'a tensor calls[' + j + '] writes in place', `batch(${name})`);
    }
  });
}
