import { checkInteger, checkNumber, checkOneOf } from '../../check.js';
import { BlocksparseError, ParameterError } from '../../errors.js';
import type { BlockNormKind } from '../../kernels/types.js';
import { BlockLayout, type Provenance } from '../../patterns/layout.js';
import { randomInt, statefulRng, type Rng, type RngState, type Seed, type StatefulRng } from '../../random.js';
import { checkRngState, type TrainingHook } from '../hooks.js';
import type { BlockSparseLayer } from '../layers/block-sparse-layer.js';
import type { Optimizer } from '../optimizers.js';
import { checkBlockSparseLayers, largestBlocks } from './blocks.js';
import { cosineDropFraction } from './schedules.js';

/**
 * Prune-and-regrow at block granularity (SET, RigL): the layer's block count stays the same while
 * its blocks move. Regrown blocks start at zero weight with fresh optimiser state.
 */

/** Chooses `count` blocks to grow among `candidates` (dense ids c * outBlocks + k of absent blocks, ascending); returns dense ids. */
export type GrowthRule = (candidates: Int32Array, count: number) => Int32Array;

/** Options of `regrowBlocks`. */
export interface RegrowOptions {
  /** Block norm ranking the present blocks for dropping (default 'l2'). */
  norm?: BlockNormKind;
  /** The optimiser whose state of the layer's weights follows the blocks (zeros for grown ones). */
  optimizer?: Optimizer;
  /** Provenance of the new layout, or a function of the counts giving it (default {generator: 'regrown', params: {dropped, grown, revived}, sources: [the old layout's]}). */
  provenance?: Provenance | ((counts: { dropped: number; grown: number; revived: number }) => Provenance);
}

/** What one prune-and-regrow did: the new layout, the new-to-old block map, the old ids dropped, the dense ids grown, and how many grown blocks had just been dropped. */
export interface RegrowResult {
  layout: BlockLayout;
  kept: Int32Array;
  dropped: Int32Array;
  grown: Int32Array;
  revived: number;
}

/**
 * Drops the `drop` present blocks of smallest norm (ties: the higher block id goes first) and
 * grows `drop` blocks chosen by `grow` among the blocks absent after the drop (a block just
 * dropped may be chosen again; it restarts from zero, as in RigL), so nnz stays the same.
 * Raises ParameterError for a drop count outside [0, nnz] or a growth rule that returns
 * something other than `drop` distinct candidates.
 */
export async function regrowBlocks(layer: BlockSparseLayer, drop: number, grow: GrowthRule, options: RegrowOptions = {}): Promise<RegrowResult> {
  const context = 'regrowBlocks';
  const old = layer.layout;
  checkInteger('drop', drop, 0, old.nnz, context);
  const norm = checkOneOf('norm', options.norm ?? 'l2', NORMS, context);
  const normTensor = await layer.backend.blockNorms(layer.weight.value, norm);
  const norms = await layer.backend.read(normTensor);
  normTensor.dispose();
  const survivors = largestBlocks(norms, old.nnz - drop);
  const { inBlocks, outBlocks } = old;
  const { rows, cols } = old.pairs();
  const occupied = new Uint8Array(inBlocks * outBlocks);
  for (const id of survivors) occupied[rows[id] * outBlocks + cols[id]] = 1;
  const candidates = new Int32Array(occupied.length - survivors.length);
  for (let d = 0, i = 0; d < occupied.length; d++) if (!occupied[d]) candidates[i++] = d;
  const grown = grow(candidates, drop);
  checkGrown(grown, drop, occupied, context);

  const newRows = new Int32Array(old.nnz);
  const newCols = new Int32Array(old.nnz);
  survivors.forEach((id, j) => {
    newRows[j] = rows[id];
    newCols[j] = cols[id];
  });
  const survived = new Uint8Array(old.nnz);
  for (const id of survivors) survived[id] = 1;
  const dropped = new Int32Array(drop);
  for (let id = 0, i = 0; id < old.nnz; id++) if (!survived[id]) dropped[i++] = id;
  let revived = 0;
  grown.forEach((d, j) => {
    newRows[survivors.length + j] = Math.floor(d / outBlocks);
    newCols[survivors.length + j] = d % outBlocks;
    if (old.blockId(Math.floor(d / outBlocks), d % outBlocks) >= 0) revived++;
  });
  const counts = { dropped: drop, grown: drop, revived };
  const provenance =
    typeof options.provenance === 'function'
      ? options.provenance(counts)
      : (options.provenance ?? { generator: 'regrown', params: counts, sources: [old.provenance] });
  const layout = BlockLayout.fromPairs({ inBlocks, outBlocks, blockSize: old.blockSize }, newRows, newCols, { provenance });
  const kept = new Int32Array(layout.nnz);
  const next = layout.pairs();
  for (let j = 0; j < layout.nnz; j++) kept[j] = occupied[next.rows[j] * outBlocks + next.cols[j]] ? old.blockId(next.rows[j], next.cols[j]) : -1;
  await layer.setBlocks(layout, { kept }, options.optimizer);
  return { layout, kept, dropped, grown, revived };
}

