/**
 * Models for training runs: an MLP builder whose hidden-to-hidden layers are block-sparse, and
 * the architecture record (JSON-safe) that checkpoints store and rebuild a model from.
 */
import { checkInteger, checkOneOf } from '../check.js';
import { FormatError, ParameterError } from '../errors.js';
import type { ActivationKind, Backend, HardConcreteOptions } from '../kernels/types.js';
import { layoutFromJSON, layoutToJSON, type LayoutJSON } from '../patterns/json-format.js';
import { BLOCK_SIZES, BlockLayout, DEFAULT_BLOCK_SIZE, type BlockSize } from '../patterns/layout.js';
import type { Seed } from '../random.js';
import { Activation, ACTIVATIONS } from './layers/activation.js';
import { BlockSparseLinear, type L0GateOptions } from './layers/block-sparse-linear.js';
import type { Layer } from './layers/layer.js';
import { LayerNorm } from './layers/layer-norm.js';
import { Linear } from './layers/linear.js';
import { Sequential } from './layers/sequential.js';

/** The shape a layout factory is asked for: the hidden-to-hidden layer `index` (0 for the first), or the input layer (role 'input', index 0), maps inBlocks to outBlocks blocks. */
export interface LayoutRequest {
  index: number;
  role: 'input' | 'hidden';
  inBlocks: number;
  outBlocks: number;
  blockSize: BlockSize;
}

/** Makes the layout of one block-sparse layer (from a pattern spec, a file, ...). */
export type LayoutFactory = (request: LayoutRequest) => BlockLayout;

/** Options of `buildMLP`. */
export interface MLPOptions {
  /** Input features (default 784, Fashion-MNIST's 28 x 28). */
  inputs?: number;
  /** Hidden layer widths (at least one); multiples of the block size when `layout` is given. */
  hidden: readonly number[];
  /** Output classes (default 10). */
  classes?: number;
  /** The layout of each hidden-to-hidden layer; without it those layers are dense Linear. */
  layout?: LayoutFactory;
  /** Block size of the block-sparse layers (default 32). */
  blockSize?: BlockSize;
  /** Activation after every hidden layer (default relu). */
  activation?: ActivationKind;
  /** Seed of the initial weights (layer i is seeded with "<seed>#layer<i>"); default 0. */
  seed?: Seed;
  /** Hard-concrete L0 gates on every block-sparse layer (needs `layout`). */
  l0?: L0GateOptions;
  /** Make the input layer block-sparse too (needs `layout`, and `inputs` a multiple of the block size: 784 = 49 x 16 = 98 x 8), so that wide models can keep a small parameter count. Default false. */
  sparseInput?: boolean;
}

/**
 * A multi-layer perceptron: Linear(inputs -> h1), then for each pair of consecutive hidden widths
 * a BlockSparseLinear with the factory's layout (h_i / bs x h_{i+1} / bs blocks; a dense Linear
 * without a factory), then Linear(h_last -> classes), with `activation` after every hidden layer.
 * The output layer stays dense (10 classes are not a block multiple); the input layer is dense
 * unless `sparseInput` (784 is a multiple of 8 and 16, not of 32). Raises ParameterError naming `hidden`
 * when a width is not a multiple of the block size, and `layout` when the factory returns a
 * layout of another shape (naming both sizes).
 */
