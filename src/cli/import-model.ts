import { Command, InvalidArgumentError, Option } from 'commander';
import { BlocksparseError } from '../errors.js';
import type { BackendChoice } from '../kernels/get-backend.js';
import { importModelFile } from '../runs/model-files.js';
import { MLP_ARCH_SYNTAX, parseMlpArch, type MlpArch } from '../train/export/mlp-arch.js';
import { backendOption } from './options.js';

interface ImportCliOptions {
  arch?: MlpArch;
  out: string;
  force: boolean;
  backend: BackendChoice;
}

/** `--arch mlp:784,1024,10`: parseMlpArch, its message as commander's. */
const parseArch = (value: string): MlpArch => {
  try {
    return parseMlpArch(value);
  } catch (error) {
    if (error instanceof BlocksparseError) throw new InvalidArgumentError(error.message);
    throw error;
  }
};

/** Adds `import`: makes a run directory from a safetensors model file or a PyTorch MLP's state dict. */
export function addImportCommand(program: Command): void {
  program
    .command('import')
    .description(
      'make a run directory (checkpoint, layouts, summary.json) that predict, prune, export and train --resume take from a safetensors file: a model file of blocksparse export (its architecture and layouts from its metadata), ' +
        'or with --arch an MLP trained elsewhere (a PyTorch nn.Sequential state dict: <k>.weight [out, in] and <k>.bias; weights with torch.nn.utils.prune masks, <k>.weight_orig and <k>.weight_mask, constant on blocks, become block-sparse layers). docs/pytorch.md',
    )
    .argument('<model.safetensors>', 'the file to import')
    .addOption(new Option('--arch <arch>', `the architecture of a state dict trained elsewhere: ${MLP_ARCH_SYNTAX}`).argParser(parseArch))
    .requiredOption('--out <dir>', 'the run directory to write (new or empty unless --force)')
    .option('--force', 'write into a directory that holds files (a run in it is replaced)', false)
    .addOption(backendOption())
    .action(async (file: string, options: ImportCliOptions) => {
      const result = await importModelFile(file, { out: options.out, force: options.force, backend: options.backend, log: (m) => process.stderr.write(`${m}\n`), ...(options.arch ? { arch: options.arch } : {}) });
      process.stdout.write(`imported ${file} (${result.origin}, ${result.parameters} parameters) into ${result.out}\n`);
    });
}
