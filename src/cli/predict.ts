import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { writeFileAtomic } from '../atomic-write.js';
import { FileError } from '../errors.js';
import type { BackendChoice } from '../kernels/get-backend.js';
import { predictRun } from '../runs/inference.js';
import type { TrainData } from '../runs/training-settings.js';
import { backendOption, parseIntegerOption } from './options.js';
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

/** A language model's predictions as CSV: position, the next character and the predicted one (each JSON-quoted). */
function textPredictionsCsv(tokens: ArrayLike<number>, predictions: Int32Array, codePoints: readonly number[]): string {
  const char = (i: number) => JSON.stringify(String.fromCodePoint(codePoints[i]));
  const lines = ['position,next,predicted'];
  for (let p = 0; p < predictions.length; p++) lines.push(`${p},${char(tokens[p + 1])},${char(predictions[p])}`);
  return `${lines.join('\n')}\n`;
}

/** Adds `predict`: runs a trained run's model on data (accuracy or bits per character, and predictions). */
export function addPredictCommand(program: Command): void {
  program
    .command('predict')
    .description(
      'run the model of a trained run (train, prune or import) for inference: loads its last checkpoint (no optimiser state, no gradients), runs it on the --split of --data (default: the run\'s own data, test split) ' +
        'and prints its accuracy (a classifier) or bits per character (a language model); --output writes every prediction as CSV: a classifier\'s index,label,predicted,label_name,predicted_name, a language model\'s position,next,predicted (the character after each position and the one the model found most likely)',
    )
    .argument('<run>', 'the run directory, or its checkpoint directory')
    .addOption(new Option('--data <name>', 'data set: fashion-mnist, brown or text:<file> (default: the run\'s)').argParser(parseData))
    .addOption(new Option('--split <name>', 'which split').choices(['test', 'train']).default('test'))
    .addOption(new Option('--limit <int>', 'only the first this many examples (a classifier)').argParser(parseIntegerOption))
    .addOption(new Option('--batch <int>', 'examples per forward pass').argParser(parseIntegerOption).default(1000))
    .addOption(new Option('--output <file.csv>', 'write every prediction to this CSV file'))
    .option('--force', 'replace an existing --output file', false)
    .option('--json', 'print the figures as JSON', false)
    .addOption(backendOption())
    .action(async (run: string, options: PredictCliOptions) => {
      if (options.output !== undefined && existsSync(options.output) && !options.force) throw new FileError(options.output, 'exists: give --force to replace it');
      const result = await predictRun(run, {
        textPredictions: options.output !== undefined,
        split: options.split, batch: options.batch, backend: options.backend, log: (m) => process.stderr.write(`${m}\n`),
        ...(options.data !== undefined ? { data: options.data } : {}), ...(options.limit !== undefined ? { limit: options.limit } : {}),
      });
      if (result.kind === 'classification') {
        if (options.output !== undefined) writeFileAtomic(options.output, predictionsCsv(result.predictions, result.labels, result.classNames));
        const figures = { examples: result.examples, accuracy: result.accuracy, loss: result.loss };
        process.stdout.write(options.json ? `${JSON.stringify(figures)}\n` : `${result.examples} examples: accuracy ${(100 * result.accuracy).toFixed(2)} %, mean loss ${result.loss.toFixed(4)}\n`);
      } else {
        if (options.output !== undefined) writeFileAtomic(options.output, textPredictionsCsv(result.tokens!, result.predictions!, result.codePoints!));
        const figures = { characters: result.characters, bpc: result.bpc, accuracy: result.accuracy };
        process.stdout.write(options.json ? `${JSON.stringify(figures)}\n` : `${result.characters} characters: ${result.bpc.toFixed(4)} bits per character, next-character accuracy ${(100 * result.accuracy).toFixed(2)} %\n`);
      }
    });
}
