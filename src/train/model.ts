/**
 * Models for training runs: an MLP builder whose hidden-to-hidden layers are block-sparse, a model
 * rebuilt from its architecture record (model-records.ts: what checkpoints store), the memory a
 * model needs (model-memory.ts), and what a model holds: parameter counts and layer densities.
 * The character-level LSTM builder is in language-model.ts.
 */
import { checkInteger, checkOneOf } from '../check.js';
import { FormatError, ParameterError, ShapeError } from '../errors.js';
import type { ActivationKind, Backend } from '../kernels/types.js';
import { layoutFromJSON } from '../patterns/json-format.js';
import { BLOCK_SIZES, BlockLayout, DEFAULT_BLOCK_SIZE, type BlockSize } from '../patterns/layout.js';
import type { Seed } from '../random.js';
import { Activation, ACTIVATIONS } from './layers/activation.js';
import { BlockSparseLayer, type L0GateOptions } from './layers/block-sparse-layer.js';
import { BlockSparseConv2d } from './layers/block-sparse-conv2d.js';
import { BlockSparseLinear } from './layers/block-sparse-linear.js';
import { ChannelNorm } from './layers/channel-norm.js';
import { Embedding } from './layers/embedding.js';
import { ImageInput } from './layers/image-input.js';
import type { Layer } from './layers/layer.js';
import { LayerNorm } from './layers/layer-norm.js';
import { Linear } from './layers/linear.js';
import { LSTM } from './layers/lstm.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from './layers/pooling.js';
import { Sequential } from './layers/sequential.js';
import { checkModelMemory, type LayerShape, type OptimizerKind } from './model-memory.js';
import { checkLayerRecords, type LayerRecord } from './model-records.js';

// Kept importable from model.js, where they were before the records and the memory estimate had modules of their own.
export { checkLayerRecords, describeModel, type L0Record, type LayerRecord } from './model-records.js';
export { checkModelMemory, estimateModelBytes, type LayerShape, type ModelMemoryEstimate, type OptimizerKind, type SparseShape } from './model-memory.js';

/**
 * The shape a layout factory is asked for, by `role`:
 * - 'hidden': the MLP's hidden-to-hidden layer `index` (0 for the first) maps inBlocks to outBlocks blocks;
 * - 'input': the MLP's input layer (index 0), or the input weights of the LSTM `index` (from 0; with
 *   sparseInput), inBlocks = its input features / bs, outBlocks = hidden / bs;
 * - 'recurrent': the recurrent weights of the LSTM `index`, square: inBlocks = outBlocks = hidden / bs.
 * - 'conv': the CNN's block-sparse convolution `index` (from 0, in order; the stem is not asked
 *   for), over channel blocks: inBlocks = its input channels / bs, outBlocks = its output channels / bs.
 * An LSTM's layout (either role) is shared by its four gates; a factory may instead give
 * inBlocks x 4 outBlocks blocks, each gate with blocks of its own (gate g the columns
 * [g outBlocks, (g + 1) outBlocks), in PyTorch's order i, f, g, o).
 */
export interface LayoutRequest {
  index: number;
  role: 'input' | 'hidden' | 'recurrent' | 'conv';
  inBlocks: number;
  outBlocks: number;
  blockSize: BlockSize;
}

/** Makes the layout of one block-sparse layer (from a pattern spec, a file, ...). */
export type LayoutFactory = (request: LayoutRequest) => BlockLayout;

/**
 * The layout `factory` gives for `wanted`, checked: a BlockLayout of exactly the wanted blocks, or
 * with `gates` (an LSTM's weights) inBlocks x 4 outBlocks; ParameterError naming `layout` with
 * both sizes and `what` the layout is for otherwise.
 */
