import { checkInteger, checkNumber, checkOneOf } from '../../check.js';
import { describeValue, FormatError, ParameterError } from '../../errors.js';
import { LAYOUT_FORMAT, LAYOUT_JSON_VERSION, layoutFromJSON } from '../../patterns/json-format.js';
import type { BlockNormKind } from '../../kernels/types.js';
import type { BlockLayout, Provenance } from '../../patterns/layout.js';
import { fieldOf, stateError, type TrainingHook } from '../hooks.js';
import { BlockSparseLayer } from '../layers/block-sparse-layer.js';
import type { Optimizer } from '../optimizers.js';
import { checkBlockSparseLayers, keepBlocks, largestBlocks } from './blocks.js';
import { blocksToKeep, checkCubicSchedule, cubicSparsity, isPruningStep, type CubicScheduleOptions } from './schedules.js';

/** How many of a layer's present blocks to keep: an exact count, or a sparsity (fraction of them removed, rounded as `blocksToKeep`). */
export type PruneTarget = { keep: number } | { sparsity: number };

/** Options of `pruneBlocks`. */
export interface PruneOptions {
  /** Block norm ranking the blocks: Frobenius 'l2' (default) or largest magnitude 'max'. */
  norm?: BlockNormKind;
  /** The optimiser whose state of the layer's weights (and gates) follows the kept blocks. */
  optimizer?: Optimizer;
  /** Provenance of the pruned layout (default {generator: 'pruned', params: {method: 'magnitude', norm, sparsity, keep, step: null}, sources: [the old layout's]}). */
  provenance?: Provenance;
}

/** What a pruning did: the new layout, the old ids of the kept blocks (ascending; new block j was old block kept[j]), and the norms it ranked. */
export interface PruneResult {
  layout: BlockLayout;
  kept: Int32Array;
  norms: Float32Array;
}

const NORMS: readonly BlockNormKind[] = ['l2', 'max'];

/**
 * One-shot block magnitude pruning: keeps the `keep` blocks of largest norm (ties to the lower
 * block id) and removes the rest from the layer with their weights, gate logits and optimiser
 * state (`BlockSparseLayer.setBlocks`). The norms are read to the host once. Raises
 * ParameterError for a count outside [0, nnz], a sparsity outside [0, 1] or an unknown norm.
 */
export async function pruneBlocks(layer: BlockSparseLayer, target: PruneTarget, options: PruneOptions = {}): Promise<PruneResult> {
  const context = 'pruneBlocks';
  if (!(layer instanceof BlockSparseLayer)) throw new ParameterError('layer', 'a block-sparse layer (BlockSparseLinear, BlockSparseConv2d)', layer, context);
  const norm = checkOneOf('norm', options.norm ?? 'l2', NORMS, context);
  const old = layer.layout;
  let keep: number;
  let sparsity: number | null = null;
  if (typeof target === 'object' && target !== null && 'keep' in target) keep = checkInteger('keep', target.keep, 0, old.nnz, context);
  else if (typeof target === 'object' && target !== null && 'sparsity' in target) {
    sparsity = checkNumber('sparsity', target.sparsity, 0, 1, context);
    keep = blocksToKeep(old.nnz, sparsity);
  } else throw new ParameterError('target', 'an object {keep} or {sparsity}', target, context);
  const normTensor = await layer.backend.blockNorms(layer.weight.value, norm);
  const norms = await layer.backend.read(normTensor);
  normTensor.dispose();
  const kept = largestBlocks(norms, keep);
  const provenance = options.provenance ?? {
    generator: 'pruned',
    params: { method: 'magnitude', norm, sparsity: sparsity ?? 1 - keep / Math.max(old.nnz, 1), keep, step: null },
    sources: [old.provenance],
  };
  const layout = keepBlocks(old, kept, provenance);
  await layer.setBlocks(layout, { kept }, options.optimizer);
  return { layout, kept, norms };
}

/** Options of `gradualPruning`. */
export interface GradualPruningOptions {
  /** The layers to prune, each on its own blocks (sparsity relative to its nnz when the hook was made). */
  layers: readonly BlockSparseLayer[];
  /** Zhu & Gupta's cubic schedule (initial and final sparsity, begin and end step, frequency). */
  schedule: CubicScheduleOptions;
  /** Block norm (default 'l2'). */
  norm?: BlockNormKind;
}

/** The checkpointed state of `gradualPruning`: each layer's block count before pruning and the provenance of its layout then. */
export interface GradualPruningState {
  initialNnz: number[];
  sources: Provenance[];
}

