/**
 * The tensors of a model file ("blocksparse-model", model-safetensors.ts), named from the
 * architecture records alone, so that a reader knows every name, dtype and shape before it
 * allocates anything. Layer i's tensors are "layers.<i>.<parameter>" for its parameters
 * (a LayerNorm's `gain` and `bias`, an Embedding's `weight`, an LSTM's `bias`), except its
 * weights: a dense weight is "<prefix>.weight" [in, out] (y = x W), a block-sparse one
 * "<prefix>.blocks" [nnz, bs, bs] (a convolution's [nnz, kh, kw, bs, bs]) with its layout's CSR
 * "<prefix>.row_ptr" (I32 [inBlocks + 1]) and "<prefix>.col_idx" (I32 [nnz]); the prefix is
 * "layers.<i>", or "layers.<i>.input" and "layers.<i>.recurrent" for an LSTM's two weights.
 */
import type { LayoutJSON } from '../../patterns/json-format.js';
import type { SafetensorsDtype } from '../safetensors.js';
import type { LayerRecord } from '../model-records.js';

/** One tensor of a model file: its name, dtype and shape, and the model parameter it holds (null for a layout's CSR). */
export interface ModelTensorSpec {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** The parameter's name in the model ("3.weight", "2.recurrent.weight", "0.gain"), or null for row_ptr and col_idx. */
  readonly parameter: string | null;
}

/**
 * One weight of a layer, dense or block-sparse: its tensor prefix ("layers.3", "layers.2.input"),
 * the model parameter holding it, its layout (null: dense) and its shapes.
 */
export interface WeightSite {
  readonly prefix: string;
  readonly parameter: string;
  /** The layout record (null for a dense weight); its field in the architecture is `field`. */
  readonly layout: LayoutJSON | null;
  /** Where the layout sits in the architecture, e.g. "architecture[2].recurrentLayout" (null for a dense weight). */
  readonly field: string | null;
  /** A dense weight's shape [in, out]; a block-sparse weight's block shape ([bs, bs] or [kh, kw, bs, bs]). */
  readonly shape: readonly number[];
}

/** The weights of layer `i` (its record `record`), in the order their tensors are written. */
export function weightSites(record: LayerRecord, i: number): WeightSite[] {
  const where = `architecture[${i}]`;
  const blocks = (layout: LayoutJSON, tail: readonly number[] = []) => [...tail, layout.blockSize, layout.blockSize];
  switch (record.kind) {
    case 'linear':
      return [{ prefix: `layers.${i}`, parameter: `${i}.weight`, layout: null, field: null, shape: [record.inFeatures, record.outFeatures] }];
    case 'block-sparse-linear':
      return [{ prefix: `layers.${i}`, parameter: `${i}.weight`, layout: record.layout, field: `${where}.layout`, shape: blocks(record.layout) }];
    case 'block-sparse-conv2d':
      return [{ prefix: `layers.${i}`, parameter: `${i}.weight`, layout: record.layout, field: `${where}.layout`, shape: blocks(record.layout, record.kernel) }];
    case 'lstm': {
      const gates = 4 * record.hidden;
      const site = (part: 'input' | 'recurrent', layout: LayoutJSON | null, rows: number): WeightSite => ({
        prefix: `layers.${i}.${part}`, parameter: `${i}.${part}.weight`, layout, field: layout ? `${where}.${part}Layout` : null,
        shape: layout ? blocks(layout) : [rows, gates],
      });
      return [site('input', record.inputLayout, record.inFeatures), site('recurrent', record.recurrentLayout, record.hidden)];
    }
    default:
      return [];
  }
}

/** The parameters of layer `i` other than its weights: [local name, shape]. */
function otherParameters(record: LayerRecord): [string, number[]][] {
  switch (record.kind) {
    case 'linear':
      return record.bias ? [['bias', [record.outFeatures]]] : [];
    case 'block-sparse-linear':
    case 'block-sparse-conv2d': {
      const { outBlocks, blockSize } = record.layout;
      return record.bias ? [['bias', [outBlocks * blockSize]]] : [];
    }
    case 'layer-norm':
    case 'channel-norm':
      return [['gain', [record.features]], ['bias', [record.features]]];
    case 'embedding':
      return [['weight', [record.symbols, record.features]]];
    case 'lstm':
      return [['bias', [4 * record.hidden]]];
    default:
      return [];
  }
}

/** The tensors of layer `i`, in file order: each weight (dense, or blocks, row_ptr, col_idx), then the other parameters. */
export function layerTensorSpecs(record: LayerRecord, i: number): ModelTensorSpec[] {
  const specs: ModelTensorSpec[] = [];
  for (const site of weightSites(record, i)) {
    if (!site.layout) {
      specs.push({ name: `${site.prefix}.weight`, dtype: 'F32', shape: site.shape, parameter: site.parameter });
      continue;
    }
    const { nnz, inBlocks } = site.layout;
    specs.push(
      { name: `${site.prefix}.blocks`, dtype: 'F32', shape: [nnz, ...site.shape], parameter: site.parameter },
      { name: `${site.prefix}.row_ptr`, dtype: 'I32', shape: [inBlocks + 1], parameter: null },
      { name: `${site.prefix}.col_idx`, dtype: 'I32', shape: [nnz], parameter: null },
    );
  }
  for (const [name, shape] of otherParameters(record)) specs.push({ name: `layers.${i}.${name}`, dtype: 'F32', shape, parameter: `${i}.${name}` });
  return specs;
}

/** Every tensor of a model file for `records`, in file order. */
export function modelTensorSpecs(records: readonly LayerRecord[]): ModelTensorSpec[] {
  return records.flatMap((record, i) => layerTensorSpecs(record, i));
}