export function buildMLP(backend: Backend, options: MLPOptions): Sequential {
  const context = 'buildMLP';
  const inputs = checkInteger('inputs', options.inputs ?? 784, 1, 2 ** 24, context);
  const classes = checkInteger('classes', options.classes ?? 10, 1, 2 ** 24, context);
  const hidden = options.hidden;
  if (!Array.isArray(hidden) || hidden.length === 0) throw new ParameterError('hidden', 'a non-empty list of widths', hidden, context);
  hidden.forEach((h, i) => checkInteger(`hidden[${i}]`, h, 1, 2 ** 24, context));
  const blockSize = checkOneOf('blockSize', options.blockSize ?? DEFAULT_BLOCK_SIZE, BLOCK_SIZES, context);
  const activation = checkOneOf('activation', options.activation ?? 'relu', ACTIVATIONS, context);
  const seed = options.seed ?? 0;
  if (options.l0 && !options.layout) throw new ParameterError('layout', "given with l0 (the gates live on block-sparse layers; use the 'dense' pattern to learn a layout from all blocks)", undefined, context);
  if (options.layout) {
    if (hidden.length < 2 && !options.sparseInput) throw new ParameterError('hidden', 'at least two widths when a layout is given without sparseInput (the layout is for hidden-to-hidden layers)', hidden.join(','), context);
    const bad = hidden.findIndex((h) => h % blockSize !== 0);
    if (bad >= 0) {
      throw new ParameterError('hidden', `widths that are multiples of the block size ${blockSize}`, `${hidden.join(',')} (${hidden[bad]} is not)`, context);
    }
  }
  const sparseInput = options.sparseInput ?? false;
  if (sparseInput) {
    if (!options.layout) throw new ParameterError('layout', 'given with sparseInput (the input layer needs a layout)', undefined, context);
    if (inputs % blockSize !== 0) throw new ParameterError('inputs', `a multiple of the block size ${blockSize} with sparseInput`, inputs, context);
  }
  const layers: Layer[] = [];
  const seedOf = (i: number) => `${seed}#layer${i}`;
  const push = (layer: Layer) => layers.push(layer);
  const sparseLayer = (role: 'input' | 'hidden', index: number, from: number, to: number, what: string) => {
    const wanted = { index, role, inBlocks: from / blockSize, outBlocks: to / blockSize, blockSize };
    const layout = options.layout!(wanted);
    if (!(layout instanceof BlockLayout)) throw new ParameterError('layout', 'a factory returning a BlockLayout', layout, context);
    if (layout.inBlocks !== wanted.inBlocks || layout.outBlocks !== wanted.outBlocks || layout.blockSize !== blockSize) {
      throw new ParameterError(
        'layout',
        `${wanted.inBlocks} x ${wanted.outBlocks} blocks of ${blockSize} for ${what} (${from} -> ${to} features)`,
        `${layout.inBlocks} x ${layout.outBlocks} blocks of ${layout.blockSize} (${layout.inFeatures} -> ${layout.outFeatures} features)`,
        context,
      );
    }
    return new BlockSparseLinear(backend, layout, { seed: seedOf(layers.length), ...(options.l0 ? { l0: options.l0 } : {}) });
  };
  push(sparseInput ? sparseLayer('input', 0, inputs, hidden[0], 'the input layer') : new Linear(backend, inputs, hidden[0], { seed: seedOf(layers.length) }));
  push(new Activation(backend, activation, hidden[0]));
  for (let i = 0; i + 1 < hidden.length; i++) {
    const [from, to] = [hidden[i], hidden[i + 1]];
    push(options.layout ? sparseLayer('hidden', i, from, to, `hidden layer ${i + 1} -> ${i + 2}`) : new Linear(backend, from, to, { seed: seedOf(layers.length) }));
    push(new Activation(backend, activation, to));
  }
  push(new Linear(backend, hidden[hidden.length - 1], classes, { seed: seedOf(layers.length) }));
  return new Sequential(layers);
}

/** Weights and biases of present blocks (L0 gate logits are not counted: they are not used at test time). */
export function parameterCount(model: Sequential): number {
  let count = 0;
  for (const layer of model.layers) {
    if (layer instanceof BlockSparseLinear) {
      count += layer.layout.nnz * layer.layout.blockSize ** 2 + (layer.bias ? layer.outFeatures : 0);
    } else if (layer instanceof Linear) {
      count += layer.inFeatures * layer.outFeatures + (layer.bias ? layer.outFeatures : 0);
    } else {
      for (const p of layer.parameters()) count += p.value.size;
    }
  }
  return count;
}

