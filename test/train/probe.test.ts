import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParameterError, ShapeError } from '../../src/errors.js';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import { resolveRng } from '../../src/random.js';
import type { BrownCorpus, BrownFile, BrownGenre } from '../../src/train/data/brown.js';
import { CharVocabulary, UnknownCharacterError } from '../../src/train/data/char-vocabulary.js';
import type { TextSplit } from '../../src/train/data/text-corpus.js';
import { Activation } from '../../src/train/layers/activation.js';
import { Embedding } from '../../src/train/layers/embedding.js';
import { Linear } from '../../src/train/layers/linear.js';
import { LSTM } from '../../src/train/layers/lstm.js';
import { Sequential } from '../../src/train/layers/sequential.js';
import {
  fitLogisticRegression,
  passageFeatures,
  predictLogisticRegression,
  probePassages,
  representationProbe,
  standardizeFeatures,
  type LogisticRegressionFit,
} from '../../src/train/probe.js';

/*
 * The representation probe on synthetic BrownCorpus-shaped corpora (files of genre A are
 * informative, K imaginative) and a small random-weight model, Sequential([Embedding(V, 8),
 * LSTM(8, 16), Linear(16, V)]); and its logistic regression against float64 host computations.
 */

let backend: CpuBackend;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
});
afterAll(async () => {
  await backend.dispose();
});

const ALPHABET = 'abcdefgh \n';
const vocabulary = CharVocabulary.fromTexts([ALPHABET]);
const V = vocabulary.size;
/** Character weights over ALPHABET: informative text leans on a-d, imaginative on e-h; both use all ten. */
const LEANING_A = [6, 5, 4, 4, 1, 1, 1, 1, 5, 1];
const LEANING_E = [1, 1, 1, 1, 6, 5, 4, 4, 5, 1];

function text(weights: number[], length: number, rng: () => number): string {
  const total = weights.reduce((a, b) => a + b, 0);
  let out = '';
  for (let i = 0; i < length; i++) {
    let u = rng() * total;
    let k = 0;
    while (u >= weights[k]) u -= weights[k++];
    out += ALPHABET[k];
  }
  return out;
}

/** A BrownCorpus-shaped corpus: `files[split]` informative (genre A) and imaginative (genre K) files of `length` characters. */
function syntheticCorpus(options: { files: Record<TextSplit, [number, number]>; length: number; informative: number[]; imaginative: number[]; seed: string }): BrownCorpus {
  const rng = resolveRng({ seed: options.seed });
  const files: BrownFile[] = [];
  const next = { A: 0, K: 0 };
  for (const split of ['validation', 'train', 'test'] as const) {
    const [informative, imaginative] = options.files[split];
    for (const [genre, count, weights] of [['A', informative, options.informative], ['K', imaginative, options.imaginative]] as [BrownGenre & ('A' | 'K'), number, number[]][]) {
      for (let i = 0; i < count; i++) {
        const index = next[genre]++;
        files.push({
          id: `c${genre.toLowerCase()}${String(index + 1).padStart(2, '0')}`,
          genre,
          genreName: genre === 'A' ? 'PRESS: REPORTAGE' : 'FICTION: GENERAL',
          kind: genre === 'A' ? 'informative' : 'imaginative',
          index,
          split,
          text: text(weights, options.length, rng),
        });
      }
    }
  }
  const textOf = (split: TextSplit) => files.filter((f) => f.split === split).map((f) => f.text).join('');
  return { source: 'synthetic', train: textOf('train'), validation: textOf('validation'), test: textOf('test'), files };
}

function characterModel(seed: number): Sequential {
  return new Sequential([new Embedding(backend, V, 8, { seed }), new LSTM(backend, 8, 16, { seed: seed + 1 }), new Linear(backend, 16, V, { seed: seed + 2 })]);
}

