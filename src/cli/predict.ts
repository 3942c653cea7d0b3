import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { writeFileAtomic } from '../atomic-write.js';
import { FileError } from '../errors.js';
import type { BackendChoice } from '../kernels/get-backend.js';
import { predictRun } from '../runs/inference.js';
import type { TrainData } from '../runs/training-settings.js';
import { backendOption, parseIntegerOption } from './options.js';
import { UsageError } from '../usage-error.js';
import { parseData } from './train.js';

interface PredictCliOptions {
  data?: TrainData;
  split: 'test' | 'train';
  limit?: number;
  batch: number;
  output?: string;
  force: boolean;
  json: boolean;
  backend: BackendChoice;
}

/** The predictions as CSV: index, label, predicted (class numbers), and the two class names. */
function predictionsCsv(predictions: Int32Array, labels: Uint8Array, classNames: readonly string[]): string {
  const lines = ['index,label,predicted,label_name,predicted_name'];
  const name = (c: number) => JSON.stringify(classNames[c] ?? String(c));
  for (let i = 0; i < predictions.length; i++) lines.push(`${i},${labels[i]},${predictions[i]},${name(labels[i])},${name(predictions[i])}`);
  return `${lines.join('\n')}\n`;
}

/** Adds `predict`: runs a trained run's model on data (accuracy or bits per character, and predictions). */
export function addPredictCommand(program: Command): void {
  program
    .command('predict')
    .description(
      'run the model of a trained run (train, prune or import) for inference: loads its last checkpoint (no optimiser state, no gradients), runs it on the --split of --data (default: the run\'s own data, test split) ' +
        'and prints its accuracy (a classifier) or bits per character (a language model); --output writes every prediction as CSV (index,label,predicted,label_name,predicted_name)',
    )
    .argument('<run>', 'the run directory, or its checkpoint directory')
    .addOption(new Option('--data <name>', 'data set: fashion-mnist, brown or text:<file> (default: the run\'s)').argParser(parseData))
    .addOption(new Option('--split <name>', 'which split').choices(['test', 'train']).default('test'))
    .addOption(new Option('--limit <int>', 'only the first this many examples (a classifier)').argParser(parseIntegerOption))
    .addOption(new Option('--batch <int>', 'examples per forward pass').argParser(parseIntegerOption).default(1000))
    .addOption(new Option('--output <file.csv>', 'write the predictions (a classifier) to this CSV file'))
    .option('--force', 'replace an existing --output file', false)
    .option('--json', 'print the figures as JSON', false)
    .addOption(backendOption())
    .action(async (run: string, options: PredictCliOptions) => {
      if (options.output !== undefined && existsSync(options.output) && !options.force) throw new FileError(options.output, 'exists: give --force to replace it');
      const result = await predictRun(run, {
        split: options.split, batch: options.batch, backend: options.backend, log: (m) => process.stderr.write(`${m}\n`),
        ...(options.data !== undefined ? { data: options.data } : {}), ...(options.limit !== undefined ? { limit: options.limit } : {}),
      });
      if (result.kind === 'classification') {
        if (options.output !== undefined) writeFileAtomic(options.output, predictionsCsv(result.predictions, result.labels, result.classNames));
        const figures = { examples: result.examples, accuracy: result.accuracy, loss: result.loss };
        process.stdout.write(options.json ? `${JSON.stringify(figures)}\n` : `${result.examples} examples: accuracy ${(100 * result.accuracy).toFixed(2)} %, mean loss ${result.loss.toFixed(4)}\n`);
      } else {
        if (options.output !== undefined) throw new UsageError('--output writes a classifier\'s predictions; a language model\'s run gives its bits per character only');
        const figures = { characters: result.characters, bpc: result.bpc, accuracy: result.accuracy };
        process.stdout.write(options.json ? `${JSON.stringify(figures)}\n` : `${result.characters} characters: ${result.bpc.toFixed(4)} bits per character, next-character accuracy ${(100 * result.accuracy).toFixed(2)} %\n`);
      }
    });
}
