import { measureLayouts, type MetricRow } from '../analysis/compare.js';
import { resolveMetrics } from '../analysis/metrics.js';
import { checkInteger, checkNumber } from '../check.js';
import { ParameterError } from '../errors.js';
import type { Backend } from '../kernels/types.js';
import type { BlockLayout, BlockSize } from '../patterns/layout.js';
import { buildPatternSpec } from '../patterns/spec.js';
import { resolveRng } from '../random.js';
import type { BrownCorpus } from '../train/data/brown.js';
import { CharVocabulary } from '../train/data/char-vocabulary.js';
import type { Sequential } from '../train/layers/sequential.js';
import { buildCharLSTM, gateSharedLayout } from '../train/language-model.js';
import { train } from '../train/loop.js';
import { Adam } from '../train/optimizers.js';
import { representationProbe, type ProbeOptions } from '../train/probe.js';
import { meanSd } from './study.js';

/*
 * The small-world LSTM study (issue 12; OpenAI's 2017 block-sparse LSTM experiment at a scale a
 * 2-core machine trains in about an hour): character-level language models of the Brown corpus,
 * a dense LSTM against Watts-Strogatz, Barabási-Albert, random and banded block-sparse LSTMs
 * about 3x wider with about the same number of weights, each over several seeds and the same
 * training characters. Reported per run: test bits per character, the representation probe's
 * accuracy (trained model and the same model untrained), weights, seconds per epoch, characters
 * per second, and the validation bits per character after every epoch; the recurrent layouts
 * through the analysis tools. Used by bench/lstm-study.ts and notebooks/small-world-lstm.ipynb.
 */

/** One model of the study: a one-layer character LSTM. */
export interface LstmStudyModel {
  name: string;
  /** Hidden units; null: the dense width whose weight count is closest to the study's first sparse model's. */
  hidden: number | null;
  /** Pattern spec of the recurrent layout (square, shared by the four gates); null: dense. */
  pattern: string | null;
}

/** The study's configuration. */
export interface LstmStudyConfig {
  models: LstmStudyModel[];
  seeds: number[];
  epochs: number;
  /** Training characters per epoch: the first this many of the training text (null: all of it). */
  trainCharacters: number | null;
  /** Validation characters evaluated after every epoch: the first this many (null: all; the default study takes 200,000 for time). */
  validationCharacters: number | null;
  /** Test characters evaluated at the end: the first this many (null: all, the study's default; a notebook's small run takes fewer). */
  testCharacters: number | null;
  /** T: steps of truncated back-propagation through time. */
  steps: number;
  /** B: streams per batch. */
  batchSize: number;
  lr: number;
  /** Gradient clipping by global norm. */
  clip: number;
  /** Embedding features E (the LSTM's input weights stay dense). */
  embedding: number;
  blockSize: BlockSize;
  /** The representation probe's options (passages per file keep its cost down). */
  probe: ProbeOptions;
}

/**
 * The default study, sized to about an hour on a 2-core machine (CPU backend): Watts-Strogatz
 * (k = 4, p = 0.1, with the diagonal: 5 blocks per row), Barabási-Albert (m = 2), random (the same
 * density) and banded (bandwidth 2) recurrent layouts of 48 x 48 blocks of 16 (768 units), against
 * the dense LSTM of about the same weight count (about 250 units: the sparse models are ~3x wider);
 * embedding 16, T = 100, B = 32, Adam 2e-3, clipping at 1, 3 epochs of the first 600,000
 * training characters, validation on the first 200,000 validation characters after each epoch,
 * test on the whole test text.
 */
