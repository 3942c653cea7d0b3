/*
 * Training-step benchmark: in one run, on the chosen backend (default the CPU),
 *   1. every training operation's time on batches [32, 2048], [128, 1024] and [512, 4096], with
 *      the ratio to numpy's equivalent (Debian's python3-numpy) where numpy has one;
 *   2. the per-call time of the smallest product and the smallest operations;
 *   3. one epoch of 20,000 Fashion-MNIST images: dense 784-256-256-10 against a Watts-Strogatz
 *      784-1024-1024-10 (k = 8, p = 0.1, blocks of 16, sparse input) of about the same weight count;
 *   4. bench/train's 2048-wide MLP (4 hidden layers, blocks of 32), block-sparse at density 1/16
 *      against dense, on 8192 samples (bench/train takes 60,000);
 *   5. our dense MLP of 4 against PyTorch's on the CPU (Debian's python3-torch), when installed;
 * then each target, met or missed, with its figure.
 *
 *   npm run bench:step -- [--backend cpu|webgpu] [--quick] [--threads N] [--shapes 32x2048,128x1024,512x4096]
 *                         [--min-time 0.25] [--measurements 5] [--calls 2000] [--fashion-samples 20000]
 *                         [--samples 8192] [--batch 128] [--no-numpy]
 *
 * --quick (for the test): tiny shapes, short timings, no training epochs; a few seconds.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { formatTable } from '../src/cli/table.js';
import { getBackend, type BackendChoice } from '../src/kernels/get-backend.js';
import type { Backend, Tensor } from '../src/kernels/types.js';
import { denseLayout } from '../src/patterns/dense.js';
import type { BlockLayout } from '../src/patterns/layout.js';
import { buildPatternSpec } from '../src/patterns/spec.js';
import type { Dataset } from '../src/train/data/dataset.js';
import { loadFashionMNIST } from '../src/train/data/fashion-mnist.js';
import { DatasetMissingError } from '../src/train/errors.js';
import type { Sequential } from '../src/train/layers/sequential.js';
import { buildMLP, parameterCount } from '../src/train/model.js';
import { recordStdout } from './record.js';
import { median, numpyKey, numpyOpTimes, OP_CASES, release, timeOp, type NumpyTimes, type Shape, type TimingOptions } from './step-ops.js';
import { PYTHON, torchDenseSamplesPerSecond, trainEpoch, trainingMlp, weightCount, type TorchResult } from './training-models.js';

recordStdout('step');

/** The issue's targets. */
const TARGETS = {
  /** Element-wise operations: at most this times numpy's time on the small batch, and on the large one. */
  small: { shape: [32, 2048] as Shape, ratio: 2 },
  large: { shape: [512, 4096] as Shape, ratio: 1 },
  /** Per-call time of the smallest product and operations, microseconds. */
  perCallMicros: 30,
  /** Watts-Strogatz samples/s over the equal-weight dense model's. */
  wattsStrogatz: 0.87,
  /** bench/train: block-sparse at density 1/16 over dense samples/s. */
  sparseSpeedup: 8,
  /** Our dense over PyTorch's CPU dense samples/s. */
  torch: 1,
};

/** bench/train's model. */
const WIDE = { width: 2048, hiddenLayers: 4, density: 1 / 16, blockSize: 32 } as const;
const WATTS_STROGATZ = 'watts-strogatz:k=8,p=0.1';

interface StepConfig {
  backend: BackendChoice;
  quick: boolean;
  threads?: number;
  shapes: Shape[];
  timing: TimingOptions;
  /** Individual calls timed per smallest operation (the median is taken). */
  calls: number;
  fashionSamples: number;
  samples: number;
  batch: number;
  numpy: boolean;
}

