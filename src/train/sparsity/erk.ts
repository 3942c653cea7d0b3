import { checkInteger, checkNumber } from '../../check.js';
import { ParameterError } from '../../errors.js';

/** One layer for density allocation: its size in blocks (inBlocks x outBlocks). */
export interface ErkLayer {
  inBlocks: number;
  outBlocks: number;
}

/** A layer's allocation: density (fraction of its blocks) and exact block count. */
export interface ErkAllocation {
  density: number;
  blocks: number;
  /** Whether the layer came out dense (its ERK density reached 1). */
  dense: boolean;
}

/**
 * Erdős–Rényi-Kernel density allocation (Evci et al. 2020, "Rigging the Lottery", appendix;
 * Mocanu et al. 2018 for the Erdős–Rényi form) at block granularity: layer l gets density
 * d_l = eps (in_l + out_l) / (in_l out_l) (in blocks), with eps chosen so that the blocks kept
 * over all layers equal `density` times all blocks. Layers whose d_l would exceed 1 are made
 * dense and eps is solved again over the rest (as RigL's code does). Block counts are rounded
 * so that they sum exactly to round(density * total blocks) (largest remainders first).
 *
 * Raises ParameterError for an empty layer list, non-integer or non-positive sizes, or a density
 * outside (0, 1].
 */
export function erkAllocation(layers: readonly ErkLayer[], density: number): ErkAllocation[] {
  const context = 'erkAllocation';
  if (!Array.isArray(layers) || layers.length === 0) throw new ParameterError('layers', 'a non-empty list of {inBlocks, outBlocks}', layers, context);
  layers.forEach((l, i) => {
    checkInteger(`layers[${i}].inBlocks`, l.inBlocks, 1, 2 ** 31 - 1, context);
    checkInteger(`layers[${i}].outBlocks`, l.outBlocks, 1, 2 ** 31 - 1, context);
  });
  checkNumber('density', density, 0, 1, context);
  if (density === 0) throw new ParameterError('density', 'a number in (0, 1]', density, context);
  const sizes = layers.map((l) => l.inBlocks * l.outBlocks);
  const total = sizes.reduce((a, b) => a + b, 0);
  const budget = Math.round(density * total);
  const raw = layers.map((l) => (l.inBlocks + l.outBlocks) / (l.inBlocks * l.outBlocks));
  const dense = new Array<boolean>(layers.length).fill(false);
  let eps = 0;
  for (;;) {
    // Blocks left for the sparse layers after the dense ones, over their ERK weights.
    let left = budget;
    let weight = 0;
    for (let i = 0; i < layers.length; i++) {
      if (dense[i]) left -= sizes[i];
      else weight += raw[i] * sizes[i];
    }
    eps = weight > 0 ? left / weight : 0;
    let changed = false;
    for (let i = 0; i < layers.length; i++) {
      if (!dense[i] && eps * raw[i] >= 1) {
        dense[i] = true;
        changed = true;
      }
    }
    if (!changed) break;
  }
  const exact = layers.map((_l, i) => (dense[i] ? sizes[i] : eps * raw[i] * sizes[i]));
  const blocks = exact.map((x, i) => Math.min(sizes[i], Math.floor(x + 1e-9)));
  let missing = budget - blocks.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => i).sort((a, b) => exact[b] - blocks[b] - (exact[a] - blocks[a]) || a - b);
  for (const i of order) {
    if (missing <= 0) break;
    if (blocks[i] < sizes[i]) {
      blocks[i]++;
      missing--;
    }
  }
  return blocks.map((b, i) => ({ density: b / sizes[i], blocks: b, dense: b === sizes[i] }));
}

/**
 * ERK allocation for a total weight budget: `parameters` weights over all layers' blocks of
 * `blockSize` x `blockSize`, i.e. erkAllocation at density parameters / (bs^2 x all blocks), the
 * block counts summing to round(that density x all blocks). Raises ParameterError when the budget
 * is not in (0, bs^2 x all blocks].
 */
export function erkAllocationForBudget(layers: readonly ErkLayer[], options: { parameters: number; blockSize: number }): ErkAllocation[] {
  const context = 'erkAllocationForBudget';
  const bs = checkInteger('blockSize', options.blockSize, 1, 1024, context);
  if (!Array.isArray(layers) || layers.length === 0) throw new ParameterError('layers', 'a non-empty list of {inBlocks, outBlocks}', layers, context);
  const total = layers.reduce((s, l) => s + l.inBlocks * l.outBlocks, 0) * bs * bs;
  const parameters = checkNumber('parameters', options.parameters, 0, Number.isFinite(total) ? total : Number.MAX_VALUE, context);
  if (parameters === 0) throw new ParameterError('parameters', `a number in (0, ${total}]`, parameters, context);
  return erkAllocation(layers, parameters / total);
}
