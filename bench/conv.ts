/*
 * Convolution benchmark (issue 14): a 3 x 3 convolution (stride 1, padding 1), NHWC, C = K = 256
 * channels, batch 64, spatial 28 x 28 and 14 x 14, blocks of 32, in one run on the chosen backend
 * (default the CPU):
 *   - the block-sparse conv2d at densities 1, 0.25 and 0.1 (random layouts from src/patterns,
 *     seeded; density 1 is the dense layout, every block present: that is "our dense convolution");
 *   - PyTorch CPU's torch.nn.functional.conv2d of the same shape (fp32, NCHW, as many threads as
 *     ours, timed the same way after ours) when Debian's python3-torch is installed;
 * per case: ms, GFLOP/s over present blocks, the ratio to our dense and to PyTorch; then the
 * issue's targets, met or MISSED with their figures. Forward only unless --products adds the
 * backward-data and weight-gradient rows (PyTorch: torch.nn.grad.conv2d_input / conv2d_weight).
 *
 *   npm run bench:conv -- [--backend cpu|webgpu|auto] [--threads N] [--products forward,backward-data,weight-gradient]
 *                         [--block-size 32] [--densities 1,0.25,0.1] [--sizes 28,14] [--channels 256] [--batch 64]
 *                         [--min-time 0.5] [--samples 5] [--statistic min|median] [--quick] [--json out.json] [--no-torch]
 *
 * --quick (for the test): C = K = 128, batch 2, spatial 8 and 5, short timings; a few seconds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { checkInteger, checkNumber, checkOneOf } from '../src/check.js';
import { formatTable } from '../src/cli/table.js';
import { ParameterError } from '../src/errors.js';
import { BENCH_PRODUCTS, randomValues, timeCallsBoth, type BenchProduct } from '../src/kernels/bench.js';
import { convOutputSize, resolveConv2d, taps, type Conv2dParams } from '../src/kernels/conv.js';
import { getBackend, type BackendChoice } from '../src/kernels/get-backend.js';
import type { Backend, Tensor, WeightGradResult } from '../src/kernels/types.js';
import { denseLayout } from '../src/patterns/dense.js';
import { BLOCK_SIZES, type BlockLayout, type BlockSize } from '../src/patterns/layout.js';
import { randomLayout } from '../src/patterns/random-layout.js';
import { recordStdout } from './record.js';
import { PYTHON } from './training-models.js';

recordStdout('conv');

/** The convolution every case runs: 3 x 3, stride 1, padding 1 (so Ho = H, Wo = W). */
const GEOMETRY: Conv2dParams = { kernel: 3, stride: 1, padding: 1 };
const RESOLVED = resolveConv2d(GEOMETRY);

/** The issue's shape and targets. */
const ISSUE = { channels: 256, batch: 64, sizes: [28, 14] };
const TARGETS = {
  /** Block-sparse at this density at most `ratio` x our dense time of the same shape (forward). */
  sparse: { density: 0.1, ratio: 0.2 },
  /** Our dense forward at most this many times PyTorch CPU's time. */
  torch: 1.5,
};

interface ConvConfig {
  backend: BackendChoice;
  quick: boolean;
  threads?: number;
  products: BenchProduct[];
  blockSize: BlockSize;
  /** Densities asked for, 1 first (the dense baseline is always measured). */
  densities: number[];
  /** Spatial sizes: H = W. */
  sizes: number[];
  /** C = K. */
  channels: number;
  batch: number;
  minSeconds: number;
  samples: number;
  statistic: 'min' | 'median';
  json?: string;
  torch: boolean;
}

