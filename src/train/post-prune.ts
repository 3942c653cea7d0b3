/**
 * Post-training block magnitude pruning: a trained model (dense or block-sparse) becomes a
 * block-sparse one keeping, in every prunable weight, the blocks of largest norm. Dense weights
 * are first cut into blocks (the largest block size up to `blockSize` that divides both widths;
 * a weight no block size divides stays dense), L0 gates are folded into the blocks they scale
 * (their test-time values), then each weight keeps round((1 - sparsity) x its whole block count)
 * blocks (never more than it has). The output layer (the model's last product) stays dense: its
 * few classes are no block multiple, and its cost is small; so does a CNN's stem (its first
 * convolution, from the image's few channels). A dense CNN's other convolutions become prunable.
 */
import { checkNumber, checkOneOf } from '../check.js';
import { ParameterError } from '../errors.js';
import type { BlockNormKind } from '../kernels/types.js';
import { denseLayout } from '../patterns/dense.js';
import { layoutToJSON, type LayoutJSON } from '../patterns/json-format.js';
import { BLOCK_SIZES, type BlockLayout, type BlockSize } from '../patterns/layout.js';
import { readWeight, type ExportedWeight } from './export/model-weights.js';
import { BlockSparseLayer } from './layers/block-sparse-layer.js';
import type { Parameter } from './layers/layer.js';
import { Linear } from './layers/linear.js';
import { LSTM } from './layers/lstm.js';
import type { Sequential } from './layers/sequential.js';
import { describeModel, modelFromRecord, type LayerRecord } from './model.js';
import { pruneBlocks } from './sparsity/prune.js';
import { blocksToKeep } from './sparsity/schedules.js';

/** Options of `pruneTrainedModel`. */
export interface PostPruneOptions {
  /** Fraction of each prunable weight's blocks removed, in [0, 1). */
  sparsity: number;
  /** The largest block size dense weights are cut into (default 32); block-sparse weights keep theirs. */
  blockSize?: BlockSize;
  /** Block norm ranking the blocks: Frobenius 'l2' (default) or largest magnitude 'max'. */
  norm?: BlockNormKind;
}

/** What pruning did to one weight. */
export interface PrunedWeight {
  /** Index in the model's layers. */
  layer: number;
  /** An LSTM's 'input' or 'recurrent' weights (absent for a layer of one weight). */
  part?: 'input' | 'recurrent';
  /** Its present blocks before (a dense weight: all its blocks) and after. */
  blocksBefore: number;
  blocksAfter: number;
  /** All blocks of the weight (inBlocks x outBlocks). */
  blocks: number;
  blockSize: BlockSize;
  /** Whether it was dense before. */
  wasDense: boolean;
}

/** What `pruneTrainedModel` returns: the new model (the caller's to dispose) and what happened to each prunable weight. */
export interface PostPruneResult {
  model: Sequential;
  weights: PrunedWeight[];
}

/** One weight of a model: a layer's product, or an LSTM's input or recurrent product. */
interface Site {
  layer: number;
  part?: 'input' | 'recurrent';
  target: Linear | BlockSparseLayer;
}

/** Every product weight of a model, in layer order (an LSTM's input before its recurrent weights). */
function sites(model: Sequential): Site[] {
  return model.layers.flatMap((layer, i): Site[] => {
    if (layer instanceof Linear || layer instanceof BlockSparseLayer) return [{ layer: i, target: layer }];
    if (layer instanceof LSTM) return (['input', 'recurrent'] as const).map((part) => ({ layer: i, part, target: layer[part] }));
    return [];
  });
}

/** The largest block size up to `largest` dividing both widths, or null. */
function blockSizeFor(inFeatures: number, outFeatures: number, largest: BlockSize): BlockSize | null {
  const fits = BLOCK_SIZES.filter((bs) => bs <= largest && inFeatures % bs === 0 && outFeatures % bs === 0);
  return fits.length > 0 ? fits[fits.length - 1] : null;
}

/** A dense layout of the widths' blocks, provenance saying where it came from. */
function fullLayout(inFeatures: number, outFeatures: number, blockSize: BlockSize): LayoutJSON {
  const layout = denseLayout({ inBlocks: inFeatures / blockSize, outBlocks: outFeatures / blockSize, blockSize });
  return layoutToJSON(layout.withProvenance({ generator: 'dense', params: { ...layout.provenance.params, from: 'a dense weight cut into blocks' }, seed: null }));
}

/**
 * The records of the model to prune into: dense products cut into blocks (but the last
 * product), L0 gates dropped (their test-time values are folded into the blocks).
 */
