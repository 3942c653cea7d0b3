import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { buildPattern } from '../patterns/registry.js';
import { saveLayout } from '../patterns/files.js';
import { saveLayoutPicture } from '../patterns/picture.js';
import { summarize } from '../patterns/summary.js';
import { describeProvenance } from '../patterns/provenance.js';
import { formatPercent } from './describe.js';
import { parseIntegerOption, parseSeedOption } from './options.js';

/** Adds `demo`: generates a few layouts at equal density, summarises them side by side and saves them. */
export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('the main job: generate Watts-Strogatz, Barabási-Albert, random and banded layouts, compare them, save files and pictures')
    .addOption(new Option('--blocks <int>', 'blocks per side').argParser(parseIntegerOption).default(64))
    .addOption(new Option('--seed <seed>', 'random seed').argParser(parseSeedOption).default(0))
    .option('--out <dir>', 'folder for the files', 'blocksparse-demo')
    .action((options: { blocks: number; seed: number | string; out: string }) => runDemo(options));
}

function runDemo({ blocks, seed, out }: { blocks: number; seed: number | string; out: string }): void {
  // Equal density: every block has ~9 inputs (8 neighbours + itself).
  const specs: [string, string, Record<string, number>][] = [
    ['ws', 'watts-strogatz', { k: 8, p: 0.1 }],
    ['ba', 'barabasi-albert', { m: 4 }],
    ['random', 'random', { nnz: blocks * 9 }],
    ['banded', 'banded', { bandwidth: 4 }],
  ];
  mkdirSync(out, { recursive: true });
  const header = ['name', 'pattern', 'blocks', 'density', 'fan-in min/mean/max', 'symmetric'];
  const rows: string[][] = [];
  for (const [short, pattern, params] of specs) {
    const layout = buildPattern(pattern, { blocks, seed, params });
    const s = summarize(layout);
    saveLayout(join(out, `${short}.json`), layout);
    saveLayout(join(out, `${short}.npy`), layout);
    saveLayoutPicture(join(out, `${short}.png`), layout);
    rows.push([short, describeProvenance(layout.provenance), String(s.nnz), formatPercent(s.density),
      `${s.inDegree.min}/${s.inDegree.mean.toFixed(2)}/${s.inDegree.max}`, s.symmetric ? 'yes' : 'no']);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  process.stdout.write(`${blocks} x ${blocks} blocks of 32 x 32, seed ${seed}\n${line(header)}\n${rows.map(line).join('\n')}\n`);
  process.stdout.write(`wrote ${specs.map(([s]) => `${s}.json/.npy/.png`).join(', ')} to ${out}/\n`);
}
