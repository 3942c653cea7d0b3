import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { writeFileAtomic } from '../atomic-write.js';
import { checkMemory } from '../budget.js';
import { checkInteger, checkNumber } from '../check.js';
import { BlocksparseError, FileError } from '../errors.js';
import { getBackend, type BackendChoice } from '../kernels/get-backend.js';
import { saveLayout } from '../patterns/files.js';
import type { BlockLayout, BlockSize } from '../patterns/layout.js';
import { loadLayout } from '../patterns/files.js';
import { buildPatternSpec } from '../patterns/spec.js';
import type { Seed } from '../random.js';
import { loadCheckpoint, restoreModel, restoreOptimizer } from '../train/checkpoint.js';
import { batchCount } from '../train/data/batches.js';
import { l0Layout } from '../train/sparsity/l0.js';
import { parsePruneSpec, parseRegrowSpec, trainingHooks, type PruneSpec, type RegrowSpec } from './train-hooks.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_SIDE, loadFashionMNIST } from '../train/data/fashion-mnist.js';
import { BlockSparseLinear } from '../train/layers/block-sparse-linear.js';
import { CHECKPOINT_DIR, openRunDirectory, SUMMARY_FILE, train, type EpochMetrics, type ExistingRun } from '../train/loop.js';
import { buildMLP, layerDensities, parameterCount, type LayoutFactory } from '../train/model.js';
import { Adam, SGD, type Optimizer } from '../train/optimizers.js';
import type { Sequential } from '../train/layers/sequential.js';
import { formatDuration } from '../progress.js';
import { backendOption, blockSizeOption, parseIntegerOption, parseNumberOption, seedOption } from './options.js';
import { UsageError } from './usage-error.js';

/** The data sets `train --data` knows. */
export const TRAIN_DATASETS = ['fashion-mnist'] as const;
/** The optimisers `train --optimizer` knows. */
export const TRAIN_OPTIMIZERS = ['adam', 'adamw', 'sgd'] as const;

/** The run's settings, stored in the checkpoint (its `run` record) so that --resume continues the same run. */
export interface TrainRunConfig {
  data: (typeof TRAIN_DATASETS)[number];
  hidden: number[];
  layout: string | null;
  blockSize: BlockSize;
  batch: number;
  lr: number;
  optimizer: (typeof TRAIN_OPTIMIZERS)[number];
  momentum: number;
  weightDecay: number;
  l0: number | null;
  /** --sparse-input: the input layer block-sparse too. */
  sparseInput: boolean;
  /** --l0-lr-scale: learning-rate multiplier of the gate logits. */
  l0LrScale: number;
  /** --prune, resolved against the run's length (null: none). */
  prune: PruneSpec | null;
  /** --regrow, resolved (null: none). */
  regrow: RegrowSpec | null;
  seed: Seed;
  limit: number | null;
}

