/**
 * A model as an ONNX graph of standard operators, which any ONNX runtime runs: each block-sparse
 * weight written dense, with zeros where the layout has no block (and the test-time L0 gates
 * folded into the blocks), so that the graph computes the model's evaluation-mode function.
 *
 *   linear, block-sparse-linear   MatMul (W [in, out], dense) and Add (bias)
 *   activation                    Relu, Tanh; gelu (tanh approximation) as Gelu(approximate =
 *                                 "tanh") from opset 20, else as its formula in Mul, Add, Tanh
 *   layer-norm, channel-norm      LayerNormalization over the last axis (opset 17)
 *   image-input                   Reshape [N, H W Cin] to NHWC, Pad with zero channels
 *   block-sparse-conv2d           Conv (NCHW, W [K, C, kh, kw] dense), Transpose where needed
 *   max-pool2d, avg-pool2d        MaxPool, AveragePool (count_include_pad = 1, as ours)
 *   global-avg-pool               GlobalAveragePool, Flatten
 *   embedding                     Squeeze, Cast (to int64), Gather
 *   lstm                          LSTM (gates reordered to ONNX's i, o, f, c), Squeeze
 *
 * Convolutions and poolings run NCHW in ONNX and our activations are NHWC: the graph transposes
 * only where a layer needs the other order (a norm over channels, the output), so a convolution
 * followed by pooling stays NCHW between them.
 */
import { checkOneOf } from '../../check.js';
import { checkMemory } from '../../budget.js';
import { ParameterError, ResourceError } from '../../errors.js';
import { convOutputSize, type Conv2dGeometry } from '../../kernels/conv.js';
import type { ActivationKind } from '../../kernels/types.js';
import { Activation } from '../layers/activation.js';
import { BlockSparseConv2d } from '../layers/block-sparse-conv2d.js';
import { BlockSparseLinear } from '../layers/block-sparse-linear.js';
import { Embedding } from '../layers/embedding.js';
import { ImageInput } from '../layers/image-input.js';
import type { Layer } from '../layers/layer.js';
import { LayerNorm } from '../layers/layer-norm.js';
import { Linear } from '../layers/linear.js';
import { LSTM } from '../layers/lstm.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from '../layers/pooling.js';
import type { Sequential } from '../layers/sequential.js';
import { describeModel } from '../model-records.js';
import { densify, readTensor, readWeight, type ExportedWeight } from './model-weights.js';
import {
  attrFloat, attrInt, attrInts, attrString, featuresLast, GraphBuilder, ONNX_OPSETS, rowsOf, toNCHW, type OnnxOpset, type Value,
} from './onnx-graph.js';
import { encodeOnnxModel, ONNX_DATA_TYPE, type OnnxAttribute, type OnnxDimension, type OnnxValueInfo } from './onnx-schema.js';

export { ONNX_OPSETS, type OnnxOpset } from './onnx-graph.js';

/** The IR version of each opset's ONNX release (1.12 to 1.16). */
const IR_VERSION: Readonly<Record<OnnxOpset, number>> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/** The largest model protobuf can hold in one message (2 GiB); larger models would need ONNX's external data, not written here. */
export const MAX_ONNX_BYTES = 2 ** 31 - 1;

/** Options of `modelToOnnx`. */
export interface OnnxExportOptions {
  /** The graph's name (default "blocksparse"). */
  name?: string;
  /** The model's doc_string (default none). */
  docString?: string;
  /** The opset (default 17); from 20 gelu is the Gelu operator, before it its formula. */
  opset?: OnnxOpset;
}

