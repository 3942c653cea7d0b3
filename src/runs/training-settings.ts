/**
 * A training run's settings as the `train` command's options give them: their types, defaults and
 * checks (errors name the options as the command line spells them), the resolved record that a
 * checkpoint stores so that a resumed run continues the same run, and the activations' memory
 * checked before anything is read.
 */
import { checkMemory } from '../budget.js';
import { checkInteger, checkNumber } from '../check.js';
import { ParameterError } from '../errors.js';
import type { BlockSize } from '../patterns/layout.js';
import type { Seed } from '../random.js';
import { MAX_CNN_DEPTH } from '../train/cnn.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_SIDE } from '../train/data/fashion-mnist.js';
import { DEFAULT_EMBEDDING, MAX_LSTM_HIDDEN } from '../train/language-model.js';
import { UsageError } from '../usage-error.js';
import { parsePruneSpec, parseRegrowSpec, type PruneSpec, type RegrowSpec } from './training-hooks.js';

/** The models a training run builds (`train --model`): an MLP, a character-level LSTM language model, or a CNN (block-sparse convolutions). */
export const TRAIN_MODELS = ['mlp', 'lstm', 'cnn'] as const;
/** The named data sets a training run knows (`train --data`); `text:<file>` names any UTF-8 text file. */
export const TRAIN_DATASETS = ['fashion-mnist', 'brown'] as const;
/** The optimisers a training run knows (`train --optimizer`). */
export const TRAIN_OPTIMIZERS = ['adam', 'adamw', 'sgd'] as const;
/** Largest hidden width and batch a training run accepts (the memory budget usually binds first). */
export const MAX_TRAINING_WIDTH = 2 ** 24;
/** Time steps per batch of a language model when --seq is not given. */
export const DEFAULT_SEQ = 100;
/** The longest --seq (time steps per batch) a run accepts. */
export const MAX_SEQ = 2 ** 20;
/**
 * The gradient clipping of a language model when --clip is not given: an LSTM's gradient norm can
 * jump by orders of magnitude on one batch (exploding gradients through time, Pascanu, Mikolov &
 * Bengio 2013); clipping the global norm at 1 bounds such a step without changing its direction,
 * between PyTorch's word-language-model example (0.25) and Sutskever, Vinyals & Le 2014 (5). An
 * MLP is not clipped unless asked (its runs stay as they were).
 */
export const DEFAULT_LSTM_CLIP = 1;

/** Examples per evaluation batch of an MLP run (the loop's default). */
export const EVAL_BATCH = 1000;
/** Examples in the Fashion-MNIST splits, for estimates made before the files are read. */
export const TRAIN_EXAMPLES = 60000;
const TEST_EXAMPLES = 10000;

/** The data of a run: a named data set, or `text:<file>` (a UTF-8 text file for a language model). */
export type TrainData = (typeof TRAIN_DATASETS)[number] | `text:${string}`;

/** A new run's settings, as the `train` command's options give them (--prune and --regrow as their spec text). */
export interface TrainingSettings {
  /** The model: an MLP (the default), a character-level LSTM language model, or a CNN. */
  model?: (typeof TRAIN_MODELS)[number];
  /** fashion-mnist (MLP, CNN), or brown or text:<file> (LSTM). */
  data: TrainData;
  /** Hidden widths: the MLP's hidden layers, or the LSTMs' hidden units, in order (required for them; not a CNN's). */
  hidden?: number[];
  /** A CNN's channel widths, one per stage (required for a CNN; buildCNN). */
  channels?: number[];
  /** A CNN's block-sparse convolutions per stage (default 1). */
  depth?: number;
  /** Layout of the block-sparse weights: a pattern spec or a .json/.npy layout file (default: dense; "dense" blocks with `l0`). For an LSTM, its recurrent weights (square, shared by the four gates; and its input weights with sparseInput); for a CNN, its convolutions over channel blocks (not the stem). */
  layout?: string;
  blockSize: BlockSize;
  /** Examples per training step, or an LSTM's streams per step. */
  batch: number;
  lr: number;
  optimizer: (typeof TRAIN_OPTIMIZERS)[number];
  /** SGD momentum (sgd only). */
  momentum: number;
  weightDecay: number;
  /** L0 gates on every block, with this penalty weight per weight. */
  l0?: number;
  /** Learning-rate multiplier of the gate logits. */
  l0LrScale: number;
  /** The input layer (an LSTM's input weights) block-sparse too. */
  sparseInput: boolean;
  /** Gradual pruning spec (see parsePruneSpec), resolved against the run's length. */
  prune?: string;
  /** Prune-and-regrow spec (see parseRegrowSpec), resolved against the run's length. */
  regrow?: string;
  seed: Seed;
  /** Only the first this many training examples (a language model's: training characters). */
  limit?: number;
  /** An LSTM's time steps per batch (T, the truncation of back-propagation through time; default 100). */
  seq?: number;
  /** An LSTM's embedding width (default 64). */
  embedding?: number;
  /** Clip the gradients' global norm to this (0: off; default 1 for an LSTM, 0 for an MLP). */
  clip?: number;
}

