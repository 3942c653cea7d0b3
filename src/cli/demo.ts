import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { buildPattern } from '../patterns/registry.js';
import { saveLayout } from '../patterns/files.js';
import { saveLayoutPicture } from '../patterns/picture.js';
import { summarize } from '../patterns/summary.js';
import { describeProvenance } from '../patterns/provenance.js';
import { measureLayouts } from '../analysis/compare.js';
import { resolveMetrics } from '../analysis/metrics.js';
import { formatPercent } from './describe.js';
import { formatTable, formatValue } from './table.js';
import { parseIntegerOption, parseSeedOption } from './options.js';
import { runLayoutsOnKernels } from './demo-kernels.js';
import { BACKEND_CHOICES, type BackendChoice } from '../kernels/get-backend.js';

/** Adds `demo`: generates a few layouts at equal density, summarises them side by side and saves them. */
export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('the main job: generate Watts-Strogatz, Barabási-Albert, random and banded layouts at equal density, analyse them side by side, run them on the kernels, save files and pictures')
    .addOption(new Option('--blocks <int>', 'blocks per side').argParser(parseIntegerOption).default(64))
    .addOption(new Option('--seed <seed>', 'random seed').argParser(parseSeedOption).default(0))
    .option('--out <dir>', 'folder for the files', 'blocksparse-demo')
    .addOption(new Option('--backend <name>', 'kernel backend for the forward/backward run: auto takes a hardware WebGPU adapter, else the CPU').choices(BACKEND_CHOICES as string[]).default('auto'))
    .addOption(new Option('--batch <int>', 'batch size of the kernel run').argParser(parseIntegerOption).default(256))
    .action((options: DemoOptions) => runDemo(options));
}

interface DemoOptions {
  blocks: number;
  seed: number | string;
  out: string;
  backend: BackendChoice;
  batch: number;
}

async function runDemo({ blocks, seed, out, backend, batch }: DemoOptions): Promise<void> {
  // Equal density: every block has ~9 inputs (8 neighbours + itself).
  const specs: [string, string, Record<string, number>][] = [
    ['ws', 'watts-strogatz', { k: 8, p: 0.1 }],
    ['ba', 'barabasi-albert', { m: 4 }],
    ['random', 'random', { nnz: blocks * 9 }],
    ['banded', 'banded', { bandwidth: 4 }],
  ];
  mkdirSync(out, { recursive: true });
  const layouts = specs.map(([short, pattern, params]) => ({ name: short, layout: buildPattern(pattern, { blocks, seed, params }) }));
  const metrics = resolveMetrics(['path-length', 'clustering', 'mixing-depth']);
  const measured = await measureLayouts(layouts, { metrics, seed });
  const header = ['name', 'pattern', 'blocks', 'density', 'fan-in min/mean/max', 'path length', 'clustering', 'mixing depth'];
  const rows = layouts.map(({ name, layout }, i) => {
    saveLayout(join(out, `${name}.json`), layout);
    saveLayout(join(out, `${name}.npy`), layout);
    saveLayoutPicture(join(out, `${name}.png`), layout);
    const s = summarize(layout);
    const m = measured[i].metrics;
    return [name, describeProvenance(layout.provenance), String(s.nnz), formatPercent(s.density),
      `${s.inDegree.min}/${s.inDegree.mean.toFixed(2)}/${s.inDegree.max}`,
      ...['path-length', 'clustering', 'mixing-depth'].map((key) => formatValue(m[key].value) + (m[key].note ? '*' : ''))];
  });
  process.stdout.write(`${blocks} x ${blocks} blocks of 32 x 32, seed ${seed}\n${formatTable(header, rows)}`);
  const notes = measured.flatMap((row) => Object.entries(row.metrics).filter(([, v]) => v.note).map(([k, v]) => `* ${row.name} ${k}: ${v.note}`));
  if (notes.length) process.stdout.write(`${notes.join('\n')}\n`);
  process.stdout.write(`\n${await runLayoutsOnKernels(layouts, { backend, batch, seed })}`);
  process.stdout.write(`wrote ${specs.map(([s]) => `${s}.json/.npy/.png`).join(', ')} to ${out}/\n`);
}