/** The activations that are one ONNX operator (gelu before opset 20 is several). */
const ELEMENTWISE: Readonly<Record<Exclude<ActivationKind, 'gelu'>, string>> = { relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid' };
/** ONNX's LSTM gate slots (i, o, f, c) as our gates (i, f, g, o). */
const LSTM_GATES = [0, 3, 1, 2];
/** A product's weight as dense W [in, out]: block-sparse ones with zeros where blocks are absent. */
const denseValues = (w: ExportedWeight): Float32Array => (w.kind === 'dense' ? w.values : densify(w));

/** x W + b, W dense [in, out]. */
async function emitProduct(g: GraphBuilder, prefix: string, layer: Linear | BlockSparseLinear, v: Value): Promise<Value> {
  const w = g.floats(`${prefix}.weight`, [layer.inFeatures, layer.outFeatures], denseValues(await readWeight(layer)));
  let y = g.node(prefix, 'MatMul', [rowsOf(prefix, v).name, w]);
  if (layer.bias) y = g.node(prefix, 'Add', [y, g.floats(`${prefix}.bias`, [layer.outFeatures], await readTensor(layer.bias.value))]);
  return { ...v, name: y };
}

/** Our gelu, 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), in the order our kernels compute it. */
function emitGelu(g: GraphBuilder, prefix: string, x: string): string {
  if (g.opset >= 20) return g.node(prefix, 'Gelu', [x], [attrString('approximate', 'tanh')]);
  const cube = g.node(prefix, 'Mul', [g.node(prefix, 'Mul', [g.node(prefix, 'Mul', [x, g.scalar(0.044715)]), x]), x]);
  const t = g.node(prefix, 'Tanh', [g.node(prefix, 'Mul', [g.node(prefix, 'Add', [x, cube]), g.scalar(Math.sqrt(2 / Math.PI))])]);
  return g.node(prefix, 'Mul', [g.node(prefix, 'Mul', [x, g.scalar(0.5)]), g.node(prefix, 'Add', [t, g.scalar(1)])]);
}

/** The convolution's weight as ONNX's [K, C, kh, kw] from our dense [kh, kw, C, K]. */
function convWeightOIHW(hwio: Float32Array, kh: number, kw: number, cin: number, cout: number): Float32Array {
  const out = new Float32Array(hwio.length);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let c = 0; c < cin; c++) {
        const row = ((i * kw + j) * cin + c) * cout;
        for (let k = 0; k < cout; k++) out[((k * cin + c) * kh + i) * kw + j] = hwio[row + k];
      }
    }
  }
  return out;
}

/** A window's attributes: kernel_shape, strides, pads (begin and end alike), and dilations when given. */
function windowAttributes(w: Pick<Conv2dGeometry, 'kernel' | 'stride' | 'padding'> & { dilation?: Conv2dGeometry['dilation'] }): OnnxAttribute[] {
  const out = [attrInts('kernel_shape', w.kernel), attrInts('strides', w.stride), attrInts('pads', [...w.padding, ...w.padding])];
  if (w.dilation) out.push(attrInts('dilations', w.dilation));
  return out;
}

async function emitConv(g: GraphBuilder, prefix: string, layer: BlockSparseConv2d, v: Value): Promise<Value> {
  const x = toNCHW(g, prefix, v);
  const [kh, kw] = layer.geometry.kernel;
  const [cin, cout] = [layer.inFeatures, layer.outFeatures];
  const weight = await readWeight(layer);
  const w = g.floats(`${prefix}.weight`, [cout, cin, kh, kw], convWeightOIHW(denseValues(weight), kh, kw, cin, cout));
  const inputs = [x.name, w];
  if (layer.bias) inputs.push(g.floats(`${prefix}.bias`, [cout], await readTensor(layer.bias.value)));
  const y = g.node(prefix, 'Conv', inputs, [...windowAttributes(layer.geometry), attrInt('group', 1)]);
  return { name: y, form: 'nchw', size: convOutputSize(layer.geometry, x.size!) };
}

function emitPool(g: GraphBuilder, prefix: string, layer: MaxPool2d | AvgPool2d, v: Value): Value {
  const x = toNCHW(g, prefix, v);
  const geometry = { ...layer.window, dilation: [1, 1] as const };
  const attributes = windowAttributes(layer.window);
  const y = layer instanceof MaxPool2d ? g.node(prefix, 'MaxPool', [x.name], attributes) : g.node(prefix, 'AveragePool', [x.name], [...attributes, attrInt('count_include_pad', 1)]);
  return { name: y, form: 'nchw', size: convOutputSize(geometry, x.size!) };
}

/** An LSTM weight ours [rows, 4 H] (gates i, f, g, o) as ONNX's [1, 4 H, rows] (gates i, o, f, c). */
function lstmWeight(ours: Float32Array, rows: number, hidden: number): Float32Array {
  const out = new Float32Array(ours.length);
  for (let s = 0; s < 4; s++) {
    const gate = LSTM_GATES[s];
    for (let j = 0; j < hidden; j++) {
      const to = (s * hidden + j) * rows;
      for (let k = 0; k < rows; k++) out[to + k] = ours[k * 4 * hidden + gate * hidden + j];
    }
  }
  return out;
}

async function emitLSTM(g: GraphBuilder, prefix: string, layer: LSTM, v: Value): Promise<Value> {
  const H = layer.hidden;
  const F = layer.inFeatures;
  const w = g.floats(`${prefix}.input.weight`, [1, 4 * H, F], lstmWeight(denseValues(await readWeight(layer.input)), F, H));
  const r = g.floats(`${prefix}.recurrent.weight`, [1, 4 * H, H], lstmWeight(denseValues(await readWeight(layer.recurrent)), H, H));
  // ONNX adds two biases (Wb, Rb); ours is their sum: Wb = b, Rb = 0.
  const ours = await readTensor(layer.bias.value);
  const b = new Float32Array(8 * H);
  for (let s = 0; s < 4; s++) b.set(ours.subarray(LSTM_GATES[s] * H, (LSTM_GATES[s] + 1) * H), s * H);
  const y = g.node(prefix, 'LSTM', [rowsOf(prefix, v).name, w, r, g.floats(`${prefix}.bias`, [1, 8 * H], b)], [attrInt('hidden_size', H)]);
  // Y [T, num_directions = 1, N, H] to [T, N, H].
  return { ...v, name: g.node(prefix, 'Squeeze', [y, g.int64s(`${prefix}.axes`, [1])]) };
}

