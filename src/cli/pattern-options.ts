import { Command, Option } from 'commander';
import type { BuildPatternOptions, ParamValue, PatternDefinition } from '../patterns/registry.js';
import type { BlockSize } from '../patterns/layout.js';
import { blockSizeOption, camelCase, parseIntegerOption, parseNumberOption, seedOption } from './options.js';
import { UsageError } from '../usage-error.js';

/** Adds a pattern's own parameters as options (`--k <int>`, `--no-causal`, ...) with their defaults. */
export function addPatternParamOptions(command: Command, definition: PatternDefinition): void {
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
}

/** Adds the shape options every pattern takes: --blocks | --in-blocks/--out-blocks, --block-size, --seed, --no-diagonal. */
export function addShapeOptions(command: Command, random: boolean): void {
  command
    .addOption(new Option('--blocks <int>', 'blocks per side of a square layout').argParser(parseIntegerOption))
    .addOption(new Option('--in-blocks <int>', 'input blocks (rows), with --out-blocks for a rectangular layout').argParser(parseIntegerOption))
    .addOption(new Option('--out-blocks <int>', 'output blocks (columns)').argParser(parseIntegerOption))
    .addOption(blockSizeOption());
  if (random) command.addOption(seedOption('random seed (integer or string)'));
  command.option('--no-diagonal', 'leave out the diagonal blocks (present by default)');
}

/** The build options from parsed CLI options (shape checked: --blocks, or --in-blocks with --out-blocks). */
export function buildOptionsFrom(definition: PatternDefinition | undefined, options: Record<string, unknown>): BuildPatternOptions {
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
  return {
    blocks: options.blocks as number | undefined,
    inBlocks: options.inBlocks as number | undefined,
    outBlocks: options.outBlocks as number | undefined,
    blockSize: Number(options.blockSize) as BlockSize,
    diagonal: options.diagonal as boolean,
    seed: options.seed as number | string | undefined,
    params,
  };
}