export function requestLayout(factory: LayoutFactory, wanted: LayoutRequest, what: string, context: string, gates = false): BlockLayout {
  const layout = factory(wanted);
  if (!(layout instanceof BlockLayout)) throw new ParameterError('layout', 'a factory returning a BlockLayout', layout, context);
  const { inBlocks, outBlocks, blockSize } = wanted;
  const fits = layout.inBlocks === inBlocks && layout.blockSize === blockSize && (layout.outBlocks === outBlocks || (gates && layout.outBlocks === 4 * outBlocks));
  if (!fits) {
    const bs = blockSize;
    const shape = gates
      ? `${inBlocks} x ${outBlocks} blocks of ${bs} (shared by the four gates) or ${inBlocks} x ${4 * outBlocks} for ${what} (${inBlocks * bs} -> ${outBlocks * bs} features)`
      : `${inBlocks} x ${outBlocks} blocks of ${bs} for ${what} (${inBlocks * bs} -> ${outBlocks * bs} features)`;
    throw new ParameterError('layout', shape, `${layout.inBlocks} x ${layout.outBlocks} blocks of ${layout.blockSize} (${layout.inFeatures} -> ${layout.outFeatures} features)`, context);
  }
  return layout;
}

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
  // Plan every layer, with each block-sparse layer's layout, and check the memory they need
  // before any weight is allocated (the layouts are small; the weights are what grows).
  type Planned = { kind: 'dense'; from: number; to: number } | { kind: 'sparse'; layout: BlockLayout } | { kind: 'activation'; features: number };
  const sparseLayout = (role: 'input' | 'hidden', index: number, from: number, to: number, what: string): BlockLayout =>
    requestLayout(options.layout!, { index, role, inBlocks: from / blockSize, outBlocks: to / blockSize, blockSize }, what, context);
  const shapes = (plan: readonly (Planned | { kind: 'pending'; from: number; to: number })[]): LayerShape[] =>
    plan.map((p): LayerShape => {
      if (p.kind === 'dense') return { kind: 'linear', inFeatures: p.from, outFeatures: p.to, bias: true };
      if (p.kind === 'activation') return { kind: 'activation', features: p.features };
      // A layout not made yet counts as no blocks: the first check covers the dense layers only.
      if (p.kind === 'pending') return { kind: 'block-sparse-linear', inBlocks: p.from / blockSize, outBlocks: p.to / blockSize, blockSize, nnz: 0, bias: true, l0: options.l0 !== undefined };
      const { inBlocks, outBlocks, nnz } = p.layout;
      return { kind: 'block-sparse-linear', inBlocks, outBlocks, blockSize, nnz, bias: true, l0: options.l0 !== undefined };
    });
  const draft: (Planned | { kind: 'pending'; from: number; to: number; role: 'input' | 'hidden'; index: number; what: string })[] = [];
  draft.push(sparseInput ? { kind: 'pending', from: inputs, to: hidden[0], role: 'input', index: 0, what: 'the input layer' } : { kind: 'dense', from: inputs, to: hidden[0] });
  draft.push({ kind: 'activation', features: hidden[0] });
  for (let i = 0; i + 1 < hidden.length; i++) {
    const [from, to] = [hidden[i], hidden[i + 1]];
    draft.push(options.layout ? { kind: 'pending', from, to, role: 'hidden', index: i, what: `hidden layer ${i + 1} -> ${i + 2}` } : { kind: 'dense', from, to });
    draft.push({ kind: 'activation', features: to });
  }
  draft.push({ kind: 'dense', from: hidden[hidden.length - 1], to: classes });
  checkModelMemory(shapes(draft));
  const plan: Planned[] = draft.map((p) => (p.kind === 'pending' ? { kind: 'sparse', layout: sparseLayout(p.role, p.index, p.from, p.to, p.what) } : p));
  checkModelMemory(shapes(plan));

  const layers: Layer[] = [];
  const seedOf = (i: number) => `${seed}#layer${i}`;
  for (const p of plan) {
    if (p.kind === 'dense') layers.push(new Linear(backend, p.from, p.to, { seed: seedOf(layers.length) }));
    else if (p.kind === 'activation') layers.push(new Activation(backend, activation, p.features));
    else layers.push(new BlockSparseLinear(backend, p.layout, { seed: seedOf(layers.length), ...(options.l0 ? { l0: options.l0 } : {}) }));
  }
  return new Sequential(layers);
}

/** The weights of a dense or block-sparse product or convolution (present blocks only), without its bias. */
function weightCount(layer: Linear | BlockSparseLayer): number {
  return layer instanceof BlockSparseLayer ? layer.layout.nnz * layer.weightsPerBlock : layer.inFeatures * layer.outFeatures;
}

/** Weights and biases of present blocks (a convolution's block: kh kw bs^2 weights), embedding tables and norms' gains and biases (L0 gate logits are not counted: they are not used at test time). */
export function parameterCount(model: Sequential): number {
  let count = 0;
  for (const layer of model.layers) {
    if (layer instanceof BlockSparseLayer || layer instanceof Linear) {
      count += weightCount(layer) + (layer.bias ? layer.outFeatures : 0);
    } else if (layer instanceof LSTM) {
      count += weightCount(layer.input) + weightCount(layer.recurrent) + layer.bias.value.size;
    } else {
      for (const p of layer.parameters()) count += p.value.size;
    }
  }
  return count;
}

/** The density of one weight of a model. */
export interface LayerDensity {
  /** Index in the model's layers. */
  layer: number;
  kind: string;
  /** Which weight of the layer: an LSTM's 'input' or 'recurrent' weights (absent for a layer of one weight). */
  part?: 'input' | 'recurrent';
  inFeatures: number;
  outFeatures: number;
  /** Present blocks over all blocks (1 for dense weights). */
  density: number;
  /** Present blocks (block-sparse weights only). */
  nnz?: number;
}