/** The mean cross-entropy (nats) and its gradient with respect to W and b, in float64, for the fit's weights. */
function hostObjective(fit: LogisticRegressionFit, x: Float32Array, labels: ArrayLike<number>, l2: number): { crossEntropy: number; loss: number; gradient: Float64Array } {
  const { features: F, classes: K, weight, bias } = fit;
  const rows = labels.length;
  const gradient = new Float64Array(F * K + K);
  let crossEntropy = 0;
  const z = new Float64Array(K);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < K; k++) {
      z[k] = bias[k];
      for (let f = 0; f < F; f++) z[k] += x[r * F + f] * weight[f * K + k];
    }
    const max = Math.max(...z);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(z[k] - max);
    crossEntropy += max + Math.log(sum) - z[labels[r]];
    for (let k = 0; k < K; k++) {
      const d = (Math.exp(z[k] - max) / sum - (k === labels[r] ? 1 : 0)) / rows;
      for (let f = 0; f < F; f++) gradient[f * K + k] += d * x[r * F + f];
      gradient[F * K + k] += d;
    }
  }
  crossEntropy /= rows;
  let squares = 0;
  for (let i = 0; i < F * K; i++) {
    squares += weight[i] ** 2;
    gradient[i] += l2 * weight[i];
  }
  return { crossEntropy, loss: crossEntropy + (l2 / 2) * squares, gradient };
}

/** Two Gaussian clouds in `features` dimensions, centres `separation` apart along the first axis. */
function clouds(rows: number, features: number, separation: number, seed: string): { x: Float32Array; labels: Int32Array } {
  const rng = resolveRng({ seed });
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const x = new Float32Array(rows * features);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    labels[r] = r % 2;
    for (let f = 0; f < features; f++) x[r * features + f] = normal() + (f === 0 ? (labels[r] - 0.5) * separation : 0);
  }
  return { x, labels };
}

describe('fitLogisticRegression', () => {
  it('separates linearly separable points completely', async () => {
    // Points on either side of the line x0 + 0.5 x1 = 0.2 with a margin of 0.1.
    const rng = resolveRng({ seed: 'separable' });
    const xs: number[] = [];
    const labels: number[] = [];
    while (labels.length < 200) {
      const p = [rng() * 4 - 2, rng() * 4 - 2];
      const side = p[0] + 0.5 * p[1] - 0.2;
      if (Math.abs(side) < 0.1) continue;
      xs.push(...p);
      labels.push(side > 0 ? 1 : 0);
    }
    const x = Float32Array.from(xs);
    const fit = await fitLogisticRegression(backend, x, labels, 2, 2, { steps: 500, lr: 0.1, l2: 0 });
    expect(fit.accuracy).toBe(1);
    expect(Array.from(predictLogisticRegression(fit, x))).toEqual(labels);
    // The direction found is the separating line's: (w1 - w0) parallel to (1, 0.5).
    const v = [fit.weight[1] - fit.weight[0], fit.weight[3] - fit.weight[2]];
    expect(v[1] / v[0]).toBeCloseTo(0.5, 1);
    expect(fit.crossEntropy).toBeCloseTo(hostObjective(fit, x, labels, 0).crossEntropy, 5);
  });

  it('reaches the regularised optimum: the float64 gradient vanishes and the loss matches the host computation', async () => {
    const { x, labels } = clouds(300, 5, 1.5, 'overlapping');
    const l2 = 0.05;
    const fit = await fitLogisticRegression(backend, x, labels, 5, 2, { steps: 500, lr: 0.05, l2 });
    const host = hostObjective(fit, x, labels, l2);
    expect(Math.abs(fit.crossEntropy - host.crossEntropy)).toBeLessThan(2e-6);
    expect(Math.abs(fit.loss - host.loss)).toBeLessThan(2e-6);
    expect(Math.max(...host.gradient.map(Math.abs))).toBeLessThan(1e-4);
    // Overlapping clouds 1.5 sd apart: the Bayes accuracy is Phi(0.75) = 0.773.
    expect(fit.accuracy).toBeGreaterThan(0.7);
    expect(fit.accuracy).toBeLessThan(0.86);
  });

  it('raises ParameterError for bad arguments', async () => {
    const x = new Float32Array(6);
    const cases: [() => Promise<unknown>, string][] = [
      [() => fitLogisticRegression(backend, x, [0, 1, 2], 2, 2), 'labels[2]'],
      [() => fitLogisticRegression(backend, x, [0, 0.5, 1], 2, 2), 'labels[1]'],
      [() => fitLogisticRegression(backend, x, [0, 1], 2, 2), 'x'],
      [() => fitLogisticRegression(backend, x, [], 2, 2), 'labels.length'],
      [() => fitLogisticRegression(backend, x, [0, 1, 0], 2, 1), 'classes'],
      [() => fitLogisticRegression(backend, Float32Array.of(1, NaN, 0, 0, 0, 0), [0, 1, 0], 2, 2), 'x[1]'],
      [() => fitLogisticRegression(backend, x, [0, 1, 0], 2, 2, { steps: 0 }), 'steps'],
      [() => fitLogisticRegression(backend, x, [0, 1, 0], 2, 2, { lr: 0 }), 'lr'],
      [() => fitLogisticRegression(backend, x, [0, 1, 0], 2, 2, { l2: -1 }), 'l2'],
    ];
    for (const [run, parameter] of cases) await expect(run()).rejects.toMatchObject({ name: 'ParameterError', parameter });
  });
});

