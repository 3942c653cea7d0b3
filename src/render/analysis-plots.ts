import type { SweepResult } from '../analysis/sweep.js';
import type { PlotSpec } from './vega-plot.js';

// Plot specifications of analysis results (a sweep, a comparison), rendered by vega-plot.ts.

/** Whether values span enough decades (all positive, max/min >= 100) to want a log axis. */
export function wantsLogAxis(values: number[]): boolean {
  const min = Math.min(...values);
  return min > 0 && Math.max(...values) / min >= 100;
}

/**
 * Watts & Strogatz's Fig. 2 for a sweep: L(v)/L(first) and C(v)/C(first) against the parameter,
 * with ±1 sd bars over seeds; a log x-axis when the values span decades.
 */
export function sweepPlot(result: SweepResult): PlotSpec {
  const param = result.param;
  const rows = result.points.flatMap((point) => {
    const first = result.points[0];
    return [
      { value: point.value, series: `L(${param}) / L(${fmt(first.value)})`, y: point.normalized.averagePathLength,
        lo: (point.averagePathLength.mean - point.averagePathLength.sd) / first.averagePathLength.mean,
        hi: (point.averagePathLength.mean + point.averagePathLength.sd) / first.averagePathLength.mean },
      { value: point.value, series: `C(${param}) / C(${fmt(first.value)})`, y: point.normalized.averageClustering,
        lo: (point.averageClustering.mean - point.averageClustering.sd) / first.averageClustering.mean,
        hi: (point.averageClustering.mean + point.averageClustering.sd) / first.averageClustering.mean },
    ];
  });
  const values = result.points.map((p) => p.value);
  const log = wantsLogAxis(values);
  const x = { field: 'value', type: 'quantitative', title: param, scale: log ? { type: 'log' } : { zero: false }, axis: log ? { format: '~g', values: powersOfTen(values) } : {} } as const;
  const color = { field: 'series', type: 'nominal', title: null, legend: { orient: 'top-right' } } as const;
  const shape = { field: 'series', type: 'nominal', title: null } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${result.pattern}: path length and clustering vs ${param} (mean over ${result.seeds.length} seeds)`,
    width: 520,
    height: 340,
    data: { values: rows },
    layer: [
      { mark: { type: 'rule' }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } },
      { mark: { type: 'line', strokeWidth: 1.5 }, encoding: { x, y: { field: 'y', type: 'quantitative', title: 'normalised value', scale: { domainMin: 0 } }, color } },
      { mark: { type: 'point', filled: true, size: 40 }, encoding: { x, y: { field: 'y', type: 'quantitative' }, color, shape } },
    ],
  } as PlotSpec;
}

/** One row of a comparison plot: a layout's name, its scalar metrics and (optionally) its mixing curve. */
export interface ComparePlotRow {
  name: string;
  metrics: Record<string, number | null>;
  mixing?: number[];
}

/**
 * A comparison: one small bar chart per metric (layouts on the y-axis), and the mixing curves
 * (fraction of connected input/output pairs against stacked layers) when present.
 */
export function comparePlot(rows: ComparePlotRow[], metricLabels: Record<string, string> = {}): PlotSpec {
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].filter((m) => rows.some((r) => r.metrics[m] !== null && Number.isFinite(r.metrics[m])));
  const bars = metrics.map((metric) => ({
    title: metricLabels[metric] ?? metric,
    width: 160,
    height: { step: 18 },
    data: { values: rows.filter((r) => r.metrics[metric] !== null && Number.isFinite(r.metrics[metric])).map((r) => ({ name: r.name, value: r.metrics[metric] })) },
    layer: [
      { mark: { type: 'bar', color: '#1b365d' }, encoding: { y: { field: 'name', type: 'nominal', title: null, sort: null, axis: { labelLimit: 240 } }, x: { field: 'value', type: 'quantitative', title: null } } },
      { mark: { type: 'text', align: 'left', dx: 3, fontSize: 10 }, encoding: { y: { field: 'name', type: 'nominal', sort: null }, x: { field: 'value', type: 'quantitative' }, text: { field: 'value', type: 'quantitative', format: '.3~g' } } },
    ],
  }));
  const panels: unknown[] = [{ concat: bars, columns: 3 }];
  const curves = rows.filter((r) => r.mixing && r.mixing.length > 0);
  if (curves.length > 0) {
    panels.push({
      title: 'mixing: connected (input, output) pairs after L stacked layers',
      width: 520,
      height: 240,
      data: { values: curves.flatMap((r) => r.mixing!.map((fraction, i) => ({ name: r.name, layers: i + 1, fraction }))) },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'layers', type: 'quantitative', title: 'layers L', axis: { tickMinStep: 1 } },
        y: { field: 'fraction', type: 'quantitative', title: 'fraction of pairs', scale: { domain: [0, 1] } },
        color: { field: 'name', type: 'nominal', title: null, sort: null, legend: { labelLimit: 320 } },
      },
    });
  }
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', vconcat: panels, spacing: 24 } as unknown as PlotSpec;
}

/** 10^k for every integer k with 10^k inside the values' range (log-axis ticks). */
function powersOfTen(values: number[]): number[] {
  const lo = Math.ceil(Math.log10(Math.min(...values)) - 1e-9);
  const hi = Math.floor(Math.log10(Math.max(...values)) + 1e-9);
  return Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
}

function fmt(value: number): string {
  return Number(value.toPrecision(3)).toString();
}

/** One point of a line plot: its series (one line each), x and y. */
export interface LinePoint {
  series: string;
  x: number;
  y: number;
}

/** Lines with points, one per series (in order of first appearance), e.g. validation bits per character after each epoch. */
export function linePlot(points: readonly LinePoint[], axes: { title?: string; x: string; y: string }): PlotSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(axes.title ? { title: axes.title } : {}),
    width: 520,
    height: 280,
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: axes.x, axis: { tickMinStep: 1 } },
      y: { field: 'y', type: 'quantitative', title: axes.y, scale: { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, sort: null, legend: { labelLimit: 320 } },
    },
  } as PlotSpec;
}

/** One point of a scatter plot: its series (one colour each), x, y and a label written beside it. */
export interface ScatterPoint extends LinePoint {
  label: string;
}

/** Labelled points, coloured by series, e.g. accuracy against speed-up, one point per model (a Pareto plot). */
export function scatterPlot(points: readonly ScatterPoint[], axes: { title?: string; x: string; y: string }): PlotSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(axes.title ? { title: axes.title } : {}),
    width: 520,
    height: 300,
    data: { values: points.map((p) => ({ ...p })) },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: axes.x, scale: { zero: false } },
      y: { field: 'y', type: 'quantitative', title: axes.y, scale: { zero: false } },
    },
    layer: [
      { mark: { type: 'point', filled: true, size: 70 }, encoding: { color: { field: 'series', type: 'nominal', title: null, sort: null } } },
      { mark: { type: 'text', align: 'left', dx: 6, dy: -6, fontSize: 10 }, encoding: { text: { field: 'label', type: 'nominal' } } },
    ],
  } as PlotSpec;
}
