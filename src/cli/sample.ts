import { Command, Option } from 'commander';
import type { BackendChoice } from '../kernels/get-backend.js';
import type { Seed } from '../random.js';
import { sampleRun } from '../runs/sampling.js';
import { MAX_SAMPLE_LENGTH, MAX_TEMPERATURE } from '../train/sample.js';
import { backendOption, parseIntegerOption, parseNumberOption, seedOption } from './options.js';

interface SampleCliOptions {
  length: number;
  temperature: number;
  seed: Seed;
  prime?: string;
  backend: BackendChoice;
}

/** Adds `sample`: generates text from a trained language model's run. */
export function addSampleCommand(program: Command): void {
  program
    .command('sample')
    .description(
      'generate text from the language model of a run of `train --model lstm`: loads the run\'s last checkpoint (the model with its layouts as trained, and the character vocabulary stored with it), ' +
        'feeds it --prime, then draws --length characters one at a time from softmax(logits / --temperature) with a generator seeded by --seed (the same run, options and backend give the same text). ' +
        'Prints the prime (when given) followed by the generated text',
    )
    .argument('<run>', 'the run directory (the --out of train), or its checkpoint directory')
    .addOption(new Option('--length <int>', `characters to generate, 1 to ${MAX_SAMPLE_LENGTH}`).argParser(parseIntegerOption).default(500))
    .addOption(new Option('--temperature <number>', `divides the logits before the softmax, in (0, ${MAX_TEMPERATURE}]: 1 samples the model's distribution, lower is more conservative`).argParser(parseNumberOption).default(0.8))
    .addOption(seedOption('seed of the sampling generator'))
    .addOption(new Option('--prime <text>', 'text fed to the model before generating (default: a newline, so the model starts a paragraph)'))
    .addOption(backendOption())
    .action(async (run: string, options: SampleCliOptions) => {
      const { length, temperature, seed, prime, backend } = options;
      const result = await sampleRun(run, { length, temperature, seed, backend, log: (m) => process.stderr.write(`${m}\n`), ...(prime !== undefined ? { prime } : {}) });
      process.stdout.write(`${prime ?? ''}${result.text}\n`);
    });
}
