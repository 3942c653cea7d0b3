import { Command, Option } from 'commander';
import { PATTERNS, buildPattern, type PatternDefinition, type ParamValue } from '../patterns/registry.js';
import { saveLayout } from '../patterns/files.js';
import { saveLayoutPicture } from '../patterns/picture.js';
import type { BlockLayout, BlockSize } from '../patterns/layout.js';
import { camelCase, parseIntegerOption, parseNumberOption, parseSeedOption } from './options.js';
import { describeLayoutLine } from './describe.js';
import { UsageError } from './usage-error.js';

/** Pattern names of OpenAI's LSTM masks, accepted as `generate <preset>`. */
export const PRESET_PATTERN = /^(dense|ws_\d+_\d+(\.\d+)?|ba_\d+|bae_\d+_\d+|br_\d+)$/;

/** Adds `generate <pattern>` subcommands, one per registered pattern, plus `generate preset <name>`. */
export function addGenerateCommand(program: Command): void {
  const generate = program
    .command('generate')
    .description('generate a layout from a pattern and save it (JSON or .npy), optionally with pictures')
    .addHelpText('after', '\nOpenAI preset names (dense, ws_<m>_<pct>, ba_<m>, bae_<m>_<e>, br_<m>) work as patterns too:\n  blocksparse generate ws_4_10 --blocks 64 -o ws.json\nRun `blocksparse generate <pattern> --help` for a pattern\'s options, or `blocksparse patterns` for all.');
  for (const definition of PATTERNS) addPatternCommand(generate, definition);
  const preset = generate
    .command('preset')
    .argument('<name>', 'dense, ws_<m>_<pct>, ba_<m>, bae_<m>_<e> or br_<m>')
    .description("one of OpenAI blocksparse's LSTM mask presets (see README)");
  addCommonOptions(preset, true);
  preset.action((name: string, options: Record<string, unknown>) => runGenerate(name, undefined, options));
}

function addPatternCommand(parent: Command, definition: PatternDefinition): void {
  const command = parent
    .command(definition.name)
    .aliases(definition.aliases)
    .description(`${definition.summary}${definition.reference ? ` (${definition.reference})` : ''}`);
  for (const param of definition.params) {
    if (param.kind === 'boolean') {
      if (param.default === true) command.addOption(new Option(`--no-${param.name}`, `not: ${param.help}`));
      else command.addOption(new Option(`--${param.name}`, `${param.help} (default: false)`));
      continue;
    }
    const placeholder = param.kind === 'integer' ? '<int>' : '<number>';
    const option = new Option(`--${param.name} ${placeholder}`, param.help).argParser(param.kind === 'integer' ? parseIntegerOption : parseNumberOption);
    if (param.default !== undefined) option.default(param.default);
    command.addOption(option);
  }
  addCommonOptions(command, definition.random);
  command.action((options: Record<string, unknown>) => runGenerate(definition.name, definition, options));
}

function addCommonOptions(command: Command, random: boolean): void {
  command
    .addOption(new Option('--blocks <int>', 'blocks per side of a square layout').argParser(parseIntegerOption))
    .addOption(new Option('--in-blocks <int>', 'input blocks (rows), with --out-blocks for a rectangular layout').argParser(parseIntegerOption))
    .addOption(new Option('--out-blocks <int>', 'output blocks (columns)').argParser(parseIntegerOption))
    .addOption(new Option('--block-size <size>', 'block size').choices(['8', '16', '32']).default('32'));
  if (random) command.addOption(new Option('--seed <seed>', 'random seed (integer or string)').argParser(parseSeedOption).default(0));
  command
    .option('--no-diagonal', 'leave out the diagonal blocks (present by default)')
    .requiredOption('-o, --output <file>', 'layout file to write: .json or .npy')
    .option('--npy <file>', 'also write the 0/1 block matrix as .npy')
    .option('--png <file>', 'also write a PNG picture')
    .option('--svg <file>', 'also write an SVG picture');
}

function runGenerate(name: string, definition: PatternDefinition | undefined, options: Record<string, unknown>): void {
  const params: Record<string, ParamValue | undefined> = {};
  for (const param of definition?.params ?? []) params[param.name] = options[camelCase(param.name)] as ParamValue | undefined;
  if (options.blocks !== undefined && (options.inBlocks !== undefined || options.outBlocks !== undefined)) {
    throw new UsageError('--blocks cannot be combined with --in-blocks/--out-blocks');
  }
  if (options.blocks === undefined && options.inBlocks === undefined) {
    throw new UsageError('--blocks (or --in-blocks and --out-blocks) is required');
  }
  if ((options.inBlocks === undefined) !== (options.outBlocks === undefined)) {
    throw new UsageError('--in-blocks and --out-blocks go together');
  }
  const layout = buildPattern(name, {
    blocks: options.blocks as number | undefined,
    inBlocks: options.inBlocks as number | undefined,
    outBlocks: options.outBlocks as number | undefined,
    blockSize: Number(options.blockSize) as BlockSize,
    diagonal: options.diagonal as boolean,
    seed: options.seed as number | string | undefined,
    params,
  });
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
  process.stdout.write(`${describeLayoutLine(layout)}\nwrote ${written.join(', ')}\n`);
}
