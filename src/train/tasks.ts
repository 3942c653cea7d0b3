/**
 * What a training run learns from, as the loop sees it: the batches of each epoch, what starts an
 * epoch, the evaluation after it, and the epoch's record. Two tasks: classification of a Dataset
 * (Fashion-MNIST, synthetic blobs), and character-level language modelling of encoded text
 * (truncated back-propagation through time, the recurrent state carried across an epoch's batches).
 */
import { checkInteger } from '../check.js';
import { ParameterError } from '../errors.js';
import type { Seed } from '../random.js';
import { batchCount, batches } from './data/batches.js';
import type { CharVocabulary } from './data/char-vocabulary.js';
import { checkDataset, type Dataset } from './data/dataset.js';
import { minimumTrainingLength, sequenceBatches, sequenceBatchesPerEpoch, type SequenceTokens } from './data/sequence-batches.js';
import type { HookEvent } from './hooks.js';
import type { ClassificationEpochMetrics, EpochMetrics, LanguageModelEpochMetrics } from './epoch-metrics.js';
import { evaluate, evaluateText } from './evaluate.js';
import type { Sequential } from './layers/sequential.js';
import type { LayerDensity } from './model.js';

/** One training step's data on the host: the model's input, the class of each row, and the time steps the rows hold. */
export interface StepBatch {
  /** The input, row-major [rows, features] (a language model's: character indices as floats, [T B, 1]). */
  x: Float32Array;
  rows: number;
  features: number;
  /** The class (or next character) of each row, [rows]. */
  labels: Float32Array;
  /** Time steps in the rows (ForwardMode.steps): rows = steps x streams; 1 for a classification batch. */
  steps: number;
}

/** An evaluation after an epoch: the loss that must be finite (and what to call it), and the record's fields. */
export interface TaskEvaluation {
  /** The loss checked for divergence. */
  loss: number;
  /** What it is, for a TrainingDivergedError ("the test loss"). */
  what: string;
  /** The second evaluation of a language model's final epoch (the test text), checked too. */
  also?: { loss: number; what: string };
  fields: Record<string, number | null>;
}

/** What an epoch's training steps summed up to. */
export interface EpochTraining {
  /** Examples (a language model's: predicted characters). */
  samples: number;
  /** Mean loss over `samples`. */
  trainLoss: number;
  trainAccuracy: number;
  /** Seconds of the training steps. */
  seconds: number;
  events: HookEvent[];
  /** Steps whose gradients were clipped. */
  clippedSteps: number;
}

/** What a finished epoch's record is built from. */
export interface EpochParts {
  epoch: number;
  step: number;
  steps: EpochTraining;
  evaluation: TaskEvaluation;
  evalSeconds: number;
  lr: number;
  densities: LayerDensity[];
  /** Clipping was on (the record counts the clipped steps). */
  clipping: boolean;
}

/** A task of the training loop (see the module's description). */
export interface TrainingTask {
  readonly kind: 'classification' | 'language-model';
  /** Time steps per batch (1 for classification): a resumed run must use the same. */
  readonly steps: number;
  /** The vocabulary stored in checkpoints (language models given one), or null. */
  readonly vocabulary: CharVocabulary | null;
  /** Refuses (ParameterError) a model whose input or output does not fit the data. */
  checkModel(model: Sequential, context: string): void;
  /** Batches per epoch for `batchSize` (examples, or streams of a language model). */
  batchesPerEpoch(batchSize: number): number;
  /** The batches of epoch `epoch` from `startBatch`, in the order (seed, epoch) fixes. */
  batches(options: { batchSize: number; seed: Seed; epoch: number; startBatch: number }): Iterable<StepBatch>;
  /** Runs before an epoch's first batch (not when a resumed run continues an epoch): a language model's carried state is reset. */
  startEpoch(model: Sequential): void;
  /** The evaluation after an epoch (`final`: the run's last epoch). */
  evaluate(model: Sequential, options: { batchSize: number; final: boolean }): Promise<TaskEvaluation>;
  /** The epoch's line of metrics.jsonl. */
  record(parts: EpochParts): EpochMetrics;
}