/**
 * Gradual block magnitude pruning (Zhu & Gupta 2017, "To prune, or not to prune"): after the
 * optimiser step at each pruning step t = t0 + k Δt, every layer is pruned to
 * blocksToKeep(initial nnz, s_t) blocks of largest norm, s_t the cubic schedule's sparsity.
 * The layouts' provenance is {generator: 'pruned', params: {method: 'magnitude', norm, sparsity,
 * step, schedule}, sources: [the layout before pruning began]} (one source, not a chain of
 * every pruning step). Its state (initial block counts and sources) goes into checkpoints.
 */
export function gradualPruning(options: GradualPruningOptions): TrainingHook {
  const context = 'gradualPruning';
  const layers = checkBlockSparseLayers(options.layers, context);
  const schedule = { ...checkCubicSchedule(options.schedule, context) };
  const norm = checkOneOf('norm', options.norm ?? 'l2', NORMS, context);
  let initialNnz = layers.map((layer) => layer.layout.nnz);
  let sources = layers.map((layer) => layer.layout.provenance);
  return {
    name: 'gradual-pruning',
    async afterStep({ step, optimizer }) {
      if (!isPruningStep(step, schedule)) return;
      const sparsity = cubicSparsity(step, schedule);
      const nnz: number[] = [];
      let changed = false;
      for (let i = 0; i < layers.length; i++) {
        const layer = layers[i];
        const keep = blocksToKeep(initialNnz[i], sparsity);
        if (keep < layer.layout.nnz) {
          const provenance: Provenance = {
            generator: 'pruned',
            params: { method: 'magnitude', norm, sparsity, step, schedule: { ...schedule } },
            sources: [sources[i]],
          };
          await pruneBlocks(layer, { keep }, { norm, optimizer, provenance });
          changed = true;
        }
        nnz.push(layer.layout.nnz);
      }
      return changed ? { event: 'prune', step, sparsity, nnz } : undefined;
    },
    state(): GradualPruningState {
      return { initialNnz: [...initialNnz], sources };
    },
    restore(state: unknown) {
      const saved = checkPruningState(state, layers);
      initialNnz = saved.initialNnz;
      sources = saved.sources;
    },
  };
}

/**
 * A saved gradual-pruning state, checked against the layers: exactly {initialNnz, sources}, one
 * of each per layer; initialNnz[i] an integer from the layer's present blocks (pruning only
 * removes blocks) to all its possible blocks (inBlocks x outBlocks); sources[i] a provenance as
 * layouts carry. FormatError (`stateError`) naming the field, e.g. `initialNnz[0]`.
 */
function checkPruningState(state: unknown, layers: readonly BlockSparseLayer[]): GradualPruningState {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw stateError('', `must be a gradual-pruning state {initialNnz, sources} (got ${describeValue(state)})`);
  }
  const saved = state as Record<string, unknown>;
  for (const key of Object.keys(saved)) {
    if (key !== 'initialNnz' && key !== 'sources') throw stateError(key, 'is not a field of a gradual-pruning state {initialNnz, sources}');
  }
  const lists = ['initialNnz', 'sources'].map((key) => {
    const list = saved[key];
    if (!Array.isArray(list) || list.length !== layers.length) throw stateError(key, `must be a list of ${layers.length} entries, one per pruned layer (got ${describeValue(list)})`);
    return list as unknown[];
  });
  const initialNnz = lists[0].map((n, i) => {
    const { nnz, inBlocks, outBlocks } = layers[i].layout;
    const most = inBlocks * outBlocks;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < nnz || n > most) {
      throw stateError(fieldOf('initialNnz', i), `must be an integer in [${nnz}, ${most}] (the layer's present blocks to all its ${inBlocks} x ${outBlocks} blocks; got ${describeValue(n)})`);
    }
    return n;
  });
  const sources = lists[1].map((source, i) => checkProvenance(source, fieldOf('sources', i)));
  return { initialNnz, sources };
}

/** A provenance read back from a state, checked by the layout reader (which validates every provenance it reads). */
function checkProvenance(value: unknown, field: string): Provenance {
  const probe = { format: LAYOUT_FORMAT, version: LAYOUT_JSON_VERSION, inBlocks: 1, outBlocks: 1, blockSize: 8, nnz: 0, rowPtr: [0, 0], colIdx: [], provenance: value };
  try {
    return layoutFromJSON(probe).provenance;
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    const inner = error.field?.startsWith('provenance') ? error.field.slice('provenance'.length) : '';
    throw stateError(`${field}${inner}`, `is not a valid provenance: ${error.message}`);
  }
}
