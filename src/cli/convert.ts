import type { Command } from 'commander';
import { loadLayout, saveLayout } from '../patterns/files.js';
import { DEFAULT_BLOCK_SIZE, type BlockSize } from '../patterns/layout.js';
import { describeLayoutLine } from './describe.js';
import { blockSizeOption } from './options.js';

/** Adds `convert <in> <out>`: JSON <-> .npy by extension. */
export function addConvertCommand(program: Command): void {
  program
    .command('convert')
    .description('convert a layout between JSON and .npy (chosen by the file extensions)')
    .argument('<in>', 'layout file to read (.json or .npy)')
    .argument('<out>', 'layout file to write (.json or .npy)')
    .addOption(blockSizeOption(`block size when reading a .npy file (default: ${DEFAULT_BLOCK_SIZE})`, false))
    .action((input: string, output: string, options: { blockSize?: string }) => {
      const layout = loadLayout(input, options.blockSize ? { blockSize: Number(options.blockSize) as BlockSize } : {});
      saveLayout(output, layout);
      process.stdout.write(`${describeLayoutLine(layout)}\nwrote ${output}\n`);
    });
}
