import { execFileSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { withMemoryBudget } from '../../src/budget.js';
import { ParameterError, ResourceError } from '../../src/errors.js';
import type { Backend, Tensor } from '../../src/kernels/types.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { buildPatternSpec } from '../../src/patterns/spec.js';
import { resolveRng, type Rng } from '../../src/random.js';
import { buildCNN } from '../../src/train/cnn.js';
import { densify, readWeight, testTimeGates, type BlockWeight } from '../../src/train/export/model-weights.js';
import { modelToOnnx, ONNX_OPSETS } from '../../src/train/export/onnx.js';
import { decodeOnnxModel } from '../../src/train/export/onnx-schema.js';
import { Activation } from '../../src/train/layers/activation.js';
import { BlockSparseLinear } from '../../src/train/layers/block-sparse-linear.js';
import { BlockSparseConv2d } from '../../src/train/layers/block-sparse-conv2d.js';
import { ChannelNorm } from '../../src/train/layers/channel-norm.js';
import { Embedding } from '../../src/train/layers/embedding.js';
import { ImageInput } from '../../src/train/layers/image-input.js';
import type { ForwardMode, Layer, Parameter } from '../../src/train/layers/layer.js';
import { LayerNorm } from '../../src/train/layers/layer-norm.js';
import { Linear } from '../../src/train/layers/linear.js';
import { LSTM } from '../../src/train/layers/lstm.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from '../../src/train/layers/pooling.js';
import { Sequential } from '../../src/train/layers/sequential.js';
import { buildCharLSTM } from '../../src/train/language-model.js';
import { buildMLP, describeModel, type LayoutFactory } from '../../src/train/model.js';
import { cpuBackendsForTests } from '../helpers/cpu.js';
import { catchError } from '../helpers/expect-error.js';
import { PYTHON, runPythonJSON } from '../helpers/python.js';

/*
 * modelToOnnx: MLPs (dense, block-sparse, L0-gated with closed and fractional gates), CNNs and
 * character LSTMs exported and run by ONNX Runtime (onnxruntime-node, an independent
 * implementation of every operator), whose logits must be ours in evaluation mode within float32
 * tolerance, for one example and for a batch; the bytes checked by Python's onnx.checker when
 * python3-onnx is installed; the same model giving the same bytes; layers it cannot export refused.
 */

/** Whether the cross-check Python can import onnx (its checker then must accept every export). */
function hasPythonOnnx(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import onnx'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Layouts at density 0.5, seeded by the layer's role and index. */
const halfDense: LayoutFactory = (request) => buildPatternSpec('random:density=0.5', { ...request, seed: `${request.role}${request.index}` });

const uniformValues = (rng: Rng, n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => scale * (2 * rng() - 1));

/** Replaces a parameter's values (on its backend). */
function setValues(p: Parameter, values: Float32Array): void {
  const backend = p.value.backend;
  const shape = p.value.shape;
  p.value.dispose();
  p.value = backend.tensor(values, shape);
}

/**
 * Gives the model's norms random gains and biases (they start at 1 and 0) and its L0 gates log
 * alphas that close some blocks (gate 0), open some (gate 1) and leave some in between.
 */
function randomizeModel(model: Sequential, rng: Rng): void {
  for (const layer of model.layers) {
    if (layer instanceof LayerNorm) {
      setValues(layer.gain, Float32Array.from({ length: layer.inFeatures }, () => 0.5 + rng()));
      setValues(layer.bias, uniformValues(rng, layer.inFeatures, 0.5));
    }
  }
  const logAlphas = [-12, 12, 0.4, -0.2, 3, -12];
  for (const layer of model.blockSparseLayers()) {
    if (layer.logAlpha) setValues(layer.logAlpha, Float32Array.from({ length: layer.layout.nnz }, (_, b) => logAlphas[b % logAlphas.length]));
  }
}

/** Our output for x (shape `shape`), evaluation mode, as host values. */
async function ourOutput(model: Sequential, x: Float32Array, shape: number[], mode: ForwardMode = { training: false }): Promise<Float32Array> {
  model.resetState();
  const input = model.backend.tensor(x, shape);
  const y = await model.forward(input, mode);
  const values = Float32Array.from(await model.backend.read(y));
  input.dispose();
  y.dispose();
  return values;
}

/** ONNX Runtime's "logits" for "input" x of `dims`: its values and dims. */
async function onnxOutput(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<{ values: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    expect([session.inputNames, session.outputNames]).toEqual([['input'], ['logits']]);
    const out = await session.run({ input: new ort.Tensor('float32', x, dims) });
    return { values: out.logits.data as Float32Array, dims: out.logits.dims };
  } finally {
    await session.release();
  }
}

/** Elementwise |got - want| <= 1e-5 + 1e-4 |want| (float32 sums in another order). */
function expectClose(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  let worst = -1;
  let excess = 0;
  for (let i = 0; i < want.length; i++) {
    const over = Math.abs(got[i] - want[i]) - (1e-5 + 1e-4 * Math.abs(want[i]));
    if (!(over <= excess)) [worst, excess] = [i, over];
  }
  expect(worst, worst < 0 ? '' : `element ${worst}: ONNX Runtime ${got[worst]}, ours ${want[worst]}`).toBe(-1);
}

/** Exports `model` and checks ONNX Runtime's logits against ours for batches of `batches` rows of `rowShape` (input values from `draw`). */
async function expectSameLogits(model: Sequential, batches: number[], rng: Rng, draw = (n: number) => uniformValues(rng, n, 1)): Promise<Uint8Array> {
  const bytes = await modelToOnnx(model);
  for (const n of batches) {
    const x = draw(n * model.inFeatures);
    const want = await ourOutput(model, x, [n, model.inFeatures]);
    const got = await onnxOutput(bytes, x, [n, model.inFeatures]);
    expect(got.dims[0]).toBe(n);
    expectClose(got.values, want);
  }
  return bytes;
}

/** The float32 initializer `name` of an exported model. */
function initializer(bytes: Uint8Array, name: string): { dims: number[]; values: Float32Array } {
  const tensor = decodeOnnxModel(bytes).graph.initializer.find((t) => t.name === name);
  if (!tensor) throw new Error(`no initializer ${name}`);
  const raw = tensor.raw_data;
  return { dims: tensor.dims, values: new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)) };
}

