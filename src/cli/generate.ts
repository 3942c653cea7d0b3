import { Command } from 'commander';
import { PATTERNS, buildPattern, type PatternDefinition } from '../patterns/registry.js';
import { saveLayout } from '../patterns/files.js';
import { saveLayoutPicture } from '../render/picture.js';
import type { BlockLayout } from '../patterns/layout.js';
import { printable } from '../printable.js';
import { describeLayoutLine } from './describe.js';
import { addPatternParamOptions, addShapeOptions, buildOptionsFrom } from './pattern-options.js';

/** Pattern names of OpenAI's LSTM masks, accepted as `generate <preset>`. */
export const PRESET_PATTERN = /^(dense|ws_\d+_\d+(\.\d+)?|ba_\d+|bae_\d+_\d+|br_\d+)$/;

/** Adds `generate <pattern>` subcommands, one per registered pattern, plus `generate preset <name>`. */
export function addGenerateCommand(program: Command): void {
  const generate = program
    .command('generate')
    .description('generate a layout from a pattern and save it (JSON or .npy), optionally with pictures')
    .addHelpText('after', '\nOpenAI preset names (dense, ws_<m>_<pct>, ba_<m>, bae_<m>_<e>, br_<m>) work as patterns too:\n  blocksparse generate ws_4_10 --blocks 64 -o ws.json\nRun `blocksparse generate <pattern> --help` for a pattern\'s options, or `blocksparse patterns` for all.');
  for (const definition of PATTERNS) {
    const command = generate
      .command(definition.name)
      .aliases(definition.aliases)
      .description(`${definition.summary}${definition.reference ? ` (${definition.reference})` : ''}`);
    addPatternParamOptions(command, definition);
    addShapeOptions(command, definition.random);
    addOutputOptions(command);
    command.action((options: Record<string, unknown>) => runGenerate(definition.name, definition, options));
  }
  const preset = generate
    .command('preset')
    .argument('<name>', 'dense, ws_<m>_<pct>, ba_<m>, bae_<m>_<e> or br_<m>')
    .description("one of OpenAI blocksparse's LSTM mask presets (see docs/patterns.md)");
  addShapeOptions(preset, true);
  addOutputOptions(preset);
  preset.action((name: string, options: Record<string, unknown>) => runGenerate(name, undefined, options));
}

function addOutputOptions(command: Command): void {
  command
    .requiredOption('-o, --output <file>', 'layout file to write: .json or .npy')
    .option('--npy <file>', 'also write the 0/1 block matrix as .npy')
    .option('--png <file>', 'also write a PNG picture')
    .option('--svg <file>', 'also write an SVG picture');
}

function runGenerate(name: string, definition: PatternDefinition | undefined, options: Record<string, unknown>): void {
  const layout = buildPattern(name, buildOptionsFrom(definition, options));
  writeOutputs(layout, options);
}

function writeOutputs(layout: BlockLayout, options: Record<string, unknown>): void {
  const written: string[] = [];
  saveLayout(options.output as string, layout);
  written.push(options.output as string);
  if (options.npy) {
    saveLayout(options.npy as string, layout);
    written.push(options.npy as string);
  }
  for (const key of ['png', 'svg'] as const) {
    if (options[key]) {
      saveLayoutPicture(options[key] as string, layout);
      written.push(options[key] as string);
    }
  }
  process.stdout.write(`${describeLayoutLine(layout)}\nwrote ${written.map((file) => printable(file)).join(', ')}\n`);
}