/** Classification of `train` (test on `test` after every epoch): softmax cross-entropy over `classes` outputs. */
export function classificationTask(train: Dataset, test: Dataset, context = 'train'): TrainingTask {
  checkDataset(train, context);
  checkDataset(test, context);
  if (train.n === 0) throw new ParameterError('train', 'a data set of at least one example', 'an empty one (n = 0)', context);
  if (test.n === 0) throw new ParameterError('test', 'a data set of at least one example', 'an empty one (n = 0)', context);
  return {
    kind: 'classification',
    steps: 1,
    vocabulary: null,
    checkModel(model, where) {
      if (train.features !== model.inFeatures || test.features !== model.inFeatures) {
        throw new ParameterError('train', `a dataset of ${model.inFeatures} features (the model's input)`, `${train.features} (test: ${test.features})`, where);
      }
      if (train.classes > model.outFeatures) throw new ParameterError('train', `a dataset of at most ${model.outFeatures} classes (the model's outputs)`, train.classes, where);
    },
    batchesPerEpoch: (batchSize) => batchCount(train.n, batchSize),
    *batches({ batchSize, seed, epoch, startBatch }) {
      for (const batch of batches(train, { batchSize, seed, epoch, startBatch })) {
        yield { x: batch.x, rows: batch.size, features: train.features, labels: Float32Array.from(batch.y), steps: 1 };
      }
    },
    startEpoch() {},
    async evaluate(model, { batchSize }) {
      const result = await evaluate(model, test, batchSize);
      return { loss: result.loss, what: 'the test loss', fields: { testLoss: result.loss, testAccuracy: result.accuracy } };
    },
    record({ epoch, step, steps, evaluation, evalSeconds, lr, densities, clipping }): ClassificationEpochMetrics {
      return {
        epoch, step, trainLoss: steps.trainLoss, trainAccuracy: steps.trainAccuracy,
        testLoss: evaluation.fields.testLoss as number, testAccuracy: evaluation.fields.testAccuracy as number,
        seconds: steps.seconds, evalSeconds, samplesPerSecond: steps.samples / steps.seconds, lr, densities, events: steps.events,
        ...(clipping ? { clippedSteps: steps.clippedSteps } : {}),
      };
    },
  };
}

/** Encoded text for a character-level language model (`train({ text })`). */
export interface TextData {
  /** The training text, one character index per element (CharVocabulary.encode). */
  train: SequenceTokens;
  /** The validation text: bits per character over all of it after every epoch. */
  validation: SequenceTokens;
  /** The test text: bits per character over all of it after the run's last epoch. */
  test: SequenceTokens;
  /** T: time steps per batch, the truncation length of back-propagation through time. */
  steps: number;
  /** The vocabulary the indices come from: stored in checkpoints (for sampling), and its size must be the model's outputs. */
  vocabulary?: CharVocabulary;
}

/** The largest index in `tokens` (-1 for none), checking that each is an integer. */
function largestToken(tokens: SequenceTokens, field: string, context: string): number {
  let largest = -1;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!Number.isInteger(t) || t < 0) throw new ParameterError(`${field}[${i}]`, 'a character index (a non-negative integer)', t, context);
    if (t > largest) largest = t;
  }
  return largest;
}

/**
 * Character-level language modelling of `text` with batches of `batchSize` streams (see
 * sequenceBatches): each step predicts the character after every input (softmax cross-entropy
 * over the model's outputs), the model's carried state goes on from batch to batch and is reset
 * at the start of every epoch and around every evaluation. After each epoch: bits per character
 * over the whole validation text (evaluation batches of `evalBatchSize` streams and `steps`
 * steps), and after the run's last one over the whole test text too. ParameterError for a bad
 * `steps`, texts too short (naming which), or indices that are not integers.
 */
