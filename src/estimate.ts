/**
 * Time estimates measured on the real work: a long computation times its first slice (a batch of
 * BFS sources, one mixing step, one layout of a sweep) on the actual input and extrapolates by the
 * exact count of what is left, instead of guessing from the graph's size.
 */

/** A measured estimate of a computation's wall-clock time. */
export interface TimeEstimate {
  /** Estimated seconds for the whole computation, the timed part included. */
  seconds: number;
  /** Units of work timed (e.g. the first 256 sources). */
  done: number;
  /** Units of work in all (an upper bound when `bound` is true). */
  total: number;
  /** What a unit is, plural: "sources", "steps", "layouts", "references". */
  unit: string;
  /** true when `total` is an upper bound (mixing stops early once mixed): the time is "up to". */
  bound?: boolean;
}

/**
 * The estimated total seconds when `done` of `total` equal units took `elapsed` seconds on one
 * thread and the rest is shared by `parallel` threads: elapsed + (elapsed / done) (total - done) / parallel.
 */
export function extrapolateSeconds(elapsed: number, done: number, total: number, parallel = 1): number {
  if (!(done > 0) || !(total >= done)) return elapsed;
  return elapsed + ((elapsed / done) * (total - done)) / Math.max(1, parallel);
}

/** An estimate from `elapsed` seconds on the first `done` of `total` units (see extrapolateSeconds). */
export function measuredEstimate(elapsed: number, done: number, total: number, unit: string, parallel = 1, bound = false): TimeEstimate {
  const estimate: TimeEstimate = { seconds: extrapolateSeconds(elapsed, done, total, parallel), done, total, unit };
  if (bound) estimate.bound = true;
  return estimate;
}

/** Seconds since `start` (a performance.now() reading). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
