import type { Command } from 'commander';
import { METRICS } from '../analysis/metrics.js';
import type { MetricValue } from '../analysis/metrics.js';
import { loadLayout } from '../patterns/files.js';
import type { BlockSize } from '../patterns/layout.js';
import { formatSummary } from './describe.js';
import { addMetricOptions, checkMetricOptions, DEFAULT_METRICS_OPTION, measureFromOptions } from './measure.js';
import { blockSizeOption } from './options.js';
import { formatValue } from './table.js';

/** Adds `inspect <file>`: the layout's summary and connectivity metrics, as text or one JSON object. */
export function addInspectCommand(program: Command): void {
  const command = program
    .command('inspect')
    .description("print a layout file's summary (shape, blocks, degrees, symmetry, provenance) and connectivity metrics")
    .argument('<file>', 'layout file (.json or .npy)')
    .option('--json', 'print one JSON object instead of text', false)
    .addOption(blockSizeOption('block size for a .npy file (JSON files carry their own)', false));
  addMetricOptions(command, `${DEFAULT_METRICS_OPTION} (square layouts; none for rectangular ones)`);
  command.action(async (file: string, options: Record<string, unknown>, self: Command) => {
    // Options first: a bad --workers or --samples fails before the file is even read.
    const explicitMetrics = self.getOptionValueSource('metrics') !== 'default';
    if (explicitMetrics) checkMetricOptions(options);
    else checkMetricOptions({ ...options, metrics: 'none' });
    const layout = loadLayout(file, options.blockSize ? { blockSize: Number(options.blockSize) as BlockSize } : {});
    if (!explicitMetrics) options.metrics = layout.isSquare ? DEFAULT_METRICS_OPTION : 'none';
    const [row] = await measureFromOptions([{ name: file, layout }], options, explicitMetrics);
    const summary = row.summary; // computed once: its degree arrays are as long as the layout's sides
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ file, ...summary, metrics: row.metrics }, jsonReplacer)}\n`);
      return;
    }
    process.stdout.write(formatSummary(summary, file) + formatMetrics(row.metrics));
  });
}

/** JSON for results that may hold NaN/Infinity (written as null) and typed arrays (as arrays). */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>);
  return value;
}

function formatMetrics(metrics: Record<string, MetricValue>): string {
  const names = Object.keys(metrics);
  if (names.length === 0) return '';
  const label = (name: string) => METRICS.find((m) => m.name === name)?.label ?? name;
  const width = Math.max(...names.map((n) => label(n).length));
  const lines = names.map((name) => {
    const { value, note } = metrics[name];
    return `    ${label(name).padEnd(width)}  ${formatValue(value)}${note ? `  (${note})` : ''}`;
  });
  return `  metrics\n${lines.join('\n')}\n`;
}
