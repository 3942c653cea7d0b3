/*
 * The GPU kit's benchmark (bench/gpu.sh bundles this file into bench/gpu-kit/gpu-bench.mjs and
 * runs it after the probe): our WGSL block-sparse products against our WGSL dense matmul of the
 * same shape, each timed by the wall clock and by the GPU's timestamp queries (the median of 3
 * measurements, src/kernels/bench.ts), with PyTorch's fp32 dense matmul as a peer when gpu.sh
 * found PyTorch with CUDA, and issue 13's targets judged (bench/gpu-targets.ts).
 *
 *   node gpu-bench.mjs --out DIR [--grid auto|full|targets|tiny] [--min-time 0.3] [--allow-software]
 *                      [--gpu-name NAME] [--gpu-line TEXT] [--peer torch.json] [--kit-manifest FILE] [--probe FILE]
 *
 * Writes DIR/results.json and DIR/results.txt after every row (atomically), so a run stopped by
 * gpu.sh's overall timeout keeps the rows it finished ("complete": false). Exit status as
 * KIT_EXIT: 0 done, 4 software adapter refused, 5 no adapter, 6 the benchmark failed.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatBenchTable } from '../src/cli/bench-table.js';
import { benchCases, formatSeconds, GPU_BENCH_GRID, runKernelBench, type KernelBenchCase, type KernelBenchGrid, type KernelBenchRow } from '../src/kernels/bench.js';
import { createWebGPUBackend } from '../src/kernels/webgpu/webgpu-backend.js';
import { formatTargets, isSoftwareAdapter, judgeTargets, KIT_EXIT, type AdapterIdentity, type PeerTimes, type TargetResult } from './gpu-targets.js';

/** The grids the kit can run, by name (GPU_BENCH_GRID in gpu.sh). */
const GRIDS: Record<'full' | 'targets' | 'tiny', KernelBenchGrid> = {
  // Every product at bs 32, densities 1 / 0.25 / 0.1, C = K = 4096, N = 512 and 4096 (the 4096^3 dense case).
  full: GPU_BENCH_GRID,
  // Only what the targets read: the forward at bs 32, densities 1 and 0.1 (a quick second try).
  targets: { products: ['forward'], blockSizes: [32], densities: [1, 0.1], batches: [512, 4096], features: 4096 },
  // Seconds on lavapipe: every product on a small shape (tests the kit without a GPU).
  tiny: { products: ['forward', 'backward-data', 'weight-gradient'], blockSizes: [32], densities: [1, 0.25], batches: [32], features: 128 },
};

/** Every measurement: the median of SAMPLES, as the peer (gpu-torch.py) is given too. */
const STATISTIC = 'median';
const SAMPLES = 3;

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    grid: { type: 'string', default: 'auto' },
    'min-time': { type: 'string', default: '0.3' },
    'allow-software': { type: 'boolean', default: false },
    'gpu-name': { type: 'string', default: '' },
    'gpu-line': { type: 'string', default: '' },
    peer: { type: 'string' },
    'kit-manifest': { type: 'string' },
    probe: { type: 'string' },
    robustness: { type: 'string', default: 'off' },
  },
});

const say = (line: string) => process.stdout.write(`${line}\n`);
function fail(code: number, message: string): never {
  process.stderr.write(`gpu-bench: ${message}\n`);
  process.exit(code);
}

if (!values.out) fail(KIT_EXIT.usage, 'usage: node gpu-bench.mjs --out DIR [--grid auto|full|targets|tiny] [--min-time s] [--allow-software] ...');
const outDir = values.out;
const minSeconds = Number(values['min-time']);
if (!(minSeconds > 0 && minSeconds <= 60)) fail(KIT_EXIT.usage, `--min-time must be in (0, 60] seconds, got "${values['min-time']}"`);
if (!['on', 'off'].includes(values.robustness!)) fail(KIT_EXIT.usage, `--robustness must be on or off, got "${values.robustness}"`);
if (!['auto', ...Object.keys(GRIDS)].includes(values.grid!)) fail(KIT_EXIT.usage, `--grid must be auto, full, targets or tiny, got "${values.grid}"`);