function parseConfig(): ConvConfig {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'cpu' },
      quick: { type: 'boolean', default: false },
      threads: { type: 'string' },
      products: { type: 'string', default: 'forward' },
      'block-size': { type: 'string', default: '32' },
      densities: { type: 'string', default: '1,0.25,0.1' },
      sizes: { type: 'string' },
      channels: { type: 'string' },
      batch: { type: 'string' },
      'min-time': { type: 'string' },
      samples: { type: 'string' },
      statistic: { type: 'string', default: 'min' },
      json: { type: 'string' },
      'no-torch': { type: 'boolean', default: false },
    },
  });
  const context = 'bench:conv';
  const quick = values.quick!;
  const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);
  const blockSize = checkOneOf('--block-size', Number(values['block-size']), BLOCK_SIZES, context);
  const channels = checkInteger('--channels', Number(values.channels ?? (quick ? 128 : ISSUE.channels)), blockSize, 1 << 14, context);
  if (channels % blockSize !== 0) throw new ParameterError('--channels', `a multiple of the block size (${blockSize})`, channels, context);
  const densities = list(values.densities!).map((d) => {
    const density = checkNumber('--densities', Number(d), 0, 1, context);
    if (density === 0) throw new ParameterError('--densities', 'numbers in (0, 1]', d, context);
    return density;
  });
  const products = list(values.products!).map((p) => checkOneOf('--products', p, BENCH_PRODUCTS, context));
  if (products.length === 0) throw new ParameterError('--products', 'a non-empty list', values.products, context);
  const sizes = list(values.sizes ?? (quick ? '8,5' : ISSUE.sizes.join(','))).map((s) => checkInteger('--sizes', Number(s), 1, 4096, context));
  if (sizes.length === 0) throw new ParameterError('--sizes', 'a non-empty list', values.sizes, context);
  return {
    backend: checkOneOf('--backend', values.backend, ['cpu', 'webgpu', 'auto'] as const, context),
    quick,
    ...(values.threads ? { threads: checkInteger('--threads', Number(values.threads), 1, 256, context) } : {}),
    products: [...new Set(products)],
    blockSize,
    densities: [1, ...new Set(densities.filter((d) => d !== 1))],
    sizes: [...new Set(sizes)],
    channels,
    batch: checkInteger('--batch', Number(values.batch ?? (quick ? 2 : ISSUE.batch)), 1, 1 << 16, context),
    minSeconds: checkNumber('--min-time', Number(values['min-time'] ?? (quick ? 0.02 : 0.5)), 0, 3600, context),
    samples: checkInteger('--samples', Number(values.samples ?? (quick ? 3 : 5)), 1, 1000, context),
    statistic: checkOneOf('--statistic', values.statistic, ['min', 'median'] as const, context),
    ...(values.json ? { json: values.json } : {}),
    torch: !values['no-torch'],
  };
}

const write = (text: string) => process.stdout.write(text);

/** Failures so far: printed where they happen, and they make the exit status 1 (so no record is written). */
const failures: string[] = [];

async function attempt<T>(what: string, work: () => Promise<T>): Promise<T | null> {
  try {
    return await work();
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    failures.push(`${what}: ${message}`);
    write(`${what}: FAILED (${message})\n`);
    return null;
  }
}

/**
 * The layout of a density: the dense layout at 1, else a uniformly random one (seeded by block
 * size and density, so every size and product runs the same layout) of max(1, round(d B^2))
 * blocks off the diagonal, as the kernel benchmark's (with the diagonal when that many do not fit).
 */
function convLayout(config: ConvConfig, density: number): BlockLayout {
  const blocks = config.channels / config.blockSize;
  if (density === 1) return denseLayout({ inBlocks: blocks, blockSize: config.blockSize });
  const nnz = Math.max(1, Math.round(density * blocks * blocks));
  return randomLayout({ inBlocks: blocks, nnz, blockSize: config.blockSize, diagonal: nnz > blocks * blocks - blocks, seed: `conv:${config.blockSize}:${density}` });
}

/** One measured case. */
interface ConvRow {
  product: BenchProduct;
  /** H = W (= Ho = Wo). */
  size: number;
  /** The density asked for; the layout has `nnz` of the B^2 blocks. */
  density: number;
  nnz: number;
  /** Floating-point operations over present blocks: 2 N Ho Wo nnz bs^2 kh kw. */
  flops: number;
  /** Seconds per call (the statistic over the measurements); null: the measurement failed. */
  seconds: number | null;
  gflops: number | null;
  /** The GPU's own time per call (WebGPU timestamps), else null. */
  gpuSeconds: number | null;
  /** seconds over our dense (density 1) seconds of the same product and size. */
  vsDense: number | null;
  /** PyTorch's dense time of the same product and size, and seconds over it; null without PyTorch. */
  torchSeconds: number | null;
  vsTorch: number | null;
}

const caseKey = (product: BenchProduct, size: number) => `${product}:${size}`;