describe('standardizeFeatures', () => {
  it('centres and scales by the training rows only; a constant column is only centred', () => {
    const train = Float32Array.of(1, 5, 3, 5, 5, 5); // columns (1, 3, 5) and (5, 5, 5)
    const test = Float32Array.of(3, 7);
    const { mean, sd } = standardizeFeatures(train, [test], 2);
    expect(Array.from(mean)).toEqual([3, 5]);
    expect(sd[0]).toBeCloseTo(Math.sqrt(8 / 3), 12);
    expect(sd[1]).toBe(1);
    expect(train[0]).toBeCloseTo(-2 / Math.sqrt(8 / 3), 6);
    expect(Array.from(test)).toEqual([0, 2]);
  });
});

describe('probePassages', () => {
  const corpus = syntheticCorpus({ files: { train: [4, 3], validation: [1, 1], test: [2, 2] }, length: 230, informative: LEANING_A, imaginative: LEANING_E, seed: 'passages' });

  it('cuts training and test files into non-overlapping pieces, disjoint by file, validation files left out', () => {
    const passages = probePassages(corpus, vocabulary, { passageLength: 40, maxPassagesPerFile: 3, seed: 1 });
    const byId = new Map(corpus.files.map((f) => [f.id, f]));
    for (const [split, list] of [['train', passages.train], ['test', passages.test]] as const) {
      for (const p of list) {
        const file = byId.get(p.fileId)!;
        expect(file.split).toBe(split);
        expect(p.kind).toBe(file.kind);
        expect(p.offset % 40).toBe(0);
        expect(p.offset + 40).toBeLessThanOrEqual(230);
        expect(vocabulary.decode(p.tokens)).toBe(file.text.slice(p.offset, p.offset + 40));
      }
    }
    expect(passages.train).toHaveLength(7 * 3); // 5 pieces per file, 3 taken
    expect(passages.test).toHaveLength(4 * 3);
    const trainFiles = new Set(passages.train.map((p) => p.fileId));
    const testFiles = new Set(passages.test.map((p) => p.fileId));
    expect(trainFiles.size).toBe(7);
    expect(testFiles.size).toBe(4);
    expect([...trainFiles].filter((id) => testFiles.has(id))).toEqual([]);
    for (const list of [passages.train, passages.test]) {
      for (const id of new Set(list.map((p) => p.fileId))) {
        const offsets = list.filter((p) => p.fileId === id).map((p) => p.offset);
        expect(new Set(offsets).size).toBe(offsets.length);
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      }
    }
  });

  it('takes every piece when a file has few enough, and chooses by the seed otherwise', () => {
    const all = probePassages(corpus, vocabulary, { passageLength: 40, maxPassagesPerFile: 10 });
    expect(all.train).toHaveLength(7 * 5);
    expect(all.train.filter((p) => p.fileId === 'ca02').map((p) => p.offset)).toEqual([0, 40, 80, 120, 160]);
    const offsets = (seed: number) => probePassages(corpus, vocabulary, { passageLength: 40, maxPassagesPerFile: 2, seed }).train.map((p) => `${p.fileId}@${p.offset}`);
    expect(offsets(1)).toEqual(offsets(1));
    expect(offsets(1)).not.toEqual(offsets(2));
    expect(probePassages(corpus, vocabulary).train).toHaveLength(0); // 500-character passages: none in 230-character files
  });

  it('raises typed errors for bad options and unknown characters', () => {
    expect(() => probePassages(corpus, vocabulary, { passageLength: 0 })).toThrow(ParameterError);
    expect(() => probePassages(corpus, vocabulary, { maxPassagesPerFile: 1.5 })).toThrow(ParameterError);
    expect(() => probePassages(corpus, vocabulary, { seed: NaN })).toThrow(ParameterError);
    expect(() => probePassages(corpus, CharVocabulary.fromTexts(['abc']), { passageLength: 40 })).toThrow(UnknownCharacterError);
  });
});

