/**
 * The representation probe (the analogue of Radford, Jozefowicz & Sutskever 2017, "Learning to
 * Generate Reviews and Discovering Sentiment", on data we have): how much a character model's hidden
 * state knows about what it reads, measured by a logistic regression on the mean of its last LSTM
 * layer's hidden state over a passage, which tells informative prose (Brown genres A-J) from
 * imaginative prose (K-R). Trained on passages of the training files, scored on passages of the
 * test files: disjoint files, so a passage's own file never helps.
 */
import { checkMemory } from '../budget.js';
import { checkInteger } from '../check.js';
import { ParameterError, ShapeError } from '../errors.js';
import type { Backend, Tensor } from '../kernels/types.js';
import { randomPermutation, resolveRng, type Seed } from '../random.js';
import type { BrownCorpus, BrownKind } from './data/brown.js';
import type { CharVocabulary, EncodedText } from './data/char-vocabulary.js';
import type { Layer } from './layers/layer.js';
import { Linear } from './layers/linear.js';
import { LSTM } from './layers/lstm.js';
import type { Sequential } from './layers/sequential.js';
import { Adam } from './optimizers.js';
import { estimateSequenceBytes, NonFiniteOutputError } from './sample.js';

/** The two classes of the probe, in label order: informative is label 0, imaginative label 1. */
export const PROBE_KINDS: readonly BrownKind[] = Object.freeze(['informative', 'imaginative'] as const);

/** Options of the logistic regression (`fitLogisticRegression`). */
export interface LogisticRegressionOptions {
  /** Full-batch Adam steps: an integer in [1, 100,000] (default 500). */
  steps?: number;
  /** Adam's learning rate: a number in (0, 10] (default 0.05). */
  lr?: number;
  /** L2 penalty: the objective is the mean cross-entropy plus (l2 / 2) times the squared weights (not the bias); a number in [0, 1e6] (default 1e-3). */
  l2?: number;
}

/** Options of `passageFeatures`. */
export interface PassageFeatureOptions {
  /** Passages run together as parallel streams of one forward pass: an integer in [1, 4096] (default 64). */
  batchSize?: number;
}

/** Options of `probePassages`. */
export interface ProbePassageOptions {
  /** Characters per passage: an integer in [1, 100,000] (default 500). */
  passageLength?: number;
  /** The most passages taken from one file: an integer in [1, 1,000,000] (default 8). */
  maxPassagesPerFile?: number;
  /** Chooses which passages a file gives when it has more than maxPassagesPerFile (default 0). */
  seed?: Seed;
}

/** Options of `representationProbe`: the passages, the features and the logistic regression. */
export interface ProbeOptions extends ProbePassageOptions, PassageFeatureOptions, LogisticRegressionOptions {}

/** The defaults of `ProbeOptions`. */
export const DEFAULT_PROBE_OPTIONS: Readonly<Required<Omit<ProbeOptions, 'seed'>> & { seed: Seed }> = Object.freeze({
  passageLength: 500,
  maxPassagesPerFile: 8,
  seed: 0,
  batchSize: 64,
  steps: 500,
  lr: 0.05,
  l2: 1e-3,
});

/** A passage of a corpus file: where it lies, its class and its characters' indices. */
export interface ProbePassage {
  /** The file's id, e.g. "ca01". */
  fileId: string;
  /** The file's kind: the passage's class. */
  kind: BrownKind;
  /** Where the passage starts in the file's text, in characters (code points): a multiple of the passage length. */
  offset: number;
  /** The passage's characters as vocabulary indices. */
  tokens: EncodedText;
}

/** The probe's passages: from the training files and from the test files (validation files give none). */
export interface ProbePassages {
  train: ProbePassage[];
  test: ProbePassage[];
}

/** Features of passages: row p of `values` ([passages, width], row-major) is passage p's feature vector. */
export interface PassageFeatures {
  values: Float32Array;
  passages: number;
  width: number;
}

