/**
 * The memory a model needs in training, estimated from its layers' sizes before anything is
 * allocated, and checked against the memory budget.
 */
import { checkMemory } from '../budget.js';
import { ParameterError } from '../errors.js';
import type { LayerRecord } from './model-records.js';

/** The sizes of a block-sparse weight that its memory depends on (a layout without its blocks). */
export interface SparseShape {
  inBlocks: number;
  outBlocks: number;
  blockSize: number;
  nnz: number;
}

/** The sizes of one layer that its memory depends on (a LayerRecord without the layouts' blocks). */
export type LayerShape =
  | { kind: 'linear'; inFeatures: number; outFeatures: number; bias: boolean }
  | { kind: 'activation'; features: number }
  | { kind: 'layer-norm'; features: number }
  | ({ kind: 'block-sparse-linear'; bias: boolean; l0: boolean } & SparseShape)
  | { kind: 'embedding'; symbols: number; features: number }
  /** An LSTM: its input (inFeatures -> 4 hidden) and recurrent (hidden -> 4 hidden) weights, dense (null) or block-sparse with the layout's sizes as the layer holds it (4 hidden / bs output blocks). */
  | { kind: 'lstm'; inFeatures: number; hidden: number; input: SparseShape | null; recurrent: SparseShape | null; l0: boolean }
  /** A block-sparse convolution: its layout's sizes and the kernel's taps kh kw (a block holds taps bs^2 weights). */
  | ({ kind: 'block-sparse-conv2d'; bias: boolean; l0: boolean; taps: number } & SparseShape)
  /** ImageInput: no parameters, a [inChannels, channels] table. */
  | { kind: 'image-input'; inChannels: number; channels: number }
  | { kind: 'channel-norm'; features: number }
  | { kind: 'max-pool2d' | 'avg-pool2d' | 'global-avg-pool'; features: number };

/** The optimiser an estimate assumes: its kind, and SGD's momentum (a velocity slot when above 0); 'none' for inference (values only: no gradients, no optimiser state). */
export interface OptimizerKind {
  kind: 'sgd' | 'adam' | 'adamw' | 'none';
  momentum?: number;
}

/** What `estimateModelBytes` finds: bytes in all, the largest single array, and the layer needing most memory. */
export interface ModelMemoryEstimate {
  /** Parameters, their gradients, the optimiser's state and the layouts' tables, in bytes. */
  bytes: number;
  /** Elements of the largest single typed array (checked against MAX_TYPED_ARRAY_LENGTH). */
  elements: number;
  /** The layer needing most memory, e.g. "Linear 784 x 16777216 at layer 0". */
  largest: string;
  /** The optimiser state counted, e.g. "Adam state". */
  optimizer: string;
}

/** State tensors per parameter: Adam and AdamW keep two moments, SGD with momentum one velocity, plain SGD none. */
function optimizerSlots(optimizer: OptimizerKind): number {
  if (optimizer.kind === 'none') return 0;
  if (optimizer.kind === 'sgd') return (optimizer.momentum ?? 0) > 0 ? 1 : 0;
  return 2;
}

/** The shape of a record (its layouts' sizes without their blocks); a shape is its own. */
export function shapeOf(layer: LayerRecord | LayerShape): LayerShape {
  if (layer.kind === 'block-sparse-linear' && 'layout' in layer) {
    const { inBlocks, outBlocks, blockSize, nnz } = layer.layout;
    return { kind: layer.kind, inBlocks, outBlocks, blockSize, nnz, bias: layer.bias, l0: layer.l0 !== null };
  }
  if (layer.kind === 'block-sparse-conv2d' && 'layout' in layer) {
    const { inBlocks, outBlocks, blockSize, nnz } = layer.layout;
    return { kind: layer.kind, inBlocks, outBlocks, blockSize, nnz, bias: layer.bias, l0: layer.l0 !== null, taps: layer.kernel[0] * layer.kernel[1] };
  }
  if (layer.kind === 'lstm' && 'recurrentLayout' in layer) {
    const sparse = (l: { inBlocks: number; outBlocks: number; blockSize: number; nnz: number } | null): SparseShape | null =>
      l === null ? null : { inBlocks: l.inBlocks, outBlocks: l.outBlocks, blockSize: l.blockSize, nnz: l.nnz };
    return { kind: 'lstm', inFeatures: layer.inFeatures, hidden: layer.hidden, input: sparse(layer.inputLayout), recurrent: sparse(layer.recurrentLayout), l0: layer.l0 !== null };
  }
  return layer as LayerShape;
}

/**
 * A weight's parameter count, largest array and layout tables: dense rows x cols, or block-sparse
 * (`taps` bs^2 weights a block: a convolution's kh kw; with a gate logit per block when gated).
 */
function weightCost(rows: number, cols: number, sparse: SparseShape | null, l0: boolean, taps = 1): { params: number; biggest: number; tables: number } {
  if (sparse === null) return { params: rows * cols, biggest: rows * cols, tables: 0 };
  const { inBlocks, outBlocks, blockSize: bs, nnz } = sparse;
  const weights = nnz * taps * bs * bs;
  return { params: weights + (l0 ? nnz : 0), biggest: Math.max(weights, inBlocks + 1), tables: 4 * (inBlocks + 2 * outBlocks + 5 * nnz) };
}

/**
 * The memory a model of these layers needs in training, before anything is allocated: each
 * parameter's values, its gradient and the optimiser's state tensors (Adam and AdamW 2, SGD with
 * momentum 1; Adam when no optimiser is given, the most), float32, and each block-sparse weight's
 * layout tables (CSR, column lists, fan-in). Per-batch activations are not counted (the batch
 * size is not known here). Takes architecture records (as checkpoints store) or layer shapes.
 */
