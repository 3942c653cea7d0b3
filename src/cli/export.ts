import { Command, Option } from 'commander';
import type { BackendChoice } from '../kernels/get-backend.js';
import { EXPORT_FORMATS, exportRun, type ExportFormat } from '../runs/model-files.js';
import { backendOption } from './options.js';

interface ExportCliOptions {
  format: ExportFormat;
  out?: string;
  force: boolean;
  backend: BackendChoice;
}

/** Adds `export`: writes a run's model as safetensors or ONNX. */
export function addExportCommand(program: Command): void {
  program
    .command('export')
    .description(
      'write the model of a run (train, prune or import) for other tools: safetensors (each block-sparse weight as its [nnz, bs, bs] blocks with its layout\'s CSR row_ptr and col_idx, dense tensors as they are, the architecture and provenance in the metadata; PyTorch\'s loader: docs/pytorch.md) ' +
        'or ONNX (standard operators, dense MatMul with zeros where blocks are absent, for any ONNX runtime: docs/onnx.md). L0 gates are folded into their blocks',
    )
    .argument('<run>', 'the run directory, or its checkpoint directory')
    .addOption(new Option('--format <format>', 'file format').choices([...EXPORT_FORMATS]).default('safetensors'))
    .addOption(new Option('--out <file>', 'the file to write (default: <run>/model.safetensors or <run>/model.onnx)'))
    .option('--force', 'replace an existing file', false)
    .addOption(backendOption())
    .action(async (run: string, options: ExportCliOptions) => {
      const { path, bytes } = await exportRun(run, { format: options.format, force: options.force, backend: options.backend, log: (m) => process.stderr.write(`${m}\n`), ...(options.out !== undefined ? { out: options.out } : {}) });
      process.stdout.write(`wrote ${path} (${bytes} bytes, ${options.format})\n`);
    });
}