/** A fitted logistic regression: logits z = x weight + bias, the class the largest logit. */
export interface LogisticRegressionFit {
  /** [features, classes], row-major. */
  weight: Float32Array;
  /** [classes]. */
  bias: Float32Array;
  features: number;
  classes: number;
  /** The objective at the returned weights: crossEntropy + (l2 / 2) * sum(weight^2). */
  loss: number;
  /** The mean cross-entropy (nats) over the training rows, as the backend computed it. */
  crossEntropy: number;
  /** The fraction of training rows whose largest logit is their label (`predictLogisticRegression`). */
  accuracy: number;
}

/** Files and passages of one side of the probe, by class. */
export interface ProbeSplitCounts {
  files: number;
  passages: number;
  informative: number;
  imaginative: number;
}

/** What `representationProbe` measured. */
export interface ProbeResult {
  /** Accuracy on the test files' passages. */
  accuracy: number;
  /** The mean of the two classes' recalls on the test passages (0.5 for a constant guess). */
  balancedAccuracy: number;
  /** The test accuracy of always answering the training passages' majority class. */
  majorityBaseline: number;
  /** The training passages' majority class (informative on a tie). */
  majorityKind: BrownKind;
  /** Accuracy on the training passages (the probe's fit). */
  trainAccuracy: number;
  /** The regression's objective on the training passages (`LogisticRegressionFit.loss`). */
  trainLoss: number;
  /** Test passages by true class and predicted class: confusion[truth][prediction]. */
  confusion: Record<BrownKind, Record<BrownKind, number>>;
  train: ProbeSplitCounts;
  test: ProbeSplitCounts;
  /** The feature width: the last LSTM layer's hidden units. */
  width: number;
  /** The options in force (defaults filled in). */
  options: Readonly<Required<Omit<ProbeOptions, 'seed'>> & { seed: Seed }>;
}

const MAX_PASSAGE_LENGTH = 100_000;

/**
 * The passages of the probe: each training- and test-split file's text is cut into non-overlapping
 * pieces of `passageLength` characters, [k L, (k + 1) L) for k < floor(n / L) (the last n mod L
 * characters are left out). A file with more pieces than `maxPassagesPerFile` gives that many,
 * chosen at random (Alea seeded with "<seed>#probe-passages#<file id>", so one file's choice does
 * not depend on the others) and kept in text order. Validation files give none. Training and test
 * passages come from disjoint files: the corpus's split is by file.
 * UnknownCharacterError for a character outside the vocabulary; ParameterError for bad options.
 */
export function probePassages(corpus: BrownCorpus, vocabulary: CharVocabulary, options: ProbePassageOptions = {}): ProbePassages {
  const context = 'probePassages';
  checkCorpus(corpus, context);
  const length = checkInteger('passageLength', options.passageLength ?? DEFAULT_PROBE_OPTIONS.passageLength, 1, MAX_PASSAGE_LENGTH, context);
  const most = checkInteger('maxPassagesPerFile', options.maxPassagesPerFile ?? DEFAULT_PROBE_OPTIONS.maxPassagesPerFile, 1, 1_000_000, context);
  const seed = options.seed ?? DEFAULT_PROBE_OPTIONS.seed;
  resolveRng({ seed }, context); // checks the seed
  const result: ProbePassages = { train: [], test: [] };
  for (const file of corpus.files) {
    if (file.split !== 'train' && file.split !== 'test') continue;
    const tokens = vocabulary.encode(file.text);
    const pieces = Math.floor(tokens.length / length);
    let chosen: ArrayLike<number>;
    if (pieces <= most) chosen = Int32Array.from({ length: pieces }, (_, k) => k);
    else chosen = randomPermutation(resolveRng({ seed: `${seed}#probe-passages#${file.id}` }), pieces).slice(0, most).sort();
    for (let j = 0; j < chosen.length; j++) {
      const offset = chosen[j] * length;
      result[file.split].push({ fileId: file.id, kind: file.kind, offset, tokens: tokens.slice(offset, offset + length) });
    }
  }
  return result;
}