export function estimateModelBytes(layers: readonly (LayerRecord | LayerShape)[], optimizer: OptimizerKind = { kind: 'adam' }): ModelMemoryEstimate {
  // Values, gradients and the optimiser's slots; values alone for inference.
  const copies = optimizer.kind === 'none' ? 1 : 2 + optimizerSlots(optimizer);
  let bytes = 0;
  let elements = 0;
  let largest = { bytes: -1, text: 'no layers' };
  layers.forEach((layer, i) => {
    const shape = shapeOf(layer);
    let params = 0;
    let tables = 0;
    let biggest = 0;
    let text: string;
    switch (shape.kind) {
      case 'linear':
        params = shape.inFeatures * shape.outFeatures + (shape.bias ? shape.outFeatures : 0);
        biggest = shape.inFeatures * shape.outFeatures;
        text = `Linear ${shape.inFeatures} x ${shape.outFeatures}`;
        break;
      case 'layer-norm':
        params = 2 * shape.features;
        biggest = shape.features;
        text = `LayerNorm ${shape.features}`;
        break;
      case 'activation':
        text = `activation of ${shape.features}`;
        break;
      case 'block-sparse-linear': {
        const { inBlocks, outBlocks, blockSize: bs, nnz } = shape;
        const weights = weightCost(0, 0, shape, shape.l0);
        params = weights.params + (shape.bias ? outBlocks * bs : 0);
        tables = weights.tables;
        biggest = Math.max(weights.biggest, outBlocks * bs);
        text = `BlockSparseLinear ${inBlocks} x ${outBlocks} blocks of ${bs}, nnz ${nnz}`;
        break;
      }
      case 'block-sparse-conv2d': {
        const { inBlocks, outBlocks, blockSize: bs, nnz, taps } = shape;
        const weights = weightCost(0, 0, shape, shape.l0, taps);
        params = weights.params + (shape.bias ? outBlocks * bs : 0);
        tables = weights.tables;
        biggest = Math.max(weights.biggest, outBlocks * bs);
        text = `BlockSparseConv2d ${inBlocks} x ${outBlocks} blocks of ${bs}, ${taps} taps, nnz ${nnz}`;
        break;
      }
      case 'image-input':
        tables = 4 * shape.inChannels * shape.channels;
        biggest = shape.inChannels * shape.channels;
        text = `ImageInput of ${shape.channels} channels`;
        break;
      case 'channel-norm':
        params = 2 * shape.features;
        biggest = shape.features;
        text = `ChannelNorm ${shape.features}`;
        break;
      case 'max-pool2d':
      case 'avg-pool2d':
      case 'global-avg-pool':
        text = `${shape.kind} of ${shape.features}`;
        break;
      case 'embedding':
        params = shape.symbols * shape.features;
        biggest = params;
        text = `Embedding ${shape.symbols} x ${shape.features}`;
        break;
      case 'lstm': {
        const gates = 4 * shape.hidden;
        const input = weightCost(shape.inFeatures, gates, shape.input, shape.l0);
        const recurrent = weightCost(shape.hidden, gates, shape.recurrent, shape.l0);
        params = input.params + recurrent.params + gates;
        tables = input.tables + recurrent.tables;
        biggest = Math.max(input.biggest, recurrent.biggest, gates);
        const sparse = shape.recurrent ? `, recurrent nnz ${shape.recurrent.nnz} blocks of ${shape.recurrent.blockSize}` : '';
        text = `LSTM ${shape.inFeatures} -> ${shape.hidden}${sparse}`;
        break;
      }
      default:
        throw new ParameterError(
          `layers[${i}].kind`, 'linear, activation, layer-norm, block-sparse-linear, embedding, lstm, block-sparse-conv2d, image-input, channel-norm, max-pool2d, avg-pool2d or global-avg-pool',
          (shape as { kind?: unknown }).kind, 'estimateModelBytes',
        );
    }
    const layerBytes = 4 * params * copies + tables;
    bytes += layerBytes;
    elements = Math.max(elements, biggest);
    if (layerBytes > largest.bytes) largest = { bytes: layerBytes, text: `${text} at layer ${i}` };
  });
  if (optimizer.kind === 'none') return { bytes, elements, largest: largest.text, optimizer: 'no optimiser state' };
  const name = optimizer.kind === 'sgd' ? (copies > 2 ? 'SGD momentum' : 'no optimiser') : optimizer.kind === 'adamw' ? 'AdamW' : 'Adam';
  return { bytes, elements, largest: largest.text, optimizer: `${name} state` };
}

/**
 * Checks a model's estimated memory (`estimateModelBytes`) against the memory budget before
 * anything is allocated: ResourceError "model (Linear 784 x 16777216 at layer 0, the largest of
 * 3 layers; values, gradients and Adam state) needs about 199 GiB of memory, over the budget ...".
 */
export function checkModelMemory(layers: readonly (LayerRecord | LayerShape)[], optimizer?: OptimizerKind): ModelMemoryEstimate {
  const estimate = estimateModelBytes(layers, optimizer);
  const among = layers.length > 1 ? `, the largest of ${layers.length} layers` : '';
  const held = optimizer?.kind === 'none' ? 'values only, for inference' : `values, gradients and ${estimate.optimizer}`;
  checkMemory(`model (${estimate.largest}${among}; ${held})`, estimate.bytes, { elements: estimate.elements });
  return estimate;
}
