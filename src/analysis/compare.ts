import { checkInteger, checkOneOf } from '../check.js';
import { ResourceError, ShapeError } from '../errors.js';
import type { Seed } from '../random.js';
import type { BlockLayout } from '../patterns/layout.js';
import { summarize, type LayoutSummary } from '../patterns/summary.js';
import { DisconnectedGraphError, EmptyGraphError, UndirectedOnlyError } from './errors.js';
import type { TimeEstimate } from '../estimate.js';
import type { MetricDefinition, MetricValue } from './metrics.js';
import type { DisconnectedMode } from './paths.js';
import { resolveWorkers } from './worker-pool.js';

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
  /** Sources for the sampled path length, an integer >= 2 (default 256; fewer for smaller layouts). */
  samples?: number;
  /** Worker threads for path searches, an integer in [1, 256] (default: the cores). */
  workers?: number;
  /**
   * A metric refused for memory (ResourceError): `'raise'` (default) stops the comparison with it;
   * `'note'` records value null and "not computed: <the reason>" and goes on (for metric sets the
   * user did not choose one by one).
   */
  resourceErrors?: 'raise' | 'note';
  /** Called when a metric starts on a layout, and with progress inside long ones. */
  onMetric?: (layoutName: string, metric: MetricDefinition) => ((done: number, total: number) => void) | void;
  /** Called with a metric's time, measured on the first slice of its work (metrics with `measured`). */
  onEstimate?: (layoutName: string, metric: MetricDefinition, estimate: TimeEstimate) => void;
}

/**
 * Whether `error` is a metric's legitimate outcome for this input (undefined there), to be shown as
 * its note: a disconnected or empty graph, a directed graph for an undirected-only metric, a
 * rectangular layout for a graph metric. Option errors (ParameterError) never are.
 */
export function isMetricOutcome(error: unknown): boolean {
  return error instanceof DisconnectedGraphError || error instanceof EmptyGraphError || error instanceof UndirectedOnlyError || error instanceof ShapeError;
}

/**
 * Computes `metrics` for each named layout. A metric that is undefined for a layout (a
 * rectangular layout's path length, transitivity of a directed one, diameter of a disconnected
 * one) gets value null and the reason as its note, instead of stopping the whole comparison.
 * Options are checked before anything is computed (ParameterError); every other error, a bad
 * option found later included, is raised, and so is a ResourceError unless `resourceErrors: 'note'`.
 */
export async function measureLayouts(layouts: { name: string; layout: BlockLayout }[], options: MeasureOptions): Promise<MetricRow[]> {
  const context = 'measureLayouts';
  const samples = checkInteger('samples', options.samples ?? 256, 2, 2 ** 31 - 1, context);
  const disconnected = checkOneOf('disconnected', options.disconnected ?? 'reachable', ['reachable', 'error'] as const, context);
  const workers = options.workers === undefined ? undefined : resolveWorkers(options.workers, context);
  const resourceErrors = checkOneOf('resourceErrors', options.resourceErrors ?? 'raise', ['raise', 'note'] as const, context);
  // Refuse up front what would be refused later anyway, so that no metric runs for minutes first.
  if (resourceErrors === 'raise') {
    for (const { layout } of layouts) for (const metric of options.metrics) metric.checkResources?.(layout);
  }
  const rows: MetricRow[] = [];
  for (const { name, layout } of layouts) {
    const metrics: Record<string, MetricValue> = {};
    for (const metric of options.metrics) {
      const onProgress = options.onMetric?.(name, metric) ?? undefined;
      const onEstimate = options.onEstimate ? (estimate: TimeEstimate) => options.onEstimate!(name, metric, estimate) : undefined;
      try {
        metrics[metric.name] = await metric.compute({ input: layout, seed: options.seed ?? 0, disconnected, samples, workers, onProgress, onEstimate });
      } catch (error) {
        if (isMetricOutcome(error)) metrics[metric.name] = { value: null, note: (error as Error).message };
        else if (error instanceof ResourceError && resourceErrors === 'note') metrics[metric.name] = { value: null, note: `not computed: ${error.message}` };
        else throw error;
      }
    }
    rows.push({ name, summary: summarize(layout), metrics });
  }
  return rows;
}