function blockRecords(records: readonly LayerRecord[], largest: BlockSize): LayerRecord[] {
  const lastProduct = records.reduce((last, r, i) => (r.kind === 'linear' || r.kind === 'block-sparse-linear' || r.kind === 'block-sparse-conv2d' || r.kind === 'lstm' ? i : last), -1);
  const firstConv = records.findIndex((r) => r.kind === 'block-sparse-conv2d');
  return records.map((record, i): LayerRecord => {
    switch (record.kind) {
      case 'linear': {
        const bs = i === lastProduct ? null : blockSizeFor(record.inFeatures, record.outFeatures, largest);
        return bs === null ? record : { kind: 'block-sparse-linear', layout: fullLayout(record.inFeatures, record.outFeatures, bs), bias: record.bias, l0: null };
      }
      case 'block-sparse-linear':
        return { ...record, l0: null };
      case 'block-sparse-conv2d': {
        // A dense CNN's convolutions are made with fixed layouts; all but the stem (the first,
        // from the image's few channels) become prunable.
        const { fixedLayout: _fixed, ...rest } = record;
        return i === firstConv && record.fixedLayout ? record : { ...rest, l0: null };
      }
      case 'lstm': {
        const gateLayout = (from: number, existing: LayoutJSON | null): LayoutJSON | null => {
          if (existing !== null) return existing;
          const bs = blockSizeFor(from, record.hidden, largest);
          return bs === null ? null : fullLayout(from, 4 * record.hidden, bs);
        };
        return { ...record, inputLayout: gateLayout(record.inFeatures, record.inputLayout), recurrentLayout: gateLayout(record.hidden, record.recurrentLayout), l0: null };
      }
      default:
        return record;
    }
  });
}

/** The blocks of `layout` cut from a dense W [in, out] (row-major), in block-id order. */
function blocksOfDense(dense: Float32Array, layout: BlockLayout): Float32Array {
  const bs = layout.blockSize;
  const out = new Float32Array(layout.nnz * bs * bs);
  const width = layout.outFeatures;
  for (let c = 0; c < layout.inBlocks; c++) {
    for (let b = layout.rowPtr[c]; b < layout.rowPtr[c + 1]; b++) {
      const k = layout.colIdx[b];
      for (let i = 0; i < bs; i++) {
        const row = (c * bs + i) * width + k * bs;
        out.set(dense.subarray(row, row + bs), (b * bs + i) * bs);
      }
    }
  }
  return out;
}

/** Replaces a parameter's value (its gradient dropped). */
function setValue(p: Parameter, values: Float32Array): void {
  const next = p.value.backend.tensor(values, p.value.shape);
  p.value.dispose();
  p.value = next;
  p.grad?.dispose();
  p.grad = null;
}

/** The new site's weight values from the old site's (same features; the new one dense or cut into blocks). */
function weightValues(old: ExportedWeight, target: Linear | BlockSparseLayer): Float32Array {
  if (target instanceof Linear) {
    if (old.kind !== 'dense') throw new Error('unreachable: a block-sparse weight never becomes dense');
    return old.values;
  }
  return old.kind === 'dense' ? blocksOfDense(old.values, target.layout) : old.values;
}

/**
 * Prunes a trained model after training: a new model on the same backend (the given one is left
 * as it is) whose prunable weights keep their `1 - sparsity` largest-norm blocks (see the module
 * comment for which weights and block sizes). The layouts' provenance records the pruning
 * (generator 'pruned', method 'magnitude', post-training, the sparsity and the source layout).
 * Raises ParameterError for a sparsity outside [0, 1), an unknown block size or norm, or a model
 * with no weight to prune.
 */
export async function pruneTrainedModel(model: Sequential, options: PostPruneOptions): Promise<PostPruneResult> {
  const context = 'pruneTrainedModel';
  const sparsity = checkNumber('sparsity', options.sparsity, 0, 1, context);
  if (sparsity >= 1) throw new ParameterError('sparsity', 'a number in [0, 1) (1 would remove every block)', sparsity, context);
  const largest = checkOneOf('blockSize', options.blockSize ?? 32, BLOCK_SIZES, context);
  const norm = checkOneOf('norm', options.norm ?? 'l2', ['l2', 'max'] as const, context);
  const records = blockRecords(describeModel(model), largest);
  const pruned = modelFromRecord(model.backend, records);
  try {
    const oldSites = sites(model);
    const newSites = sites(pruned);
    const handled = new Set<Parameter>();
    for (let s = 0; s < newSites.length; s++) {
      const target = newSites[s].target;
      setValue(target.weight, weightValues(await readWeight(oldSites[s].target), target));
      handled.add(target.weight);
    }
    const oldByName = new Map(model.parameters().map((p) => [p.name, p]));
    for (const p of pruned.parameters()) {
      if (handled.has(p)) continue;
      const old = oldByName.get(p.name)!;
      setValue(p, Float32Array.from(await old.value.backend.read(old.value)));
    }
    const weights: PrunedWeight[] = [];
    for (let s = 0; s < newSites.length; s++) {
      const { layer, part, target } = newSites[s];
      if (!(target instanceof BlockSparseLayer) || target.fixedLayout) continue;
      const source = target.layout;
      const blocks = source.inBlocks * source.outBlocks;
      const keep = Math.min(source.nnz, blocksToKeep(blocks, sparsity));
      const provenance = { generator: 'pruned', params: { method: 'magnitude', norm, sparsity, keep, step: null, after: 'training' }, sources: [source.provenance] };
      await pruneBlocks(target, { keep }, { norm, provenance });
      weights.push({
        layer, ...(part ? { part } : {}), blocksBefore: source.nnz, blocksAfter: keep, blocks, blockSize: source.blockSize,
        wasDense: oldSites[s].target instanceof Linear,
      });
    }
    if (weights.length === 0) throw new ParameterError('model', 'a model with a weight to prune (a hidden product whose widths a block size divides, or a block-sparse weight)', describeModel(model).map((r) => r.kind).join(', '), context);
    return { model: pruned, weights };
  } catch (error) {
    pruned.dispose();
    throw error;
  }
}