function checkGrown(grown: Int32Array, count: number, occupied: Uint8Array, context: string): void {
  if (!(grown instanceof Int32Array) || grown.length !== count) throw new ParameterError('grow', `a rule returning an Int32Array of ${count} dense block ids`, grown, context);
  const seen = new Uint8Array(occupied.length);
  for (const d of grown) {
    if (!(d >= 0 && d < occupied.length) || occupied[d] || seen[d]) throw new ParameterError('grow', 'a rule returning distinct absent blocks', d, context);
    seen[d] = 1;
  }
}

/** SET's growth rule: `count` candidates uniformly at random without replacement (a partial Fisher-Yates shuffle). */
export function randomGrowth(rng: Rng): GrowthRule {
  return (candidates, count) => {
    const pool = candidates.slice();
    for (let i = 0; i < count; i++) {
      const j = i + randomInt(rng, pool.length - i);
      const t = pool[i];
      pool[i] = pool[j];
      pool[j] = t;
    }
    return pool.slice(0, count);
  };
}

/** RigL's growth rule: the `count` candidates with the largest scores (dense gradient block norms, indexed by dense id), ties to the lower id. */
export function gradientGrowth(scores: ArrayLike<number>): GrowthRule {
  return (candidates, count) => {
    const candidateScores = new Float64Array(candidates.length);
    for (let i = 0; i < candidates.length; i++) candidateScores[i] = scores[candidates[i]];
    const chosen = largestBlocks(candidateScores, count);
    return Int32Array.from(chosen, (i) => candidates[i]);
  };
}

const NORMS: readonly BlockNormKind[] = ['l2', 'max'];

/** Options of `setRegrowth`. */
export interface SetRegrowthOptions {
  layers: readonly BlockSparseLayer[];
  /** Steps between updates: the update runs after the optimiser step t for t > 0, t % every = 0. */
  every: number;
  /** Fraction of each layer's blocks dropped and regrown at an update, in [0, 1] (SET's zeta, 0.3 in the paper). */
  dropFraction: number;
  /** Seed of the regrowth choices (their generator's state goes into checkpoints). */
  seed: Seed;
  /** Last step with an update (default: no end). */
  end?: number;
  /** Block norm (default 'l2'). */
  norm?: BlockNormKind;
}

/**
 * SET (Mocanu et al. 2018, "Scalable training of artificial neural networks with adaptive sparse
 * connectivity") at block granularity: every `every` steps each layer drops the
 * round(dropFraction * nnz) blocks of smallest norm and grows as many blocks chosen uniformly at
 * random among the absent ones (seeded), at zero weight with fresh optimiser state. The layouts'
 * provenance is {generator: 'regrown', params: {method: 'set', norm, dropFraction, every, end,
 * step, dropped, grown, revived, updates}, seed, sources: [the layout before the first update]}.
 */
export function setRegrowth(options: SetRegrowthOptions): TrainingHook {
  const context = 'setRegrowth';
  const layers = checkBlockSparseLayers(options.layers, context);
  const every = checkInteger('every', options.every, 1, Number.MAX_SAFE_INTEGER, context);
  const dropFraction = checkNumber('dropFraction', options.dropFraction, 0, 1, context);
  const end = options.end === undefined ? null : checkInteger('end', options.end, 0, Number.MAX_SAFE_INTEGER, context);
  const norm = checkOneOf('norm', options.norm ?? 'l2', NORMS, context);
  const seed = options.seed;
  let rng: StatefulRng = statefulRng(seed, context);
  return {
    name: 'set-regrowth',
    async afterStep({ step, optimizer }) {
      if (!(step > 0 && step % every === 0 && (end === null || step <= end))) return;
      const params = { method: 'set', norm, dropFraction, every, end };
      return updateLayers(layers, step, dropFraction, () => randomGrowth(rng), { norm, optimizer, params, seed });
    },
    state(): RngState {
      return rng.state();
    },
    restore(state: unknown) {
      rng = statefulRng(checkRngState(state, ''), context);
    },
  };
}