/**
 * The feature of each passage: the mean over its characters of the hidden state of the model's
 * last LSTM layer. The layers up to and including that LSTM run in evaluation mode, with the
 * state reset for each batch, so every passage starts from h = c = 0; `batchSize` passages run at
 * once as parallel streams (N passages x T steps, T the passages' common length: one forward per
 * batch). The mean is one product on the backend, (1/T) [I_N ... I_N] · y for the LSTM's output y
 * [T N, H] (time-major), and only the [N, H] means are read back. The model's recurrent state is
 * reset at the end.
 *
 * `passages` are index sequences (e.g. `vocabulary.encode(text)` or `ProbePassage.tokens`), all of
 * one length. ParameterError for passages of different lengths or a bad batchSize, ShapeError for
 * a model without an LSTM layer, NonFiniteOutputError for a feature that is not finite,
 * ResourceError when a batch or the features exceed the memory budget.
 */
export async function passageFeatures(model: Sequential, passages: readonly ArrayLike<number>[], options: PassageFeatureOptions = {}): Promise<PassageFeatures> {
  const context = 'passageFeatures';
  if (!Array.isArray(passages) || passages.length === 0) throw new ParameterError('passages', 'a non-empty array of index sequences', passages, context);
  const batchSize = checkInteger('batchSize', options.batchSize ?? DEFAULT_PROBE_OPTIONS.batchSize, 1, 4096, context);
  const steps = passages[0]?.length;
  checkInteger('passages[0].length', steps, 1, MAX_PASSAGE_LENGTH, context);
  passages.forEach((p, i) => {
    if (p?.length !== steps) throw new ParameterError(`passages[${i}].length`, `${steps} (every passage as long as the first)`, p?.length, context);
  });
  const layers = prefixThroughLastLSTM(model, context);
  const width = layers[layers.length - 1].outFeatures;
  const count = passages.length;
  const n = Math.min(batchSize, count);
  checkMemory(`features of ${count} passages x ${width}`, 4 * count * width, { elements: count * width });
  checkMemory(`a batch of ${n} passages x ${steps} characters`, estimateSequenceBytes(layers, steps * n) + 4 * n * steps * n);

  const backend = model.backend;
  const values = new Float32Array(count * width);
  const means = new Float32Array(n * width);
  let averaging: Tensor | null = null;
  model.resetState();
  try {
    for (let start = 0; start < count; start += n) {
      const batch = Math.min(n, count - start);
      // Time-major: row t * batch + b is passage start + b at character t.
      const x = new Float32Array(steps * batch);
      for (let b = 0; b < batch; b++) {
        const p = passages[start + b];
        for (let t = 0; t < steps; t++) x[t * batch + b] = p[t];
      }
      const hidden = await runLayers(layers, backend.tensor(x, [steps * batch, 1]), steps);
      model.resetState();
      if (averaging?.shape[0] !== batch) {
        averaging?.dispose();
        averaging = averagingMatrix(backend, batch, steps);
      }
      const mean = await backend.matmul(averaging, hidden);
      hidden.dispose();
      const out = batch === n ? means : means.subarray(0, batch * width);
      await backend.read(mean, out);
      mean.dispose();
      for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i])) throw new NonFiniteOutputError('the passage features', start * width + i, out[i], context);
      values.set(out, start * width);
    }
  } finally {
    averaging?.dispose();
    model.resetState();
  }
  return { values, passages: count, width };
}

/** (1/T) [I_N ... I_N], [N, T N]: times a time-major [T N, H] sequence, each stream's mean over its T steps. */
function averagingMatrix(backend: Backend, n: number, steps: number): Tensor {
  const values = new Float32Array(n * steps * n);
  for (let b = 0; b < n; b++) for (let t = 0; t < steps; t++) values[b * steps * n + t * n + b] = 1 / steps;
  return backend.tensor(values, [n, steps * n]);
}

/**
 * Trains a multinomial logistic regression (logits z = x W + b, W [features, classes]) on the
 * backend: a Linear layer from zero weights, softmax cross-entropy, and `steps` full-batch Adam
 * steps (PyTorch's Adam; its weight decay is the L2 penalty's gradient, on W only), minimising
 * mean cross-entropy + (l2 / 2) * sum(W^2). Deterministic: no randomness at all (zero start, full
 * batch). `x` holds `labels.length` rows of `features` values (row-major), `labels` integers in
 * [0, classes). Returns the weights read back, the objective and the training accuracy.
 * ParameterError for a bad argument; NonFiniteOutputError when the loss is not finite.
 */
