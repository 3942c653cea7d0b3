import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { buildPattern } from '../patterns/registry.js';
import { saveLayout } from '../patterns/files.js';
import { formatPercent } from '../render/number-format.js';
import { saveLayoutPicture } from '../render/picture.js';
import { summarize } from '../patterns/summary.js';
import { describeProvenance } from '../patterns/provenance.js';
import { measureLayouts } from '../analysis/compare.js';
import { resolveMetrics } from '../analysis/metrics.js';
import { printable } from '../printable.js';
import { formatTable, formatValue } from './table.js';
import { backendOption, parseIntegerOption, seedOption } from './options.js';
import { runLayoutsOnKernels } from './demo-kernels.js';
import type { BackendChoice } from '../kernels/get-backend.js';
import { asFileError } from '../atomic-write.js';
import { FileError } from '../errors.js';

/** The short names of the demo's layouts; each gives <name>.json, <name>.npy and <name>.png. */
const DEMO_NAMES = ['ws', 'ba', 'random', 'banded'];
/** Every file the demo writes into its folder. */
const DEMO_FILES = DEMO_NAMES.flatMap((name) => ['json', 'npy', 'png'].map((ext) => `${name}.${ext}`));

/** Adds `demo`: generates a few layouts at equal density, summarises them side by side and saves them. */
export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('the main job: generate Watts-Strogatz, Barabási-Albert, random and banded layouts at equal density, analyse them side by side, run them on the kernels, save files and pictures')
    .addOption(new Option('--blocks <int>', 'blocks per side').argParser(parseIntegerOption).default(64))
    .addOption(seedOption())
    .option('--out <dir>', 'folder for the files (created; an existing one must be empty or hold only an earlier demo\'s files, unless --force)', 'blocksparse-demo')
    .option('--force', 'write into an existing non-empty --out folder even when it holds other files (the demo\'s own files are replaced; others are left alone)', false)
    .addOption(backendOption('kernel backend for the forward/backward run: auto takes a hardware WebGPU adapter, else the CPU'))
    .addOption(new Option('--batch <int>', 'batch size of the kernel run').argParser(parseIntegerOption).default(256))
    .action((options: DemoOptions) => runDemo(options));
}

interface DemoOptions {
  blocks: number;
  seed: number | string;
  out: string;
  backend: BackendChoice;
  batch: number;
  force: boolean;
}

/**
 * Makes the demo's output folder, checked before any work: FileError when something other than a
 * folder is at `out`, or when `out` holds files that are not an earlier demo's (unless `force`).
 */
function prepareOutputFolder(out: string, force: boolean): void {
  let info;
  try {
    info = statSync(out);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw asFileError(out, 'use as the output folder', error);
  }
  if (info !== undefined && !info.isDirectory()) {
    throw new FileError(out, 'cannot create the output folder: a file is in the way (remove it or choose another --out)');
  }
  if (info === undefined) {
    try {
      mkdirSync(out, { recursive: true });
    } catch (error) {
      throw asFileError(out, 'create the output folder', error);
    }
    return;
  }
  let entries: string[];
  try {
    entries = readdirSync(out);
  } catch (error) {
    throw asFileError(out, 'list the output folder', error);
  }
  const others = entries.filter((entry) => !DEMO_FILES.includes(entry));
  if (others.length > 0 && !force) {
    const shown = others.slice(0, 3).map((entry) => JSON.stringify(entry)).join(', ') + (others.length > 3 ? ` and ${others.length - 3} more` : '');
    throw new FileError(out, `refusing to write the demo into a folder that holds other files (${shown}); choose another --out, or pass --force`);
  }
}

async function runDemo({ blocks, seed, out, backend, batch, force }: DemoOptions): Promise<void> {
  // Equal density: every block has ~9 inputs (8 neighbours + itself).
  // The short names are DEMO_NAMES.
  const specs: [string, string, Record<string, number>][] = [
    ['ws', 'watts-strogatz', { k: 8, p: 0.1 }],
    ['ba', 'barabasi-albert', { m: 4 }],
    ['random', 'random', { nnz: blocks * 9 }],
    ['banded', 'banded', { bandwidth: 4 }],
  ];
  prepareOutputFolder(out, force);
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
  process.stdout.write(`wrote ${specs.map(([s]) => `${s}.json/.npy/.png`).join(', ')} to ${printable(out)}/\n`);
}
