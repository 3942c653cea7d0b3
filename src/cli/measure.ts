import { Command, Option } from 'commander';
import { measureLayouts, type MetricRow } from '../analysis/compare.js';
import { DEFAULT_METRICS, METRICS, estimateSeconds, resolveMetrics, type MetricDefinition } from '../analysis/metrics.js';
import { checkInteger } from '../check.js';
import { printable } from '../printable.js';
import type { BlockLayout } from '../patterns/layout.js';
import { availableParallelism } from 'node:os';
import { checkThreadCount, parseIntegerOption, seedOption } from './options.js';
import { announceSeconds, formatDuration, formatEstimate, progressBar, type Progress } from '../progress.js';

/** Adds the options that choose and tune metrics (shared by inspect and compare). */
export function addMetricOptions(command: Command, defaultMetrics: string): void {
  command
    .option('--metrics <list>', `comma-separated metrics, "all" or "none"; one of: ${METRICS.map((m) => m.name).join(', ')}`, defaultMetrics)
    .addOption(new Option('--disconnected <mode>', 'path length of a disconnected layout: average over reachable pairs (reported) or fail').choices(['reachable', 'error']).default('reachable'))
    .addOption(seedOption('seed for sampled and randomised metrics'))
    .addOption(new Option('--samples <int>', 'random sources for path-length-sampled (at least 2)').argParser(parseIntegerOption).default(256))
    .addOption(new Option('--workers <int>', 'threads for path searches (default: all cores; at most the cores unless --oversubscribe)').argParser(parseIntegerOption))
    .option('--oversubscribe', 'allow --workers above the number of cores (up to 256)', false);
}

/** The default --metrics value: the cheap set. */
export const DEFAULT_METRICS_OPTION = DEFAULT_METRICS.join(',');

/** The metrics that --metrics names ("none": no metric); ParameterError naming an unknown one. */
export function metricsFromOption(text: string): MetricDefinition[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  return list.length === 1 && list[0] === 'none' ? [] : resolveMetrics(list);
}

/**
 * Checks the metric options before anything is computed: --metrics names, --samples (>= 2),
 * --workers (1 to the cores, or to 256 with --oversubscribe). Raises ParameterError; never left to
 * a metric, where it would become a note.
 */
export function checkMetricOptions(options: Record<string, unknown>): MetricDefinition[] {
  const metrics = metricsFromOption(String(options.metrics));
  checkInteger('samples', options.samples, 2, 2 ** 31 - 1);
  checkThreadCount('workers', options.workers as number | undefined, Boolean(options.oversubscribe));
  return metrics;
}

/**
 * Measures layouts with the metrics the options name, after checking every option. Says on stderr
 * how long a long metric will take (over 2 s, or BLOCKSPARSE_ANNOUNCE_SECONDS), measured on the
 * first slice of its work where the metric can (a batch of BFS sources, a mixing step), and shows
 * a progress bar on a terminal. `explicitMetrics`: the user named the metrics, so one refused for
 * memory stops the command (ResourceError); for the default set it is shown as "not computed".
 */
export async function measureFromOptions(
  layouts: { name: string; layout: BlockLayout }[],
  options: Record<string, unknown>,
  explicitMetrics = true,
): Promise<MetricRow[]> {
  const metrics = checkMetricOptions(options);
  const threads = (options.workers as number | undefined) ?? availableParallelism();
  const threshold = announceSeconds();
  const label = (name: string, metric: MetricDefinition, layout: BlockLayout) => `${metric.name} on ${printable(name)} (${layout.inBlocks} blocks)`;
  // One bar at a time: stopped when the next metric starts and at the end (a metric may finish
  // before its bound, e.g. mixing depth before its most steps).
  let bar: Progress | undefined;
  const stopBar = () => {
    bar?.stop();
    bar = undefined;
  };
  try {
    return await measureLayouts(layouts, {
      metrics,
      seed: options.seed as number | string,
      disconnected: options.disconnected as 'reachable' | 'error',
      samples: options.samples as number,
      workers: options.workers as number | undefined,
      resourceErrors: explicitMetrics ? 'raise' : 'note',
      onMetric(name, metric) {
        stopBar();
        const { layout } = layouts.find((l) => l.name === name)!;
        if (!layout.isSquare) return;
        if (!metric.measured) {
          // Metrics linear in the graph's size: a rough figure from it (no slice to time).
          const seconds = estimateSeconds(metric, layout.inBlocks, layout.nnz, threads);
          if (seconds >= threshold && seconds > 0) process.stderr.write(`${label(name, metric, layout)}: about ${formatDuration(seconds)} (rough, from the layout's size)\n`);
        }
        const current = progressBar(`${metric.name} ${name}`);
        bar = current;
        return (done, total) => current.update(done, total);
      },
      onEstimate(name, metric, estimate) {
        const { layout } = layouts.find((l) => l.name === name)!;
        if (estimate.seconds >= threshold) process.stderr.write(`${formatEstimate(label(name, metric, layout), estimate)}\n`);
      },
    });
  } finally {
    stopBar();
  }
}
