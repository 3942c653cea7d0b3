import { Command, Option } from 'commander';
import { sweepPattern, sweepValues, type SweepResult } from '../analysis/sweep.js';
import { sweepPlot } from '../render/analysis-plots.js';
import { savePlot } from '../render/vega-plot.js';
import { PATTERNS, type PatternDefinition } from '../patterns/registry.js';
import { parseIntegerOption, parseNumberOption } from './options.js';
import { addPatternParamOptions, addShapeOptions, buildOptionsFrom } from './pattern-options.js';
import { announceSeconds, formatEstimate, progressBar } from '../progress.js';
import { formatTable, formatValue } from './table.js';
import { UsageError } from '../usage-error.js';
import { jsonReplacer } from './inspect.js';

/** Adds `sweep <pattern>`: path length and clustering over a range of one parameter, over seeds. */
export function addSweepCommand(program: Command): void {
  const sweep = program
    .command('sweep')
    .description("vary one pattern parameter; mean and sd over seeds of average path length and clustering, normalised by the first point (Watts & Strogatz 1998, Fig. 2)")
    .addHelpText('after', '\nExample (Watts & Strogatz Fig. 2):\n  blocksparse sweep watts-strogatz --blocks 1000 --k 10 --param p --from 1e-4 --to 1 --steps 14 --log --seeds 20 --png ws.png');
  for (const definition of PATTERNS) {
    if (!definition.params.some((p) => p.kind !== 'boolean')) continue;
    const command = sweep
      .command(definition.name)
      .aliases(definition.aliases)
      .description(definition.summary);
    addPatternParamOptions(command, definition);
    addShapeOptions(command, definition.random);
    command
      .requiredOption('--param <name>', `parameter to vary: ${definition.params.filter((p) => p.kind !== 'boolean').map((p) => p.name).join(', ')}`)
      .option('--values <list>', 'comma-separated values')
      .addOption(new Option('--from <number>', 'first value').argParser(parseNumberOption))
      .addOption(new Option('--to <number>', 'last value').argParser(parseNumberOption))
      .addOption(new Option('--steps <int>', 'number of values from --from to --to').argParser(parseIntegerOption))
      .option('--log', 'space the values geometrically', false)
      .addOption(new Option('--seeds <int>', 'seeds per value').argParser(parseIntegerOption).default(10))
      .addOption(new Option('--disconnected <mode>', 'a disconnected layout: fail, or average path length over reachable pairs').choices(['error', 'reachable']).default('error'))
      .option('--json', 'print JSON', false)
      .option('--png <file>', 'write the plot as PNG')
      .option('--svg <file>', 'write the plot as SVG')
      .action((options: Record<string, unknown>) => runSweep(definition, options));
  }
}

async function runSweep(definition: PatternDefinition, options: Record<string, unknown>): Promise<void> {
  const values = valuesFrom(options);
  const base = buildOptionsFrom(definition, options);
  const bar = progressBar(`sweep ${definition.name} ${String(options.param)}`);
  let result: SweepResult;
  try {
    result = await sweepPattern({
      pattern: definition.name,
      param: String(options.param),
      values,
      seeds: options.seeds as number,
      base,
      disconnected: options.disconnected as 'error' | 'reachable',
      onProgress: (done, total) => bar.update(done, total),
      onEstimate: (estimate) => {
        if (estimate.seconds >= announceSeconds()) process.stderr.write(`${formatEstimate(`sweep ${definition.name} ${String(options.param)}`, estimate)}\n`);
      },
    });
  } finally {
    bar.stop();
  }
  if (options.json) process.stdout.write(`${JSON.stringify(result, jsonReplacer, 2)}\n`);
  else process.stdout.write(sweepTable(result));
  for (const key of ['png', 'svg'] as const) if (options[key]) await savePlot(options[key] as string, sweepPlot(result));
}

function valuesFrom(options: Record<string, unknown>): number[] {
  const range = options.from !== undefined || options.to !== undefined || options.steps !== undefined;
  if (options.values !== undefined && range) throw new UsageError('--values cannot be combined with --from/--to/--steps');
  if (options.values !== undefined) {
    return String(options.values).split(',').map((text) => {
      const value = Number(text.trim());
      if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`--values: ${JSON.stringify(text)} is not a number`);
      return value;
    });
  }
  if (options.from === undefined || options.to === undefined || options.steps === undefined) {
    throw new UsageError('give --values, or --from, --to and --steps');
  }
  return sweepValues(options.from as number, options.to as number, options.steps as number, Boolean(options.log));
}

function sweepTable(result: SweepResult): string {
  const p = result.param;
  const header = [p, 'path length', 'sd', 'clustering', 'sd', `L/L(${formatValue(result.points[0].value)})`, `C/C(${formatValue(result.points[0].value)})`];
  const rows = result.points.map((point) => [
    formatValue(point.value),
    formatValue(point.averagePathLength.mean),
    formatValue(point.averagePathLength.sd),
    formatValue(point.averageClustering.mean),
    formatValue(point.averageClustering.sd),
    formatValue(point.normalized.averagePathLength),
    formatValue(point.normalized.averageClustering),
  ]);
  const unreachable = result.points.reduce((sum, point) => sum + point.unreachablePairs, 0);
  return `${result.pattern}, ${result.seeds.length} seeds per value\n${formatTable(header, rows)}${unreachable ? `path lengths averaged over reachable pairs; ${unreachable} unreachable pairs in all\n` : ''}`;
}
