import seedrandom from 'seedrandom';
import { ParameterError } from './errors.js';

/** A uniform random number generator on [0, 1), as `Math.random`. */
export type Rng = () => number;

/** A seed: any number or string; the same seed gives the same stream on every machine. */
export type Seed = number | string;

/** The randomness options every seeded function takes: a `seed` or a ready `rng` (not both). */
export interface RandomOptions {
  seed?: Seed;
  rng?: Rng;
}

/**
 * Resolves `{seed, rng}` into an Rng. A seed goes through seedrandom's Alea generator, which is
 * exact in IEEE double arithmetic and so gives identical streams on every machine. With neither,
 * a seed is drawn from Math.random (not reproducible; pass a seed for that).
 */
export function resolveRng(options: RandomOptions = {}, context?: string): Rng {
  const { seed, rng } = options;
  if (seed !== undefined && rng !== undefined) {
    throw new ParameterError('seed', 'given alone: pass either seed or rng, not both', seed, context);
  }
  if (rng !== undefined) {
    if (typeof rng !== 'function') throw new ParameterError('rng', 'a function returning numbers in [0, 1)', rng, context);
    return rng;
  }
  if (seed !== undefined) {
    if (!((typeof seed === 'number' && Number.isFinite(seed)) || typeof seed === 'string')) {
      throw new ParameterError('seed', 'a finite number or a string', seed, context);
    }
    return seedrandom.alea(String(seed));
  }
  return seedrandom.alea(String(Math.random()));
}

/** A uniform integer in [0, n). */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** Shuffles `array` in place (Fisher-Yates) and returns it. */
export function shuffleInPlace<T extends { length: number; [i: number]: any }>(rng: Rng, array: T): T {
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = array[i];
    array[i] = array[j];
    array[j] = t;
  }
  return array;
}

/** A uniformly random permutation of 0..n-1. */
export function randomPermutation(rng: Rng, n: number): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  return shuffleInPlace(rng, perm);
}

/** The state of a stateful generator: Alea's three fractions and carry (plain numbers, JSON-safe). */
export interface RngState {
  c: number;
  s0: number;
  s1: number;
  s2: number;
}

/** An Rng whose state can be saved and restored exactly (for checkpoints). */
export interface StatefulRng extends Rng {
  state(): RngState;
}

/** A seeded Alea generator with `state()`, or one resumed from a saved state (same continuation, byte for byte). */
export function statefulRng(from: Seed | RngState, context?: string): StatefulRng {
  if (typeof from === 'object' && from !== null) {
    const { c, s0, s1, s2 } = from;
    if (![c, s0, s1, s2].every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new ParameterError('state', 'an object {c, s0, s1, s2} of finite numbers', from, context);
    }
    return seedrandom.alea('', { state: { c, s0, s1, s2 } as never }) as unknown as StatefulRng;
  }
  if (!((typeof from === 'number' && Number.isFinite(from)) || typeof from === 'string')) {
    throw new ParameterError('seed', 'a finite number or a string', from, context);
  }
  return seedrandom.alea(String(from), { state: true }) as unknown as StatefulRng;
}
