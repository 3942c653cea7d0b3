/**
 * Building an ONNX graph (onnx.ts writes models with it): unique value names, float32 and int64
 * initializers, nodes, attributes, and where a value's features are (rows, NHWC or NCHW images)
 * with the transposes between the image layouts.
 */
import { ShapeError } from '../../errors.js';
import { ONNX_ATTRIBUTE_TYPE, ONNX_DATA_TYPE, type OnnxAttribute, type OnnxNode, type OnnxTensor } from './onnx-schema.js';

/** The ONNX opsets the exporter writes: 17 (LayerNormalization's first) to 21. */
export const ONNX_OPSETS = [17, 18, 19, 20, 21] as const;

/** An opset the exporter writes. */
export type OnnxOpset = (typeof ONNX_OPSETS)[number];

/** Where a value's features are: last ([..., F]: rows, or [T, N, F] in a sequence model), or an image's, NHWC or NCHW. */
export interface Value {
  name: string;
  form: 'features' | 'nhwc' | 'nchw';
  /** An image's [height, width]. */
  size: readonly [number, number] | null;
}

/** The Transpose permutation from NHWC to NCHW. */
export const NHWC_TO_NCHW = [0, 3, 1, 2];
/** The Transpose permutation from NCHW to NHWC. */
export const NCHW_TO_NHWC = [0, 2, 3, 1];

const IS_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** An integer attribute. */
export const attrInt = (name: string, i: number): OnnxAttribute => ({ name, type: ONNX_ATTRIBUTE_TYPE.INT, i });
/** A list-of-integers attribute. */
export const attrInts = (name: string, ints: readonly number[]): OnnxAttribute => ({ name, type: ONNX_ATTRIBUTE_TYPE.INTS, ints: [...ints] });
/** A float attribute. */
export const attrFloat = (name: string, f: number): OnnxAttribute => ({ name, type: ONNX_ATTRIBUTE_TYPE.FLOAT, f });
/** A string attribute (UTF-8). */
export const attrString = (name: string, s: string): OnnxAttribute => ({ name, type: ONNX_ATTRIBUTE_TYPE.STRING, s: new TextEncoder().encode(s) });

/** Float32 values as little-endian bytes (TensorProto's raw_data). */
function float32Bytes(values: Float32Array): Uint8Array {
  if (IS_LITTLE_ENDIAN) return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return out;
}

/** Int64 values as little-endian bytes. */
function int64Bytes(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(8 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setBigInt64(8 * i, BigInt(v), true));
  return out;
}

/** The nodes and initializers of a graph being built, with unique value names. */
export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  readonly #names = new Set<string>(['input', 'logits']);
  readonly #scalars = new Map<number, string>();

  constructor(readonly opset: OnnxOpset) {}

  /** `base`, or `base_2`, `base_3`, ... when taken. */
  #fresh(base: string): string {
    let name = base;
    for (let k = 2; this.#names.has(name); k++) name = `${base}_${k}`;
    this.#names.add(name);
    return name;
  }

  /** A float32 initializer; returns its name. */
  floats(name: string, dims: readonly number[], values: Float32Array): string {
    const unique = this.#fresh(name);
    this.initializers.push({ name: unique, dims: [...dims], data_type: ONNX_DATA_TYPE.FLOAT, raw_data: float32Bytes(values) });
    return unique;
  }

  /** An int64 initializer (shapes, axes, pads); returns its name. */
  int64s(name: string, values: readonly number[]): string {
    const unique = this.#fresh(name);
    this.initializers.push({ name: unique, dims: [values.length], data_type: ONNX_DATA_TYPE.INT64, raw_data: int64Bytes(values) });
    return unique;
  }

  /** A float32 scalar constant, made once per value. */
  scalar(value: number): string {
    let name = this.#scalars.get(value);
    if (name === undefined) {
      name = this.floats(`const.${value}`, [], Float32Array.of(value));
      this.#scalars.set(value, name);
    }
    return name;
  }

  /** A node of `op` named (and its output named) `${prefix}.${op}`; returns the output's name. */
  node(prefix: string, op: string, inputs: readonly string[], attribute: OnnxAttribute[] = []): string {
    const output = this.#fresh(`${prefix}.${op}`);
    this.nodes.push({ input: [...inputs], output: [output], name: output, op_type: op, ...(attribute.length ? { attribute } : {}) });
    return output;
  }

  /** Names the node output `from` as `to` (the graph's output). */
  rename(from: string, to: string): void {
    const node = this.nodes.find((n) => n.output[0] === from);
    if (node) node.output[0] = node.name = to;
    else this.nodes.push({ input: [from], output: [to], name: to, op_type: 'Identity' });
  }
}

/** v in NCHW (a Transpose when it is NHWC). */
export function toNCHW(g: GraphBuilder, prefix: string, v: Value): Value {
  if (v.form === 'nchw') return v;
  if (v.form !== 'nhwc') throw new ShapeError(`modelToOnnx: layer ${prefix} needs NHWC images, but the layer before gives rows (the model cannot run it either)`);
  return { ...v, form: 'nchw', name: g.node(prefix, 'Transpose', [v.name], [attrInts('perm', NHWC_TO_NCHW)]) };
}

/** v with its features last (a Transpose when it is NCHW). */
export function featuresLast(g: GraphBuilder, prefix: string, v: Value): Value {
  if (v.form !== 'nchw') return v;
  return { ...v, form: 'nhwc', name: g.node(prefix, 'Transpose', [v.name], [attrInts('perm', NCHW_TO_NHWC)]) };
}

/** v as rows or sequences of features: refused for images, which the layer (a product, an LSTM) does not take. */
export function rowsOf(prefix: string, v: Value): Value {
  if (v.form !== 'features') throw new ShapeError(`modelToOnnx: layer ${prefix} takes rows [N, features], but the layer before gives images (the model cannot run it either)`);
  return v;
}