describe('passageFeatures', () => {
  it('is each passage\'s mean hidden state of the last LSTM, run alone from a zero state, whatever the batch', async () => {
    const model = new Sequential([
      new Embedding(backend, V, 8, { seed: 1 }), new LSTM(backend, 8, 12, { seed: 2 }), new Linear(backend, 12, 6, { seed: 3 }), new Activation(backend, 'tanh', 6),
      new LSTM(backend, 6, 16, { seed: 4 }), new Linear(backend, 16, V, { seed: 5 }),
    ]);
    const rng = resolveRng({ seed: 'features' });
    const passages = Array.from({ length: 9 }, () => vocabulary.encode(text(LEANING_A, 30, rng)));
    const features = await passageFeatures(model, passages, { batchSize: 4 });
    expect(features.passages).toBe(9);
    expect(features.width).toBe(16);
    // The reference: each passage alone (one stream), the layers through the second LSTM, the mean over its 30 steps in float64.
    for (let p = 0; p < 9; p++) {
      model.resetState();
      let h = backend.tensor(Float32Array.from(passages[p]), [30, 1]);
      for (const layer of model.layers.slice(0, 5)) {
        const next = await layer.forward(h, { training: false, steps: 30 });
        h.dispose();
        h = next;
      }
      const y = await backend.read(h);
      h.dispose();
      for (let f = 0; f < 16; f++) {
        let mean = 0;
        for (let t = 0; t < 30; t++) mean += y[t * 16 + f] / 30;
        expect(Math.abs(features.values[p * 16 + f] - mean)).toBeLessThan(1e-6);
      }
    }
    for (const batchSize of [1, 9, 64]) {
      const other = await passageFeatures(model, passages, { batchSize });
      for (let i = 0; i < other.values.length; i++) expect(Math.abs(other.values[i] - features.values[i])).toBeLessThan(1e-6);
    }
    expect((model.layers[1] as LSTM).state).toBeNull();
    expect((model.layers[4] as LSTM).state).toBeNull();
    model.dispose();
  });

  it('raises typed errors for unequal passages, a bad batch size and a model without an LSTM', async () => {
    const model = characterModel(3);
    await expect(passageFeatures(model, [Uint8Array.of(1, 2), Uint8Array.of(1)])).rejects.toMatchObject({ name: 'ParameterError', parameter: 'passages[1].length' });
    await expect(passageFeatures(model, [])).rejects.toMatchObject({ name: 'ParameterError', parameter: 'passages' });
    await expect(passageFeatures(model, [Uint8Array.of(1)], { batchSize: 0 })).rejects.toMatchObject({ name: 'ParameterError', parameter: 'batchSize' });
    const noLSTM = new Sequential([new Embedding(backend, V, 4, { seed: 1 }), new Linear(backend, 4, V, { seed: 2 })]);
    await expect(passageFeatures(noLSTM, [Uint8Array.of(1)])).rejects.toThrow(ShapeError);
    noLSTM.dispose();
    model.dispose();
  });
});