export async function fitLogisticRegression(
  backend: Backend,
  x: Float32Array,
  labels: ArrayLike<number>,
  features: number,
  classes: number,
  options: LogisticRegressionOptions = {},
): Promise<LogisticRegressionFit> {
  const context = 'fitLogisticRegression';
  checkInteger('features', features, 1, 2 ** 24, context);
  checkInteger('classes', classes, 2, 2 ** 16, context);
  const rows = labels?.length;
  checkInteger('labels.length', rows, 1, 2 ** 31, context);
  if (!(x instanceof Float32Array) || x.length !== rows * features) throw new ParameterError('x', `a Float32Array of ${rows} x ${features} values`, x instanceof Float32Array ? `${x.length} values` : x, context);
  for (let i = 0; i < rows; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= classes) throw new ParameterError(`labels[${i}]`, `an integer in [0, ${classes - 1}]`, y, context);
  }
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) throw new ParameterError(`x[${i}]`, 'a finite number', x[i], context);
  const steps = checkInteger('steps', options.steps ?? DEFAULT_PROBE_OPTIONS.steps, 1, 100_000, context);
  const lr = options.lr ?? DEFAULT_PROBE_OPTIONS.lr;
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0 || lr > 10) throw new ParameterError('lr', 'a number in (0, 10]', lr, context);
  const l2 = options.l2 ?? DEFAULT_PROBE_OPTIONS.l2;
  if (typeof l2 !== 'number' || !Number.isFinite(l2) || l2 < 0 || l2 > 1e6) throw new ParameterError('l2', 'a number in [0, 1e6]', l2, context);
  // x, labels, logits and their gradient on the backend.
  checkMemory(`a logistic regression on ${rows} x ${features} features`, 4 * rows * (features + 1 + 2 * classes) + 16 * features * classes);

  const linear = new Linear(backend, features, classes, { seed: 0 });
  for (const p of linear.parameters()) await backend.fill(p.value, 0);
  const optimizer = new Adam(linear.parameters(), { lr, weightDecay: l2 });
  const xs = backend.tensor(x, [rows, features]);
  const ys = backend.tensor(Float32Array.from(labels), [rows]);
  const temporaries: Tensor[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const logits = await linear.forward(xs, { training: true });
      const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, ys);
      logits.dispose();
      loss.dispose();
      correct.dispose();
      await linear.backward(dlogits, false);
      dlogits.dispose();
      await optimizer.step();
    }
    const logits = await linear.forward(xs, { training: false });
    const sce = await backend.softmaxCrossEntropy(logits, ys);
    temporaries.push(logits, sce.loss, sce.dlogits, sce.correct);
    const crossEntropy = (await backend.read(sce.loss))[0];
    const weight = await backend.read(linear.weight.value);
    const bias = await backend.read(linear.bias!.value);
    if (!Number.isFinite(crossEntropy)) throw new NonFiniteOutputError('the logistic regression loss', 0, crossEntropy, context);
    let squares = 0;
    for (let i = 0; i < weight.length; i++) squares += weight[i] * weight[i];
    const fit: LogisticRegressionFit = { weight, bias, features, classes, loss: crossEntropy + (l2 / 2) * squares, crossEntropy, accuracy: 0 };
    const predicted = predictLogisticRegression(fit, x);
    let right = 0;
    for (let i = 0; i < rows; i++) if (predicted[i] === labels[i]) right++;
    fit.accuracy = right / rows;
    return fit;
  } finally {
    for (const t of temporaries) t.dispose();
    xs.dispose();
    ys.dispose();
    optimizer.dispose();
    linear.dispose();
  }
}

