import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { Command, Option } from 'commander';
import type { MetricRow } from '../analysis/compare.js';
import { METRICS } from '../analysis/metrics.js';
import { comparePlot } from '../render/analysis-plots.js';
import { formatPercent } from '../render/number-format.js';
import { savePlot } from '../render/vega-plot.js';
import { mixingDepth } from '../analysis/mixing.js';
import { loadLayout } from '../patterns/files.js';
import type { BlockLayout, BlockSize } from '../patterns/layout.js';
import { buildPatternSpec } from '../patterns/spec.js';
import { jsonReplacer } from './inspect.js';
import { addMetricOptions, checkMetricOptions, DEFAULT_METRICS_OPTION, measureFromOptions } from './measure.js';
import { blockSizeOption, parseIntegerOption } from './options.js';
import { formatTable, formatValue } from './table.js';

/** Adds `compare <layouts...>`: one row per layout (file or pattern spec), one column per metric, and a plot. */
export function addCompareCommand(program: Command): void {
  const command = program
    .command('compare')
    .description('compare layouts side by side: files (.json/.npy) or pattern specs like "watts-strogatz:k=8,p=0.1"')
    .argument('<layouts...>', 'layout files, or specs <pattern>[:key=value,...] (keys: blocks, in-blocks, out-blocks, block-size, seed, diagonal and the pattern\'s options)')
    .addOption(new Option('--blocks <int>', 'blocks per side for specs that give none').argParser(parseIntegerOption).default(256))
    .addOption(blockSizeOption('block size for specs that give none, and for .npy files'))
    .option('--json', 'print JSON: one object per layout', false)
    .option('--markdown', 'print a markdown table', false)
    .option('--png <file>', 'write a plot (bars per metric and mixing curves) as PNG')
    .option('--svg <file>', 'write the plot as SVG');
  addMetricOptions(command, DEFAULT_METRICS_OPTION);
  command.action(async (inputs: string[], options: Record<string, unknown>, self: Command) => {
    checkMetricOptions(options); // before any layout is read or built
    const blockSize = Number(options.blockSize) as BlockSize;
    const layouts = inputs.map((text) => ({ name: displayName(text), layout: resolveLayout(text, options.blocks as number, blockSize, options.seed as number | string) }));
    const rows = await measureFromOptions(layouts, options, self.getOptionValueSource('metrics') !== 'default');
    if (options.json) process.stdout.write(`${JSON.stringify(rows.map(rowJSON), jsonReplacer, 2)}\n`);
    else process.stdout.write(compareTable(rows, Boolean(options.markdown)));
    for (const key of ['png', 'svg'] as const) {
      if (!options[key]) continue;
      const plotRows = rows.map((row, i) => ({
        name: row.name,
        metrics: Object.fromEntries(Object.entries(row.metrics).map(([k, v]) => [k, v.value])),
        mixing: layouts[i].layout.isSquare ? mixingDepth(layouts[i].layout, { maxSteps: 32 }).fractions : undefined,
      }));
      const labels = Object.fromEntries(METRICS.map((m) => [m.name, m.label]));
      await savePlot(options[key] as string, comparePlot(plotRows, labels));
    }
  });
}

/** A layout file if it exists (or has a layout extension), else a pattern spec built with the defaults. */
function resolveLayout(text: string, blocks: number, blockSize: BlockSize, seed: number | string): BlockLayout {
  if (existsSync(text) || /\.(json|npy)$/i.test(text)) return loadLayout(text, /\.npy$/i.test(text) ? { blockSize } : {});
  return buildPatternSpec(text, { blocks, blockSize, seed });
}

function displayName(text: string): string {
  return existsSync(text) ? basename(text) : text;
}

function rowJSON(row: MetricRow): unknown {
  return { name: row.name, ...row.summary, metrics: row.metrics };
}

function compareTable(rows: MetricRow[], markdown: boolean): string {
  const metricNames = rows.length ? Object.keys(rows[0].metrics) : [];
  const label = (name: string) => METRICS.find((m) => m.name === name)?.label ?? name;
  const header = ['layout', 'blocks', 'nnz', 'density', ...metricNames.map(label)];
  const notes: string[] = [];
  const body = rows.map((row) => [
    row.name,
    `${row.summary.inBlocks}x${row.summary.outBlocks}`,
    String(row.summary.nnz),
    formatPercent(row.summary.density),
    ...metricNames.map((name) => {
      const { value, note } = row.metrics[name];
      if (!note) return formatValue(value);
      notes.push(`[${notes.length + 1}] ${row.name}, ${label(name)}: ${note}`);
      return `${formatValue(value)} [${notes.length}]`;
    }),
  ]);
  return formatTable(header, body, markdown) + (notes.length ? `\n${notes.join('\n')}\n` : '');
}