function parseConfig(): StepConfig {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'cpu' },
      quick: { type: 'boolean', default: false },
      threads: { type: 'string' },
      shapes: { type: 'string' },
      'min-time': { type: 'string' },
      measurements: { type: 'string' },
      calls: { type: 'string' },
      'fashion-samples': { type: 'string', default: '20000' },
      samples: { type: 'string', default: '8192' },
      batch: { type: 'string', default: '128' },
      'no-numpy': { type: 'boolean', default: false },
    },
  });
  const quick = values.quick!;
  const shapes = (values.shapes ?? (quick ? '4x64,16x256' : '32x2048,128x1024,512x4096')).split(',').map((text): Shape => {
    const [n, f] = text.trim().split('x').map(Number);
    if (!Number.isInteger(n) || !Number.isInteger(f) || n < 1 || f < 1) throw new Error(`--shapes: ${JSON.stringify(text)} is not NxF`);
    return [n, f];
  });
  return {
    backend: values.backend as BackendChoice,
    quick,
    ...(values.threads ? { threads: Number(values.threads) } : {}),
    shapes,
    timing: { minSeconds: Number(values['min-time'] ?? (quick ? 0.01 : 0.25)), measurements: Number(values.measurements ?? (quick ? 3 : 5)) },
    calls: Number(values.calls ?? (quick ? 50 : 2000)),
    fashionSamples: Number(values['fashion-samples']),
    samples: Number(values.samples),
    batch: Number(values.batch),
    numpy: !values['no-numpy'],
  };
}

/** Failures so far: printed where they happen, and they make the exit status 1 (so no record is written). */
const failures: string[] = [];

/** Runs `work`; on an error prints and remembers it and returns null. */
async function attempt<T>(what: string, work: () => Promise<T>): Promise<T | null> {
  try {
    return await work();
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    failures.push(`${what}: ${message}`);
    process.stdout.write(`${what}: FAILED (${message})\n`);
    return null;
  }
}

const write = (text: string) => process.stdout.write(text);
const showShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const sameShape = (a: Shape, b: Shape) => a[0] === b[0] && a[1] === b[1];

// ---- 1. The training operations against numpy.

/** One row of the operations table: ours (null: failed) and numpy's seconds per call. */
interface OpRow {
  op: string;
  batch: Shape;
  shape: readonly number[];
  ours: number | null;
  numpy: number | null;
  elementwise: boolean;
}

async function timeOurOps(backend: Backend, config: StepConfig): Promise<OpRow[]> {
  const rows: OpRow[] = [];
  for (const batch of config.shapes) {
    for (const op of OP_CASES) {
      let shape: readonly number[] = batch;
      let tensors: Tensor[] = [];
      const seconds = await attempt(`${op.name} on ${showShape(batch)}`, async () => {
        const instance = await op.make(backend, batch);
        ({ shape, tensors } = instance);
        return timeOp(backend, instance.run, config.timing);
      }).finally(() => tensors.forEach((t) => t.dispose()));
      rows.push({ op: op.name, batch, shape, ours: seconds, numpy: null, elementwise: op.elementwise });
      process.stderr.write(`  ${op.name} ${showShape(shape)}: ${seconds === null ? 'failed' : `${(seconds * 1e6).toFixed(1)} us`}\n`);
    }
  }
  return rows;
}

function numpyBaseline(config: StepConfig): NumpyTimes | { missing: string } {
  if (!config.numpy) return { missing: 'not measured (--no-numpy)' };
  const ops = OP_CASES.filter((op) => op.numpy).map((op) => op.name);
  return numpyOpTimes(ops, config.shapes, config.timing);
}

function printOpTable(rows: readonly OpRow[]): void {
  const micros = (s: number | null) => (s === null ? 'failed' : (s * 1e6).toFixed(1));
  write(formatTable(['op', 'shape', 'ours (us)', 'numpy (us)', 'ours/numpy'], rows.map((r) => [
    r.op,
    showShape(r.shape),
    micros(r.ours),
    r.numpy === null ? '-' : micros(r.numpy),
    r.ours === null || r.numpy === null ? '-' : (r.ours / r.numpy).toFixed(2),
  ])));
}