/** The density of one weight layer of a model. */
export interface LayerDensity {
  /** Index in the model's layers. */
  layer: number;
  kind: string;
  inFeatures: number;
  outFeatures: number;
  /** Present blocks over all blocks (1 for dense layers). */
  density: number;
  /** Present blocks (block-sparse layers only). */
  nnz?: number;
}

/** The density of every weight layer (Linear and BlockSparseLinear), in order. */
export function layerDensities(model: Sequential): LayerDensity[] {
  const out: LayerDensity[] = [];
  model.layers.forEach((layer, i) => {
    const base = { layer: i, kind: layer.kind, inFeatures: layer.inFeatures, outFeatures: layer.outFeatures };
    if (layer instanceof BlockSparseLinear) out.push({ ...base, density: layer.layout.density, nnz: layer.layout.nnz });
    else if (layer instanceof Linear) out.push({ ...base, density: 1 });
  });
  return out;
}

/** One layer of an architecture record (JSON-safe); block-sparse layers carry their current layout. */
export type LayerRecord =
  | { kind: 'linear'; inFeatures: number; outFeatures: number; bias: boolean }
  | { kind: 'activation'; activation: ActivationKind; features: number }
  | { kind: 'layer-norm'; features: number; eps: number }
  | { kind: 'block-sparse-linear'; layout: LayoutJSON; bias: boolean; l0: (Required<HardConcreteOptions> & { lrScale?: number }) | null };

/** The architecture of a Sequential model of the layers this toolkit has, with each block-sparse layer's current layout. */
export function describeModel(model: Sequential): LayerRecord[] {
  return model.layers.map((layer, i): LayerRecord => {
    if (layer instanceof BlockSparseLinear) {
      const l0 = layer.hardConcrete ? { ...layer.hardConcrete, ...(layer.logAlpha?.lrScale !== undefined && layer.logAlpha.lrScale !== 1 ? { lrScale: layer.logAlpha.lrScale } : {}) } : null;
      return { kind: 'block-sparse-linear', layout: layoutToJSON(layer.layout), bias: layer.bias !== null, l0 };
    }
    if (layer instanceof Linear) return { kind: 'linear', inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, bias: layer.bias !== null };
    if (layer instanceof Activation) return { kind: 'activation', activation: layer.kind, features: layer.inFeatures };
    if (layer instanceof LayerNorm) return { kind: 'layer-norm', features: layer.inFeatures, eps: layer.eps };
    throw new ParameterError(`model.layers[${i}]`, 'a Linear, BlockSparseLinear, Activation or LayerNorm', layer.kind, 'describeModel');
  });
}

/** A model built from an architecture record (freshly initialised; a checkpoint then overwrites the values). FormatError names a bad record. */
export function modelFromRecord(backend: Backend, records: readonly LayerRecord[]): Sequential {
  if (!Array.isArray(records) || records.length === 0) throw new FormatError('the architecture must be a non-empty list of layers', 'architecture');
  const layers = records.map((record, i): Layer => {
    const where = `architecture[${i}]`;
    try {
      switch (record?.kind) {
        case 'linear':
          return new Linear(backend, record.inFeatures, record.outFeatures, { seed: 0, bias: record.bias });
        case 'activation':
          return new Activation(backend, record.activation, record.features);
        case 'layer-norm':
          return new LayerNorm(backend, record.features, record.eps);
        case 'block-sparse-linear':
          return new BlockSparseLinear(backend, layoutFromJSON(record.layout), { seed: 0, bias: record.bias, ...(record.l0 ? { l0: record.l0 } : {}) });
        default:
          throw new FormatError(`unknown layer kind ${JSON.stringify((record as { kind?: unknown })?.kind)}`, where);
      }
    } catch (error) {
      if (error instanceof FormatError && error.field === where) throw error;
      if (error instanceof Error) throw new FormatError(`${where} (${record?.kind}): ${error.message}`, where);
      throw error;
    }
  });
  try {
    return new Sequential(layers);
  } catch (error) {
    for (const layer of layers) layer.dispose();
    throw new FormatError(`architecture: ${(error as Error).message}`, 'architecture');
  }
}
