/**
 * The architecture record of a model (JSON-safe): what checkpoints store, described from a model
 * and validated when read (`modelFromRecord`, in model.ts, builds a model from it). Block-sparse weights carry their current layouts (pruning and
 * regrowth change them during a run).
 */
import { FormatError, ParameterError } from '../errors.js';
import { MAX_CONV_PARAM } from '../kernels/conv.js';
import { resolvePool2d } from '../kernels/pool.js';
import type { ActivationKind, HardConcreteOptions } from '../kernels/types.js';
import { layoutFromJSON, layoutToJSON, MAX_BLOCK_INDEX, type LayoutJSON } from '../patterns/json-format.js';
import { BLOCK_SIZES } from '../patterns/layout.js';
import { Activation, ACTIVATIONS } from './layers/activation.js';
import type { BlockSparseLayer } from './layers/block-sparse-layer.js';
import { BlockSparseConv2d } from './layers/block-sparse-conv2d.js';
import { BlockSparseLinear } from './layers/block-sparse-linear.js';
import { ChannelNorm } from './layers/channel-norm.js';
import { Embedding } from './layers/embedding.js';
import { ImageInput } from './layers/image-input.js';
import { LayerNorm } from './layers/layer-norm.js';
import { Linear } from './layers/linear.js';
import { LSTM } from './layers/lstm.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from './layers/pooling.js';
import type { Sequential } from './layers/sequential.js';

/** The hard-concrete constants of a layer's L0 gates, and their logits' learning-rate multiplier when not 1. */
export type L0Record = Required<HardConcreteOptions> & { lrScale?: number };

/** A [height, width] pair of a convolution's or a pooling's geometry. */
export type PairRecord = [number, number];

/** A pooling layer's window as its record holds it: kernel, stride, padding, each [height, width]. */
export interface PoolRecord {
  features: number;
  kernel: PairRecord;
  stride: PairRecord;
  padding: PairRecord;
}

/**
 * One layer of an architecture record (JSON-safe); block-sparse weights carry their current
 * layout (and `fixedLayout: true` when the layer was made with it; absent otherwise).
 */
export type LayerRecord =
  | { kind: 'linear'; inFeatures: number; outFeatures: number; bias: boolean }
  | { kind: 'activation'; activation: ActivationKind; features: number }
  | { kind: 'layer-norm'; features: number; eps: number }
  | { kind: 'block-sparse-linear'; layout: LayoutJSON; bias: boolean; l0: L0Record | null; fixedLayout?: true }
  /** A block-sparse convolution: its layout over channel blocks and its geometry (src/kernels/conv.ts). */
  | {
      kind: 'block-sparse-conv2d'; layout: LayoutJSON; kernel: PairRecord; stride: PairRecord; padding: PairRecord; dilation: PairRecord;
      bias: boolean; l0: L0Record | null; fixedLayout?: true;
    }
  /** Flattened images [N, height width inChannels] laid out as NHWC [N, height, width, channels]. */
  | { kind: 'image-input'; height: number; width: number; inChannels: number; channels: number }
  | { kind: 'channel-norm'; features: number; eps: number }
  | ({ kind: 'max-pool2d' } & PoolRecord)
  | ({ kind: 'avg-pool2d' } & PoolRecord)
  | { kind: 'global-avg-pool'; features: number }
  | { kind: 'embedding'; symbols: number; features: number }
  /**
   * An LSTM: its input weights (inFeatures -> 4 hidden) and recurrent weights (hidden -> 4 hidden),
   * each dense (null) or block-sparse on the layout the layer holds: inFeatures/bs (or hidden/bs)
   * x 4 hidden/bs blocks, gate g's outputs in columns [g hidden, (g + 1) hidden) (a square layout
   * shared by the four gates is stored repeated four times, as the layer holds it); `l0` the gates
   * of its block-sparse weights.
   */
  | { kind: 'lstm'; inFeatures: number; hidden: number; inputLayout: LayoutJSON | null; recurrentLayout: LayoutJSON | null; l0: L0Record | null };

/** A block-sparse layer's L0 record: its hard-concrete constants and a learning-rate multiplier other than 1, or null without gates. */
function l0Of(layer: BlockSparseLayer): L0Record | null {
  if (!layer.hardConcrete) return null;
  const lrScale = layer.logAlpha?.lrScale;
  return { ...layer.hardConcrete, ...(lrScale !== undefined && lrScale !== 1 ? { lrScale } : {}) };
}

