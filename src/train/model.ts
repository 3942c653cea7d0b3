/**
 * Models for training runs: an MLP builder whose hidden-to-hidden layers are block-sparse, and
 * the architecture record (JSON-safe) that checkpoints store and rebuild a model from.
 */
import { checkMemory } from '../budget.js';
import { checkInteger, checkOneOf } from '../check.js';
import { FormatError, ParameterError, ShapeError } from '../errors.js';
import type { ActivationKind, Backend, HardConcreteOptions } from '../kernels/types.js';
import { layoutFromJSON, layoutToJSON, MAX_BLOCK_INDEX, type LayoutJSON } from '../patterns/json-format.js';
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
  // Plan every layer, with each block-sparse layer's layout, and check the memory they need
  // before any weight is allocated (the layouts are small; the weights are what grows).
  type Planned = { kind: 'dense'; from: number; to: number } | { kind: 'sparse'; layout: BlockLayout } | { kind: 'activation'; features: number };
  const sparseLayout = (role: 'input' | 'hidden', index: number, from: number, to: number, what: string): BlockLayout => {
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
    return layout;
  };
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

/** The sizes of one layer that its memory depends on (a LayerRecord without the layout's blocks). */
export type LayerShape =
  | { kind: 'linear'; inFeatures: number; outFeatures: number; bias: boolean }
  | { kind: 'activation'; features: number }
  | { kind: 'layer-norm'; features: number }
  | { kind: 'block-sparse-linear'; inBlocks: number; outBlocks: number; blockSize: number; nnz: number; bias: boolean; l0: boolean };

/** The optimiser an estimate assumes: its kind, and SGD's momentum (a velocity slot when above 0). */
export interface OptimizerKind {
  kind: 'sgd' | 'adam' | 'adamw';
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
  if (optimizer.kind === 'sgd') return (optimizer.momentum ?? 0) > 0 ? 1 : 0;
  return 2;
}

function shapeOf(record: LayerRecord): LayerShape {
  if (record.kind !== 'block-sparse-linear') return record;
  const { inBlocks, outBlocks, blockSize, nnz } = record.layout;
  return { kind: record.kind, inBlocks, outBlocks, blockSize, nnz, bias: record.bias, l0: record.l0 !== null };
}

/**
 * The memory a model of these layers needs in training, before anything is allocated: each
 * parameter's values, its gradient and the optimiser's state tensors (Adam and AdamW 2, SGD with
 * momentum 1; Adam when no optimiser is given, the most), float32, and each block-sparse layer's
 * layout tables (CSR, column lists, fan-in). Per-batch activations are not counted (the batch
 * size is not known here). Takes architecture records (as checkpoints store) or layer shapes.
 */
export function estimateModelBytes(layers: readonly (LayerRecord | LayerShape)[], optimizer: OptimizerKind = { kind: 'adam' }): ModelMemoryEstimate {
  const copies = 2 + optimizerSlots(optimizer);
  let bytes = 0;
  let elements = 0;
  let largest = { bytes: -1, text: 'no layers' };
  layers.forEach((layer, i) => {
    const shape = layer.kind === 'block-sparse-linear' && 'layout' in layer ? shapeOf(layer) : (layer as LayerShape);
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
        params = nnz * bs * bs + (shape.bias ? outBlocks * bs : 0) + (shape.l0 ? nnz : 0);
        tables = 4 * (inBlocks + 2 * outBlocks + 5 * nnz);
        biggest = Math.max(nnz * bs * bs, outBlocks * bs, inBlocks + 1);
        text = `BlockSparseLinear ${inBlocks} x ${outBlocks} blocks of ${bs}, nnz ${nnz}`;
        break;
      }
      default:
        throw new ParameterError(`layers[${i}].kind`, 'linear, activation, layer-norm or block-sparse-linear', (shape as { kind?: unknown }).kind, 'estimateModelBytes');
    }
    const layerBytes = 4 * params * copies + tables;
    bytes += layerBytes;
    elements = Math.max(elements, biggest);
    if (layerBytes > largest.bytes) largest = { bytes: layerBytes, text: `${text} at layer ${i}` };
  });
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
  checkMemory(`model (${estimate.largest}${among}; values, gradients and ${estimate.optimizer})`, estimate.bytes, { elements: estimate.elements });
  return estimate;
}

/** The widest layer a record may describe (Linear and LayerNorm take at most this many features). */
const MAX_FEATURES = 2 ** 24;
const RECORD_KEYS: Record<LayerRecord['kind'], readonly string[]> = {
  linear: ['kind', 'inFeatures', 'outFeatures', 'bias'],
  activation: ['kind', 'activation', 'features'],
  'layer-norm': ['kind', 'features', 'eps'],
  'block-sparse-linear': ['kind', 'layout', 'bias', 'l0'],
};
const L0_KEYS = ['beta', 'gamma', 'zeta', 'lrScale'];

const isPlainRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  if (Array.isArray(v)) return 'a list';
  return v === null || typeof v !== 'object' ? String(v) : 'an object';
};

/**
 * Validates architecture records read from a file (a checkpoint's "architecture") without
 * allocating anything for them: each kind known and only its fields present; sizes integers in
 * range (features in [1, 2^24]; a layout's inBlocks, outBlocks, nnz as the layout reader
 * allows); activations known; eps and the L0 constants finite and in range; each layout valid;
 * each layer taking the features the one before gives. FormatError naming the field
 * (`architecture[2].layout.nnz`) otherwise. Returns the records.
 */
