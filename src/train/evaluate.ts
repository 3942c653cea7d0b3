/**
 * Evaluation of a model in evaluation mode (deterministic gates), reading the device once: mean
 * loss and accuracy on a classification data set, and bits per character over a whole text.
 */
import { checkInteger } from '../check.js';
import { ParameterError } from '../errors.js';
import { batches } from './data/batches.js';
import type { Dataset } from './data/dataset.js';
import { evaluationBatches, evaluationPlan, type SequenceShape, type SequenceTokens } from './data/sequence-batches.js';
import type { Sequential } from './layers/sequential.js';

/** The index of the largest value of each row of x [rows, width] (the first on ties). */
export function argmaxRows(x: Float32Array, rows: number, width: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < width; j++) if (x[r * width + j] > x[r * width + best]) best = j;
    out[r] = best;
  }
  return out;
}

/** Options of `evaluate`. */
export interface EvaluateOptions {
  /** Filled with each example's most likely class ([dataset.n]): the logits are then read batch by batch. */
  predictions?: Int32Array;
}

/**
 * The mean loss and accuracy of `model` on `dataset` in evaluation mode (deterministic gates),
 * reading the device once (and each batch's logits with `predictions`).
 */
export async function evaluate(model: Sequential, dataset: Dataset, batchSize = 1000, options: EvaluateOptions = {}): Promise<{ loss: number; accuracy: number }> {
  checkInteger('batchSize', batchSize, 1, Number.MAX_SAFE_INTEGER, 'evaluate');
  const { predictions } = options;
  if (predictions !== undefined && (!(predictions instanceof Int32Array) || predictions.length !== dataset.n)) {
    throw new ParameterError('predictions', `an Int32Array of the data set's ${dataset.n} examples`, predictions?.length, 'evaluate');
  }
  const backend = model.backend;
  const lossSum = backend.zeros([1]);
  const correctSum = backend.zeros([1]);
  try {
    let start = 0;
    for (const batch of batches(dataset, { batchSize, shuffle: false })) {
      const x = backend.tensor(batch.x, [batch.size, dataset.features]);
      const labels = backend.tensor(Float32Array.from(batch.y), [batch.size]);
      const logits = await model.forward(x, { training: false });
      if (predictions) predictions.set(argmaxRows(Float32Array.from(await backend.read(logits)), batch.size, model.outFeatures), start);
      start += batch.size;
      const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
      await backend.axpy(batch.size, loss, lossSum);
      await backend.axpy(1, correct, correctSum);
      for (const t of [x, labels, logits, loss, dlogits, correct]) t.dispose();
    }
    const [loss] = await backend.read(lossSum);
    const [correct] = await backend.read(correctSum);
    return { loss: loss / dataset.n, accuracy: correct / dataset.n };
  } finally {
    lossSum.dispose();
    correctSum.dispose();
  }
}

/** What `evaluateText` measures over a whole text. */
export interface TextEvaluation {
  /** Mean cross-entropy per predicted character, in nats. */
  loss: number;
  /** The same in bits per character: loss / ln 2. */
  bpc: number;
  /** Characters predicted: every character of the text but the first (which is only an input). */
  characters: number;
  /** Predictions whose most likely character was the right one, over `characters`. */
  accuracy: number;
}

/**
 * The loss of a character model (input a column of character indices, one logit per character
 * out) over the whole of `tokens`, every character but the first predicted exactly once
 * (`evaluationBatches`: B = shape.batchSize contiguous streams, T = shape.steps steps a batch, the
 * state carried from batch to batch and the last, shorter batches continuing the first streams).
 * Evaluation mode; the model's carried state is reset before and after. The summed loss stays on
 * the backend and is read once. ParameterError for a bad shape or a text of fewer than 2
 * characters.
 */
export async function evaluateText(model: Sequential, tokens: SequenceTokens, shape: SequenceShape): Promise<TextEvaluation> {
  const context = 'evaluateText';
  const plan = evaluationPlan(tokens.length, shape);
  if (model.inFeatures !== 1) throw new ParameterError('model', 'a model whose input is a column of character indices (an Embedding first)', `${model.inFeatures} input features`, context);
  const backend = model.backend;
  const lossSum = backend.zeros([1]);
  const correctSum = backend.zeros([1]);
  model.resetState();
  try {
    for (const batch of evaluationBatches(tokens, shape)) {
      const rows = batch.inputs.length;
      const x = backend.tensor(Float32Array.from(batch.inputs), [rows, 1]);
      const labels = backend.tensor(Float32Array.from(batch.targets), [rows]);
      const logits = await model.forward(x, { training: false, steps: batch.steps });
      const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
      await backend.axpy(rows, loss, lossSum);
      await backend.axpy(1, correct, correctSum);
      for (const t of [x, labels, logits, loss, dlogits, correct]) t.dispose();
    }
    const [sum] = await backend.read(lossSum);
    const [correct] = await backend.read(correctSum);
    const loss = sum / plan.targets;
    return { loss, bpc: loss / Math.LN2, characters: plan.targets, accuracy: correct / plan.targets };
  } finally {
    model.resetState();
    lossSum.dispose();
    correctSum.dispose();
  }
}
