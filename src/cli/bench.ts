import { Command, InvalidArgumentError, Option } from 'commander';
import { getBackend, type BackendChoice } from '../kernels/get-backend.js';
import { BENCH_PRODUCTS, benchCases, formatSeconds, GPU_BENCH_GRID, runKernelBench, SHORT_BENCH_GRID, type BenchProduct, type KernelBenchGrid } from '../kernels/bench.js';
import type { Backend } from '../kernels/types.js';
import type { BlockSize } from '../patterns/layout.js';
import { backendOption, checkThreadCount, parseIntegerOption, parseNumberOption, seedOption } from './options.js';
import { formatBenchTable } from './bench-table.js';

/** Commander parser for a comma-separated list, each item through `parse`. */
function listOf<T>(parse: (text: string) => T): (value: string) => T[] {
  return (value: string) => {
    const items = value.split(',').map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) throw new InvalidArgumentError('must be a comma-separated list.');
    return items.map(parse);
  };
}

const parseProduct = (text: string): BenchProduct => {
  if (!(BENCH_PRODUCTS as readonly string[]).includes(text)) throw new InvalidArgumentError(`each product must be one of ${BENCH_PRODUCTS.join(', ')}.`);
  return text as BenchProduct;
};

/** Adds `bench`: a short kernel benchmark on the chosen backend, sparse against our dense matmul. */
export function addBenchCommand(program: Command): void {
  const g = SHORT_BENCH_GRID;
  program
    .command('bench')
    .description('time the block-sparse kernels against the dense matmul on the same backend (C = K = --features, random layouts)')
    .addOption(backendOption())
    .addOption(new Option('--products <list>', `products: ${BENCH_PRODUCTS.join(', ')}`).argParser(listOf(parseProduct)).default(g.products, g.products.join(',')))
    .addOption(new Option('--block-sizes <list>', 'block sizes (8, 16, 32)').argParser(listOf(parseIntegerOption)).default(g.blockSizes, g.blockSizes.join(',')))
    .addOption(new Option('--densities <list>', 'fractions of blocks present, in (0, 1]').argParser(listOf(parseNumberOption)).default(g.densities, g.densities.join(',')))
    .addOption(new Option('--batches <list>', 'batch sizes N').argParser(listOf(parseIntegerOption)).default(g.batches, g.batches.join(',')))
    .addOption(new Option('--features <int>', 'input and output features C = K').argParser(parseIntegerOption).default(g.features))
    .addOption(new Option('--min-time <seconds>', 'seconds of repeated calls per case (split over the measurements)').argParser(parseNumberOption).default(0.3))
    .addOption(new Option('--statistic <which>', 'report the median of 3 measurements, or the fastest (noise only adds time)').choices(['median', 'min']).default('median'))
    .addOption(new Option('--threads <int>', 'CPU backend threads, at most the cores unless --oversubscribe (default: every core)').argParser(parseIntegerOption))
    .option('--oversubscribe', 'allow more --threads than this machine has cores', false)
    .addOption(seedOption('seed of the layouts and data'))
    .option('--json', 'print one JSON object: the backend and one row per case', false)
    .action(async (options: BenchCliOptions, command: Command) => runBench(options, (name) => command.getOptionValueSource(name) === 'default'));
}

/** The options of `blocksparse bench`, as commander gives them. */
export interface BenchCliOptions {
  backend: BackendChoice;
  products: BenchProduct[];
  blockSizes: number[];
  densities: number[];
  batches: number[];
  features: number;
  minTime: number;
  statistic: 'median' | 'min';
  threads?: number;
  oversubscribe: boolean;
  seed: number | string;
  json: boolean;
}

/** The adapter and features of a WebGPU backend (for the report), or null on another backend. */
function gpuInfo(backend: Backend): { adapter: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter: boolean }; features: string[] } | null {
  const gpu = backend as Backend & { adapter?: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter: boolean }; device?: { features: Iterable<string> } };
  if (backend.name !== 'webgpu' || !gpu.adapter) return null;
  return { adapter: gpu.adapter, features: gpu.device ? [...gpu.device.features].sort() : [] };
}

/**
 * The grid to run: the options as given; on a real GPU (WebGPU, not a fallback adapter) the grid
 * options left at their defaults take GPU_BENCH_GRID's values instead of the CPU-sized short grid's.
 */
export function benchGrid(options: BenchCliOptions, isDefault: (name: string) => boolean, onGpu: boolean): KernelBenchGrid {
  const pick = <T>(name: string, given: T, gpu: T): T => (onGpu && isDefault(name) ? gpu : given);
  return {
    products: pick('products', options.products, GPU_BENCH_GRID.products),
    blockSizes: pick('blockSizes', options.blockSizes as BlockSize[], GPU_BENCH_GRID.blockSizes),
    densities: pick('densities', options.densities, GPU_BENCH_GRID.densities),
    batches: pick('batches', options.batches, GPU_BENCH_GRID.batches),
    features: pick('features', options.features, GPU_BENCH_GRID.features),
  };
}

async function runBench(options: BenchCliOptions, isDefault: (name: string) => boolean): Promise<void> {
  // Checked before a backend starts (the GPU grid is checked again once the backend is known).
  benchCases(benchGrid(options, isDefault, false));
  const threads = checkThreadCount('threads', options.threads, options.oversubscribe);
  // Benchmarks run without Dawn's bounds clamping (the kernels are checked with it in the tests).
  const backend = await getBackend(options.backend, { threads, webgpu: { robustness: false }, log: (m) => process.stderr.write(`${m}\n`) });
  try {
    const gpu = gpuInfo(backend);
    const cases = benchCases(benchGrid(options, isDefault, gpu !== null && !gpu.adapter.isFallbackAdapter));
    if (!options.json) {
      process.stdout.write(`backend: ${backend.description}\n`);
      if (gpu) {
        const { vendor, architecture, device, description } = gpu.adapter;
        process.stdout.write(`adapter: vendor ${vendor || '-'}, architecture ${architecture || '-'}, device ${device || '-'}, driver ${description || '-'}\nfeatures: ${gpu.features.join(', ') || 'none'}\n`);
        process.stdout.write(`Dawn toggles: disable_workgroup_init, disable_robustness (bounds clamping off, for benchmarks)\n`);
        process.stdout.write(gpu.features.includes('timestamp-query') ? 'GPU time: timestamp queries around every compute pass, the same statistic as the wall-clock time\n' : 'GPU time: not available (no timestamp-query feature)\n');
      }
    }
    const rows = await runKernelBench(backend, cases, {
      minSeconds: options.minTime,
      statistic: options.statistic,
      seed: options.seed,
      onRow: options.json ? undefined : (row) => process.stderr.write(`  ${row.product} bs${row.blockSize} d=${row.density} N=${row.batch}: ${formatSeconds(row.seconds)}${row.gpuSeconds !== null ? ` (GPU ${formatSeconds(row.gpuSeconds)})` : ''}\n`),
    });
    if (options.json) process.stdout.write(`${JSON.stringify({ backend: backend.name, description: backend.description, ...(gpu ? { adapter: gpu.adapter, features: gpu.features } : {}), rows }, null, 2)}\n`);
    else process.stdout.write(formatBenchTable(rows));
  } finally {
    await backend.dispose();
  }
}