/** The class of each row of x ([rows, fit.features], row-major): the largest of its logits x W + b, computed in float64 (the lowest class on a tie). */
export function predictLogisticRegression(fit: LogisticRegressionFit, x: Float32Array): Int32Array {
  const { features, classes, weight, bias } = fit;
  if (!(x instanceof Float32Array) || x.length % features !== 0) throw new ParameterError('x', `a Float32Array of rows x ${features} values`, x, 'predictLogisticRegression');
  const rows = x.length / features;
  const out = new Int32Array(rows);
  const z = new Float64Array(classes);
  for (let r = 0; r < rows; r++) {
    z.set(bias);
    for (let f = 0; f < features; f++) {
      const v = x[r * features + f];
      for (let k = 0; k < classes; k++) z[k] += v * weight[f * classes + k];
    }
    let best = 0;
    for (let k = 1; k < classes; k++) if (z[k] > z[best]) best = k;
    out[r] = best;
  }
  return out;
}

/**
 * Standardises features in place with the training rows' statistics: each column minus its mean
 * over `train`, divided by its standard deviation there (float64, divided by the row count; a
 * constant column is divided by 1). Returns the means and deviations used.
 */
export function standardizeFeatures(train: Float32Array, others: readonly Float32Array[], width: number): { mean: Float64Array; sd: Float64Array } {
  const rows = train.length / width;
  const mean = new Float64Array(width);
  const sd = new Float64Array(width);
  for (let r = 0; r < rows; r++) for (let f = 0; f < width; f++) mean[f] += train[r * width + f];
  for (let f = 0; f < width; f++) mean[f] /= rows;
  for (let r = 0; r < rows; r++) for (let f = 0; f < width; f++) sd[f] += (train[r * width + f] - mean[f]) ** 2;
  for (let f = 0; f < width; f++) sd[f] = Math.sqrt(sd[f] / rows) || 1;
  for (const x of [train, ...others]) for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean[i % width]) / sd[i % width];
  return { mean, sd };
}

/**
 * The representation probe: passages of the training files and of the test files
 * (`probePassages`), their features (`passageFeatures`: the mean of the last LSTM layer's hidden
 * state over the passage), standardised with the training passages' means and deviations
 * (`standardizeFeatures`), a logistic regression trained on the training passages
 * (`fitLogisticRegression`, label 0 informative, 1 imaginative) and scored on the test passages,
 * beside the majority-class baseline. The files are disjoint (the corpus's split is by file);
 * validation files are not used. Deterministic: the same model, corpus, backend and options give
 * the same result (the seed chooses passages; the regression has no randomness).
 *
 * ParameterError for bad options, or a corpus whose training files lack a class or whose test
 * files give no passage; UnknownCharacterError for a character outside the vocabulary;
 * ShapeError when the model has no LSTM layer or an Embedding of another size than the
 * vocabulary; ResourceError over the memory budget.
 */