export function defaultLstmStudy(
  options: { epochs?: number; seeds?: number; trainCharacters?: number | null; validationCharacters?: number | null; testCharacters?: number | null; hidden?: number; probe?: ProbeOptions } = {},
): LstmStudyConfig {
  const hidden = options.hidden ?? 768;
  const blocks = hidden / 16;
  return {
    models: [
      { name: 'dense', hidden: null, pattern: null },
      { name: 'watts-strogatz', hidden, pattern: 'watts-strogatz:k=4,p=0.1' },
      { name: 'barabasi-albert', hidden, pattern: 'barabasi-albert:m=2' },
      { name: 'random', hidden, pattern: `random:density=${(5 / blocks).toFixed(4)}` },
      { name: 'banded', hidden, pattern: 'banded:bandwidth=2' },
    ],
    seeds: Array.from({ length: options.seeds ?? 3 }, (_v, i) => i),
    epochs: options.epochs ?? 3,
    trainCharacters: options.trainCharacters === undefined ? 600_000 : options.trainCharacters,
    validationCharacters: options.validationCharacters === undefined ? 200_000 : options.validationCharacters,
    testCharacters: options.testCharacters === undefined ? null : options.testCharacters,
    steps: 100,
    batchSize: 32,
    lr: 2e-3,
    clip: 1,
    embedding: 16,
    blockSize: 16,
    probe: options.probe ?? { maxPassagesPerFile: 2 },
  };
}

/** One trained model of the study. */
export interface LstmStudyRun {
  model: string;
  seed: number;
  hidden: number;
  /** Weights and biases (L0 gate logits excluded). */
  weights: number;
  testBpc: number;
  /** Validation bits per character after each epoch. */
  validationBpc: number[];
  probeAccuracy: number;
  /** The probe's accuracy on the same model before training (character statistics alone separate the genres a good deal). */
  untrainedProbeAccuracy: number;
  /** The probe's majority-class baseline. */
  probeBaseline: number;
  secondsPerEpoch: number;
  charactersPerSecond: number;
  /** The recurrent layout (square, the gates' shared blocks); null for the dense model. */
  recurrentLayout: BlockLayout | null;
}

/** Weights and biases of a model (L0 gate logits excluded: they are not used at test time). */
export function modelWeights(model: Sequential): number {
  return model.parameters().filter((p) => !p.name.endsWith('logAlpha')).reduce((sum, p) => sum + p.value.size, 0);
}

/**
 * The weights of a one-layer dense character LSTM with `hidden` units: embedding V E, input
 * weights E 4H, recurrent 4H^2, bias 4H, output H V + V.
 */
export function denseLstmWeights(symbols: number, embedding: number, hidden: number): number {
  return symbols * embedding + 4 * hidden * embedding + 4 * hidden * hidden + 4 * hidden + hidden * symbols + symbols;
}

/** The dense width whose weight count (denseLstmWeights) is closest to `target`. */
export function matchDenseWidth(symbols: number, embedding: number, target: number): number {
  const b = 4 * embedding + 4 + symbols;
  const c = symbols * embedding + symbols - target;
  const root = Math.max(1, Math.round((-b + Math.sqrt(b * b - 16 * c)) / 8));
  let best = root;
  for (const h of [root - 1, root + 1]) {
    if (h >= 1 && Math.abs(denseLstmWeights(symbols, embedding, h) - target) < Math.abs(denseLstmWeights(symbols, embedding, best) - target)) best = h;
  }
  return best;
}

/** Checks a study configuration (ParameterError naming the field). */
function checkConfig(config: LstmStudyConfig): void {
  const context = 'runLstmStudy';
  if (!Array.isArray(config.models) || config.models.length === 0) throw new ParameterError('models', 'a non-empty list', config.models, context);
  if (!Array.isArray(config.seeds) || config.seeds.length === 0) throw new ParameterError('seeds', 'a non-empty list', config.seeds, context);
  checkInteger('epochs', config.epochs, 1, 1000, context);
  checkInteger('steps', config.steps, 1, 100_000, context);
  checkInteger('batchSize', config.batchSize, 1, 100_000, context);
  checkNumber('lr', config.lr, 0, 10, context);
  checkNumber('clip', config.clip, 0, 1e6, context);
  if (config.models.some((m) => m.hidden === null) && !config.models.some((m) => m.pattern !== null && m.hidden !== null)) {
    throw new ParameterError('models', 'a sparse model to match when a model has hidden: null', 'none', context);
  }
}

