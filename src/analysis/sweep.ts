import { checkInteger, checkNumber } from '../check.js';
import { ParameterError } from '../errors.js';
import type { Seed } from '../random.js';
import { buildPattern, findPattern, type BuildPatternOptions } from '../patterns/registry.js';
import { averageShortestPathLength } from './paths.js';
import { averageClustering } from './clustering.js';
import { measuredEstimate, secondsSince, type TimeEstimate } from '../estimate.js';

/** Mean, sample standard deviation and count of one metric over seeds. */
export interface SeedStats {
  mean: number;
  sd: number;
  n: number;
}

/** One parameter value of a sweep. */
export interface SweepPoint {
  value: number;
  averagePathLength: SeedStats;
  averageClustering: SeedStats;
  /** Both means divided by their mean at the first point (Watts & Strogatz's L(p)/L(0), C(p)/C(0)). */
  normalized: { averagePathLength: number; averageClustering: number };
  /** (source, target) pairs with no path, summed over seeds (0 unless disconnected: 'reachable'). */
  unreachablePairs: number;
}

/** A sweep's result, as `blocksparse sweep --json` prints it. */
export interface SweepResult {
  pattern: string;
  param: string;
  seeds: Seed[];
  points: SweepPoint[];
}

/** Options of `sweepPattern`. */
export interface PatternSweepOptions {
  /** Pattern name (as `blocksparse patterns` lists them). */
  pattern: string;
  /** The pattern parameter to vary (its CLI name, e.g. "p"). */
  param: string;
  values: number[];
  /** Number of seeds per value; seed i is base + i (numbers) or "base:i" (strings). */
  seeds: number;
  /** Shape, block size, base seed and the pattern's other parameters. */
  base: BuildPatternOptions;
  /** 'error' (default): a disconnected layout stops the sweep; 'reachable': average over reachable pairs. */
  disconnected?: 'error' | 'reachable';
  /** Called after each (value, seed) with the number done and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Called once, after the first (value, seed), with the sweep's time extrapolated from it. */
  onEstimate?: (estimate: TimeEstimate) => void;
}

/**
 * Average shortest path length and average clustering of a pattern as one parameter varies, each
 * the mean and standard deviation over seeds (the same seeds at every value), normalised by the
 * first point: the experiment of Watts & Strogatz 1998, Fig. 2, for any pattern and parameter.
 * Every argument is checked before the first layout is built; `onEstimate` gets the time of the
 * whole sweep measured on its first layout (the later ones differ only in the parameter's value).
 */
export async function sweepPattern(options: PatternSweepOptions): Promise<SweepResult> {
  const definition = findPattern(options.pattern);
  if (!definition.params.some((p) => p.name === options.param)) {
    throw new ParameterError('param', `one of ${definition.name}'s parameters: ${definition.params.map((p) => p.name).join(', ')}`, options.param);
  }
  if (!Array.isArray(options.values) || options.values.length === 0) throw new ParameterError('values', 'a non-empty list of numbers', options.values);
  options.values.forEach((v) => checkNumber('values', v, -Number.MAX_VALUE, Number.MAX_VALUE));
  const seedCount = checkInteger('seeds', options.seeds, 1, 100_000);
  const baseSeed = options.base.seed ?? 0;
  const seeds: Seed[] = Array.from({ length: seedCount }, (_, i) => (typeof baseSeed === 'number' ? baseSeed + i : `${baseSeed}:${i}`));
  const total = options.values.length * seedCount;
  let done = 0;
  const points: SweepPoint[] = [];
  for (const value of options.values) {
    const lengths: number[] = [];
    const clusterings: number[] = [];
    let unreachablePairs = 0;
    for (const seed of seeds) {
      const started = performance.now();
      const layout = buildPattern(options.pattern, { ...options.base, seed, params: { ...options.base.params, [options.param]: value } });
      const path = await averageShortestPathLength(layout, { disconnected: options.disconnected ?? 'error' });
      lengths.push(path.value);
      unreachablePairs += path.unreachablePairs;
      clusterings.push(averageClustering(layout));
      if (done === 0) options.onEstimate?.(measuredEstimate(secondsSince(started), 1, total, 'layouts'));
      done++; // not inside ?.(): that would skip the count when there is no onProgress
      options.onProgress?.(done, total);
    }
    points.push({
      value,
      averagePathLength: stats(lengths),
      averageClustering: stats(clusterings),
      normalized: { averagePathLength: NaN, averageClustering: NaN },
      unreachablePairs,
    });
  }
  const first = points[0];
  for (const point of points) {
    point.normalized = {
      averagePathLength: point.averagePathLength.mean / first.averagePathLength.mean,
      averageClustering: point.averageClustering.mean / first.averageClustering.mean,
    };
  }
  return { pattern: definition.name, param: options.param, seeds, points };
}

/** `steps` values from `from` to `to` inclusive, evenly spaced, or geometrically with `log`. */
export function sweepValues(from: number, to: number, steps: number, log = false): number[] {
  checkInteger('steps', steps, 1, 1_000_000);
  checkNumber('from', from, -Number.MAX_VALUE, Number.MAX_VALUE);
  checkNumber('to', to, -Number.MAX_VALUE, Number.MAX_VALUE);
  if (log && (from <= 0 || to <= 0)) throw new ParameterError(from <= 0 ? 'from' : 'to', 'positive with --log', from <= 0 ? from : to);
  if (steps === 1) return [from];
  return Array.from({ length: steps }, (_, i) => {
    if (i === steps - 1) return to;
    const t = i / (steps - 1);
    return log ? Math.exp(Math.log(from) + t * (Math.log(to) - Math.log(from))) : from + t * (to - from);
  });
}

function stats(values: number[]): SeedStats {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, sd: Math.sqrt(variance), n };
}