/**
 * The run's settings, resolved, stored in the checkpoint (its `run` record) so that a resumed run
 * continues the same run: the settings with absent options as null and --prune and --regrow parsed
 * and resolved against the run's length.
 */
export type TrainRunConfig = Omit<TrainingSettings, 'model' | 'hidden' | 'channels' | 'depth' | 'layout' | 'l0' | 'prune' | 'regrow' | 'limit' | 'seq' | 'embedding' | 'clip'> & {
  model: (typeof TRAIN_MODELS)[number];
  /** The MLP's or LSTMs' hidden widths ([] for a CNN). */
  hidden: number[];
  /** A CNN's channel widths (null for the others). */
  channels: number[] | null;
  /** A CNN's convolutions per stage (null for the others). */
  depth: number | null;
  layout: string | null;
  l0: number | null;
  /** --prune, resolved against the run's length (null: none). */
  prune: PruneSpec | null;
  /** --regrow, resolved (null: none). */
  regrow: RegrowSpec | null;
  limit: number | null;
  /** An LSTM's time steps per batch (null for an MLP). */
  seq: number | null;
  /** An LSTM's embedding width (null for an MLP). */
  embedding: number | null;
  clip: number;
};

/** Whether `data` is a language model's (brown, or text:<file>). */
export function isTextData(data: string): boolean {
  return data === 'brown' || data.startsWith('text:');
}

/**
 * The model and data checked together (UsageError): an MLP or a CNN trains on fashion-mnist, an
 * LSTM on brown or text:<file> (a non-empty path); --seq and --embedding are an LSTM's, --channels
 * and --depth a CNN's, and --hidden and --sparse-input not a CNN's.
 */
export function checkModelData(
  settings: Pick<TrainingSettings, 'model' | 'data'> & {
    seq?: number | null; embedding?: number | null; channels?: number[] | null; depth?: number | null; hidden?: number[]; sparseInput?: boolean;
  },
): (typeof TRAIN_MODELS)[number] {
  const model = settings.model ?? 'mlp';
  if (!(TRAIN_MODELS as readonly string[]).includes(model)) throw new ParameterError('model', `one of ${TRAIN_MODELS.join(', ')}`, model);
  const data = settings.data;
  if (typeof data !== 'string' || !((TRAIN_DATASETS as readonly string[]).includes(data) || (data.startsWith('text:') && data.length > 'text:'.length))) {
    throw new ParameterError('data', `one of ${TRAIN_DATASETS.join(', ')} or text:<file>`, data);
  }
  if (model === 'mlp' && isTextData(data)) throw new UsageError(`--data ${data} is text: train a language model on it with --model lstm`);
  if (model === 'lstm' && !isTextData(data)) throw new UsageError(`--model lstm trains on text: give --data brown or --data text:<file> (not ${data})`);
  if (model === 'cnn' && isTextData(data)) throw new UsageError(`--data ${data} is text: train a language model on it with --model lstm (--model cnn trains on fashion-mnist)`);
  if (model !== 'lstm') {
    for (const [option, value] of [['--seq', settings.seq], ['--embedding', settings.embedding]] as const) {
      if (value !== undefined && value !== null) throw new UsageError(`${option} is an LSTM's setting: give it with --model lstm`);
    }
  }
  if (model !== 'cnn') {
    for (const [option, value] of [['--channels', settings.channels], ['--depth', settings.depth]] as const) {
      if (value !== undefined && value !== null) throw new UsageError(`${option} is a CNN's setting: give it with --model cnn`);
    }
  } else {
    if (settings.hidden !== undefined && settings.hidden.length > 0) throw new UsageError('--hidden is an MLP\'s or an LSTM\'s setting: a CNN takes --channels (one width per stage)');
    if (settings.sparseInput) throw new UsageError('--sparse-input is an MLP\'s or an LSTM\'s setting: a CNN\'s stem is dense');
  }
  return model;
}

