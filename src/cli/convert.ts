import { Command, Option } from 'commander';
import { loadLayout, saveLayout } from '../patterns/files.js';
import type { BlockSize } from '../patterns/layout.js';
import { describeLayoutLine } from './describe.js';

/** Adds `convert <in> <out>`: JSON <-> .npy by extension. */
export function addConvertCommand(program: Command): void {
  program
    .command('convert')
    .description('convert a layout between JSON and .npy (chosen by the file extensions)')
    .argument('<in>', 'layout file to read (.json or .npy)')
    .argument('<out>', 'layout file to write (.json or .npy)')
    .addOption(new Option('--block-size <size>', 'block size when reading a .npy file (default: 32)').choices(['8', '16', '32']))
    .action((input: string, output: string, options: { blockSize?: string }) => {
      const layout = loadLayout(input, options.blockSize ? { blockSize: Number(options.blockSize) as BlockSize } : {});
      saveLayout(output, layout);
      process.stdout.write(`${describeLayoutLine(layout)}\nwrote ${output}\n`);
    });
}
