import { Command, Option } from 'commander';
import { analysisGraph } from '../analysis/adapter.js';
import { measureLayouts, type MetricRow } from '../analysis/compare.js';
import { DEFAULT_METRICS, METRICS, estimateSeconds, resolveMetrics } from '../analysis/metrics.js';
import type { BlockLayout } from '../patterns/layout.js';
import { availableParallelism } from 'node:os';
import { parseIntegerOption, parseSeedOption } from './options.js';
import { formatDuration, progressBar } from '../progress.js';

/** Adds the options that choose and tune metrics (shared by inspect and compare). */
export function addMetricOptions(command: Command, defaultMetrics: string): void {
  command
    .option('--metrics <list>', `comma-separated metrics, "all" or "none"; one of: ${METRICS.map((m) => m.name).join(', ')}`, defaultMetrics)
    .addOption(new Option('--disconnected <mode>', 'path length of a disconnected layout: average over reachable pairs (reported) or fail').choices(['reachable', 'error']).default('reachable'))
    .addOption(new Option('--seed <seed>', 'seed for sampled and randomised metrics').argParser(parseSeedOption).default(0))
    .addOption(new Option('--samples <int>', 'random sources for path-length-sampled').argParser(parseIntegerOption).default(256))
    .addOption(new Option('--workers <int>', 'threads for path searches (default: all cores)').argParser(parseIntegerOption));
}

/** The default --metrics value: the cheap set. */
export const DEFAULT_METRICS_OPTION = DEFAULT_METRICS.join(',');

/**
 * Measures layouts with the metrics the options name. Says on stderr how long expensive metrics
 * will take (over 2 s by our estimate) and shows a progress bar on a terminal.
 */
export async function measureFromOptions(layouts: { name: string; layout: BlockLayout }[], options: Record<string, unknown>): Promise<MetricRow[]> {
  const list = String(options.metrics).split(',').map((s) => s.trim()).filter(Boolean);
  const metrics = list.length === 1 && list[0] === 'none' ? [] : resolveMetrics(list);
  const threads = (options.workers as number | undefined) ?? availableParallelism();
  return measureLayouts(layouts, {
    metrics,
    seed: options.seed as number | string,
    disconnected: options.disconnected as 'reachable' | 'error',
    samples: options.samples as number,
    workers: options.workers as number | undefined,
    onMetric(name, metric) {
      const entry = layouts.find((l) => l.name === name)!;
      if (!entry.layout.isSquare) return;
      const graph = analysisGraph(entry.layout);
      const seconds = estimateSeconds(metric, graph.order, graph.targets.length, threads);
      if (seconds < 2) return;
      process.stderr.write(`${metric.name} on ${name} (${graph.order} blocks): about ${formatDuration(seconds)}\n`);
      const bar = progressBar(`${metric.name} ${name}`);
      return (done, total) => {
        bar.update(done, total);
        if (done >= total) bar.stop();
      };
    },
  });
}