/** A new run's settings checked and resolved (the prune and regrow specs against the run's `totalSteps`). */
export function resolveSettings(settings: TrainingSettings, totalSteps: number): TrainRunConfig {
  const model = checkModelData(settings);
  const lstm = model === 'lstm';
  const cnn = model === 'cnn';
  return {
    model,
    channels: cnn ? checkWidths('channels', settings.channels) : null,
    depth: cnn ? checkInteger('depth', settings.depth ?? 1, 1, MAX_CNN_DEPTH) : null,
    sparseInput: Boolean(settings.sparseInput),
    l0LrScale: checkNumber('l0LrScale', settings.l0LrScale, 0, 1e6),
    prune: settings.prune === undefined ? null : parsePruneSpec(settings.prune, totalSteps),
    regrow: settings.regrow === undefined ? null : parseRegrowSpec(settings.regrow, totalSteps),
    data: settings.data,
    hidden: cnn ? [] : checkWidths('hidden', settings.hidden),
    layout: settings.layout ?? (settings.l0 !== undefined ? 'dense' : null),
    blockSize: Number(settings.blockSize) as BlockSize,
    batch: checkInteger('batch', settings.batch, 1, 2 ** 24),
    lr: checkNumber('lr', settings.lr, 0, Number.MAX_VALUE),
    optimizer: settings.optimizer,
    momentum: checkNumber('momentum', settings.momentum, 0, 1),
    weightDecay: checkNumber('weightDecay', settings.weightDecay, 0, Number.MAX_VALUE),
    l0: settings.l0 === undefined ? null : checkNumber('l0', settings.l0, 0, Number.MAX_VALUE),
    seed: settings.seed,
    limit: settings.limit ?? null,
    seq: lstm ? checkInteger('seq', settings.seq ?? DEFAULT_SEQ, 1, MAX_SEQ) : null,
    embedding: lstm ? checkInteger('embedding', settings.embedding ?? DEFAULT_EMBEDDING, 1, MAX_TRAINING_WIDTH) : null,
    clip: checkNumber('clip', settings.clip ?? (lstm ? DEFAULT_LSTM_CLIP : 0), 0, Number.MAX_VALUE),
  };
}

/** A list of widths (--hidden, --channels): non-empty, integers in [1, MAX_TRAINING_WIDTH] (ParameterError naming the option). */
function checkWidths(option: 'hidden' | 'channels', widths: number[] | undefined): number[] {
  if (!Array.isArray(widths) || widths.length === 0) throw new ParameterError(option, 'a non-empty list of widths', widths);
  widths.forEach((w, i) => checkInteger(`${option}[${i}]`, w, 1, MAX_TRAINING_WIDTH));
  return widths;
}

/** Checkpoints written before --sparse-input, --l0-lr-scale, --prune, --regrow, --model and --channels existed have none of them. */
export function withDefaults(config: TrainRunConfig): TrainRunConfig {
  return {
    ...config, model: config.model ?? 'mlp', sparseInput: config.sparseInput ?? false, l0LrScale: config.l0LrScale ?? 1, prune: config.prune ?? null, regrow: config.regrow ?? null,
    seq: config.seq ?? null, embedding: config.embedding ?? null, clip: config.clip ?? 0, channels: config.channels ?? null, depth: config.depth ?? null,
  };
}

/**
 * The settings a checkpoint's `run` record holds, checked to be a training run's (UsageError
 * naming --resume otherwise); their activations checked against the memory budget.
 */
