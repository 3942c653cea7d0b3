import { checkEvenInteger, checkInteger } from '../check.js';

/** Largest number of entries an Int32Array-indexed CSR can hold (offsets are int32). */
export const MAX_CSR_ENTRIES = 2 ** 31 - 1;

/**
 * Checks the ring parameters shared by the lattice generators: `order` an integer >= 3 and `k` an
 * even integer in [2, order - 1] such that `entriesPerK * order * k` CSR entries fit in int32.
 * Returns them.
 */
export function checkRingParameters(order: unknown, k: unknown, context: string, entriesPerK = 1): { order: number; k: number } {
  const n = checkInteger('order', order, 3, Math.floor(MAX_CSR_ENTRIES / (2 * entriesPerK)), context);
  const kMax = Math.min(n - 1, Math.floor(MAX_CSR_ENTRIES / (entriesPerK * n)));
  return { order: n, k: checkEvenInteger('k', k, 2, kMax, context) };
}
