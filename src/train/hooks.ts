import type { Backend, Tensor } from '../kernels/types.js';
import type { Sequential } from './layers/sequential.js';
import type { Optimizer } from './optimizers.js';

/** What a hook sees at a training step. */
export interface StepContext {
  /** Steps completed before this one, over the whole run (0 at the first step). */
  step: number;
  /** The epoch, from 0. */
  epoch: number;
  model: Sequential;
  optimizer: Optimizer;
  backend: Backend;
  /** The batch's mean loss tensor ([1]): a hook may add to it (e.g. a penalty) before it is logged. */
  loss: Tensor;
}

/**
 * A training-loop extension (pruning, regrowth, L0 penalties). Hooks run in the order given,
 * inside the step, with tensors on the backend; their state goes into checkpoints so that a
 * resumed run continues exactly.
 */
export interface TrainingHook {
  /** A short name, used as the key of its state in checkpoints and in the metrics log. */
  readonly name: string;
  /** After backward, before the optimiser step: add to gradients (e.g. the L0 penalty). May return a tensor [1] to add to the logged loss. */
  afterBackward?(context: StepContext): Promise<Tensor | void>;
  /** After the optimiser step: change the model (e.g. prune or regrow blocks). Returns an event to log, or nothing. */
  afterStep?(context: StepContext): Promise<Record<string, unknown> | void>;
  /** JSON-safe state for checkpoints. */
  state?(): unknown;
  /** Restores state() output. */
  restore?(state: unknown): void;
}