/** The model a study entry builds, with its hidden width resolved. */
function buildModel(backend: Backend, config: LstmStudyConfig, spec: LstmStudyModel, hidden: number, symbols: number, seed: number): Sequential {
  const pattern = spec.pattern;
  return buildCharLSTM(backend, {
    symbols, embedding: config.embedding, hidden: [hidden], blockSize: config.blockSize, seed,
    ...(pattern ? { layout: ({ role, index, inBlocks, outBlocks, blockSize }) => buildPatternSpec(pattern, { inBlocks, outBlocks, blockSize, seed: `${seed}#${role}${index}` }) } : {}),
  });
}

/** The dense width of the study: the weight count of its first sparse model (first seed's layout); 0 without one. */
function matchedDenseWidth(backend: Backend, config: LstmStudyConfig, symbols: number): number {
  const reference = config.models.find((m) => m.pattern !== null && m.hidden !== null);
  if (!reference) return 0;
  const model = buildModel(backend, config, reference, reference.hidden!, symbols, config.seeds[0]);
  const width = matchDenseWidth(symbols, config.embedding, modelWeights(model));
  model.dispose();
  return width;
}

/** One model's training speed: characters per second of each round's training steps. */
export interface LstmSpeed {
  model: string;
  hidden: number;
  weights: number;
  charactersPerSecond: number[];
}

/**
 * The training speed of the study's models (`names`, default all), apart from the study so that it
 * is measured alike for each: `rounds` rounds, each training every model in turn for `batches`
 * batches of the study's T x B characters (seeded random characters of a `symbols`-character
 * vocabulary: speed does not depend on the text), characters per second of the training steps
 * (evaluation excluded).
 */
export async function measureLstmSpeed(backend: Backend, config: LstmStudyConfig, symbols: number, options: { names?: readonly string[]; batches?: number; rounds?: number } = {}): Promise<LstmSpeed[]> {
  checkConfig(config);
  const batches = checkInteger('batches', options.batches ?? 30, 2, 1_000_000, 'measureLstmSpeed');
  const rounds = checkInteger('rounds', options.rounds ?? 2, 1, 1000, 'measureLstmSpeed');
  const specs = options.names ? config.models.filter((m) => options.names!.includes(m.name)) : config.models;
  if (specs.length === 0) throw new ParameterError('names', `names of the study's models (${config.models.map((m) => m.name).join(', ')})`, options.names, 'measureLstmSpeed');
  const denseHidden = matchedDenseWidth(backend, config, symbols);
  const rng = resolveRng({ seed: 'lstm-speed' });
  const tokens = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rng() * symbols));
  const chunk = config.steps * config.batchSize;
  const text = { train: tokens((batches + 1) * chunk + 1), validation: tokens(2 * chunk), test: tokens(2 * chunk), steps: config.steps };
  const out: LstmSpeed[] = specs.map((spec) => ({ model: spec.name, hidden: spec.hidden ?? denseHidden, weights: 0, charactersPerSecond: [] }));
  for (let round = 0; round < rounds; round++) {
    for (const [i, spec] of specs.entries()) {
      const model = buildModel(backend, config, spec, out[i].hidden, symbols, 0);
      const optimizer = new Adam(model.parameters(), { lr: config.lr });
      const result = await train({ model, optimizer, text, epochs: 1, batchSize: config.batchSize, seed: round, clip: config.clip, progressBar: false });
      out[i].weights = modelWeights(model);
      out[i].charactersPerSecond.push(result.metrics[0].charactersPerSecond);
      optimizer.dispose();
      model.dispose();
    }
  }
  return out;
}

/**
 * Trains every model of the study on every seed on the Brown corpus (the same training
 * characters for all), probes each before and after training, and calls `onRun` after each run.
 */