interface TrainCliOptions {
  data: TrainRunConfig['data'];
  hidden?: number[];
  layout?: string;
  blockSize: string;
  epochs: number;
  batch: number;
  lr: number;
  optimizer: TrainRunConfig['optimizer'];
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

/** Largest hidden width and batch the command accepts (the memory budget usually binds first). */
const MAX_WIDTH = 2 ** 24;
/** Examples per evaluation batch (the loop's default). */
const EVAL_BATCH = 1000;
/** Examples in the Fashion-MNIST splits, for estimates made before the files are read. */
const TRAIN_EXAMPLES = 60000;
const TEST_EXAMPLES = 10000;

/** Options that define the run: with --resume they come from the checkpoint and may not be given. */
const RUN_OPTIONS = ['data', 'hidden', 'layout', 'blockSize', 'batch', 'lr', 'optimizer', 'momentum', 'weightDecay', 'l0', 'l0LrScale', 'sparseInput', 'prune', 'regrow', 'seed', 'limit'] as const;

const parseSizes = (value: string): number[] => {
  const items = value.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => !/^\d+$/.test(s) || Number(s) < 1 || Number(s) > MAX_WIDTH)) {
    throw new InvalidArgumentError(`must be a comma-separated list of integers in [1, ${MAX_WIDTH}], e.g. 256,256.`);
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

/** The checkpoint directory of --resume: <dir>/checkpoint when there is one, else <dir> itself. */
function resumeCheckpointDir(dir: string): string {
  return existsSync(join(dir, CHECKPOINT_DIR, 'manifest.json')) || existsSync(join(dir, `${CHECKPOINT_DIR}.previous`, 'manifest.json')) ? join(dir, CHECKPOINT_DIR) : dir;
}

function configFromOptions(options: TrainCliOptions, totalSteps: number): TrainRunConfig {
  if (!options.hidden) throw new UsageError('--hidden is required (or --resume)');
  return {
    sparseInput: Boolean(options.sparseInput),
    l0LrScale: checkNumber('l0LrScale', options.l0LrScale, 0, 1e6),
    prune: options.prune === undefined ? null : parsePruneSpec(options.prune, totalSteps),
    regrow: options.regrow === undefined ? null : parseRegrowSpec(options.regrow, totalSteps),
    data: options.data,
    hidden: options.hidden,
    layout: options.layout ?? (options.l0 !== undefined ? 'dense' : null),
    blockSize: Number(options.blockSize) as BlockSize,
    batch: checkInteger('batch', options.batch, 1, 2 ** 24),
    lr: checkNumber('lr', options.lr, 0, Number.MAX_VALUE),
    optimizer: options.optimizer,
    momentum: checkNumber('momentum', options.momentum, 0, 1),
    weightDecay: checkNumber('weightDecay', options.weightDecay, 0, Number.MAX_VALUE),
    l0: options.l0 === undefined ? null : checkNumber('l0', options.l0, 0, Number.MAX_VALUE),
    seed: options.seed,
    limit: options.limit ?? null,
  };
}

/** The layout factory of --layout: a file's layout for every layer, or the spec built per layer. */
function layoutFactory(config: TrainRunConfig): LayoutFactory | undefined {
  const text = config.layout;
  if (text === null) return undefined;
  const wrap = <T>(make: () => T): T => {
    try {
      return make();
    } catch (error) {
      if (error instanceof BlocksparseError) throw new UsageError(`--layout ${JSON.stringify(text)}: ${error.message}`);
      throw error;
    }
  };
  if (/\.(json|npy)$/i.test(text)) {
    const layout: BlockLayout = wrap(() => loadLayout(text, /\.npy$/i.test(text) ? { blockSize: config.blockSize } : {}));
    return () => layout;
  }
  const seed = config.seed;
  return ({ index, role, inBlocks, outBlocks, blockSize }) =>
    wrap(() => buildPatternSpec(text, { inBlocks, outBlocks, blockSize, seed: role === 'input' ? `${seed}#input` : typeof seed === 'number' ? seed + index : `${seed}#${index}` }));
}

function makeOptimizer(config: TrainRunConfig, model: Sequential): Optimizer {
  const parameters = model.parameters();
  if (config.optimizer === 'sgd') return new SGD(parameters, { lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay });
  return new Adam(parameters, { lr: config.lr, weightDecay: config.weightDecay, decoupled: config.optimizer === 'adamw' });
}

/**
 * Checks, before anything is read or built, that the activations of a step fit the memory budget:
 * every layer keeps its input and output for the backward pass, which makes gradients of the same
 * sizes, for batches of the larger of the training batch and the evaluation batch.
 */
function checkActivationMemory(hidden: readonly number[], batch: number, trainExamples: number): void {
  const inputs = FASHION_MNIST_SIDE * FASHION_MNIST_SIDE;
  const classes = FASHION_MNIST_CLASSES.length;
  const rows = Math.max(Math.min(batch, trainExamples), Math.min(EVAL_BATCH, TEST_EXAMPLES));
  const features = inputs + 2 * hidden.reduce((a, b) => a + b, 0) + classes;
  const widest = Math.max(inputs, classes, ...hidden);
  checkMemory(`--hidden ${hidden.join(',')} with batches of ${rows} examples (activations and their gradients)`, 2 * 4 * rows * features, { elements: rows * widest });
}

async function runTrain(options: TrainCliOptions, command: Command): Promise<void> {
  const started = performance.now();
  const epochs = checkInteger('epochs', options.epochs, 1, 1e6);
  let resumeFrom: string | undefined;
  let out = options.out;
  if (options.resume !== undefined) {
    const given = RUN_OPTIONS.filter((name) => command.getOptionValueSource(name) === 'cli');
    if (given.length > 0) {
      const flag = given[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      throw new UsageError(`--${flag} cannot be given with --resume: the run's settings come from its checkpoint (only --epochs, --backend, --out and --force may change)`);
    }
    if (!existsSync(options.resume)) throw new FileError(options.resume, 'does not exist: there is no run to --resume');
    resumeFrom = resumeCheckpointDir(options.resume);
    out ??= resumeFrom === options.resume ? dirname(resumeFrom) : options.resume;
  } else {
    if (out === undefined) throw new UsageError('--out is required (or --resume)');
    if (!options.hidden) throw new UsageError('--hidden is required (or --resume)');
    checkInteger('batch', options.batch, 1, MAX_WIDTH);
    if (options.limit !== undefined) checkInteger('limit', options.limit, 1);
    checkActivationMemory(options.hidden, options.batch, options.limit ?? TRAIN_EXAMPLES);
  }
  // The run's own directory is continued; any other that holds files is refused unless --force.
  const continues = resumeFrom !== undefined && resolve(out, CHECKPOINT_DIR) === resolve(resumeFrom);
  const existing: ExistingRun = continues ? 'continue' : options.force ? 'replace' : 'refuse';
  const lock = openRunDirectory(out, existing);
  try {
    await runLocked(options, { started, epochs, out, resumeFrom });
  } finally {
    lock.release();
  }
}

async function runLocked(options: TrainCliOptions, run: { started: number; epochs: number; out: string; resumeFrom: string | undefined }): Promise<void> {
  const { started, epochs, out, resumeFrom } = run;
  let config: TrainRunConfig;
  // Read once: the settings, the model as saved and the loop's state all come from it.
  const checkpoint = resumeFrom === undefined ? undefined : loadCheckpoint(resumeFrom);
  if (checkpoint !== undefined) {
    config = checkpoint.manifest.run as unknown as TrainRunConfig;
    if (!config || !Array.isArray(config.hidden) || !config.hidden.every((h) => Number.isInteger(h) && h >= 1 && h <= MAX_WIDTH) || !Number.isInteger(config.batch) || config.batch < 1) {
      throw new UsageError(`--resume ${options.resume}: the checkpoint was not written by blocksparse train (no valid run settings)`);
    }
    checkActivationMemory(config.hidden, config.batch, typeof config.limit === 'number' ? config.limit : TRAIN_EXAMPLES);
  }

  const limit = (resumeFrom ? config!.limit : options.limit) ?? undefined;
  const trainSet = loadFashionMNIST({ split: 'train', limit });
  const testSet = loadFashionMNIST({ split: 'test' });
  if (!resumeFrom) config = configFromOptions(options, epochs * batchCount(trainSet.n, checkInteger('batch', options.batch, 1, MAX_WIDTH)));
  // Checkpoints written before --prune and --regrow existed have neither.
  config = { ...config!, sparseInput: config!.sparseInput ?? false, l0LrScale: config!.l0LrScale ?? 1, prune: config!.prune ?? null, regrow: config!.regrow ?? null };

  const backend = await getBackend(options.backend, { log: (m) => process.stderr.write(`${m}\n`) });
  let model: Sequential | undefined;
  let optimizer: Optimizer | undefined;
  try {
    if (checkpoint) {
      // The model as saved (layouts may have been pruned or regrown), so that the hooks hold its layers.
      model = restoreModel(checkpoint, backend);
      optimizer = restoreOptimizer(checkpoint, model);
    } else {
      model = buildMLP(backend, {
        inputs: trainSet.features, hidden: config.hidden, classes: trainSet.classes, layout: layoutFactory(config),
        blockSize: config.blockSize, seed: config.seed, sparseInput: config.sparseInput, ...(config.l0 !== null ? { l0: { lrScale: config.l0LrScale } } : {}),
      });
      optimizer = makeOptimizer(config, model);
    }
    const hooks = trainingHooks(model, config);
    const result = await train({
      model, optimizer, backend, train: trainSet, test: testSet, epochs, batchSize: config.batch, seed: config.seed, hooks,
      outDir: out, outDirOpened: true, resumeFrom, resumeCheckpoint: checkpoint, run: { ...config }, evalBatchSize: EVAL_BATCH,
      onEpoch: (m) => process.stderr.write(`${formatEpoch(m, epochs)}\n`),
    });
    model = result.model;
    optimizer = result.optimizer;

    const layouts: string[] = [];
    const l0Layouts: string[] = [];
    const steps = result.metrics.length ? result.metrics[result.metrics.length - 1].step : 0;
    for (const layer of model.layers) {
      if (!(layer instanceof BlockSparseLinear)) continue;
      const name = `layout-${layouts.length}.json`;
      saveLayout(join(out, name), layer.layout);
      if (config.l0 !== null) {
        // The layout the gates learned: blocks whose test-time gate is open.
        const learned = `l0-layout-${layouts.length}.json`;
        saveLayout(join(out, learned), await l0Layout(layer, { lambda: config.l0, step: steps }));
        l0Layouts.push(learned);
      }
      layouts.push(name);
    }
    const last = result.metrics[result.metrics.length - 1];
    const trainSeconds = result.metrics.reduce((s, m) => s + m.seconds, 0);
    const samples = result.metrics.reduce((s, m) => s + m.samplesPerSecond * m.seconds, 0);
    const summary = {
      ...config,
      epochs: result.metrics.length,
      backend: backend.description,
      testAccuracy: last?.testAccuracy ?? null,
      testLoss: last?.testLoss ?? null,
      trainAccuracy: last?.trainAccuracy ?? null,
      trainLoss: last?.trainLoss ?? null,
      parameterCount: parameterCount(model),
      layerDensities: layerDensities(model),
      layouts,
      ...(config.l0 !== null ? { l0Layouts } : {}),
      wallSeconds: (performance.now() - started) / 1000,
      trainSeconds,
      samplesPerSecond: trainSeconds > 0 ? samples / trainSeconds : null,
    };
    writeFileAtomic(join(out, SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(
      `test accuracy ${last ? (100 * last.testAccuracy).toFixed(2) : '-'}% after ${result.metrics.length} epochs; ` +
        `${summary.parameterCount} parameters; ${formatDuration(summary.wallSeconds)}; wrote ${out}\n`,
    );
  } finally {
    model?.dispose();
    optimizer?.dispose();
    await backend.dispose();
  }
}

function formatEpoch(m: EpochMetrics, epochs: number): string {
  return (
    `epoch ${m.epoch + 1}/${epochs}: train loss ${m.trainLoss.toFixed(4)}, accuracy ${(100 * m.trainAccuracy).toFixed(2)}%; ` +
    `test loss ${m.testLoss.toFixed(4)}, accuracy ${(100 * m.testAccuracy).toFixed(2)}%; ${formatDuration(m.seconds)} (${Math.round(m.samplesPerSecond)} samples/s)`
  );
}
