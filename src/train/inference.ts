/**
 * A trained model for inference: evaluation-mode forward passes only (deterministic gates, no
 * activations kept for a backward pass, no gradients, no optimiser state), on batches given as
 * host arrays. Batch 1 is the latency path: a product of a small model is below the CPU
 * backend's threshold for waking its workers, so it runs on the calling thread.
 */
import { checkInteger } from '../check.js';
import { ParameterError, ShapeError } from '../errors.js';
import type { Backend } from '../kernels/types.js';
import type { CharVocabulary } from './data/char-vocabulary.js';
import type { Dataset } from './data/dataset.js';
import { evaluationBatches, evaluationPlan, type SequenceShape, type SequenceTokens } from './data/sequence-batches.js';
import { argmaxRows, evaluate, evaluateText, type EvaluateOptions, type TextEvaluation } from './evaluate.js';
import type { Sequential } from './layers/sequential.js';

/** What a prediction returns: the logits [rows, classes] and the most likely class of each row. */
export interface Prediction {
  logits: Float32Array;
  classes: Int32Array;
  rows: number;
}

/** Options of `InferenceModel`. */
export interface InferenceModelOptions {
  /** A language model's character vocabulary (null for a classifier). */
  vocabulary?: CharVocabulary | null;
  /** Free the backend too when the model is disposed (default false: the backend is the caller's). */
  ownsBackend?: boolean;
}

/**
 * A model ready for inference. It owns the model (dispose() frees it), and the backend when made
 * with `ownsBackend`. A language model (an Embedding first) also holds its character vocabulary.
 */
export class InferenceModel {
  readonly model: Sequential;
  /** A language model's vocabulary, or null for a classifier. */
  readonly vocabulary: CharVocabulary | null;
  readonly #ownsBackend: boolean;

  constructor(model: Sequential, options: InferenceModelOptions = {}) {
    this.model = model;
    this.vocabulary = options.vocabulary ?? null;
    this.#ownsBackend = options.ownsBackend ?? false;
  }

  /** The backend the model runs on. */
  get backend(): Backend {
    return this.model.backend;
  }

  /** Input values per row. */
  get inFeatures(): number {
    return this.model.inFeatures;
  }

  /** Logits per row (classes, or a language model's characters). */
  get outFeatures(): number {
    return this.model.outFeatures;
  }

  /**
   * The logits of `rows` examples x [rows, inFeatures] (row-major) and each row's most likely
   * class. A language model's rows are character indices, one per row, run as one step of `rows`
   * streams from the state the previous call left (`resetState` starts new streams). ShapeError
   * when x's length is not rows x inFeatures; ParameterError for rows outside [1, 2^24].
   */
  async predict(x: Float32Array, rows: number): Promise<Prediction> {
    checkInteger('rows', rows, 1, 2 ** 24, 'predict');
    if (!(x instanceof Float32Array) || x.length !== rows * this.inFeatures) {
      throw new ShapeError(`predict: x has ${x?.length} values but ${rows} rows of ${this.inFeatures} features need ${rows * this.inFeatures}`);
    }
    const backend = this.backend;
    const input = backend.tensor(x, [rows, this.inFeatures]);
    try {
      const out = await this.model.forward(input, { training: false });
      try {
        const logits = Float32Array.from(await backend.read(out));
        return { logits, classes: argmaxRows(logits, rows, this.outFeatures), rows };
      } finally {
        out.dispose();
      }
    } finally {
      input.dispose();
    }
  }

  /** Mean loss and accuracy of a classifier on a data set (evaluation batches of `batchSize`; with `predictions`, each example's class too). */
  async evaluate(dataset: Dataset, batchSize = 1000, options: EvaluateOptions = {}): Promise<{ loss: number; accuracy: number }> {
    if (this.vocabulary !== null) throw new ParameterError('dataset', 'a text (evaluateText) for a language model', 'a classification data set', 'evaluate');
    return evaluate(this.model, dataset, batchSize, options);
  }

  /** Bits per character of a language model over a whole encoded text (`evaluateText`). */
  async evaluateText(tokens: SequenceTokens, shape: SequenceShape): Promise<TextEvaluation> {
    if (this.vocabulary === null) throw new ParameterError('tokens', 'a classification data set (evaluate) for a classifier', 'a text', 'evaluateText');
    return evaluateText(this.model, tokens, shape);
  }

  /**
   * A language model's most likely next character after every position of a text but the last:
   * out[p] predicts tokens[p + 1], having read tokens[0 .. p] in the stream that holds p (the
   * streams and batches of `evaluateText`, so that the predictions are those its accuracy
   * counts). The carried state is reset before and after. ParameterError for a classifier, a bad
   * shape or a text of fewer than 2 characters.
   */
  async predictText(tokens: SequenceTokens, shape: SequenceShape): Promise<Int32Array> {
    if (this.vocabulary === null) throw new ParameterError('tokens', 'a classification data set (predict) for a classifier', 'a text', 'predictText');
    const { targets } = evaluationPlan(tokens.length, shape);
    const out = new Int32Array(targets);
    const backend = this.backend;
    this.model.resetState();
    try {
      for (const batch of evaluationBatches(tokens, shape)) {
        const rows = batch.inputs.length;
        const x = backend.tensor(Float32Array.from(batch.inputs), [rows, 1]);
        try {
          const logits = await this.model.forward(x, { training: false, steps: batch.steps });
          try {
            const classes = argmaxRows(Float32Array.from(await backend.read(logits)), rows, this.outFeatures);
            for (let r = 0; r < rows; r++) out[batch.positions[r]] = classes[r];
          } finally {
            logits.dispose();
          }
        } finally {
          x.dispose();
        }
      }
    } finally {
      this.model.resetState();
    }
    return out;
  }

  /** Forgets a language model's carried state. */
  resetState(): void {
    this.model.resetState();
  }

  /** Frees the model, and the backend when it owns it. */
  async dispose(): Promise<void> {
    this.model.dispose();
    if (this.#ownsBackend) await this.backend.dispose();
  }
}
