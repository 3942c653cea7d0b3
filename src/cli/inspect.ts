import { Command, Option } from 'commander';
import { loadLayout } from '../patterns/files.js';
import type { BlockSize } from '../patterns/layout.js';
import { formatSummary, summarize } from './describe.js';

/** Adds `inspect <file>`: the layout's summary, as text or one JSON object. */
export function addInspectCommand(program: Command): void {
  program
    .command('inspect')
    .description('print a layout file\'s summary: shape, blocks, density, degrees, symmetry, provenance')
    .argument('<file>', 'layout file (.json or .npy)')
    .option('--json', 'print one JSON object instead of text', false)
    .addOption(new Option('--block-size <size>', 'block size for a .npy file (JSON files carry their own)').choices(['8', '16', '32']))
    .action((file: string, options: { json: boolean; blockSize?: string }) => {
      const layout = loadLayout(file, options.blockSize ? { blockSize: Number(options.blockSize) as BlockSize } : {});
      const summary = summarize(layout);
      process.stdout.write(options.json ? `${JSON.stringify({ file, ...summary })}\n` : formatSummary(summary, file));
    });
}
