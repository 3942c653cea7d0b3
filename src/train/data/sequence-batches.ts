/**
 * Batches of contiguous sequences for truncated back-propagation through time.
 *
 * Training: the encoded text of n characters is cut into B contiguous streams of
 * L = floor((n - 1) / B) characters, stream b covering [b * L, (b + 1) * L) (its inputs; the
 * character after its last one is its last target). An epoch starts every stream at the same
 * offset o in [0, T), drawn from (seed, epoch) alone, and gives floor((L - T + 1) / T) batches, the
 * same number whatever o is; the characters of a stream before o and after the epoch's last batch
 * (fewer than 2T - 1 in all), and the last (n - 1) mod B of the text, are not read that epoch.
 * Batch k holds, for t in [0, T) and b in [0, B), at row t * B + b (time-major):
 * inputs = stream b's character at offset o + k * T + t, targets = the character after it. So
 * batch k + 1 continues every stream where batch k stopped: the hidden state can be carried across.
 *
 * Evaluation (`evaluationBatches`): offset 0 and every character covered. The n - 1 predictions
 * (targets 1..n-1; character 0 is only an input) are cut into B contiguous streams, the first
 * r = (n - 1) mod B of them one character longer than the rest (L or L + 1 characters); batches of
 * T steps over all B streams, a last shorter one of T' = L mod T steps when T does not divide L,
 * then, when r > 0, one batch of 1 step over the first r streams only (its `batchSize` is r: it
 * continues streams 0..r-1, the first r rows of the carried state). Every target is in exactly one
 * batch, so the summed loss over these batches divided by n - 1 is the loss per character of the
 * whole text (bits per character: nats / ln 2).
 */
import { checkMemory } from '../../budget.js';
import { checkInteger } from '../../check.js';
import { ParameterError } from '../../errors.js';
import { randomInt, resolveRng, type Seed } from '../../random.js';

/** The shape of a batch: B streams side by side, T time steps. */
export interface SequenceShape {
  /** B, the number of streams (rows per time step). */
  batchSize: number;
  /** T, the time steps per batch (the truncation length of back-propagation through time). */
  steps: number;
}

/** Options of `sequenceBatches`. */
export interface SequenceBatchOptions extends SequenceShape {
  /** The run's seed. */
  seed: Seed;
  /** The epoch, counted from 0; with `seed` it fixes the streams' starting offset. */
  epoch: number;
  /** Start at this batch of the epoch (default 0), to resume within an epoch. */
  startBatch?: number;
}

/** One batch of sequences, time-major: row t * batchSize + b is stream b at time step t. */
export interface SequenceBatch {
  /** Character indices, [steps * batchSize]. */
  inputs: Int32Array;
  /** The character after each input, [steps * batchSize]. */
  targets: Int32Array;
  /** Each input's position in the text, [steps * batchSize] (its target is at position + 1). */
  positions: Int32Array;
  /** Time steps in this batch (T, or fewer for evaluation's last batches). */
  steps: number;
  /** Streams in this batch (B, or r for evaluation's last one-step batch: streams 0..r-1). */
  batchSize: number;
  /** The batch's position in its epoch (or evaluation pass), from 0. */
  index: number;
}

/** Encoded text: one character index per element (a CharVocabulary's `encode` output, or any integer array). */
export type SequenceTokens = ArrayLike<number>;

function checkShape(shape: SequenceShape, context: string): { batchSize: number; steps: number } {
  if (typeof shape !== 'object' || shape === null) throw new ParameterError('options', 'an object with batchSize and steps', shape, context);
  const batchSize = checkInteger('batchSize', shape.batchSize, 1, 2 ** 31 - 1, context);
  const steps = checkInteger('steps', shape.steps, 1, 2 ** 31 - 1, context);
  return { batchSize, steps };
}

function checkLength(length: unknown, context: string): number {
  return checkInteger('length', length, 0, Number.MAX_SAFE_INTEGER, context);
}

function checkTokens(tokens: SequenceTokens, context: string): number {
  if (typeof tokens !== 'object' || tokens === null || !Number.isInteger(tokens.length)) {
    throw new ParameterError('tokens', 'an array or typed array of character indices', tokens, context);
  }
  return tokens.length;
}

/** The fewest characters a training epoch of `batchSize` streams and `steps` steps needs: B * (2T - 1) + 1. */
export function minimumTrainingLength(shape: SequenceShape): number {
  const { batchSize, steps } = checkShape(shape, 'minimumTrainingLength');
  return batchSize * (2 * steps - 1) + 1;
}

/**
 * The number of batches of a training epoch over `length` characters: floor((L - T + 1) / T)
 * with L = floor((length - 1) / B). ParameterError (naming `length`) when the text is shorter
 * than `minimumTrainingLength`, so that every epoch has at least one batch whatever its offset.
 */
export function sequenceBatchesPerEpoch(length: number, shape: SequenceShape): number {
  const context = 'sequenceBatchesPerEpoch';
  const { batchSize, steps } = checkShape(shape, context);
  checkLength(length, context);
  const need = batchSize * (2 * steps - 1) + 1;
  if (length < need) {
    throw new ParameterError('length', `at least B * (2T - 1) + 1 = ${need} characters for batchSize ${batchSize} and steps ${steps} (or a smaller batchSize or steps)`, length, context);
  }
  const streamLength = Math.floor((length - 1) / batchSize);
  return Math.floor((streamLength - steps + 1) / steps);
}