describe('representationProbe', () => {
  const options = { passageLength: 40, maxPassagesPerFile: 5, batchSize: 64, seed: 1 };

  it('separates two character distributions with an untrained model, well above the majority baseline', async () => {
    // 24 informative and 12 imaginative training files; 12 and 6 test files; 200 characters each, 5 passages.
    const corpus = syntheticCorpus({ files: { train: [24, 12], validation: [2, 2], test: [12, 6] }, length: 200, informative: LEANING_A, imaginative: LEANING_E, seed: 'separable-corpus' });
    const model = characterModel(11);
    const result = await representationProbe(model, vocabulary, corpus, options);
    expect(result.train).toEqual({ files: 36, passages: 180, informative: 120, imaginative: 60 });
    expect(result.test).toEqual({ files: 18, passages: 90, informative: 60, imaginative: 30 });
    expect(result.width).toBe(16);
    expect(result.majorityKind).toBe('informative');
    expect(result.majorityBaseline).toBeCloseTo(2 / 3, 12);
    expect(result.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(result.balancedAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(result.trainAccuracy).toBeGreaterThanOrEqual(0.95);
    const c = result.confusion;
    expect(c.informative.informative + c.informative.imaginative).toBe(60);
    expect(c.imaginative.informative + c.imaginative.imaginative).toBe(30);
    expect((c.informative.informative + c.imaginative.imaginative) / 90).toBe(result.accuracy);
    // Deterministic: the same inputs give the same result.
    expect(await representationProbe(model, vocabulary, corpus, options)).toEqual(result);
    model.dispose();
  });

  it('stays near the majority baseline when both kinds read alike', async () => {
    // Balanced classes (baseline 1/2) and one distribution: a passage's prediction is independent of its
    // label, so the test accuracy is a mean of 200 independent Bernoulli(q or 1 - q) draws with mean 1/2;
    // its sd is at most 0.5 / sqrt(200) = 0.035, and the bound is 3 sd.
    const corpus = syntheticCorpus({ files: { train: [20, 20], validation: [1, 1], test: [20, 20] }, length: 200, informative: LEANING_A, imaginative: LEANING_A, seed: 'null-corpus' });
    const model = characterModel(11);
    const result = await representationProbe(model, vocabulary, corpus, options);
    expect(result.test.passages).toBe(200);
    expect(result.majorityBaseline).toBe(0.5);
    expect(Math.abs(result.accuracy - 0.5)).toBeLessThanOrEqual(3 * 0.5 / Math.sqrt(200));
    model.dispose();
  });

  it('raises typed errors for bad options, a corpus it cannot use and a mismatched model', async () => {
    const corpus = syntheticCorpus({ files: { train: [2, 2], validation: [0, 0], test: [1, 1] }, length: 80, informative: LEANING_A, imaginative: LEANING_E, seed: 'errors' });
    const model = characterModel(2);
    const fails = (o: object, parameter: string, c: BrownCorpus = corpus) => expect(representationProbe(model, vocabulary, c, { ...options, ...o })).rejects.toMatchObject({ name: 'ParameterError', parameter });
    await fails({ passageLength: 0 }, 'passageLength');
    await fails({ passageLength: 81 }, 'passageLength');
    await fails({ maxPassagesPerFile: 0 }, 'maxPassagesPerFile');
    await fails({ batchSize: 5000 }, 'batchSize');
    await fails({ steps: 0 }, 'steps');
    await fails({ lr: -1 }, 'lr');
    await fails({ l2: NaN }, 'l2');
    await fails({ passagelength: 40 }, 'options.passagelength');
    await fails({}, 'corpus', { ...corpus, files: corpus.files.filter((f) => !(f.split === 'train' && f.kind === 'imaginative')) });
    await fails({}, 'corpus', { ...corpus, files: corpus.files.filter((f) => f.split !== 'test') });
    await expect(representationProbe(model, CharVocabulary.fromTexts([ALPHABET + 'xyz']), corpus, options)).rejects.toThrow(ShapeError);
    model.dispose();
  });
});