async function operationsSection(backend: Backend, config: StepConfig): Promise<OpRow[]> {
  write(`\n1. training operations: median of ${config.timing.measurements} measurements of about ${((1e3 * config.timing.minSeconds) / config.timing.measurements).toPrecision(2)} ms of calls each (each call awaited, its result freed), float32\n`);
  const rows = await timeOurOps(backend, config);
  const numpy = numpyBaseline(config);
  if ('missing' in numpy) {
    write(`numpy: ${numpy.missing}; times without ratios\n`);
  } else {
    write(`numpy ${numpy.version} (${PYTHON}), timed after ours in this run the same way (time.perf_counter)\n`);
    for (const r of rows) r.numpy = numpy.times.get(numpyKey(r.op, r.batch)) ?? null;
  }
  printOpTable(rows);
  return rows;
}

// ---- 2. Per-call overhead of the smallest product and operations.

interface PerCallRow {
  what: string;
  micros: number | null;
}

/** The median of `calls` individually timed calls (after warm-up), in microseconds. */
async function perCallMicros(backend: Backend, run: () => Promise<unknown>, calls: number): Promise<number> {
  for (let i = 0; i < Math.min(calls, 20); i++) release(await run());
  await backend.sync();
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    const result = await run();
    times.push((performance.now() - start) * 1000);
    release(result);
  }
  await backend.sync();
  return median(times);
}

/** The smallest cases: a product of a 4 x 4-block layout of 32 at N = 32, one of a single block of 8 at N = 1, and operations on 8 values. */
function smallestCases(backend: Backend): { what: string; run: () => Promise<unknown>; tensors: Tensor[] }[] {
  const product = (layout: BlockLayout, n: number) => {
    const x = backend.tensor(new Float32Array(n * layout.inFeatures).fill(0.5), [n, layout.inFeatures]);
    const w = backend.tensor(new Float32Array(layout.nnz * layout.blockSize ** 2).fill(0.25), [layout.nnz, layout.blockSize, layout.blockSize]);
    return { run: () => backend.forward(layout, x, w), tensors: [x, w] };
  };
  const eight = () => backend.tensor(Float32Array.from({ length: 8 }, (_v, i) => i / 8 - 0.5), [8]);
  const row = backend.tensor(Float32Array.from({ length: 8 }, (_v, i) => i / 8 - 0.5), [1, 8]);
  const bias = eight();
  const [param, grad, m, v] = [eight(), eight(), backend.zeros([8]), backend.zeros([8])];
  let step = 0;
  return [
    { what: 'forward, 4 x 4 blocks of 32, N = 32', ...product(denseLayout({ inBlocks: 4, blockSize: 32 }), 32) },
    { what: 'forward, 1 x 1 block of 8, N = 1', ...product(denseLayout({ inBlocks: 1, blockSize: 8 }), 1) },
    { what: 'activation relu [1, 8]', run: () => backend.activation('relu', row), tensors: [row] },
    { what: 'addBias [1, 8]', run: () => backend.addBias(row, bias), tensors: [bias] },
    { what: 'adamStep [8]', run: () => backend.adamStep(param, grad, m, v, { lr: 1e-3, step: ++step }), tensors: [param, grad, m, v] },
  ];
}

async function perCallSection(backend: Backend, config: StepConfig): Promise<PerCallRow[]> {
  write(`\n2. per-call time of the smallest product and operations: median of ${config.calls} calls, each awaited${backend.name === 'cpu' ? '' : ' (on WebGPU a call resolves once submitted)'}\n`);
  const cases = smallestCases(backend);
  const rows: PerCallRow[] = [];
  for (const c of cases) rows.push({ what: c.what, micros: await attempt(c.what, () => perCallMicros(backend, c.run, config.calls)) });
  for (const c of cases) c.tensors.forEach((t) => t.dispose());
  write(formatTable(['call', 'us per call'], rows.map((r) => [r.what, r.micros === null ? 'failed' : r.micros.toFixed(1)])));
  return rows;
}