/** Our cases: per product and size, density 1 (the dense baseline) first, then the others. */
async function measureOurs(backend: Backend, config: ConvConfig): Promise<ConvRow[]> {
  const { batch: n, channels, blockSize: bs } = config;
  const layouts = config.densities.map((density) => ({ density, layout: convLayout(config, density) }));
  const rows: ConvRow[] = [];
  for (const size of config.sizes) {
    const [ho, wo] = convOutputSize(RESOLVED, [size, size]);
    const x = backend.tensor(randomValues(n * size * size * channels, `conv:X:${size}`), [n, size, size, channels]);
    const dy = backend.tensor(randomValues(n * ho * wo * channels, `conv:dY:${size}`), [n, ho, wo, channels]);
    try {
      for (const product of config.products) {
        let dense: number | null = null;
        for (const { density, layout } of layouts) {
          const w = backend.tensor(randomValues(layout.nnz * taps(RESOLVED) * bs * bs, `conv:W:${bs}:${density}`), [layout.nnz, ...RESOLVED.kernel, bs, bs]);
          const call = (): Promise<Tensor | WeightGradResult> => product === 'forward' ? backend.conv2d(layout, x, w, GEOMETRY)
            : product === 'backward-data' ? backend.conv2dBackwardData(layout, dy, w, { ...GEOMETRY, inputSize: [size, size] })
              : backend.conv2dWeightGrad(layout, x, dy, GEOMETRY);
          const times = await attempt(`${product} ${size}x${size} density ${density}`, () => timeCallsBoth(backend, call, config.minSeconds, config.samples, config.statistic))
            .finally(() => w.dispose());
          const seconds = times?.seconds ?? null;
          if (density === 1) dense = seconds;
          const flops = 2 * n * ho * wo * layout.nnz * bs * bs * taps(RESOLVED);
          rows.push({
            product, size, density, nnz: layout.nnz, flops, seconds,
            gflops: seconds === null ? null : flops / seconds / 1e9,
            gpuSeconds: times?.gpuSeconds ?? null,
            vsDense: seconds === null || dense === null ? null : seconds / dense,
            torchSeconds: null, vsTorch: null,
          });
          process.stderr.write(`  ${product} ${size}x${size} d=${density} (${layout.nnz} blocks): ${seconds === null ? 'failed' : `${(seconds * 1e3).toFixed(2)} ms`}\n`);
        }
      }
    } finally {
      x.dispose();
      dy.dispose();
    }
  }
  return rows;
}

/** PyTorch's version, threads and seconds per call of each (product, size); or why it was not measured. */
type TorchTimes = { torch: string; threads: number; times: Map<string, number> } | { missing: string };

/**
 * PyTorch CPU's dense convolution of each (product, size), fp32, NCHW, with `threads` threads,
 * timed as timeCalls times ours: one warm-up call, then `samples` measurements of as many calls
 * as fill minSeconds / samples, the same statistic.
 */
function torchTimes(config: ConvConfig, threads: number): TorchTimes {
  if (!config.torch) return { missing: '--no-torch' };
  if (!existsSync(PYTHON)) return { missing: `${PYTHON} not found` };
  const [kh, kw] = RESOLVED.kernel;
  const spec = {
    threads, minSeconds: config.minSeconds, samples: config.samples, statistic: config.statistic,
    stride: RESOLVED.stride, padding: RESOLVED.padding,
    cases: config.sizes.flatMap((size) => config.products.map((product) => ({ key: caseKey(product, size), product, n: config.batch, c: config.channels, k: config.channels, h: size, w: size, kh, kw }))),
  };
  const script = `
import json, math, sys, time
try:
    import torch
except ImportError:
    print(json.dumps(None)); sys.exit(0)
spec = json.loads(sys.stdin.read())
torch.manual_seed(0)
torch.set_num_threads(spec['threads'])
stride, padding = tuple(spec['stride']), tuple(spec['padding'])

def measure(run):
    run()
    per = spec['minSeconds'] / spec['samples']
    calls, times = 1, []
    while len(times) < spec['samples']:
        start = time.perf_counter()
        for _ in range(calls): run()
        seconds = time.perf_counter() - start
        if seconds < per and calls < 65536:
            calls = min(65536, max(calls * 2, math.ceil(calls * per / max(seconds, 1e-6))))
            continue
        times.append(seconds / calls)
    times.sort()
    return times[0] if spec['statistic'] == 'min' else times[len(times) // 2]

out = {}
with torch.no_grad():
    for case in spec['cases']:
        x = torch.rand(case['n'], case['c'], case['h'], case['w']) * 2 - 1
        weight = torch.rand(case['k'], case['c'], case['kh'], case['kw']) * 2 - 1
        y = torch.nn.functional.conv2d(x, weight, stride=stride, padding=padding)
        dy = torch.rand(y.shape) * 2 - 1
        product = case['product']
        if product == 'forward':
            run = lambda: torch.nn.functional.conv2d(x, weight, stride=stride, padding=padding)
        elif product == 'backward-data':
            run = lambda: torch.nn.grad.conv2d_input(x.shape, weight, dy, stride=stride, padding=padding)
        else:
            run = lambda: torch.nn.grad.conv2d_weight(x, weight.shape, dy, stride=stride, padding=padding)
        out[case['key']] = measure(run)
        print(case['key'], out[case['key']], file=sys.stderr)
print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'times': out}))
`;
  const run = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(spec), encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) {
    const message = `failed: ${run.stderr.trim().split('\n').pop()}`;
    failures.push(`pytorch: ${message}`);
    return { missing: message };
  }
  const parsed = JSON.parse(run.stdout) as { torch: string; threads: number; times: Record<string, number> } | null;
  if (!parsed) return { missing: 'python3-torch not installed: apt-get install python3-torch' };
  return { torch: parsed.torch, threads: parsed.threads, times: new Map(Object.entries(parsed.times)) };
}