/** Options of `riglRegrowth`. */
export interface RiglRegrowthOptions {
  layers: readonly BlockSparseLayer[];
  /** Steps between updates (RigL's ΔT): the update runs after the optimiser step t for 0 < t < end, t % every = 0. */
  every: number;
  /** Initial drop fraction (RigL's alpha, 0.3 in the paper), in [0, 1]. */
  alpha: number;
  /** Step after which the layout stops changing (RigL's T_end). */
  end: number;
  /** Block norm used to drop blocks (default 'l2'); growth always ranks the dense gradient's block L2 norms. */
  norm?: BlockNormKind;
}

/**
 * RigL (Evci et al. 2020, "Rigging the Lottery: Making All Tickets Winners") at block
 * granularity: at each update step t each layer drops the round(f_t nnz) blocks of smallest
 * norm, f_t = alpha/2 (1 + cos(pi t / T_end)), and grows as many blocks where the L2 norm of the
 * dense gradient block (X^T dY over every (c, k), recorded in that step's backward) is largest
 * among the absent blocks, at zero weight with fresh optimiser state. The hook turns each
 * layer's `recordDenseGradNorms` on for the steps that update (and for the first step it sees)
 * and off otherwise. Provenance: {generator: 'regrown', params: {method: 'rigl', norm, alpha,
 * every, end, step, dropFraction, dropped, grown, revived, updates}, sources: [the layout before
 * the first update]}.
 */
export function riglRegrowth(options: RiglRegrowthOptions): TrainingHook {
  const context = 'riglRegrowth';
  const layers = checkBlockSparseLayers(options.layers, context);
  const every = checkInteger('every', options.every, 1, Number.MAX_SAFE_INTEGER, context);
  const alpha = checkNumber('alpha', options.alpha, 0, 1, context);
  const end = checkInteger('end', options.end, 1, Number.MAX_SAFE_INTEGER, context);
  const norm = checkOneOf('norm', options.norm ?? 'l2', NORMS, context);
  const updates = (step: number) => step > 0 && step % every === 0 && step < end;
  // The hook does not know the first step (a resumed run starts later): record until told otherwise.
  for (const layer of layers) layer.recordDenseGradNorms = true;
  return {
    name: 'rigl-regrowth',
    async afterStep({ step, optimizer }) {
      let event: Record<string, unknown> | undefined;
      if (updates(step)) {
        const dropFraction = cosineDropFraction(step, { alpha, end });
        const scores: Float32Array[] = [];
        for (const [i, layer] of layers.entries()) {
          const norms = layer.takeDenseGradNorms();
          if (!norms) throw new BlocksparseError('E_NO_GRADIENT', `riglRegrowth: layer ${i} recorded no dense gradient norms at step ${step} (was recordDenseGradNorms turned off?)`);
          scores.push(await layer.backend.read(norms));
          norms.dispose();
        }
        const params = { method: 'rigl', norm, alpha, every, end };
        event = await updateLayers(layers, step, dropFraction, (i) => gradientGrowth(scores[i]), { norm, optimizer, params, seed: null });
      }
      for (const layer of layers) {
        layer.recordDenseGradNorms = updates(step + 1);
        if (!layer.recordDenseGradNorms) layer.takeDenseGradNorms()?.dispose();
      }
      return event;
    },
  };
}

/** One prune-and-regrow update of every layer; returns the event to log. */
async function updateLayers(
  layers: readonly BlockSparseLayer[],
  step: number,
  dropFraction: number,
  rule: (layer: number) => GrowthRule,
  options: { norm: BlockNormKind; optimizer: Optimizer; params: Record<string, unknown>; seed: Seed | null },
): Promise<Record<string, unknown>> {
  const moved: number[] = [];
  for (const [i, layer] of layers.entries()) {
    const old = layer.layout;
    const drop = Math.round(dropFraction * old.nnz);
    if (drop === 0) {
      moved.push(0);
      continue;
    }
    // One source for a run of updates by the same method, not a chain as long as the run.
    const previous = old.provenance;
    const continued = previous.generator === 'regrown' && previous.params.method === options.params.method && previous.sources?.length === 1;
    const source = continued ? previous.sources![0] : previous;
    const updates = continued ? Number(previous.params.updates ?? 0) + 1 : 1;
    const provenance = (counts: { dropped: number; grown: number; revived: number }): Provenance => ({
      generator: 'regrown',
      params: { ...options.params, step, dropFraction, ...counts, updates },
      seed: options.seed,
      sources: [source],
    });
    const result = await regrowBlocks(layer, drop, rule(i), { norm: options.norm, optimizer: options.optimizer, provenance });
    moved.push(drop - result.revived);
  }
  return { event: `${String(options.params.method)}-regrowth`, step, dropFraction, moved, nnz: layers.map((layer) => layer.layout.nnz) };
}