async function emitEmbedding(g: GraphBuilder, prefix: string, layer: Embedding, v: Value): Promise<Value> {
  const index = g.node(prefix, 'Cast', [g.node(prefix, 'Squeeze', [rowsOf(prefix, v).name, g.int64s(`${prefix}.axes`, [-1])])], [attrInt('to', ONNX_DATA_TYPE.INT64)]);
  const table = g.floats(`${prefix}.weight`, [layer.symbols, layer.outFeatures], await readTensor(layer.weight.value));
  return { ...v, name: g.node(prefix, 'Gather', [table, index], [attrInt('axis', 0)]) };
}

function emitImageInput(g: GraphBuilder, prefix: string, layer: ImageInput, v: Value): Value {
  const { height, width, inChannels, channels } = layer;
  let y = g.node(prefix, 'Reshape', [rowsOf(prefix, v).name, g.int64s(`${prefix}.shape`, [-1, height, width, inChannels])]);
  if (channels > inChannels) y = g.node(prefix, 'Pad', [y, g.int64s(`${prefix}.pads`, [0, 0, 0, 0, 0, 0, 0, channels - inChannels])]);
  return { name: y, form: 'nhwc', size: [height, width] };
}

/** Emits layer i; returns its output. */
async function emitLayer(g: GraphBuilder, layer: Layer, i: number, v: Value, sequence: boolean): Promise<Value> {
  const prefix = `${i}`;
  const image = layer instanceof ImageInput || layer instanceof BlockSparseConv2d || layer instanceof MaxPool2d || layer instanceof AvgPool2d || layer instanceof GlobalAvgPool;
  if (sequence && image) {
    throw new ParameterError(`model.layers[${i}]`, 'a layer ONNX export can run on sequences (a model with an LSTM has no image layers)', layer.kind, 'modelToOnnx');
  }
  if (layer instanceof Linear || layer instanceof BlockSparseLinear) return emitProduct(g, prefix, layer, v);
  if (layer instanceof Activation) {
    return { ...v, name: layer.kind === 'gelu' ? emitGelu(g, prefix, v.name) : g.node(prefix, ELEMENTWISE[layer.kind], [v.name]) };
  }
  if (layer instanceof LayerNorm) {
    // LayerNorm and its subclass ChannelNorm: the last axis, channels for images (NHWC).
    const x = featuresLast(g, prefix, v);
    const scale = g.floats(`${prefix}.gain`, [layer.inFeatures], await readTensor(layer.gain.value));
    const bias = g.floats(`${prefix}.bias`, [layer.inFeatures], await readTensor(layer.bias.value));
    return { ...x, name: g.node(prefix, 'LayerNormalization', [x.name, scale, bias], [attrInt('axis', -1), attrFloat('epsilon', layer.eps)]) };
  }
  if (layer instanceof ImageInput) return emitImageInput(g, prefix, layer, v);
  if (layer instanceof BlockSparseConv2d) return emitConv(g, prefix, layer, v);
  if (layer instanceof MaxPool2d || layer instanceof AvgPool2d) return emitPool(g, prefix, layer, v);
  if (layer instanceof GlobalAvgPool) {
    const pooled = g.node(prefix, 'GlobalAveragePool', [toNCHW(g, prefix, v).name]);
    return { name: g.node(prefix, 'Flatten', [pooled], [attrInt('axis', 1)]), form: 'features', size: null };
  }
  if (layer instanceof Embedding) return emitEmbedding(g, prefix, layer, v);
  if (layer instanceof LSTM) return emitLSTM(g, prefix, layer, v);
  throw new ParameterError(
    `model.layers[${i}]`,
    'a layer ONNX export knows (linear, block-sparse-linear, activation, layer-norm, channel-norm, image-input, block-sparse-conv2d, max-pool2d, avg-pool2d, global-avg-pool, embedding, lstm)',
    layer.kind,
    'modelToOnnx',
  );
}