/** The architecture of a Sequential model of the layers this toolkit has, with each block-sparse weight's current layout. */
export function describeModel(model: Sequential): LayerRecord[] {
  return model.layers.map((layer, i): LayerRecord => {
    const fixed = (l: BlockSparseLayer) => (l.fixedLayout ? { fixedLayout: true as const } : {});
    if (layer instanceof BlockSparseLinear) return { kind: 'block-sparse-linear', layout: layoutToJSON(layer.layout), bias: layer.bias !== null, l0: l0Of(layer), ...fixed(layer) };
    if (layer instanceof BlockSparseConv2d) {
      const g = layer.geometry;
      return {
        kind: 'block-sparse-conv2d', layout: layoutToJSON(layer.layout), kernel: [...g.kernel], stride: [...g.stride], padding: [...g.padding], dilation: [...g.dilation],
        bias: layer.bias !== null, l0: l0Of(layer), ...fixed(layer),
      };
    }
    if (layer instanceof ImageInput) return { kind: 'image-input', height: layer.height, width: layer.width, inChannels: layer.inChannels, channels: layer.channels };
    if (layer instanceof ChannelNorm) return { kind: 'channel-norm', features: layer.inFeatures, eps: layer.eps };
    if (layer instanceof MaxPool2d || layer instanceof AvgPool2d) {
      const w = layer.window;
      return { kind: layer.kind, features: layer.inFeatures, kernel: [...w.kernel], stride: [...w.stride], padding: [...w.padding] };
    }
    if (layer instanceof GlobalAvgPool) return { kind: 'global-avg-pool', features: layer.inFeatures };
    if (layer instanceof Linear) return { kind: 'linear', inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, bias: layer.bias !== null };
    if (layer instanceof Activation) return { kind: 'activation', activation: layer.kind, features: layer.inFeatures };
    if (layer instanceof LayerNorm) return { kind: 'layer-norm', features: layer.inFeatures, eps: layer.eps };
    if (layer instanceof Embedding) return { kind: 'embedding', symbols: layer.symbols, features: layer.outFeatures };
    if (layer instanceof LSTM) {
      const sparse = (w: LSTM['input']) => (w instanceof BlockSparseLinear ? w : null);
      const [input, recurrent] = [sparse(layer.input), sparse(layer.recurrent)];
      return {
        kind: 'lstm', inFeatures: layer.inFeatures, hidden: layer.hidden,
        inputLayout: input ? layoutToJSON(input.layout) : null,
        recurrentLayout: recurrent ? layoutToJSON(recurrent.layout) : null,
        l0: (recurrent && l0Of(recurrent)) ?? (input && l0Of(input)),
      };
    }
    throw new ParameterError(
      `model.layers[${i}]`, 'a Linear, BlockSparseLinear, BlockSparseConv2d, Activation, LayerNorm, ChannelNorm, Embedding, LSTM, ImageInput, MaxPool2d, AvgPool2d or GlobalAvgPool', layer.kind, 'describeModel',
    );
  });
}

/** The widest layer a record may describe (Linear, LayerNorm, Embedding and an LSTM's input take at most this many features). */
const MAX_FEATURES = 2 ** 24;
/** The most hidden units of an LSTM record (the layer's own limit). */
const MAX_HIDDEN = 2 ** 22;
const RECORD_KEYS: Record<LayerRecord['kind'], readonly string[]> = {
  linear: ['kind', 'inFeatures', 'outFeatures', 'bias'],
  activation: ['kind', 'activation', 'features'],
  'layer-norm': ['kind', 'features', 'eps'],
  'block-sparse-linear': ['kind', 'layout', 'bias', 'l0', 'fixedLayout'],
  embedding: ['kind', 'symbols', 'features'],
  lstm: ['kind', 'inFeatures', 'hidden', 'inputLayout', 'recurrentLayout', 'l0'],
  'block-sparse-conv2d': ['kind', 'layout', 'kernel', 'stride', 'padding', 'dilation', 'bias', 'l0', 'fixedLayout'],
  'image-input': ['kind', 'height', 'width', 'inChannels', 'channels'],
  'channel-norm': ['kind', 'features', 'eps'],
  'max-pool2d': ['kind', 'features', 'kernel', 'stride', 'padding'],
  'avg-pool2d': ['kind', 'features', 'kernel', 'stride', 'padding'],
  'global-avg-pool': ['kind', 'features'],
};
const L0_KEYS = ['beta', 'gamma', 'zeta', 'lrScale'];

const isPlainRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  if (Array.isArray(v)) return 'a list';
  return v === null || typeof v !== 'object' ? String(v) : 'an object';
};
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