/**
 * The density of every weight (Linear, BlockSparseLinear, BlockSparseConv2d: its channels in and
 * out, an Embedding's table, an LSTM's input and recurrent weights), in order.
 */
export function layerDensities(model: Sequential): LayerDensity[] {
  const out: LayerDensity[] = [];
  const weight = (base: Omit<LayerDensity, 'density' | 'nnz'>, w: Linear | BlockSparseLayer): LayerDensity =>
    w instanceof BlockSparseLayer ? { ...base, density: w.layout.density, nnz: w.layout.nnz } : { ...base, density: 1 };
  model.layers.forEach((layer, i) => {
    const base = { layer: i, kind: layer.kind, inFeatures: layer.inFeatures, outFeatures: layer.outFeatures };
    if (layer instanceof BlockSparseLayer || layer instanceof Linear) out.push(weight(base, layer));
    else if (layer instanceof Embedding) out.push({ ...base, inFeatures: layer.symbols, density: 1 });
    else if (layer instanceof LSTM) {
      for (const part of ['input', 'recurrent'] as const) {
        const w = layer[part];
        out.push(weight({ layer: i, kind: layer.kind, part, inFeatures: w.inFeatures, outFeatures: w.outFeatures }, w));
      }
    }
  });
  return out;
}

/** The layer of one (validated) record, freshly initialised (seed 0). */
function layerOf(backend: Backend, record: LayerRecord): Layer {
  switch (record.kind) {
    case 'linear':
      return new Linear(backend, record.inFeatures, record.outFeatures, { seed: 0, bias: record.bias });
    case 'activation':
      return new Activation(backend, record.activation, record.features);
    case 'layer-norm':
      return new LayerNorm(backend, record.features, record.eps);
    case 'block-sparse-linear':
      return new BlockSparseLinear(backend, layoutFromJSON(record.layout), { seed: 0, bias: record.bias, ...(record.l0 ? { l0: record.l0 } : {}), ...(record.fixedLayout ? { fixedLayout: true } : {}) });
    case 'block-sparse-conv2d': {
      const { kernel, stride, padding, dilation } = record;
      return new BlockSparseConv2d(backend, layoutFromJSON(record.layout), {
        kernel, stride, padding, dilation, seed: 0, bias: record.bias, ...(record.l0 ? { l0: record.l0 } : {}), ...(record.fixedLayout ? { fixedLayout: true } : {}),
      });
    }
    case 'image-input':
      return new ImageInput(backend, { height: record.height, width: record.width, inChannels: record.inChannels, channels: record.channels });
    case 'channel-norm':
      return new ChannelNorm(backend, record.features, record.eps);
    case 'max-pool2d':
      return new MaxPool2d(backend, record.features, { kernel: record.kernel, stride: record.stride, padding: record.padding });
    case 'avg-pool2d':
      return new AvgPool2d(backend, record.features, { kernel: record.kernel, stride: record.stride, padding: record.padding });
    case 'global-avg-pool':
      return new GlobalAvgPool(backend, record.features);
    case 'embedding':
      return new Embedding(backend, record.symbols, record.features, { seed: 0 });
    case 'lstm':
      return new LSTM(backend, record.inFeatures, record.hidden, {
        seed: 0,
        ...(record.inputLayout ? { inputLayout: layoutFromJSON(record.inputLayout) } : {}),
        ...(record.recurrentLayout ? { recurrentLayout: layoutFromJSON(record.recurrentLayout) } : {}),
        ...(record.l0 ? { l0: record.l0 } : {}),
      });
  }
}

/**
 * A model built from an architecture record (freshly initialised; a checkpoint then overwrites the
 * values). The records are validated first (`checkLayerRecords`: FormatError naming the field)
 * and the model's memory (`estimateModelBytes`, with `optimizer`'s state; Adam's when not given)
 * checked against the budget (ResourceError) before any tensor is allocated.
 */
export function modelFromRecord(backend: Backend, records: readonly LayerRecord[], optimizer?: OptimizerKind): Sequential {
  checkLayerRecords(records);
  checkModelMemory(records, optimizer);
  const layers: Layer[] = [];
  try {
    records.forEach((record, i) => {
      const where = `architecture[${i}]`;
      try {
        layers.push(layerOf(backend, record));
      } catch (error) {
        if (error instanceof ParameterError || error instanceof ShapeError) throw new FormatError(`${where} (${record.kind}): ${error.message}`, where);
        throw error;
      }
    });
    return new Sequential(layers);
  } catch (error) {
    for (const layer of layers) layer.dispose();
    if (error instanceof ShapeError) throw new FormatError(`architecture: ${error.message}`, 'architecture');
    throw error;
  }
}
