import { BlocksparseError } from '../errors.js';
import type { Seed } from '../random.js';
import type { BlockLayout } from '../patterns/layout.js';
import { summarize, type LayoutSummary } from '../patterns/summary.js';
import type { MetricDefinition, MetricValue } from './metrics.js';
import type { DisconnectedMode } from './paths.js';

/** One layout's row of a comparison: its summary and each metric's value. */
export interface MetricRow {
  name: string;
  summary: LayoutSummary;
  metrics: Record<string, MetricValue>;
}

/** Options of `measureLayouts`. */
export interface MeasureOptions {
  metrics: readonly MetricDefinition[];
  seed?: Seed;
  disconnected?: DisconnectedMode;
  /** Sources for the sampled path length (default 256). */
  samples?: number;
  workers?: number;
  /** Called when a metric starts on a layout, and with progress inside long ones. */
  onMetric?: (layoutName: string, metric: MetricDefinition) => ((done: number, total: number) => void) | void;
}

/**
 * Computes `metrics` for each named layout. A metric that is undefined for a layout (a
 * rectangular layout's path length, transitivity of a directed one, diameter of a disconnected
 * one) gets value null and the reason as its note, instead of stopping the whole comparison.
 */
export async function measureLayouts(layouts: { name: string; layout: BlockLayout }[], options: MeasureOptions): Promise<MetricRow[]> {
  const rows: MetricRow[] = [];
  for (const { name, layout } of layouts) {
    const metrics: Record<string, MetricValue> = {};
    for (const metric of options.metrics) {
      const onProgress = options.onMetric?.(name, metric) ?? undefined;
      try {
        metrics[metric.name] = await metric.compute({
          input: layout,
          seed: options.seed ?? 0,
          disconnected: options.disconnected ?? 'reachable',
          samples: options.samples ?? 256,
          workers: options.workers,
          onProgress,
        });
      } catch (error) {
        if (!(error instanceof BlocksparseError)) throw error;
        metrics[metric.name] = { value: null, note: error.message };
      }
    }
    rows.push({ name, summary: summarize(layout), metrics });
  }
  return rows;
}
