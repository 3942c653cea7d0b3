/**
 * Seeded shuffling and batching. The order of epoch e is a permutation drawn from its own stream,
 * seeded by (seed, e) alone: it is the same on every machine, and a run resumed at epoch e draws
 * the same order without replaying epochs 0..e-1.
 */
import { checkInteger } from '../../check.js';
import { ParameterError } from '../../errors.js';
import { randomPermutation, resolveRng, type Seed } from '../../random.js';
import { checkDataset, type Dataset } from './dataset.js';

/** Options of `epochOrder`. */
export interface EpochOrderOptions {
  /** The run's seed. */
  seed: Seed;
  /** The epoch, counted from 0. */
  epoch: number;
}

/** Options of `batches`. */
export interface BatchOptions {
  /** Examples per batch (the last may be smaller unless `dropLast`). */
  batchSize: number;
  /** Shuffle each epoch (default true); false keeps the dataset's order and needs no seed. */
  shuffle?: boolean;
  /** The run's seed; required when shuffling. */
  seed?: Seed;
  /** The epoch, counted from 0 (default 0); with `seed` it fixes the order. */
  epoch?: number;
  /** Drop the last batch when it is smaller than `batchSize` (default false: keep it). */
  dropLast?: boolean;
  /** Start at this batch of the epoch (default 0), to resume within an epoch. */
  startBatch?: number;
}

/** One batch: `size` examples gathered in epoch order. */
export interface Batch {
  /** The examples, row-major [size, features]. */
  x: Float32Array;
  /** Their labels, [size]. */
  y: Uint8Array;
  /** Their indices in the dataset, [size]. */
  indices: Int32Array;
  /** Number of examples in this batch. */
  size: number;
}

/** The order of epoch `epoch` for `n` examples: a permutation of 0..n-1 that depends only on (seed, epoch). */
export function epochOrder(n: number, options: EpochOrderOptions): Int32Array {
  const context = 'epochOrder';
  checkInteger('n', n, 0, 2 ** 31 - 1, context);
  if (typeof options !== 'object' || options === null) throw new ParameterError('options', 'an object with seed and epoch', options, context);
  const { seed, epoch } = options;
  if (seed === undefined) throw new ParameterError('seed', 'a finite number or a string', seed, context);
  checkInteger('epoch', epoch, 0, Number.MAX_SAFE_INTEGER, context);
  // Validate the seed itself before deriving the epoch's seed string from it.
  resolveRng({ seed }, context);
  // The epoch digits hold no '#', so the last '#epoch' splits the string back into (seed, epoch).
  return randomPermutation(resolveRng({ seed: `${String(seed)}#epoch${epoch}` }, context), n);
}

/** The number of batches of an epoch of `n` examples. */
export function batchCount(n: number, batchSize: number, dropLast = false): number {
  checkInteger('n', n, 0, Number.MAX_SAFE_INTEGER, 'batchCount');
  checkInteger('batchSize', batchSize, 1, Number.MAX_SAFE_INTEGER, 'batchCount');
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/** The examples at `indices` gathered into one batch (copies: the batch never aliases the dataset). */
export function gatherBatch(dataset: Dataset, indices: Int32Array): Batch {
  const { images, labels, features, n } = dataset;
  const size = indices.length;
  const x = new Float32Array(size * features);
  const y = new Uint8Array(size);
  for (let r = 0; r < size; r++) {
    const i = indices[r];
    if (!(i >= 0 && i < n)) throw new ParameterError(`indices[${r}]`, `an index in [0, ${n - 1}]`, i, 'gatherBatch');
    x.set(images.subarray(i * features, (i + 1) * features), r * features);
    y[r] = labels[i];
  }
  return { x, y, indices: indices.slice(), size };
}

/**
 * The batches of one epoch, in the order `epochOrder(dataset.n, {seed, epoch})` (or the dataset's
 * order with `shuffle: false`). Options are checked when called, before the first batch.
 */
export function batches(dataset: Dataset, options: BatchOptions): Generator<Batch, void, undefined> {
  const context = 'batches';
  checkDataset(dataset, context);
  if (typeof options !== 'object' || options === null) throw new ParameterError('options', 'an object with at least batchSize', options, context);
  const batchSize = checkInteger('batchSize', options.batchSize, 1, Number.MAX_SAFE_INTEGER, context);
  const shuffle = options.shuffle ?? true;
  if (typeof shuffle !== 'boolean') throw new ParameterError('shuffle', 'a boolean', shuffle, context);
  const dropLast = options.dropLast ?? false;
  if (typeof dropLast !== 'boolean') throw new ParameterError('dropLast', 'a boolean', dropLast, context);
  const epoch = checkInteger('epoch', options.epoch ?? 0, 0, Number.MAX_SAFE_INTEGER, context);
  const count = batchCount(dataset.n, batchSize, dropLast);
  const startBatch = checkInteger('startBatch', options.startBatch ?? 0, 0, count, context);
  let order: Int32Array;
  if (shuffle) {
    if (options.seed === undefined) {
      throw new ParameterError('seed', 'a finite number or a string when shuffling (or pass shuffle: false)', options.seed, context);
    }
    order = epochOrder(dataset.n, { seed: options.seed, epoch });
  } else {
    order = new Int32Array(dataset.n);
    for (let i = 0; i < order.length; i++) order[i] = i;
  }
  return generateBatches(dataset, order, batchSize, startBatch, count);
}

function* generateBatches(dataset: Dataset, order: Int32Array, batchSize: number, startBatch: number, count: number): Generator<Batch, void, undefined> {
  for (let b = startBatch; b < count; b++) {
    yield gatherBatch(dataset, order.subarray(b * batchSize, Math.min((b + 1) * batchSize, order.length)));
  }
}