// ---- 3 and 4. Training epochs.

/** Samples per second of one epoch of `model` (built by `make`), printed with its weight count. */
/** One epoch's samples per second and the model's weight count. */
interface Epoch {
  sps: number;
  weights: number;
}

async function epochLine(backend: Backend, name: string, make: () => Sequential, data: Dataset, batch: number): Promise<Epoch | null> {
  return attempt(name, async () => {
    const model = make();
    try {
      const weights = weightCount(model);
      const { seconds, loss } = await trainEpoch(backend, model, data, batch);
      const sps = data.n / seconds;
      write(`${name}: ${weights} weights (${parameterCount(model)} parameters with biases), ${seconds.toFixed(1)} s, ${sps.toFixed(0)} samples/s (loss after the epoch ${loss.toFixed(3)})\n`);
      return { sps, weights };
    } finally {
      model.dispose();
    }
  });
}

/** Fashion-MNIST's first `limit` training images, or null (with a line) when the data set is not installed. */
function fashion(limit: number): Dataset | null {
  try {
    return loadFashionMNIST({ split: 'train', limit });
  } catch (error) {
    if (!(error instanceof DatasetMissingError)) throw error;
    write(`Fashion-MNIST not found (${error.message}); no epochs\n`);
    return null;
  }
}

interface Samples {
  dense: number | null;
  sparse: number | null;
}

async function wattsStrogatzSection(backend: Backend, config: StepConfig): Promise<Samples> {
  write(`\n3. one epoch of Fashion-MNIST, Adam lr 1e-3, batch ${config.batch}: dense 784-256-256-10 against Watts-Strogatz 784-1024-1024-10 (${WATTS_STROGATZ}, blocks of 16, the input layer block-sparse too)\n`);
  const data = fashion(config.fashionSamples);
  if (!data) return { dense: null, sparse: null };
  write(`${data.n} training images\n`);
  const denseEpoch = await epochLine(backend, 'dense 784-256-256-10', () => buildMLP(backend, { hidden: [256, 256], blockSize: 16, seed: 0 }), data, config.batch);
  const sparseEpoch = await epochLine(backend, 'watts-strogatz 784-1024-1024-10', () => buildMLP(backend, {
    hidden: [1024, 1024], blockSize: 16, seed: 0, sparseInput: true,
    layout: ({ role, index, inBlocks, outBlocks, blockSize }) => buildPatternSpec(WATTS_STROGATZ, { inBlocks, outBlocks, blockSize, seed: `0#${role}${index}` }),
  }), data, config.batch);
  return ratioLine('watts-strogatz / dense', denseEpoch, sparseEpoch);
}

async function wideSection(backend: Backend, config: StepConfig): Promise<Samples> {
  const { width, hiddenLayers, density, blockSize } = WIDE;
  write(`\n4. bench/train's MLP 784 -> ${Array(hiddenLayers).fill(width).join(' -> ')} -> 10, ReLU, Adam, batch ${config.batch}, one epoch of ${config.samples} Fashion-MNIST samples (bench/train takes 60,000); sparse: the ${hiddenLayers - 1} hidden-to-hidden layers block-sparse (random layouts, density ${density}, blocks ${blockSize})\n`);
  const data = fashion(config.samples);
  if (!data) return { dense: null, sparse: null };
  const denseEpoch = await epochLine(backend, 'ours dense', () => trainingMlp(backend, { ...WIDE, sparse: false }), data, config.batch);
  const sparseEpoch = await epochLine(backend, 'ours block-sparse', () => trainingMlp(backend, { ...WIDE, sparse: true }), data, config.batch);
  return ratioLine('block-sparse / dense', denseEpoch, sparseEpoch);
}

