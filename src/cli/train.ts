import { Command, InvalidArgumentError, Option } from 'commander';
import type { BackendChoice } from '../kernels/get-backend.js';
import { formatDuration } from '../progress.js';
import type { Seed } from '../random.js';
import { MAX_TRAINING_WIDTH, runTraining, TRAIN_DATASETS, TRAIN_OPTIMIZERS, type TrainingSettings } from '../runs/training.js';
import type { EpochMetrics } from '../train/epoch-metrics.js';
import { UsageError } from '../usage-error.js';
import { backendOption, blockSizeOption, parseIntegerOption, parseNumberOption, seedOption } from './options.js';

interface TrainCliOptions {
  data: TrainingSettings['data'];
  hidden?: number[];
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
  out?: string;
  resume?: string;
  force: boolean;
}

/** Options that define the run: with --resume they come from the checkpoint and may not be given. */
const RUN_OPTIONS = ['data', 'hidden', 'layout', 'blockSize', 'batch', 'lr', 'optimizer', 'momentum', 'weightDecay', 'l0', 'l0LrScale', 'sparseInput', 'prune', 'regrow', 'seed', 'limit'] as const;

const parseSizes = (value: string): number[] => {
  const items = value.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => !/^\d+$/.test(s) || Number(s) < 1 || Number(s) > MAX_TRAINING_WIDTH)) {
    throw new InvalidArgumentError(`must be a comma-separated list of integers in [1, ${MAX_TRAINING_WIDTH}], e.g. 256,256.`);
  }
  return items.map(Number);
};

/** Adds `train`: trains an MLP on Fashion-MNIST with block-sparse hidden-to-hidden layers. */
export function addTrainCommand(program: Command): void {
  program
    .command('train')
    .description(
      'train an MLP (784 -> hidden... -> 10) on Fashion-MNIST; the layers between hidden layers use --layout (dense without it), ' +
        'the input layer is dense unless --sparse-input and the output layer is dense. Writes <out>/metrics.jsonl, <out>/checkpoint/, <out>/layout-<i>.json (the final layout ' +
        'of the i-th block-sparse layer, from 0; with --l0 also l0-layout-<i>.json, the blocks whose test-time gate is open) and <out>/summary.json. ' +
        'The output directory is locked for the whole run (a second run into it fails, naming the process that holds it); a directory that already holds files is refused unless --resume continues the run in it or --force starts over. ' +
        'Training stops with an error (exit 2) when it diverges: a NaN or infinite loss at any step, a parameter or optimiser state that is not finite at an epoch\'s end, or a test loss that is not finite; ' +
        'checkpoints are written only from finite state, so the checkpoint kept is the last good one',
    )
    .addOption(new Option('--data <name>', 'data set').choices([...TRAIN_DATASETS]).default('fashion-mnist'))
    .addOption(new Option('--hidden <sizes>', 'hidden layer widths, comma-separated (e.g. 512,512); multiples of --block-size with --layout').argParser(parseSizes))
    .addOption(new Option('--layout <spec|file>', 'layout of each hidden-to-hidden layer: a pattern spec ("watts-strogatz:k=8,p=0.1"; shape and block size filled in per layer, seed from --seed) or a .json/.npy layout file (default: dense layers; "dense" blocks with --l0)'))
    .addOption(blockSizeOption('block size of the block-sparse layers'))
    .addOption(new Option('--epochs <int>', 'total epochs (with --resume: continue up to this many)').argParser(parseIntegerOption).default(10))
    .addOption(new Option('--batch <int>', 'examples per training step').argParser(parseIntegerOption).default(128))
    .addOption(new Option('--lr <number>', 'learning rate').argParser(parseNumberOption).default(1e-3))
    .addOption(new Option('--optimizer <name>', 'optimiser: adam, adamw (decoupled weight decay) or sgd').choices([...TRAIN_OPTIMIZERS]).default('adam'))
    .addOption(new Option('--momentum <number>', 'SGD momentum (sgd only)').argParser(parseNumberOption).default(0.9))
    .addOption(new Option('--weight-decay <number>', 'weight decay of the weights (not biases or gates)').argParser(parseNumberOption).default(0))
    .addOption(new Option('--l0 <lambda>', 'L0 gates on every block of the block-sparse layers, with this penalty weight per weight (default: no gates)').argParser(parseNumberOption))
    .addOption(new Option('--l0-lr-scale <x>', 'learning-rate multiplier of the L0 gate logits: a test-time gate closes only below log alpha = -2.4, far for Adam steps of about --lr in short runs (the study uses 10)').argParser(parseNumberOption).default(1))
    .option('--sparse-input', 'make the input layer block-sparse too, with the same pattern (needs a block size dividing 784: 8 or 16)', false)
    .addOption(new Option('--prune <spec>', 'gradual block magnitude pruning of the block-sparse layers (Zhu & Gupta cubic schedule): <final sparsity>[,begin=STEP][,end=STEP][,every=STEPS][,initial=S][,norm=l2|max]; defaults begin 0, every 1/20 of the run, end at 75% of the run, initial 0, norm l2'))
    .addOption(new Option('--regrow <spec>', 'prune-and-regrow at block granularity, nnz kept: set|rigl[,every=STEPS][,fraction=F][,end=STEP][,norm=l2|max]; defaults every 100 (or 1/10 of a shorter run), fraction 0.3 (SET zeta / RigL alpha), end at 75% of the run'))
    .addOption(backendOption())
    .addOption(seedOption('seed of the initial weights, layouts, data order and gate noise'))
    .addOption(new Option('--limit <int>', 'use only the first N training examples (quick runs; the test set stays whole)').argParser(parseIntegerOption))
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
      throw new UsageError(`--${flag} cannot be given with --resume: the run's settings come from its checkpoint (only --epochs, --backend, --out and --force may change)`);
    }
  }
  const { epochs, backend, out, resume, force } = options;
  const settings: TrainingSettings | undefined = options.hidden === undefined ? undefined : {
    data: options.data, hidden: options.hidden, layout: options.layout, blockSize: Number(options.blockSize) as TrainingSettings['blockSize'],
    batch: options.batch, lr: options.lr, optimizer: options.optimizer, momentum: options.momentum, weightDecay: options.weightDecay, l0: options.l0,
    l0LrScale: options.l0LrScale, sparseInput: options.sparseInput, prune: options.prune, regrow: options.regrow, seed: options.seed, limit: options.limit,
  };
  const run = await runTraining({ epochs, backend, out, resume, force, settings }, {
    log: (m) => process.stderr.write(`${m}\n`),
    onEpoch: (m) => process.stderr.write(`${formatEpoch(m, epochs)}\n`),
  });
  const last = run.metrics[run.metrics.length - 1];
  process.stdout.write(
    `test accuracy ${last ? (100 * last.testAccuracy).toFixed(2) : '-'}% after ${run.metrics.length} epochs; ` +
      `${run.summary.parameterCount} parameters; ${formatDuration(run.summary.wallSeconds)}; wrote ${run.out}\n`,
  );
}

function formatEpoch(m: EpochMetrics, epochs: number): string {
  return (
    `epoch ${m.epoch + 1}/${epochs}: train loss ${m.trainLoss.toFixed(4)}, accuracy ${(100 * m.trainAccuracy).toFixed(2)}%; ` +
    `test loss ${m.testLoss.toFixed(4)}, accuracy ${(100 * m.testAccuracy).toFixed(2)}%; ${formatDuration(m.seconds)} (${Math.round(m.samplesPerSecond)} samples/s)`
  );
}