describe('modelToOnnx', () => {
  const makeBackend = cpuBackendsForTests();
  let backend: Backend;
  beforeAll(async () => {
    backend = await makeBackend({ threads: 1 });
  });

  it('exports a dense MLP (relu) that ONNX Runtime runs to our logits, for one example and a batch', async () => {
    const model = buildMLP(backend, { inputs: 20, hidden: [24, 16], classes: 5, seed: 1 });
    const bytes = await expectSameLogits(model, [1, 7], resolveRng({ seed: 'dense' }));
    const graph = decodeOnnxModel(bytes).graph;
    expect(graph.node.map((n) => n.op_type)).toEqual(['MatMul', 'Add', 'Relu', 'MatMul', 'Add', 'Relu', 'MatMul', 'Add']);
    expect(graph.input[0].type.tensor_type.shape.dim).toEqual([{ dim_param: 'N' }, { dim_value: 20 }]);
    expect(graph.output[0].type.tensor_type.shape.dim).toEqual([{ dim_param: 'N' }, { dim_value: 5 }]);
    model.dispose();
  });

  it('exports a block-sparse MLP with L0 gates (gelu, sparse input): dense weights with zeros for absent and closed blocks', async () => {
    const model = buildMLP(backend, { inputs: 24, hidden: [16, 32, 16], classes: 6, blockSize: 8, layout: halfDense, sparseInput: true, l0: {}, activation: 'gelu', seed: 2 });
    const rng = resolveRng({ seed: 'gated' });
    randomizeModel(model, rng);
    const layers = model.blockSparseLayers();
    expect(layers.map((l) => l.layout.density)).toEqual([0.5, 0.5, 0.5]);
    const gates = Array.from((await testTimeGates(layers[1]))!);
    expect(gates.some((g) => g === 0) && gates.some((g) => g === 1) && gates.some((g) => g > 0 && g < 1)).toBe(true);
    const bytes = await expectSameLogits(model, [1, 5], rng);
    // Layer 2's weight in the graph: its blocks, gates folded in, zeros elsewhere.
    const weight = initializer(bytes, '2.weight');
    expect(weight.dims).toEqual([16, 32]);
    expect(Array.from(weight.values)).toEqual(Array.from(densify((await readWeight(layers[1])) as BlockWeight)));
    const open = gates.filter((g) => g > 0).length;
    expect(weight.values.filter((w) => w !== 0).length).toBe(open * 64);
    model.dispose();
  });

  it('writes gelu as its formula before opset 20 and as Gelu from it; every opset gives our logits', async () => {
    const model = buildMLP(backend, { inputs: 12, hidden: [16], classes: 3, activation: 'gelu', seed: 3 });
    const rng = resolveRng({ seed: 'opsets' });
    const x = uniformValues(rng, 4 * 12, 3);
    const want = await ourOutput(model, x, [4, 12]);
    for (const opset of ONNX_OPSETS) {
      const bytes = await modelToOnnx(model, { opset });
      const decoded = decodeOnnxModel(bytes);
      expect(decoded.opset_import).toEqual([{ domain: '', version: opset }]);
      expect(decoded.graph.node.some((n) => n.op_type === 'Gelu')).toBe(opset >= 20);
      expectClose((await onnxOutput(bytes, x, [4, 12])).values, want);
    }
    model.dispose();
  });

  it('exports layer norms and tanh', async () => {
    const model = new Sequential([new Linear(backend, 10, 16, { seed: 1 }), new LayerNorm(backend, 16, 1e-3), new Activation(backend, 'tanh', 16), new Linear(backend, 16, 4, { seed: 2 })]);
    const rng = resolveRng({ seed: 'norm' });
    randomizeModel(model, rng);
    const bytes = await expectSameLogits(model, [1, 6], rng);
    const norm = decodeOnnxModel(bytes).graph.node.find((n) => n.op_type === 'LayerNormalization')!;
    expect(norm.attribute!.map((a) => [a.name, a.name === 'epsilon' ? Math.fround(a.f!) : a.i])).toEqual([['axis', -1], ['epsilon', Math.fround(1e-3)]]);
    model.dispose();
  });

  it('exports a CNN (buildCNN: 3 input channels, a non-square image, two stages, L0 gates, gelu)', async () => {
    const model = buildCNN(backend, { height: 7, width: 5, inChannels: 3, channels: [8, 16], depth: 2, blockSize: 8, classes: 4, layout: halfDense, l0: {}, activation: 'gelu', seed: 4 });
    const rng = resolveRng({ seed: 'cnn' });
    randomizeModel(model, rng);
    const bytes = await expectSameLogits(model, [1, 3], rng);
    const ops = decodeOnnxModel(bytes).graph.node.map((n) => n.op_type);
    expect(ops.filter((op) => op === 'Conv')).toHaveLength(5);
    expect(ops.filter((op) => op === 'LayerNormalization')).toHaveLength(5);
    expect(ops.slice(0, 2)).toEqual(['Reshape', 'Pad']);
    model.dispose();
  });

  it('exports strided, dilated and padded convolutions with a bias, average pooling counting the padding, max pooling, and an NHWC output', async () => {
    const layout = buildPatternSpec('random:density=0.5', { inBlocks: 1, outBlocks: 2, blockSize: 8, seed: 5 });
    const model = new Sequential([
      new ImageInput(backend, { height: 9, width: 8, inChannels: 8, channels: 8 }),
      new BlockSparseConv2d(backend, layout, { kernel: [3, 2], stride: [2, 1], padding: [1, 1], dilation: [1, 2], bias: true, seed: 1 }),
      new Activation(backend, 'tanh', 16),
      new AvgPool2d(backend, 16, { kernel: 3, stride: 2, padding: 1 }),
      new ChannelNorm(backend, 16),
      new MaxPool2d(backend, 16, { kernel: 2, stride: 1, padding: 1 }),
    ]);
    const rng = resolveRng({ seed: 'windows' });
    randomizeModel(model, rng);
    // Conv: 9 x 8 to 5 x 8; average pooling to 3 x 4; max pooling to 4 x 5.
    for (const n of [1, 2]) {
      const x = uniformValues(rng, n * model.inFeatures, 1);
      const want = await ourOutput(model, x, [n, model.inFeatures]);
      const got = await onnxOutput(await modelToOnnx(model), x, [n, model.inFeatures]);
      expect(got.dims).toEqual([n, 4, 5, 16]);
      expectClose(got.values, want);
    }
    model.dispose();
  });

  it('exports character LSTMs (block-sparse gated weights, and dense) taking time-major sequences [T, N, 1]', async () => {
    const rng = resolveRng({ seed: 'lstm' });
    const sparse = buildCharLSTM(backend, { symbols: 13, embedding: 16, hidden: [16, 24], blockSize: 8, layout: halfDense, sparseInput: true, l0: {}, seed: 6 });
    const dense = buildCharLSTM(backend, { symbols: 9, embedding: 8, hidden: [12], seed: 7 });
    for (const model of [sparse, dense]) {
      randomizeModel(model, rng);
      const symbols = (model.layers[0] as Embedding).symbols;
      const bytes = await modelToOnnx(model);
      for (const [steps, n] of [[5, 1], [6, 3]]) {
        const x = Float32Array.from({ length: steps * n }, () => Math.floor(rng() * symbols));
        const want = await ourOutput(model, x, [steps * n, 1], { training: false, steps });
        const got = await onnxOutput(bytes, x, [steps, n, 1]);
        expect(got.dims).toEqual([steps, n, symbols]);
        expectClose(got.values, want);
      }
      model.dispose();
    }
  });

  it('records the producer and the architecture, and gives the same bytes for the same model', async () => {
    const model = buildMLP(backend, { inputs: 16, hidden: [16, 16], classes: 3, blockSize: 8, layout: halfDense, seed: 8 });
    const twin = buildMLP(backend, { inputs: 16, hidden: [16, 16], classes: 3, blockSize: 8, layout: halfDense, seed: 8 });
    const bytes = await modelToOnnx(model, { name: 'mlp', docString: 'a test' });
    expect(await modelToOnnx(model, { name: 'mlp', docString: 'a test' })).toEqual(bytes);
    expect(await modelToOnnx(twin, { name: 'mlp', docString: 'a test' })).toEqual(bytes);
    const decoded = decodeOnnxModel(bytes);
    expect([decoded.producer_name, decoded.doc_string, decoded.graph.name, decoded.ir_version]).toEqual(['blocksparse', 'a test', 'mlp', 8]);
    expect(decoded.metadata_props).toEqual([{ key: 'architecture', value: JSON.stringify(describeModel(model)) }]);
    model.dispose();
    twin.dispose();
  });

  it('refuses layers it cannot export and bad options, naming them', async () => {
    /** A layer kind the exporter does not know. */
    class Doubling implements Layer {
      readonly kind = 'doubling';
      readonly inFeatures = 4;
      readonly outFeatures = 4;
      constructor(readonly backend: Backend) {}
      forward(x: Tensor): Promise<Tensor> {
        return this.backend.scale(x, 2);
      }
      async backward(): Promise<Tensor | null> {
        return null;
      }
      parameters(): Parameter[] {
        return [];
      }
      dispose(): void {}
    }
    const odd = new Sequential([new Linear(backend, 3, 4, { seed: 1 }), new Doubling(backend)]);
    const error = await modelToOnnx(odd).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParameterError);
    expect((error as ParameterError).parameter).toBe('model.layers[1]');
    expect((error as Error).message).toMatch(/doubling/);
    // Image layers have no meaning on an LSTM's sequences.
    const mixed = new Sequential([new LSTM(backend, 4, 8, { seed: 1 }), new GlobalAvgPool(backend, 8)]);
    await expect(modelToOnnx(mixed)).rejects.toThrow(/model.layers\[1\] must be a layer ONNX export can run on sequences.*global-avg-pool/);
    await expect(modelToOnnx(odd, { opset: 16 as 17 })).rejects.toThrow(/opset must be one of 17, 18, 19, 20, 21/);
    await expect(modelToOnnx(odd, { name: '' })).rejects.toThrow(ParameterError);
    expect(catchError(() => decodeOnnxModel(Uint8Array.of(0xff, 0xff, 0xff)))).toMatchObject({ name: 'FormatError', field: 'bytes' });
    odd.dispose();
    mixed.dispose();
  });

  it('refuses models whose dense weights pass protobuf\'s 2 GiB or the memory budget, before reading them', async () => {
    // 65536 x 65536 features in 2048 blocks: 8 MiB of blocks, 16 GiB dense.
    const wide = new Sequential([new BlockSparseLinear(backend, randomLayout({ inBlocks: 2048, outBlocks: 2048, nnz: 2048, blockSize: 32, seed: 1 }), { seed: 1 })]);
    await expect(modelToOnnx(wide)).rejects.toThrow(/over the 2 GiB a protobuf message holds/);
    wide.dispose();
    const mlp = buildMLP(backend, { inputs: 784, hidden: [128], seed: 1 });
    await expect(withMemoryBudget(2 ** 20, () => modelToOnnx(mlp))).rejects.toThrow(ResourceError);
    mlp.dispose();
  });

  it.skipIf(!hasPythonOnnx())('passes onnx.checker.check_model and reads back in Python onnx (python3-onnx; skipped where it is not installed)', async () => {
    const models = [
      buildMLP(backend, { inputs: 16, hidden: [16, 16], classes: 3, blockSize: 8, layout: halfDense, l0: {}, activation: 'gelu', seed: 9 }),
      buildCNN(backend, { height: 6, width: 6, channels: [8, 16], blockSize: 8, classes: 3, seed: 10 }),
      buildCharLSTM(backend, { symbols: 7, embedding: 8, hidden: [8], seed: 11 }),
    ];
    for (const model of models) {
      const bytes = await modelToOnnx(model);
      const read = runPythonJSON<{ producer: string; opset: number[]; ir: number; architecture: string; input: (number | string)[]; ops: string[] }>(
        `import sys, json, onnx
m = onnx.load_model_from_string(sys.stdin.buffer.read())
onnx.checker.check_model(m, full_check=True)
dims = lambda v: [d.dim_value if d.HasField('dim_value') else d.dim_param for d in v.type.tensor_type.shape.dim]
print(json.dumps({'producer': m.producer_name, 'opset': [o.version for o in m.opset_import], 'ir': m.ir_version,
  'architecture': {p.key: p.value for p in m.metadata_props}['architecture'], 'input': dims(m.graph.input[0]), 'ops': [n.op_type for n in m.graph.node]}))`,
        bytes,
      );
      const decoded = decodeOnnxModel(bytes);
      expect(read).toEqual({
        producer: 'blocksparse', opset: [17], ir: 8, architecture: JSON.stringify(describeModel(model)),
        input: decoded.graph.input[0].type.tensor_type.shape.dim.map((d) => ('dim_value' in d ? d.dim_value : d.dim_param)),
        ops: decoded.graph.node.map((n) => n.op_type),
      });
      model.dispose();
    }
  });
});