/**
 * The sparse / dense samples-per-second line, with the ratio of their weight counts beside it:
 * the speed-up a cost exactly proportional to the weights present would give.
 */
function ratioLine(what: string, dense: Epoch | null, sparse: Epoch | null): Samples {
  if (dense !== null && sparse !== null) {
    write(`${what} samples per second: ${(sparse.sps / dense.sps).toFixed(2)}x (dense / sparse weights: ${(dense.weights / sparse.weights).toFixed(2)}x)\n`);
  }
  return { dense: dense?.sps ?? null, sparse: sparse?.sps ?? null };
}

/** PyTorch on bench/train's dense model (after our backend is released, so that nothing else runs). */
function torchSection(config: StepConfig, ours: number | null): TorchResult | null {
  write(`\n5. PyTorch CPU dense, the same model and samples as 4\n`);
  const torch = torchDenseSamplesPerSecond({ width: WIDE.width, hiddenLayers: WIDE.hiddenLayers, samples: config.samples, batchSize: config.batch });
  write(`${torch ? torch.line : 'pytorch: python3-torch not installed (apt-get install python3-torch), not compared'}\n`);
  if (torch && ours !== null && Number.isFinite(torch.samplesPerSecond)) write(`ours dense / pytorch dense: ${(ours / torch.samplesPerSecond).toFixed(2)}\n`);
  return torch;
}

// ---- Targets.

interface Results {
  backend: Backend;
  ops: OpRow[];
  perCall: PerCallRow[];
  wattsStrogatz: Samples | null;
  wide: Samples | null;
  torch: TorchResult | null | 'skipped';
}

/** One target's line: what, the figure, and met / MISSED (or why it is not judged). */
function targetLine(what: string, figure: string | null, met: boolean, backend: Backend, why = 'not measured'): string {
  if (figure === null) return `  ${what}: ${why}`;
  const verdict = backend.name !== 'cpu' ? 'no target on this backend' : met ? 'met' : 'MISSED';
  return `  ${what}: ${figure}: ${verdict}`;
}

function elementwiseTarget(results: Results, target: { shape: Shape; ratio: number }): string {
  const what = `element-wise ops on ${showShape(target.shape)} at most ${target.ratio}x numpy's time`;
  const rows = results.ops.filter((r) => r.elementwise && sameShape(r.batch, target.shape));
  if (rows.length === 0) return targetLine(what, null, false, results.backend, `not measured (${showShape(target.shape)} not in --shapes)`);
  if (rows.some((r) => r.ours === null)) return targetLine(what, `${rows.filter((r) => r.ours === null).length} failed`, false, results.backend);
  if (rows.some((r) => r.numpy === null)) return targetLine(what, null, false, results.backend, 'not judged (no numpy)');
  const ratios = rows.map((r) => ({ op: r.op, ratio: r.ours! / r.numpy! })).sort((a, b) => b.ratio - a.ratio);
  const over = ratios.filter((r) => r.ratio > target.ratio);
  const figure = `worst ${ratios[0].ratio.toFixed(2)}x (${ratios[0].op}), ${rows.length - over.length} of ${rows.length} within${over.length ? `; over: ${over.map((r) => `${r.op} ${r.ratio.toFixed(2)}x`).join(', ')}` : ''}`;
  return targetLine(what, figure, over.length === 0, results.backend);
}

function perCallTarget(results: Results): string {
  const what = `per-call time of the smallest product and operations at most ${TARGETS.perCallMicros} us`;
  if (results.perCall.some((r) => r.micros === null)) return targetLine(what, `${results.perCall.filter((r) => r.micros === null).length} failed`, false, results.backend);
  const worst = [...results.perCall].sort((a, b) => b.micros! - a.micros!)[0];
  return targetLine(what, `largest ${worst.micros!.toFixed(1)} us (${worst.what})`, worst.micros! <= TARGETS.perCallMicros, results.backend);
}