export function textTask(text: TextData, batchSize: number, context = 'train'): TrainingTask {
  if (typeof text !== 'object' || text === null) throw new ParameterError('text', 'an object {train, validation, test, steps}', text, context);
  const steps = checkInteger('text.steps', text.steps, 1, 2 ** 31 - 1, context);
  const need = minimumTrainingLength({ batchSize, steps });
  for (const split of ['train', 'validation', 'test'] as const) {
    const tokens = text[split];
    if (typeof tokens !== 'object' || tokens === null || !Number.isInteger(tokens.length)) throw new ParameterError(`text.${split}`, 'an array or typed array of character indices', tokens, context);
  }
  if (text.train.length < need) {
    throw new ParameterError('text.train', `at least B (2T - 1) + 1 = ${need} characters for batchSize ${batchSize} and steps ${steps} (or a smaller batchSize or steps)`, `${text.train.length} characters`, context);
  }
  for (const split of ['validation', 'test'] as const) {
    if (text[split].length < 2) throw new ParameterError(`text.${split}`, 'at least 2 characters (one prediction)', `${text[split].length} characters`, context);
  }
  const largest = Math.max(...(['train', 'validation', 'test'] as const).map((split) => largestToken(text[split], `text.${split}`, context)));
  const vocabulary = text.vocabulary ?? null;
  if (vocabulary !== null && largest >= vocabulary.size) throw new ParameterError('text', `character indices below the vocabulary's size ${vocabulary.size}`, largest, context);
  const evaluateOn = async (model: Sequential, tokens: SequenceTokens, streams: number) => evaluateText(model, tokens, { batchSize: streams, steps });
  return {
    kind: 'language-model',
    steps,
    vocabulary,
    checkModel(model, where) {
      if (model.inFeatures !== 1) throw new ParameterError('model', 'a character model: input a column of character indices (an Embedding first)', `${model.inFeatures} input features`, where);
      if (vocabulary !== null && model.outFeatures !== vocabulary.size) {
        throw new ParameterError('text.vocabulary', `a vocabulary of ${model.outFeatures} characters (the model's outputs)`, `${vocabulary.size} characters`, where);
      }
      if (largest >= model.outFeatures) throw new ParameterError('text', `character indices below ${model.outFeatures} (the model's outputs)`, largest, where);
    },
    batchesPerEpoch: (streams) => sequenceBatchesPerEpoch(text.train.length, { batchSize: streams, steps }),
    *batches({ batchSize: streams, seed, epoch, startBatch }) {
      for (const batch of sequenceBatches(text.train, { batchSize: streams, steps, seed, epoch, startBatch })) {
        const rows = batch.inputs.length;
        yield { x: Float32Array.from(batch.inputs), rows, features: 1, labels: Float32Array.from(batch.targets), steps: batch.steps };
      }
    },
    startEpoch(model) {
      model.resetState();
    },
    async evaluate(model, { batchSize: streams, final }) {
      const validation = await evaluateOn(model, text.validation, streams);
      const test = final ? await evaluateOn(model, text.test, streams) : null;
      return {
        loss: validation.loss,
        what: 'the validation loss',
        ...(test ? { also: { loss: test.loss, what: 'the test loss' } } : {}),
        fields: { validationLoss: validation.loss, validationBpc: validation.bpc, testBpc: test ? test.bpc : null },
      };
    },
    record({ epoch, step, steps: done, evaluation, evalSeconds, lr, densities, clipping }): LanguageModelEpochMetrics {
      return {
        epoch, step, trainLoss: done.trainLoss, trainBpc: done.trainLoss / Math.LN2,
        validationLoss: evaluation.fields.validationLoss as number, validationBpc: evaluation.fields.validationBpc as number, testBpc: evaluation.fields.testBpc,
        seconds: done.seconds, evalSeconds, charactersPerSecond: done.samples / done.seconds, lr, densities, events: done.events,
        ...(clipping ? { clippedSteps: done.clippedSteps } : {}),
      };
    },
  };
}
