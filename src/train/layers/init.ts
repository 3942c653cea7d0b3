import type { Rng } from '../../random.js';

/** Uniform values in [-bound, bound) from `rng`, as float32. */
export function uniform(rng: Rng, size: number, bound: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (rng() * 2 - 1) * bound;
  return out;
}