/** The kit's MANIFEST (key=value lines written by gpu.sh prepare). */
function readManifest(path: string | undefined): Record<string, string> {
  if (!path || !existsSync(path)) return {};
  return Object.fromEntries(readFileSync(path, 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** PyTorch's times from gpu-torch.py, or null when it did not run. */
function readPeer(path: string | undefined): PeerTimes | null {
  if (!path || !existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as PeerTimes;
}

interface Results {
  complete: boolean;
  error: string | null;
  started: string;
  finished: string | null;
  kit: Record<string, string>;
  /** gpu.sh's probe lines (the machine, the driver, the libraries, the adapter Dawn found, its features and limits). */
  probe: string[];
  gpu: { name: string; nvidiaSmi: string };
  adapter: AdapterIdentity | null;
  software: boolean | null;
  features: string[];
  limits: Record<string, number>;
  timing: { statistic: string; samples: number; minSeconds: number; gpuTime: string; robustness: string };
  grid: KernelBenchGrid | null;
  gridName: string | null;
  cases: number;
  rows: KernelBenchRow[];
  peer: PeerTimes | null;
  targets: TargetResult[];
}

const results: Results = {
  complete: false,
  error: null,
  started: new Date().toISOString(),
  finished: null,
  kit: readManifest(values['kit-manifest']),
  probe: values.probe && existsSync(values.probe) ? readFileSync(values.probe, 'utf8').trimEnd().split('\n') : [],
  gpu: { name: values['gpu-name']!, nvidiaSmi: values['gpu-line']! },
  adapter: null,
  software: null,
  features: [],
  limits: {},
  timing: { statistic: STATISTIC, samples: SAMPLES, minSeconds, gpuTime: 'not yet known', robustness: values.robustness! },
  grid: null,
  gridName: null,
  cases: 0,
  rows: [],
  peer: readPeer(values.peer),
  targets: [],
};

/** Writes `text` to `path` through a temporary file, so that a kill mid-write leaves the last whole file. */
function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** results.txt: what ran, the table (GPU time beside the wall clock), the peer and the targets. */
function resultsText(): string {
  const r = results;
  const state = r.complete ? 'complete' : `INCOMPLETE: ${r.rows.length} of ${r.cases} cases${r.error ? ` (error: ${r.error})` : ''}`;
  const lines = [
    `GPU kit results (${state}); started ${r.started}${r.finished ? `, finished ${r.finished}` : ''}`,
    `kit: built ${r.kit.built ?? '?'} from commit ${r.kit.commit ?? '?'}, node ${r.kit.node ?? '?'}, webgpu ${r.kit.webgpu ?? '?'}`,
    `gpu: ${r.gpu.nvidiaSmi || r.gpu.name || 'unknown (no nvidia-smi)'}`,
  ];
  if (r.adapter) {
    const a = r.adapter;
    lines.push(`adapter: vendor "${a.vendor}", architecture "${a.architecture}", device "${a.device}", description "${a.description}", isFallbackAdapter ${a.isFallbackAdapter}${r.software ? ' (software: nothing judged)' : ''}`);
    lines.push(`device features (requested): ${r.features.join(', ') || 'none'}`);
  }
  if (r.probe.length > 0) lines.push('probe (gpu.sh):', ...r.probe.map((l) => `  ${l}`));
  lines.push(`timing: each time the ${r.timing.statistic} of ${r.timing.samples} measurements of --min-time ${r.timing.minSeconds} s in all (after a warm-up call); ${r.timing.gpuTime}; Dawn's bounds clamping (robustness) ${r.timing.robustness}`);
  if (r.grid) lines.push(`grid ${r.gridName}: products ${r.grid.products.join(',')}, block sizes ${r.grid.blockSizes.join(',')}, densities ${r.grid.densities.join(',')}, N ${r.grid.batches.join(',')}, C = K = ${r.grid.features}`);
  lines.push('');
  if (r.rows.length > 0) lines.push(formatBenchTable(r.rows).trimEnd(), '');
  if (r.peer) {
    const p = r.peer;
    lines.push(`peer: ${p.name} ${p.version} on ${p.device}, fp32 X[N, ${p.features}] @ W (TF32 off), the same statistic:`);
    for (const [n, s] of Object.entries(p.gpuSeconds)) {
      lines.push(`  N=${n}: GPU ${formatSeconds(s)} (CUDA events, ${(2 * Number(n) * p.features ** 2 / s / 1e12).toPrecision(3)} TFLOP/s), wall ${formatSeconds(p.seconds[n])}`);
    }
  } else {
    lines.push('peer: none (PyTorch with CUDA absent, or not run on this adapter)');
  }
  lines.push('', 'targets (issue 13):');
  lines.push(...formatTargets(judgeTargets(r.rows, { software: r.software ?? false, gpuName: r.gpu.name || r.adapter?.description || '', peer: r.peer })).trimEnd().split('\n').map((l) => `  ${l}`));
  return `${lines.join('\n')}\n`;
}

function save(): void {
  results.targets = judgeTargets(results.rows, { software: results.software ?? false, gpuName: results.gpu.name || results.adapter?.description || '', peer: results.peer });
  writeAtomically(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeAtomically(join(outDir, 'results.txt'), resultsText());
}

save();
const allowSoftware = values['allow-software']!;
let backend: Awaited<ReturnType<typeof createWebGPUBackend>>;
// As `blocksparse bench`: without Dawn's bounds clamping unless asked (the kernels are checked with
// it in the tests); a variable, not a literal, so that this compiles where the option is absent.
const backendOptions = { allowFallbackAdapter: allowSoftware, powerPreference: 'high-performance' as const, robustness: values.robustness === 'on' };
try {
  backend = await createWebGPUBackend(backendOptions);
} catch (error) {
  const message = (error as Error).message;
  results.error = message;
  save();
  if (/fallback/i.test(message)) fail(KIT_EXIT.software, `refused: ${message} (GPU_BENCH_ALLOW_SOFTWARE=1 runs anyway)`);
  fail(KIT_EXIT.noAdapter, `no WebGPU adapter: ${message}`);
}
results.adapter = { ...backend.adapter };
results.software = isSoftwareAdapter(backend.adapter);
results.features = [...backend.device.features].sort();
const limits = backend.device.limits as unknown as Record<string, number>;
for (const name of ['maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupsPerDimension']) results.limits[name] = limits[name];
results.timing.gpuTime = results.features.includes('timestamp-query')
  ? 'GPU time: timestamp queries around every compute pass, the same statistic'
  : 'GPU time: not available (no timestamp-query feature): targets use the wall clock';
if (results.software && !allowSoftware) {
  results.error = `software adapter ${backend.adapter.description || backend.adapter.device}`;
  save();
  await backend.dispose();
  fail(KIT_EXIT.software, `refused: the adapter is a software one (${backend.adapter.description || backend.adapter.device}); GPU_BENCH_ALLOW_SOFTWARE=1 runs anyway`);
}
const gridName = values.grid === 'auto' ? (results.software ? 'tiny' : 'full') : (values.grid as keyof typeof GRIDS);
results.gridName = gridName;
results.grid = GRIDS[gridName];
const cases = benchCases(results.grid);
results.cases = cases.length;
say(`backend: ${backend.description}`);
say(results.timing.gpuTime);
say(`grid ${gridName}${values.grid === 'auto' && results.software ? ' (a software adapter: the tiny grid unless GPU_BENCH_GRID says otherwise)' : ''}: ${cases.length} cases, --min-time ${minSeconds} s each, the ${STATISTIC} of ${SAMPLES}`);
save();

// One runKernelBench per (product, batch): the dense baseline is timed once per group, as in one
// call, and each group is announced, so a stopped run says where it stopped.
const groups = new Map<string, KernelBenchCase[]>();
for (const c of cases) {
  const key = `${c.product} N=${c.batch}`;
  groups.set(key, [...(groups.get(key) ?? []), c]);
}
const start = performance.now();
try {
  for (const [key, group] of groups) {
    say(`  ${key}, C=K=${group[0].features}: dense and ${group.length} sparse cases`);
    await runKernelBench(backend, group, {
      minSeconds,
      samples: SAMPLES,
      statistic: STATISTIC,
      onRow: (row) => {
        results.rows.push(row);
        save();
        const gpu = row.gpuSeconds !== null && row.denseGpuSeconds !== null ? `, GPU ${formatSeconds(row.gpuSeconds)} (${(row.gpuSeconds / row.denseGpuSeconds).toFixed(3)}x dense ${formatSeconds(row.denseGpuSeconds)})` : '';
        say(`    bs${row.blockSize} d=${row.density}: wall ${formatSeconds(row.seconds)} (${row.vsDense.toFixed(3)}x dense ${formatSeconds(row.denseSeconds)})${gpu}  [${results.rows.length}/${cases.length}, ${((performance.now() - start) / 1000).toFixed(1)} s]`);
      },
    });
  }
} catch (error) {
  results.error = (error as Error).stack ?? String(error);
  save();
  await backend.dispose().catch(() => undefined);
  fail(KIT_EXIT.benchFailed, `the benchmark failed after ${results.rows.length} of ${cases.length} cases: ${(error as Error).message}`);
}
await backend.dispose();
results.complete = true;
results.finished = new Date().toISOString();
save();
say('');
process.stdout.write(resultsText());
process.exit(KIT_EXIT.ok);