const ms = (seconds: number | null) => (seconds === null ? 'failed' : (seconds * 1e3).toPrecision(4));
const ratio = (value: number | null) => (value === null ? '-' : value.toFixed(3));

function printRows(rows: readonly ConvRow[], gpu: boolean): void {
  const header = ['product', 'spatial', 'density', 'blocks', 'ours (ms)', 'GFLOP/s', 'vs our dense', 'vs pytorch', ...(gpu ? ['GPU (ms)'] : [])];
  write(formatTable(header, rows.map((r) => [
    r.product,
    `${r.size}x${r.size}`,
    r.density === 1 ? '1 (dense)' : String(r.density),
    String(r.nnz),
    ms(r.seconds),
    r.gflops === null ? '-' : r.gflops.toFixed(1),
    ratio(r.vsDense),
    ratio(r.vsTorch),
    ...(gpu ? [r.gpuSeconds === null ? '-' : ms(r.gpuSeconds)] : []),
  ])));
}

/** One target's outcome: what, the figure (null: not measured) and the verdict. */
interface TargetResult {
  what: string;
  figure: string | null;
  verdict: string;
}

function judgeTargets(rows: readonly ConvRow[], torch: TorchTimes, config: ConvConfig, backendName: string): TargetResult[] {
  const results: TargetResult[] = [];
  const issueShape = config.channels === ISSUE.channels && config.batch === ISSUE.batch;
  const verdict = (met: boolean, size: number) => (backendName !== 'cpu' ? 'no target on this backend'
    : !issueShape || !ISSUE.sizes.includes(size) ? `not judged (not the issue's shape: ${ISSUE.channels} -> ${ISSUE.channels} channels, batch ${ISSUE.batch}, ${ISSUE.sizes.map((s) => `${s}x${s}`).join(' or ')})`
      : met ? 'met' : 'MISSED');
  const find = (size: number, density: number) => rows.find((r) => r.product === 'forward' && r.size === size && r.density === density);
  for (const size of config.sizes) {
    const what = `block-sparse 3x3 forward at density ${TARGETS.sparse.density} at most ${TARGETS.sparse.ratio}x our dense time, ${size}x${size}`;
    const sparse = find(size, TARGETS.sparse.density);
    const dense = find(size, 1);
    if (!sparse || !dense) results.push({ what, figure: null, verdict: `not measured (${config.products.includes('forward') ? `density ${TARGETS.sparse.density} not in --densities` : 'forward not in --products'})` });
    else if (sparse.vsDense === null) results.push({ what, figure: null, verdict: 'not measured (a run failed)' });
    else results.push({ what, figure: `${sparse.vsDense.toFixed(3)}x (${ms(sparse.seconds)} against ${ms(dense.seconds)} ms, ${sparse.nnz} of ${dense.nnz} blocks)`, verdict: verdict(sparse.vsDense <= TARGETS.sparse.ratio, size) });
  }
  for (const size of config.sizes) {
    const what = `our dense 3x3 forward within ${TARGETS.torch}x of PyTorch CPU's time, ${size}x${size}`;
    const dense = find(size, 1);
    if (!dense) results.push({ what, figure: null, verdict: 'not measured (forward not in --products)' });
    else if ('missing' in torch) results.push({ what, figure: null, verdict: `not measured (${torch.missing})` });
    else if (dense.vsTorch === null) results.push({ what, figure: null, verdict: 'not measured (a run failed)' });
    else results.push({ what, figure: `${dense.vsTorch.toFixed(3)}x (${ms(dense.seconds)} against ${ms(dense.torchSeconds)} ms)`, verdict: verdict(dense.vsTorch <= TARGETS.torch, size) });
  }
  return results;
}