export function checkLayerRecords(value: unknown, field = 'architecture'): LayerRecord[] {
  if (!Array.isArray(value) || value.length === 0) throw new FormatError(`"${field}" must be a non-empty list of layers`, field);
  const fail = (where: string, message: string): never => {
    throw new FormatError(`${where} ${message}`, where);
  };
  const integer = (record: Record<string, unknown>, key: string, where: string, min: number, max: number): number => {
    const v = record[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${where}.${key}`, `must be an integer in [${min}, ${max}] (got ${show(v)})`);
    return v as number;
  };
  const boolean = (record: Record<string, unknown>, key: string, where: string): void => {
    if (typeof record[key] !== 'boolean') fail(`${where}.${key}`, `must be true or false (got ${show(record[key])})`);
  };
  const io: { in: number; out: number }[] = value.map((record: unknown, i): { in: number; out: number } => {
    const where = `${field}[${i}]`;
    if (!isPlainRecord(record)) return fail(where, `must be an object describing a layer (got ${show(record)})`);
    const kind = record.kind;
    if (typeof kind !== 'string' || !Object.hasOwn(RECORD_KEYS, kind)) return fail(`${where}.kind`, `must be one of ${Object.keys(RECORD_KEYS).join(', ')} (got ${show(kind)})`);
    for (const key of Object.keys(record)) {
      if (!RECORD_KEYS[kind as LayerRecord['kind']].includes(key)) fail(`${where}.${key}`, `is not a field of a ${kind} layer (it has ${RECORD_KEYS[kind as LayerRecord['kind']].join(', ')})`);
    }
    switch (kind as LayerRecord['kind']) {
      case 'linear': {
        boolean(record, 'bias', where);
        return { in: integer(record, 'inFeatures', where, 1, MAX_FEATURES), out: integer(record, 'outFeatures', where, 1, MAX_FEATURES) };
      }
      case 'activation': {
        if (!(ACTIVATIONS as readonly unknown[]).includes(record.activation)) fail(`${where}.activation`, `must be one of ${ACTIVATIONS.join(', ')} (got ${show(record.activation)})`);
        const f = integer(record, 'features', where, 1, Number.MAX_SAFE_INTEGER);
        return { in: f, out: f };
      }
      case 'layer-norm': {
        const eps = record.eps;
        if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0 || eps > 1) fail(`${where}.eps`, `must be a number in [0, 1] (got ${show(eps)})`);
        const f = integer(record, 'features', where, 1, MAX_FEATURES);
        return { in: f, out: f };
      }
      case 'block-sparse-linear': {
        boolean(record, 'bias', where);
        const l0 = record.l0;
        if (l0 !== null) {
          if (!isPlainRecord(l0)) fail(`${where}.l0`, `must be null or the gates' constants {beta, gamma, zeta} (got ${show(l0)})`);
          const gates = l0 as Record<string, unknown>;
          for (const key of Object.keys(gates)) if (!L0_KEYS.includes(key)) fail(`${where}.l0.${key}`, `is not a field of the L0 gates (they have ${L0_KEYS.join(', ')})`);
          const finite = (key: string, ok: (v: number) => boolean, range: string, optional = false) => {
            const v = gates[key];
            if (optional && v === undefined) return;
            if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(`${where}.l0.${key}`, `must be a number ${range} (got ${show(v)})`);
          };
          finite('beta', (v) => v > 0, '> 0');
          finite('gamma', (v) => v < 0, '< 0');
          finite('zeta', (v) => v > 1, '> 1');
          finite('lrScale', (v) => v >= 0 && v <= 1e6, 'in [0, 1000000]', true);
        }
        const layout = record.layout;
        if (!isPlainRecord(layout)) return fail(`${where}.layout`, `must be a layout document (got ${show(layout)})`);
        const inBlocks = integer(layout, 'inBlocks', `${where}.layout`, 1, MAX_BLOCK_INDEX);
        const outBlocks = integer(layout, 'outBlocks', `${where}.layout`, 1, MAX_BLOCK_INDEX);
        integer(layout, 'nnz', `${where}.layout`, 0, MAX_BLOCK_INDEX);
        const bs = layout.blockSize;
        if (!(BLOCK_SIZES as readonly unknown[]).includes(bs)) fail(`${where}.layout.blockSize`, `must be one of ${BLOCK_SIZES.join(', ')} (got ${show(bs)})`);
        return { in: inBlocks * (bs as number), out: outBlocks * (bs as number) };
      }
    }
  });
  for (let i = 1; i < io.length; i++) {
    if (io[i].in !== io[i - 1].out) fail(`${field}[${i}]`, `takes ${io[i].in} features but ${field}[${i - 1}] gives ${io[i - 1].out}`);
  }
  // The layouts last: their CSR is as large as the file that holds it, and now known to be worth reading.
  value.forEach((record: Record<string, unknown>, i) => {
    if (record.kind !== 'block-sparse-linear') return;
    try {
      layoutFromJSON(record.layout);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      throw new FormatError(`${field}[${i}].layout: ${error.message}`, `${field}[${i}].layout${error.field ? `.${error.field}` : ''}`);
    }
  });
  return value as LayerRecord[];
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
        switch (record.kind) {
          case 'linear':
            layers.push(new Linear(backend, record.inFeatures, record.outFeatures, { seed: 0, bias: record.bias }));
            break;
          case 'activation':
            layers.push(new Activation(backend, record.activation, record.features));
            break;
          case 'layer-norm':
            layers.push(new LayerNorm(backend, record.features, record.eps));
            break;
          case 'block-sparse-linear':
            layers.push(new BlockSparseLinear(backend, layoutFromJSON(record.layout), { seed: 0, bias: record.bias, ...(record.l0 ? { l0: record.l0 } : {}) }));
            break;
        }
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
