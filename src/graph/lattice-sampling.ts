import type { Rng } from '../random.js';

/**
 * The number of failures before the next success in a run of independent Bernoulli(p) trials,
 * drawn with one random number (inverse transform of the geometric law: P(gap >= s) = (1-p)^s).
 * Skipping by these gaps decides exactly as one coin per trial would, at a cost per success.
 * Returns Infinity for p = 0 and 0 for p = 1. With seedrandom's Alea (32-bit outputs) a single gap
 * is capped near 22/p, a truncation of the geometric tail of probability 2^-32.
 */
export function geometricGap(rng: Rng, p: number): number {
  if (p >= 1) return 0;
  if (p <= 0) return Infinity;
  return Math.floor(Math.log(1 - rng()) / Math.log1p(-p));
}

/** A uniform integer in [0, n) for n < 2^31. */
export function uniformNode(rng: Rng, n: number): number {
  return (rng() * n) | 0;
}