async function main(): Promise<void> {
  const config = parseConfig();
  const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
  write(`node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model.trim() ?? 'unknown'}); load average at start: ${load()}\n`);
  // Without Dawn's bounds clamping on WebGPU (benchmarks only), as bench/kernels.
  const backend = await getBackend(config.backend, { ...(config.threads === undefined ? {} : { threads: config.threads }), webgpu: { robustness: false } });
  const backendThreads = (backend as Partial<{ threads: number }>).threads;
  const threads = backendThreads ?? config.threads ?? os.availableParallelism();
  const backendName = backend.name;
  write(`backend: ${backend.description}${config.quick ? '; --quick: a small grid, short timings' : ''}\n`);
  const [kh, kw] = RESOLVED.kernel;
  write(`conv2d ${kh}x${kw}, stride ${RESOLVED.stride[0]}, padding ${RESOLVED.padding[0]}, NHWC, ${config.channels} -> ${config.channels} channels, batch ${config.batch}, blocks of ${config.blockSize}, float32; products: ${config.products.join(', ')}\n`);
  write(`our dense convolution = our conv2d with the dense layout (every block present: the density 1 rows); the others on random layouts (seeded)\n`);
  write(`each time the ${config.statistic === 'min' ? 'fastest' : 'median'} of ${config.samples} measurements of about ${((1e3 * config.minSeconds) / config.samples).toPrecision(2)} ms of calls each (at least one call), after one warm-up call; GFLOP/s over present blocks\n`);
  let rows: ConvRow[];
  try {
    rows = await measureOurs(backend, config);
  } finally {
    await backend.dispose();
  }
  const torch = torchTimes(config, threads);
  if ('missing' in torch) {
    write(`pytorch: not measured (${torch.missing}); no ratios to PyTorch\n`);
  } else {
    write(`pytorch ${torch.torch} CPU (${PYTHON}): torch.nn.functional.conv2d${config.products.length > 1 ? ' (backward: torch.nn.grad.conv2d_input, conv2d_weight)' : ''}, fp32, NCHW input, dense weight, ${torch.threads} thread${torch.threads === 1 ? '' : 's'} (ours: ${threads}), timed after ours the same way\n`);
    for (const r of rows) {
      r.torchSeconds = torch.times.get(caseKey(r.product, r.size)) ?? null;
      r.vsTorch = r.seconds === null || r.torchSeconds === null ? null : r.seconds / r.torchSeconds;
    }
  }
  write('\n');
  printRows(rows, rows.some((r) => r.gpuSeconds !== null));
  if (!('missing' in torch)) {
    write('\npytorch dense, the same shapes:\n');
    write(formatTable(['product', 'spatial', 'pytorch (ms)', 'GFLOP/s'], rows.filter((r) => r.density === 1).map((r) => [
      r.product, `${r.size}x${r.size}`, ms(r.torchSeconds), r.torchSeconds === null ? '-' : (r.flops / r.torchSeconds / 1e9).toFixed(1),
    ])));
  }
  const targets = judgeTargets(rows, torch, config, backendName);
  write(`\ntargets${backendName !== 'cpu' ? ' (set for the CPU backend; figures only here)' : ''}:\n`);
  write(`${targets.map((t) => `  ${t.what}: ${t.figure === null ? t.verdict : `${t.figure}: ${t.verdict}`}`).join('\n')}\n`);
  write(`load average at end: ${load()}\n`);
  if (config.json) {
    const torchInfo = 'missing' in torch ? { missing: torch.missing } : { version: torch.torch, threads: torch.threads };
    const { json: _json, ...shown } = config;
    writeFileSync(config.json, `${JSON.stringify({ backend: backendName, threads, config: shown, geometry: RESOLVED, torch: torchInfo, rows, targets }, null, 2)}\n`);
  }
  if (failures.length) {
    process.stderr.write(`${failures.length} measurement${failures.length === 1 ? '' : 's'} failed (no record written):\n${failures.map((f) => `  ${f}`).join('\n')}\n`);
    process.exitCode = 1;
  }
}

await main();