/** An L0 record (`where` its field): null, or the hard-concrete constants in range and an optional lrScale. */
function checkL0(l0: unknown, where: string): void {
  if (l0 === null) return;
  if (!isPlainRecord(l0)) fail(where, `must be null or the gates' constants {beta, gamma, zeta} (got ${show(l0)})`);
  const gates = l0 as Record<string, unknown>;
  for (const key of Object.keys(gates)) if (!L0_KEYS.includes(key)) fail(`${where}.${key}`, `is not a field of the L0 gates (they have ${L0_KEYS.join(', ')})`);
  const finite = (key: string, ok: (v: number) => boolean, range: string, optional = false) => {
    const v = gates[key];
    if (optional && v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(`${where}.${key}`, `must be a number ${range} (got ${show(v)})`);
  };
  finite('beta', (v) => v > 0, '> 0');
  finite('gamma', (v) => v < 0, '< 0');
  finite('zeta', (v) => v > 1, '> 1');
  finite('lrScale', (v) => v >= 0 && v <= 1e6, 'in [0, 1000000]', true);
}

/** A [height, width] pair of integers in [min, max] (`key` of `record`). */
function pairOf(record: Record<string, unknown>, key: string, where: string, min: number, max: number): PairRecord {
  const v = record[key];
  if (!Array.isArray(v) || v.length !== 2 || v.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < min || d > max)) {
    fail(`${where}.${key}`, `must be a pair [height, width] of integers in [${min}, ${max}] (got ${show(v)})`);
  }
  return v as PairRecord;
}

/** A block-sparse layer's fixedLayout: absent, or true. */
function checkFixedLayout(record: Record<string, unknown>, where: string): void {
  if (record.fixedLayout !== undefined && record.fixedLayout !== true) fail(`${where}.fixedLayout`, `must be true or absent (got ${show(record.fixedLayout)})`);
  if (record.fixedLayout === true && record.l0 !== null) fail(`${where}.l0`, 'must be null with fixedLayout (L0 gates learn a layout)');
}

/** A layout document's sizes (its blocks are checked later, by the layout reader): in and out features. */
function checkLayoutSizes(layout: unknown, where: string): { in: number; out: number } {
  if (!isPlainRecord(layout)) return fail(where, `must be a layout document (got ${show(layout)})`);
  const inBlocks = integer(layout, 'inBlocks', where, 1, MAX_BLOCK_INDEX);
  const outBlocks = integer(layout, 'outBlocks', where, 1, MAX_BLOCK_INDEX);
  integer(layout, 'nnz', where, 0, MAX_BLOCK_INDEX);
  const bs = layout.blockSize;
  if (!(BLOCK_SIZES as readonly unknown[]).includes(bs)) fail(`${where}.blockSize`, `must be one of ${BLOCK_SIZES.join(', ')} (got ${show(bs)})`);
  return { in: inBlocks * (bs as number), out: outBlocks * (bs as number) };
}

/** An LSTM weight's layout (null: dense), whose sizes must be `rows` -> 4 hidden features. */
function checkGateLayout(record: Record<string, unknown>, key: string, where: string, rows: number, hidden: number): void {
  const layout = record[key];
  if (layout === null) return;
  const sizes = checkLayoutSizes(layout, `${where}.${key}`);
  if (sizes.in !== rows || sizes.out !== 4 * hidden) {
    fail(`${where}.${key}`, `must be null (dense) or a layout of ${rows} -> ${4 * hidden} features (inFeatures or hidden -> the 4 gates; got ${sizes.in} -> ${sizes.out})`);
  }
}

