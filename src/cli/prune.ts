import { Command, InvalidArgumentError, Option } from 'commander';
import type { BackendChoice } from '../kernels/get-backend.js';
import type { BlockSize } from '../patterns/layout.js';
import { pruneRun, type PrunedLevel, type PruneSummary } from '../runs/pruning.js';
import { backendOption, blockSizeOption, parseIntegerOption, parseNumberOption } from './options.js';
import { formatTable } from './table.js';

interface PruneCliOptions {
  sparsity: number[];
  finetuneEpochs: number;
  out: string;
  blockSize: string;
  lr?: number;
  force: boolean;
  backend: BackendChoice;
}

/** `--sparsity 0.5,0.9`: sparsities in [0, 1). */
const parseSparsities = (value: string): number[] => {
  const items = value.split(',').map((s) => s.trim());
  const numbers = items.map(Number);
  if (items.some((s) => s === '') || numbers.some((x) => !Number.isFinite(x) || x < 0 || x >= 1)) throw new InvalidArgumentError('must be a comma-separated list of numbers in [0, 1), e.g. 0.5,0.75,0.9.');
  return numbers;
};

/** The levels as a table: sparsity, parameters, the test figure after pruning and after fine-tuning. */
export function pruneTable(summary: PruneSummary): string {
  const figure = (x: number | null) => (x === null ? '-' : summary.metric === 'testAccuracy' ? `${(100 * x).toFixed(2)} %` : `${x.toFixed(4)} bpc`);
  const rows = [
    ['source', String(summary.parameters), figure(summary.dense), '-', summary.source],
    ...summary.levels.map((l: PrunedLevel) => [String(l.sparsity), String(l.parameters), figure(l.pruned), figure(l.finetuned), l.dir]),
  ];
  return formatTable(['sparsity', 'parameters', 'pruned', `fine-tuned (${summary.finetuneEpochs} epochs)`, 'run'], rows);
}

/** Adds `prune`: post-training block magnitude pruning of a trained run at several sparsities. */
export function addPruneCommand(program: Command): void {
  program
    .command('prune')
    .description(
      'prune a trained run (dense or block-sparse) after training: every hidden weight keeps its largest-norm blocks (dense weights first cut into blocks of the largest size up to --block-size that divides them; the output layer stays dense), ' +
        'each --sparsity level optionally fine-tuned for --finetune-epochs with its layouts fixed, each written as a run directory <out>/sparsity-<s> (checkpoint, layouts with provenance, summary.json) that predict, export and train --resume take; prints a table and writes <out>/prune.json',
    )
    .argument('<run>', 'the trained run directory, or its checkpoint directory')
    .requiredOption('--sparsity <list>', 'fractions of each weight\'s blocks to remove, comma-separated, each in [0, 1) (e.g. 0.5,0.75,0.9,0.95)', parseSparsities)
    .requiredOption('--out <dir>', 'output directory (new or empty unless --force)')
    .addOption(new Option('--finetune-epochs <int>', 'epochs of fine-tuning of each pruned model (0: none)').argParser(parseIntegerOption).default(0))
    .addOption(blockSizeOption('the largest block size dense weights are cut into', true))
    .addOption(new Option('--lr <number>', 'fine-tuning learning rate (default: the run\'s)').argParser(parseNumberOption))
    .option('--force', 'replace pruned runs an earlier prune wrote in --out', false)
    .addOption(backendOption())
    .action(async (run: string, options: PruneCliOptions) => {
      const summary = await pruneRun(
        {
          run, sparsities: options.sparsity, finetuneEpochs: options.finetuneEpochs, out: options.out, blockSize: Number(options.blockSize) as BlockSize,
          force: options.force, backend: options.backend, ...(options.lr !== undefined ? { lr: options.lr } : {}),
        },
        { log: (m) => process.stderr.write(`${m}\n`) },
      );
      process.stdout.write(`${pruneTable(summary)}\n`);
    });
}