/** The offset in [0, steps) at which epoch `epoch`'s streams start: drawn from (seed, epoch) alone, the same on every machine. */
export function sequenceOffset(seed: Seed, epoch: number, steps: number): number {
  const context = 'sequenceOffset';
  checkInteger('epoch', epoch, 0, Number.MAX_SAFE_INTEGER, context);
  checkInteger('steps', steps, 1, 2 ** 31 - 1, context);
  if (seed === undefined) throw new ParameterError('seed', 'a finite number or a string', seed, context);
  resolveRng({ seed }, context); // Checks the seed itself before deriving the epoch's seed from it.
  return randomInt(resolveRng({ seed: `${String(seed)}#sequence-offset-epoch${epoch}` }, context), steps);
}

/** One batch of `steps` x `width` rows: stream b starts at `starts[b] + first` (time-major, targets shifted by one). */
function gather(tokens: SequenceTokens, starts: ArrayLike<number>, width: number, first: number, steps: number, index: number): SequenceBatch {
  checkMemory(`a batch of ${steps} x ${width} characters`, 12 * steps * width, { elements: steps * width });
  const inputs = new Int32Array(steps * width);
  const targets = new Int32Array(steps * width);
  const positions = new Int32Array(steps * width);
  for (let b = 0; b < width; b++) {
    const start = starts[b] + first;
    for (let t = 0; t < steps; t++) {
      inputs[t * width + b] = tokens[start + t];
      targets[t * width + b] = tokens[start + t + 1];
      positions[t * width + b] = start + t;
    }
  }
  return { inputs, targets, positions, steps, batchSize: width, index };
}

/**
 * Batch `index` of the training epoch fixed by `options` (its seed and epoch): see the module's
 * description. ParameterError for a bad shape, a text too short (`sequenceBatchesPerEpoch`) or an
 * index outside the epoch.
 */
export function sequenceBatch(tokens: SequenceTokens, options: SequenceBatchOptions, index: number): SequenceBatch {
  const context = 'sequenceBatch';
  const length = checkTokens(tokens, context);
  const { batchSize, steps } = checkShape(options, context);
  const count = sequenceBatchesPerEpoch(length, { batchSize, steps });
  checkInteger('index', index, 0, count - 1, context);
  return trainingBatch(tokens, batchSize, steps, sequenceOffset(options.seed, options.epoch, steps), index);
}

function trainingBatch(tokens: SequenceTokens, batchSize: number, steps: number, offset: number, index: number): SequenceBatch {
  const streamLength = Math.floor((tokens.length - 1) / batchSize);
  const starts = Array.from({ length: batchSize }, (_, b) => b * streamLength);
  return gather(tokens, starts, batchSize, offset + index * steps, steps, index);
}

/**
 * The batches of one training epoch, in order, from `startBatch` (default 0) to the epoch's end
 * (`sequenceBatchesPerEpoch`): see the module's description. The same tokens, shape, seed and
 * epoch give the same batches, byte for byte. ParameterError for a bad shape, seed, epoch or
 * startBatch, or a text too short.
 */
export function sequenceBatches(tokens: SequenceTokens, options: SequenceBatchOptions): Generator<SequenceBatch> {
  // Checked here, when called, not at the first next().
  const context = 'sequenceBatches';
  const length = checkTokens(tokens, context);
  const { batchSize, steps } = checkShape(options, context);
  const count = sequenceBatchesPerEpoch(length, { batchSize, steps });
  const startBatch = checkInteger('startBatch', options.startBatch ?? 0, 0, count, context);
  const offset = sequenceOffset(options.seed, options.epoch, steps);
  return (function* () {
    for (let k = startBatch; k < count; k++) yield trainingBatch(tokens, batchSize, steps, offset, k);
  })();
}

/** The layout of an evaluation pass over `length` characters: stream length L, the r longer streams, and the batch count. */
export function evaluationPlan(length: number, shape: SequenceShape): { streamLength: number; longStreams: number; batches: number; targets: number } {
  const context = 'evaluationPlan';
  const { batchSize, steps } = checkShape(shape, context);
  checkLength(length, context);
  if (length < 2) throw new ParameterError('length', 'at least 2 characters (one prediction)', length, context);
  const targets = length - 1;
  const streamLength = Math.floor(targets / batchSize);
  const longStreams = targets % batchSize;
  return { streamLength, longStreams, batches: Math.ceil(streamLength / steps) + (longStreams > 0 ? 1 : 0), targets };
}

/**
 * The batches of an evaluation pass over the whole text (offset 0, every target exactly once):
 * see the module's description. The number of batches and of targets is `evaluationPlan`'s.
 * ParameterError for a bad shape or a text of fewer than 2 characters.
 */
export function evaluationBatches(tokens: SequenceTokens, shape: SequenceShape): Generator<SequenceBatch> {
  const context = 'evaluationBatches';
  const length = checkTokens(tokens, context);
  const { batchSize, steps } = checkShape(shape, context);
  const { streamLength, longStreams } = evaluationPlan(length, { batchSize, steps });
  const starts = Array.from({ length: batchSize }, (_, b) => b * streamLength + Math.min(b, longStreams));
  return (function* () {
    let index = 0;
    for (let first = 0; first < streamLength; first += steps) {
      yield gather(tokens, starts, batchSize, first, Math.min(steps, streamLength - first), index++);
    }
    if (longStreams > 0) yield gather(tokens, starts, longStreams, streamLength, 1, index);
  })();
}