/** Validates one record (its kind, fields and sizes; layouts' blocks later); returns its input and output widths. */
function checkRecord(record: unknown, where: string): { in: number; out: number } {
  if (!isPlainRecord(record)) return fail(where, `must be an object describing a layer (got ${show(record)})`);
  const kind = record.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(RECORD_KEYS, kind)) return fail(`${where}.kind`, `must be one of ${Object.keys(RECORD_KEYS).join(', ')} (got ${show(kind)})`);
  const keys = RECORD_KEYS[kind as LayerRecord['kind']];
  for (const key of Object.keys(record)) if (!keys.includes(key)) fail(`${where}.${key}`, `is not a field of a ${kind} layer (it has ${keys.join(', ')})`);
  switch (kind as LayerRecord['kind']) {
    case 'linear':
      boolean(record, 'bias', where);
      return { in: integer(record, 'inFeatures', where, 1, MAX_FEATURES), out: integer(record, 'outFeatures', where, 1, MAX_FEATURES) };
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
    case 'block-sparse-linear':
      boolean(record, 'bias', where);
      checkL0(record.l0, `${where}.l0`);
      checkFixedLayout(record, where);
      return checkLayoutSizes(record.layout, `${where}.layout`);
    case 'block-sparse-conv2d':
      boolean(record, 'bias', where);
      checkL0(record.l0, `${where}.l0`);
      checkFixedLayout(record, where);
      for (const [key, min] of [['kernel', 1], ['stride', 1], ['padding', 0], ['dilation', 1]] as const) pairOf(record, key, where, min, MAX_CONV_PARAM);
      return checkLayoutSizes(record.layout, `${where}.layout`);
    case 'image-input': {
      const height = integer(record, 'height', where, 1, MAX_FEATURES);
      const width = integer(record, 'width', where, 1, MAX_FEATURES);
      const inChannels = integer(record, 'inChannels', where, 1, MAX_FEATURES);
      const channels = integer(record, 'channels', where, inChannels, MAX_FEATURES);
      if (height * width * inChannels > MAX_FEATURES) fail(where, `must describe images of at most ${MAX_FEATURES} values (height x width x inChannels; got ${height * width * inChannels})`);
      return { in: height * width * inChannels, out: channels };
    }
    case 'channel-norm': {
      const eps = record.eps;
      if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0 || eps > 1) fail(`${where}.eps`, `must be a number in [0, 1] (got ${show(eps)})`);
      const f = integer(record, 'features', where, 1, MAX_FEATURES);
      return { in: f, out: f };
    }
    case 'max-pool2d':
    case 'avg-pool2d': {
      const f = integer(record, 'features', where, 1, MAX_FEATURES);
      const [kernel, stride, padding] = [pairOf(record, 'kernel', where, 1, MAX_CONV_PARAM), pairOf(record, 'stride', where, 1, MAX_CONV_PARAM), pairOf(record, 'padding', where, 0, MAX_CONV_PARAM)];
      try {
        resolvePool2d({ kernel, stride, padding }, kind);
      } catch (error) {
        if (error instanceof ParameterError) fail(`${where}.padding`, `must be at most half the kernel (got ${show(padding)} for a kernel of ${kernel.join(' x ')})`);
        throw error;
      }
      return { in: f, out: f };
    }
    case 'global-avg-pool': {
      const f = integer(record, 'features', where, 1, MAX_FEATURES);
      return { in: f, out: f };
    }
    case 'embedding':
      integer(record, 'symbols', where, 1, MAX_FEATURES);
      return { in: 1, out: integer(record, 'features', where, 1, MAX_FEATURES) };
    case 'lstm': {
      const inFeatures = integer(record, 'inFeatures', where, 1, MAX_FEATURES);
      const hidden = integer(record, 'hidden', where, 1, MAX_HIDDEN);
      checkGateLayout(record, 'inputLayout', where, inFeatures, hidden);
      checkGateLayout(record, 'recurrentLayout', where, hidden, hidden);
      checkL0(record.l0, `${where}.l0`);
      if (record.l0 !== null && record.inputLayout === null && record.recurrentLayout === null) fail(`${where}.l0`, 'must be null when both weights are dense (L0 gates are per block)');
      return { in: inFeatures, out: hidden };
    }
  }
}

/** The layout documents inside a record, with their fields, e.g. ['architecture[2].recurrentLayout', {...}]. */
function layoutsOf(record: LayerRecord, where: string): [string, LayoutJSON][] {
  if (record.kind === 'block-sparse-linear' || record.kind === 'block-sparse-conv2d') return [[`${where}.layout`, record.layout]];
  if (record.kind !== 'lstm') return [];
  const out: [string, LayoutJSON][] = [];
  if (record.inputLayout) out.push([`${where}.inputLayout`, record.inputLayout]);
  if (record.recurrentLayout) out.push([`${where}.recurrentLayout`, record.recurrentLayout]);
  return out;
}

/**
 * Validates architecture records read from a file (a checkpoint's "architecture") without
 * allocating anything for them: each kind known and only its fields present; sizes integers in
 * range (features in [1, 2^24], an LSTM's hidden units in [1, 2^22]; a layout's inBlocks,
 * outBlocks, nnz as the layout reader allows, and an LSTM's layouts of its weights' sizes);
 * activations known; eps and the L0 constants finite and in range; each layout valid; each layer
 * taking the features the one before gives. FormatError naming the field
 * (`architecture[2].layout.nnz`) otherwise. Returns the records.
 */
export function checkLayerRecords(value: unknown, field = 'architecture'): LayerRecord[] {
  if (!Array.isArray(value) || value.length === 0) throw new FormatError(`"${field}" must be a non-empty list of layers`, field);
  const io = value.map((record: unknown, i) => checkRecord(record, `${field}[${i}]`));
  for (let i = 1; i < io.length; i++) {
    if (io[i].in !== io[i - 1].out) fail(`${field}[${i}]`, `takes ${io[i].in} features but ${field}[${i - 1}] gives ${io[i - 1].out}`);
  }
  // The layouts last: their CSR is as large as the file that holds it, and now known to be worth reading.
  (value as LayerRecord[]).forEach((record, i) => {
    for (const [where, layout] of layoutsOf(record, `${field}[${i}]`)) {
      try {
        layoutFromJSON(layout);
      } catch (error) {
        if (!(error instanceof FormatError)) throw error;
        throw new FormatError(`${where}: ${error.message}`, `${where}${error.field ? `.${error.field}` : ''}`);
      }
    }
  });
  return value as LayerRecord[];
}
