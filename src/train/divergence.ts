/**
 * Finding divergence: the losses of the steps since the last read, checked together (one device
 * sync), and the parameters and optimiser state read back for values that are not finite.
 */
import type { Backend, Tensor } from '../kernels/types.js';
import { TrainingDivergedError } from './errors.js';
import type { Sequential } from './layers/sequential.js';
import type { Optimizer } from './optimizers.js';

/**
 * The loss of one epoch's steps, accumulated on the backend (`sum`), with each step's own loss
 * kept until the next read so that a bad sum can name its first bad step.
 */
export class StepLosses {
  /** Sum over the epoch's steps of batch size times the batch loss. */
  readonly sum: Tensor;
  readonly #backend: Backend;
  readonly #epoch: number;
  /** The last good checkpoint (or null), named by a divergence error. */
  lastGood: string | null;
  readonly #pending: { loss: Tensor; step: number }[] = [];

  /** `epoch` and `lastGood` (the last good checkpoint, or null) go into a TrainingDivergedError; the sum starts at `initial` (the steps of a resumed epoch before its checkpoint). */
  constructor(backend: Backend, epoch: number, lastGood: string | null, initial = 0) {
    this.#backend = backend;
    this.#epoch = epoch;
    this.lastGood = lastGood;
    this.sum = backend.tensor(Float32Array.of(initial), [1]);
  }

  /** Steps whose loss has not been read yet. */
  get unread(): number {
    return this.#pending.length;
  }

  /** Adds step `step`'s `loss` (of `size` examples) to the sum; the tensor is kept (and disposed) here. */
  async add(loss: Tensor, size: number, step: number): Promise<void> {
    await this.#backend.axpy(size, loss, this.sum);
    this.#pending.push({ loss, step });
  }

  /**
   * Reads the sum: when it is not finite, TrainingDivergedError naming the first unread step whose
   * loss is not finite (`step` when none is); otherwise the sum, the unread losses released.
   */
  async read(step: number): Promise<number> {
    const [sum] = await this.#backend.read(this.sum);
    if (!Number.isFinite(sum)) {
      for (const { loss, step: at } of this.#pending) {
        const [value] = await this.#backend.read(loss);
        if (!Number.isFinite(value)) throw new TrainingDivergedError(at, this.#epoch, value, this.lastGood);
      }
      throw new TrainingDivergedError(this.#pending[0]?.step ?? step, this.#epoch, sum, this.lastGood);
    }
    this.#release();
    return sum;
  }

  /** Releases every tensor held. */
  dispose(): void {
    this.#release();
    this.sum.dispose();
  }

  #release(): void {
    for (const { loss } of this.#pending) loss.dispose();
    this.#pending.length = 0;
  }
}

/** The first parameter or optimiser state holding a value that is not finite, with that value; null when all are finite. Reads every tensor back (one sync each). */
export async function firstNonFinite(model: Sequential, optimizer: Optimizer): Promise<{ name: string; value: number } | null> {
  const optimized = new Set(optimizer.parameters);
  for (const p of model.parameters()) {
    const tensors: [string, Tensor][] = [[`parameter ${p.name}`, p.value]];
    if (optimized.has(p)) optimizer.state(p).forEach((t, i) => tensors.push([`the optimiser state ${i} of ${p.name}`, t]));
    for (const [name, tensor] of tensors) {
      const values = await tensor.backend.read(tensor);
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i])) return { name, value: values[i] };
      }
    }
  }
  return null;
}
