import { describeValue, FormatError } from '../errors.js';
import type { Backend, Tensor } from '../kernels/types.js';
import type { RngState } from '../random.js';
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

/** An event a hook returned from afterStep, with where it happened. */
export interface HookEvent {
  hook: string;
  epoch: number;
  step: number;
  [key: string]: unknown;
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
  /** Restores state() output, read back from a checkpoint: validates it completely (types, ranges, agreement with the layers) and throws `stateError` naming the field otherwise. */
  restore?(state: unknown): void;
}

/**
 * A restored state that is not what a hook saves: FormatError whose `field` is the path inside
 * the state ('' for the whole state) and whose message starts with it; `restoreHooks` prefixes
 * both with `hooks.<hook name>`.
 */
export function stateError(field: string, message: string): FormatError {
  return new FormatError(field ? `${field} ${message}` : message, field);
}

/** `path.key`, or `key` at the top of a state. */
export function fieldOf(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** Alea's carry after a draw is floor(2091639 s0 + c 2^-32), so at most 2091639. */
const ALEA_MAX_CARRY = 2091639;

/**
 * Checks a saved generator state (`statefulRng`'s Alea: three fractions s0, s1, s2 in [0, 1) and
 * an integer carry c in [0, 2091639], nothing else) before it is used: a state outside those
 * ranges would draw infinities or values outside [0, 1). FormatError (`stateError`) naming
 * `path.s0` etc. otherwise. Returns the state.
 */
export function checkRngState(value: unknown, path: string): RngState {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw stateError(path, `must be a generator state {c, s0, s1, s2} (got ${describeValue(value)})`);
  }
  const state = value as Record<string, unknown>;
  for (const key of Object.keys(state)) {
    if (!['c', 's0', 's1', 's2'].includes(key)) throw stateError(fieldOf(path, key), 'is not a field of a generator state {c, s0, s1, s2}');
  }
  for (const key of ['s0', 's1', 's2']) {
    const v = state[key];
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw stateError(fieldOf(path, key), `must be a number in [0, 1) (got ${describeValue(v)})`);
  }
  const c = state.c;
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > ALEA_MAX_CARRY) {
    throw stateError(fieldOf(path, 'c'), `must be an integer in [0, ${ALEA_MAX_CARRY}] (got ${describeValue(c)})`);
  }
  return value as RngState;
}