export async function representationProbe(model: Sequential, vocabulary: CharVocabulary, corpus: BrownCorpus, options: ProbeOptions = {}): Promise<ProbeResult> {
  const context = 'representationProbe';
  if (typeof options !== 'object' || options === null) throw new ParameterError('options', 'an object', options, context);
  for (const key of Object.keys(options)) {
    if (!(key in DEFAULT_PROBE_OPTIONS)) throw new ParameterError(`options.${key}`, `absent: the options are ${Object.keys(DEFAULT_PROBE_OPTIONS).join(', ')}`, (options as Record<string, unknown>)[key], context);
  }
  const resolved = Object.freeze({ ...DEFAULT_PROBE_OPTIONS, ...definedOnly(options) });
  const first = model.layers[0] as Partial<{ kind: string; symbols: number }>;
  if (first.kind === 'embedding' && first.symbols !== vocabulary.size) {
    throw new ShapeError(`${context}: the model's Embedding has ${first.symbols} symbols but the vocabulary has ${vocabulary.size} characters`);
  }
  prefixThroughLastLSTM(model, context);
  // The regression's options are checked before the features are computed.
  checkInteger('steps', resolved.steps, 1, 100_000, context);
  if (typeof resolved.lr !== 'number' || !(resolved.lr > 0 && resolved.lr <= 10)) throw new ParameterError('lr', 'a number in (0, 10]', resolved.lr, context);
  if (typeof resolved.l2 !== 'number' || !(resolved.l2 >= 0 && resolved.l2 <= 1e6)) throw new ParameterError('l2', 'a number in [0, 1e6]', resolved.l2, context);
  checkInteger('batchSize', resolved.batchSize, 1, 4096, context);

  const passages = probePassages(corpus, vocabulary, resolved);
  const train = countSplit(passages.train);
  const test = countSplit(passages.test);
  for (const kind of PROBE_KINDS) {
    if (!corpus.files.some((f) => f.split === 'train' && f.kind === kind)) throw new ParameterError('corpus', `a corpus whose training files include ${kind} ones`, 'none', context);
    if (train[kind] === 0) throw new ParameterError('passageLength', `at most the length of some ${kind} training file, so that the training passages include both classes`, resolved.passageLength, context);
  }
  if (test.passages === 0) {
    if (!corpus.files.some((f) => f.split === 'test')) throw new ParameterError('corpus', 'a corpus with test files', 'none', context);
    throw new ParameterError('passageLength', 'at most the length of some test file, so that there are test passages', resolved.passageLength, context);
  }

  const labelsOf = (list: ProbePassage[]) => Int32Array.from(list, (p) => PROBE_KINDS.indexOf(p.kind));
  const trainFeatures = await passageFeatures(model, passages.train.map((p) => p.tokens), resolved);
  const testFeatures = await passageFeatures(model, passages.test.map((p) => p.tokens), resolved);
  const width = trainFeatures.width;
  standardizeFeatures(trainFeatures.values, [testFeatures.values], width);
  const trainLabels = labelsOf(passages.train);
  const testLabels = labelsOf(passages.test);
  const fit = await fitLogisticRegression(model.backend, trainFeatures.values, trainLabels, width, 2, resolved);

  const predicted = predictLogisticRegression(fit, testFeatures.values);
  const confusion: Record<BrownKind, Record<BrownKind, number>> = { informative: { informative: 0, imaginative: 0 }, imaginative: { informative: 0, imaginative: 0 } };
  for (let i = 0; i < predicted.length; i++) confusion[PROBE_KINDS[testLabels[i]]][PROBE_KINDS[predicted[i]]]++;
  const right = confusion.informative.informative + confusion.imaginative.imaginative;
  const recalls = PROBE_KINDS.filter((k) => test[k] > 0).map((k) => confusion[k][k] / test[k]);
  const majorityKind: BrownKind = train.imaginative > train.informative ? 'imaginative' : 'informative';
  return {
    accuracy: right / test.passages,
    balancedAccuracy: recalls.reduce((a, b) => a + b, 0) / recalls.length,
    majorityBaseline: test[majorityKind] / test.passages,
    majorityKind,
    trainAccuracy: fit.accuracy,
    trainLoss: fit.loss,
    confusion,
    train,
    test,
    width,
    options: resolved,
  };
}

/** The layers from the first through the model's last LSTM; ShapeError when it has none. */
function prefixThroughLastLSTM(model: Sequential, context: string): readonly Layer[] {
  let last = -1;
  model.layers.forEach((layer, i) => {
    if (layer instanceof LSTM) last = i;
  });
  if (last < 0) throw new ShapeError(`${context}: the model has no LSTM layer (its layers: ${model.layers.map((l) => l.kind).join(', ')})`);
  return model.layers.slice(0, last + 1);
}

/** Runs `layers` one by one in evaluation mode on x (which it frees); returns the last output. */
async function runLayers(layers: readonly Layer[], x: Tensor, steps: number): Promise<Tensor> {
  let h = x;
  try {
    for (const layer of layers) {
      const next = await layer.forward(h, { training: false, steps });
      h.dispose();
      h = next;
    }
    return h;
  } catch (error) {
    h.dispose();
    throw error;
  }
}

function countSplit(list: readonly ProbePassage[]): ProbeSplitCounts {
  return {
    files: new Set(list.map((p) => p.fileId)).size,
    passages: list.length,
    informative: list.filter((p) => p.kind === 'informative').length,
    imaginative: list.filter((p) => p.kind === 'imaginative').length,
  };
}

function checkCorpus(corpus: BrownCorpus, context: string): void {
  if (typeof corpus !== 'object' || corpus === null || !Array.isArray(corpus.files)) throw new ParameterError('corpus', 'a BrownCorpus (with its files)', corpus, context);
}

/** The options without keys set to undefined (so they do not hide the defaults). */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