export function savedRunConfig(record: unknown, resume: string | undefined): TrainRunConfig {
  const config = record as TrainRunConfig;
  const bad = () => new UsageError(`--resume ${resume}: the checkpoint was not written by blocksparse train (no valid run settings)`);
  if (!config || !Array.isArray(config.hidden) || !config.hidden.every((h) => Number.isInteger(h) && h >= 1 && h <= MAX_TRAINING_WIDTH) || !Number.isInteger(config.batch) || config.batch < 1) throw bad();
  const resolved = withDefaults(config);
  try {
    checkModelData({
      model: resolved.model, data: resolved.data, ...(resolved.model === 'lstm' ? { seq: resolved.seq, embedding: resolved.embedding } : {}),
      ...(resolved.model === 'cnn' ? { hidden: resolved.hidden, sparseInput: resolved.sparseInput } : { channels: resolved.channels, depth: resolved.depth }),
    });
  } catch {
    throw bad();
  }
  if (resolved.model === 'lstm') {
    const sizes = [resolved.seq, resolved.embedding];
    if (!sizes.every((v) => Number.isSafeInteger(v) && (v as number) >= 1) || !config.hidden.every((h) => h <= MAX_LSTM_HIDDEN)) throw bad();
  }
  if (resolved.model === 'cnn') {
    const { channels, depth } = resolved;
    if (!Array.isArray(channels) || channels.length === 0 || !channels.every((c) => Number.isInteger(c) && c >= 1 && c <= MAX_TRAINING_WIDTH)) throw bad();
    if (!Number.isInteger(depth) || (depth as number) < 1 || (depth as number) > MAX_CNN_DEPTH) throw bad();
  } else if (resolved.hidden.length === 0) throw bad();
  checkActivationMemory(resolved);
  return resolved;
}

/**
 * Checks, before anything is read or built, that the activations of a step fit the memory budget.
 * An MLP: every layer keeps its input and output for the backward pass, which makes gradients of
 * the same sizes, for batches of the larger of the training and evaluation batch. An LSTM: a
 * step of T B rows keeps, per LSTM of H units, its input projection, gates and gate gradients
 * (4H each), its cells, hidden states and output (H each) and their gradients, and the logits and
 * their gradient (V, at most 65,536 characters: counted as the vocabulary's largest size is
 * unknown before the text is read, so the text's own size is checked once read). A CNN: per
 * example the image laid out in bs channels, and for every convolution (the stem's too) its
 * output, channel norm and activation (H W C each, H x W halved by each stage's pooling) and their
 * gradients, for batches of the larger of the training and evaluation batch.
 */
export function checkActivationMemory(
  config: Pick<TrainRunConfig, 'model' | 'hidden' | 'batch' | 'limit' | 'seq' | 'embedding'> & Partial<Pick<TrainRunConfig, 'channels' | 'depth' | 'blockSize'>>,
  symbols = 256,
): void {
  const { hidden, batch } = config;
  if (config.model === 'lstm') {
    const rows = batch * (config.seq ?? DEFAULT_SEQ);
    const embedding = config.embedding ?? DEFAULT_EMBEDDING;
    const features = 2 * embedding + hidden.reduce((sum, h) => sum + 18 * h, 0) + 3 * symbols;
    const widest = Math.max(4 * Math.max(...hidden), embedding, symbols);
    checkMemory(`--hidden ${hidden.join(',')} with --batch ${batch} and --seq ${config.seq ?? DEFAULT_SEQ} (${rows} rows a step: activations and their gradients)`, 4 * rows * features, { elements: rows * widest });
    return;
  }
  const trainExamples = config.limit ?? TRAIN_EXAMPLES;
  const inputs = FASHION_MNIST_SIDE * FASHION_MNIST_SIDE;
  const classes = FASHION_MNIST_CLASSES.length;
  const rows = Math.max(Math.min(batch, trainExamples), Math.min(EVAL_BATCH, TEST_EXAMPLES));
  if (config.model === 'cnn') {
    const channels = config.channels ?? [];
    const depth = config.depth ?? 1;
    const bs = config.blockSize ?? 32;
    let side = FASHION_MNIST_SIDE;
    let perExample = inputs * (1 + bs);
    const widest = inputs * Math.max(bs, channels[0] ?? 0);
    channels.forEach((c, s) => {
      if (s > 0) side = Math.floor(side / 2);
      const convs = depth + (s === 0 ? 1 : 0);
      perExample += 3 * convs * side * side * c;
    });
    checkMemory(
      `--channels ${channels.join(',')} with --depth ${depth} and batches of ${rows} examples (activations and their gradients)`,
      2 * 4 * rows * perExample, { elements: rows * widest },
    );
    return;
  }
  const features = inputs + 2 * hidden.reduce((a, b) => a + b, 0) + classes;
  const widest = Math.max(inputs, classes, ...hidden);
  checkMemory(`--hidden ${hidden.join(',')} with batches of ${rows} examples (activations and their gradients)`, 2 * 4 * rows * features, { elements: rows * widest });
}