function ratioTarget(what: string, samples: Samples | null, min: number, backend: Backend, quick: boolean): string {
  if (!samples) return targetLine(what, null, false, backend, quick ? 'not measured (--quick)' : 'not measured');
  if (samples.dense === null || samples.sparse === null) return targetLine(what, null, false, backend, 'not measured (no data set, or a run failed)');
  const ratio = samples.sparse / samples.dense;
  return targetLine(what, `${ratio.toFixed(2)}x`, ratio >= min, backend);
}

function torchTarget(results: Results, quick: boolean): string {
  const what = `our dense at least ${TARGETS.torch}x PyTorch's CPU dense (bench/train's model)`;
  const torch = results.torch;
  if (torch === 'skipped') return targetLine(what, null, false, results.backend, quick ? 'not measured (--quick)' : 'not measured');
  if (!torch) return targetLine(what, null, false, results.backend, 'not measured (python3-torch not installed)');
  const ours = results.wide?.dense ?? null;
  if (ours === null || !Number.isFinite(torch.samplesPerSecond)) return targetLine(what, null, false, results.backend, 'not measured (a run failed)');
  const ratio = ours / torch.samplesPerSecond;
  return targetLine(what, `${ratio.toFixed(2)}x (${ours.toFixed(0)} against ${torch.samplesPerSecond.toFixed(0)} samples/s)`, ratio >= TARGETS.torch, results.backend);
}

function printTargets(results: Results, config: StepConfig): void {
  write(`\ntargets${results.backend.name !== 'cpu' ? ' (set for the CPU backend; figures only here)' : ''}:\n`);
  write(`${[
    elementwiseTarget(results, TARGETS.small),
    elementwiseTarget(results, TARGETS.large),
    perCallTarget(results),
    ratioTarget(`Watts-Strogatz 784-1024-1024-10 at least ${TARGETS.wattsStrogatz}x the samples/s of dense 784-256-256-10`, results.wattsStrogatz, TARGETS.wattsStrogatz, results.backend, config.quick),
    ratioTarget(`bench/train: block-sparse at density 1/16 at least ${TARGETS.sparseSpeedup}x dense of width ${WIDE.width}`, results.wide, TARGETS.sparseSpeedup, results.backend, config.quick),
    torchTarget(results, config.quick),
  ].join('\n')}\n`);
  write(`element-wise ops: ${OP_CASES.filter((op) => op.elementwise).map((op) => op.name).join(', ')}\n`);
}

// ---- The run.

async function main(): Promise<void> {
  const config = parseConfig();
  const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
  write(`node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model.trim() ?? 'unknown'}); load average at start: ${load()}\n`);
  const backend = await getBackend(config.backend, config.threads === undefined ? {} : { threads: config.threads });
  write(`backend: ${backend.description}${config.quick ? '; --quick: tiny shapes, short timings, no epochs' : ''}\n`);
  let results: Results;
  try {
    const ops = await operationsSection(backend, config);
    const perCall = await perCallSection(backend, config);
    const wattsStrogatz = config.quick ? null : await wattsStrogatzSection(backend, config);
    const wide = config.quick ? null : await wideSection(backend, config);
    results = { backend, ops, perCall, wattsStrogatz, wide, torch: 'skipped' };
  } finally {
    await backend.dispose();
  }
  if (config.quick) write(`\n3-5. training epochs and PyTorch: skipped (--quick)\n`);
  else results.torch = torchSection(config, results.wide?.dense ?? null);
  printTargets(results, config);
  write(`load average at end: ${load()}\n`);
  if (failures.length) {
    process.stderr.write(`${failures.length} measurement${failures.length === 1 ? '' : 's'} failed (no record written):\n${failures.map((f) => `  ${f}`).join('\n')}\n`);
    process.exitCode = 1;
  }
}

await main();