/** The floats a layer's initializers hold in the graph (block-sparse weights dense). */
function denseFloats(layer: Layer): number {
  if (layer instanceof Linear || layer instanceof BlockSparseLinear) return layer.inFeatures * layer.outFeatures + layer.outFeatures;
  if (layer instanceof BlockSparseConv2d) return layer.geometry.kernel[0] * layer.geometry.kernel[1] * layer.inFeatures * layer.outFeatures + layer.outFeatures;
  if (layer instanceof LayerNorm) return 2 * layer.inFeatures;
  if (layer instanceof Embedding) return layer.symbols * layer.outFeatures;
  if (layer instanceof LSTM) return 4 * layer.hidden * (layer.inFeatures + layer.hidden) + 8 * layer.hidden;
  return 0;
}

/** The dimensions of a value's shape: "N" (and "T" for sequences) symbolic. */
function dims(v: Value, features: number, sequence: boolean): OnnxDimension[] {
  const size = (d: number | string): OnnxDimension => (typeof d === 'number' ? { dim_value: d } : { dim_param: d });
  if (v.form === 'features') return (sequence ? ['T', 'N', features] : ['N', features]).map(size);
  return ['N', v.size![0], v.size![1], features].map(size);
}

const tensorInfo = (name: string, shape: OnnxDimension[], doc: string): OnnxValueInfo => ({
  name, type: { tensor_type: { elem_type: ONNX_DATA_TYPE.FLOAT, shape: { dim: shape } } }, doc_string: doc,
});

/**
 * The ONNX ModelProto bytes of `model` in evaluation mode: standard operators of the default
 * domain at `opset` (17 to 21, default 17), block-sparse weights dense with zeros where blocks
 * are absent and L0 gates folded in, so that ONNX Runtime (or any ONNX runtime) gives the model's
 * logits. The graph's input "input" is float32 [N, model.inFeatures] (N symbolic), its output
 * "logits" [N, model.outFeatures]; a model ending in image layers gives NHWC [N, Ho, Wo, C]. A
 * model with an LSTM takes sequences, time-major: "input" [T, N, inFeatures] (our input
 * [T N, inFeatures] with ForwardMode.steps = T, reshaped) and gives [T, N, outFeatures], every
 * sequence starting from a zero state (ours after resetState). The producer is "blocksparse"
 * and the metadata's "architecture" is describeModel(model) as JSON. The same model gives the
 * same bytes.
 *
 * Raises ParameterError naming `opset`, `name` or `docString`, or `model.layers[i]` for a layer
 * the exporter does not know (or an image layer in a model with an LSTM); ResourceError when the
 * dense weights pass protobuf's 2 GiB or the memory budget.
 */
export async function modelToOnnx(model: Sequential, options: OnnxExportOptions = {}): Promise<Uint8Array> {
  const context = 'modelToOnnx';
  if (typeof options !== 'object' || options === null) throw new ParameterError('options', 'an object {name, docString, opset}', options, context);
  const opset = checkOneOf('opset', options.opset ?? 17, ONNX_OPSETS, context);
  const name = options.name ?? 'blocksparse';
  if (typeof name !== 'string' || name.length === 0) throw new ParameterError('name', 'a non-empty string', name, context);
  if (options.docString !== undefined && typeof options.docString !== 'string') throw new ParameterError('docString', 'a string', options.docString, context);
  const sizes = model.layers.map(denseFloats);
  const floats = sizes.reduce((a, b) => a + b, 0);
  if (4 * floats > MAX_ONNX_BYTES) {
    throw new ResourceError('ONNX model', 4 * floats, MAX_ONNX_BYTES, `${context}: the model's dense weights take ${4 * floats} bytes, over the 2 GiB a protobuf message holds (ONNX external data is not written)`);
  }
  // The dense weights, the protobuf writer's copy and the bytes.
  checkMemory(`${context}: the dense weights of ${floats} floats`, 12 * floats, { elements: Math.max(...sizes) });

  const sequence = model.layers.some((layer) => layer instanceof LSTM);
  const g = new GraphBuilder(opset);
  let v: Value = { name: 'input', form: 'features', size: null };
  for (let i = 0; i < model.layers.length; i++) v = await emitLayer(g, model.layers[i], i, v, sequence);
  v = featuresLast(g, 'output', v);
  g.rename(v.name, 'logits');
  const architecture = JSON.stringify(describeModel(model));
  const input: Value = { name: 'input', form: 'features', size: null };
  return encodeOnnxModel({
    ir_version: IR_VERSION[opset],
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'blocksparse',
    ...(options.docString !== undefined ? { doc_string: options.docString } : {}),
    graph: {
      name,
      node: g.nodes,
      initializer: g.initializers,
      input: [tensorInfo('input', dims(input, model.inFeatures, sequence), sequence ? 'time-major sequences [T, N, features]' : 'rows [N, features]')],
      output: [tensorInfo('logits', dims(v, model.outFeatures, sequence), 'the model\'s output in evaluation mode')],
    },
    metadata_props: [{ key: 'architecture', value: architecture }],
  });
}