export async function runLstmStudy(backend: Backend, config: LstmStudyConfig, corpus: BrownCorpus, onRun?: (run: LstmStudyRun) => void): Promise<LstmStudyRun[]> {
  checkConfig(config);
  const vocabulary = CharVocabulary.fromCorpus(corpus);
  const cut = (text: string, limit: number | null) => vocabulary.encode(limit === null ? text : text.slice(0, limit));
  const text = {
    train: cut(corpus.train, config.trainCharacters),
    validation: cut(corpus.validation, config.validationCharacters),
    test: cut(corpus.test, config.testCharacters),
    steps: config.steps,
    vocabulary,
  };
  const denseHidden = matchedDenseWidth(backend, config, vocabulary.size);
  const runs: LstmStudyRun[] = [];
  for (const spec of config.models) {
    const hidden = spec.hidden ?? denseHidden;
    for (const seed of config.seeds) {
      const model = buildModel(backend, config, spec, hidden, vocabulary.size, seed);
      const untrained = await representationProbe(model, vocabulary, corpus, { ...config.probe, seed });
      const optimizer = new Adam(model.parameters(), { lr: config.lr });
      const result = await train({ model, optimizer, text, epochs: config.epochs, batchSize: config.batchSize, seed, clip: config.clip, progressBar: false });
      const probe = await representationProbe(model, vocabulary, corpus, { ...config.probe, seed });
      const last = result.metrics[result.metrics.length - 1];
      const recurrent = model.blockSparseLayers()[0]?.layout ?? null;
      const run: LstmStudyRun = {
        model: spec.name, seed, hidden, weights: modelWeights(model),
        testBpc: last.testBpc ?? Number.NaN,
        validationBpc: result.metrics.map((m) => m.validationBpc),
        probeAccuracy: probe.accuracy, untrainedProbeAccuracy: untrained.accuracy, probeBaseline: probe.majorityBaseline,
        secondsPerEpoch: result.metrics.reduce((s, m) => s + m.seconds, 0) / result.metrics.length,
        charactersPerSecond: result.metrics.reduce((s, m) => s + m.charactersPerSecond, 0) / result.metrics.length,
        recurrentLayout: recurrent ? (gateSharedLayout(recurrent) ?? recurrent) : null,
      };
      runs.push(run);
      onRun?.(run);
      optimizer.dispose();
      model.dispose();
    }
  }
  return runs;
}

/** One model's results over its seeds. */
export interface LstmStudySummary {
  model: string;
  hidden: number;
  weights: number;
  testBpc: { mean: number; sd: number };
  probeAccuracy: { mean: number; sd: number };
  untrainedProbeAccuracy: { mean: number; sd: number };
  probeBaseline: number;
  secondsPerEpoch: number;
  charactersPerSecond: number;
  /** Mean validation bits per character after each epoch. */
  validationBpc: number[];
  seeds: number;
}

/** Per model: means and sample standard deviations over the seeds. */
export function summarizeLstmStudy(runs: readonly LstmStudyRun[]): LstmStudySummary[] {
  const names = [...new Set(runs.map((r) => r.model))];
  return names.map((model) => {
    const rows = runs.filter((r) => r.model === model);
    const epochs = Math.min(...rows.map((r) => r.validationBpc.length));
    return {
      model,
      hidden: rows[0].hidden,
      weights: Math.round(meanSd(rows.map((r) => r.weights)).mean),
      testBpc: meanSd(rows.map((r) => r.testBpc)),
      probeAccuracy: meanSd(rows.map((r) => r.probeAccuracy)),
      untrainedProbeAccuracy: meanSd(rows.map((r) => r.untrainedProbeAccuracy)),
      probeBaseline: rows[0].probeBaseline,
      secondsPerEpoch: meanSd(rows.map((r) => r.secondsPerEpoch)).mean,
      charactersPerSecond: meanSd(rows.map((r) => r.charactersPerSecond)).mean,
      validationBpc: Array.from({ length: epochs }, (_v, e) => meanSd(rows.map((r) => r.validationBpc[e])).mean),
      seeds: rows.length,
    };
  });
}

/** The recurrent layouts of the first seed of each sparse model, through the analysis tools (path length, clustering, mixing depth, degree spread). */
export async function analyseLstmLayouts(runs: readonly LstmStudyRun[]): Promise<MetricRow[]> {
  const first = new Map<string, BlockLayout>();
  for (const r of runs) if (r.recurrentLayout && !first.has(r.model)) first.set(r.model, r.recurrentLayout);
  const layouts = [...first].map(([name, layout]) => ({ name, layout }));
  return measureLayouts(layouts, { metrics: resolveMetrics(['components', 'degree-sd', 'path-length', 'clustering', 'mixing-depth']), seed: 0 });
}
