import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withMemoryBudget } from '../../src/budget.js';
import { FormatError, ParameterError, ResourceError } from '../../src/errors.js';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import type { Tensor } from '../../src/kernels/types.js';
import { layoutToJSON } from '../../src/patterns/json-format.js';
import { buildPatternSpec } from '../../src/patterns/spec.js';
import { buildCNN } from '../../src/train/cnn.js';
import { CharVocabulary } from '../../src/train/data/char-vocabulary.js';
import { parseMlpArch } from '../../src/train/export/mlp-arch.js';
import { MODEL_FILE_FORMAT, modelFromSafetensors, modelToSafetensors } from '../../src/train/export/model-safetensors.js';
import { BlockSparseLayer } from '../../src/train/layers/block-sparse-layer.js';
import { BlockSparseLinear } from '../../src/train/layers/block-sparse-linear.js';
import { Linear } from '../../src/train/layers/linear.js';
import type { Sequential } from '../../src/train/layers/sequential.js';
import { buildCharLSTM } from '../../src/train/language-model.js';
import { buildMLP, describeModel, type LayoutRequest } from '../../src/train/model.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from '../../src/train/safetensors.js';
import { catchError, expectParameterError } from '../helpers/expect-error.js';
import { hasTorch, runPythonJSON } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';
import { FAST_TIER } from '../helpers/tier.js';

/*
 * Model files: export -> import gives the same logits (bit for bit on the CPU backend) and the
 * same layouts for every layer kind (MLP dense, sparse, L0-gated; CNN; LSTM language model);
 * malformed files are refused naming the field; numpy reads the format's meaning independently;
 * the PyTorch loader of docs/pytorch.md (run as the page has it) reproduces our logits; a PyTorch
 * state dict of an MLP, masked to blocks, comes back with its arch.
 */

let backend: CpuBackend;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
});
afterAll(async () => {
  await backend.dispose();
});

/** A deterministic stream of numbers in [-1, 1). */
function noise(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  };
}

/** Random values for every parameter but the gate logits (norm gains and biases too, so that they matter). */
function perturb(model: Sequential, seed: number): void {
  const next = noise(seed);
  for (const p of model.parameters()) {
    if (p.name.endsWith('logAlpha')) continue;
    const values = Float32Array.from({ length: p.value.size }, () => 0.5 * next());
    const shape = p.value.shape;
    p.value.dispose();
    p.value = backend.tensor(values, shape);
  }
}

const randomLayouts = (density: number) => (request: LayoutRequest) => buildPatternSpec(`random:density=${density}`, { ...request, seed: request.index + 3 });

async function logits(model: Sequential, x: Tensor, steps?: number): Promise<Float32Array> {
  model.resetState();
  const y = await model.forward(x, { training: false, ...(steps ? { steps } : {}) });
  const values = Float32Array.from(await backend.read(y));
  y.dispose();
  return values;
}

/** Every block-sparse weight's layout document (provenance included), in order. */
function layouts(model: Sequential) {
  return allBlockSparse(model).map((l) => layoutToJSON(l.layout));
}

/** Every block-sparse weight layer, fixed ones (a CNN's stem) and an LSTM's included. */
function allBlockSparse(model: Sequential): BlockSparseLayer[] {
  return model.layers.flatMap((l) => (l instanceof BlockSparseLayer ? [l] : 'blockSparseLayers' in l ? (l as { blockSparseLayers(): BlockSparseLayer[] }).blockSparseLayers() : []));
}

/** Exports `model`, imports it, and checks logits (bit for bit), layouts and records; returns the import. */
async function roundTrip(model: Sequential, x: Tensor, options: { steps?: number; vocabulary?: CharVocabulary } = {}) {
  const provenance = { run: 'test', seed: 7, settings: { lr: 0.001, layers: [1, 2] } };
  const bytes = await modelToSafetensors(model, { provenance, ...(options.vocabulary ? { vocabulary: options.vocabulary } : {}) });
  const back = modelFromSafetensors(backend, bytes);
  expect(back.origin).toBe('blocksparse-model');
  expect(back.provenance).toEqual(provenance);
  const expected = await logits(model, x, options.steps);
  expect(Array.from(await logits(back.model, x, options.steps))).toEqual(Array.from(expected));
  expect(layouts(back.model)).toEqual(layouts(model));
  const records = describeModel(model).map((r) => ('l0' in r ? { ...r, l0: null } : r));
  expect(back.architecture).toEqual(records);
  expect(describeModel(back.model)).toEqual(records);
  expect(back.model.parameters().some((p) => p.name.endsWith('logAlpha'))).toBe(false);
  return { bytes, back, expected };
}

describe('model files: export -> import', () => {
  it('round-trips a dense MLP: tensors [in, out] and biases, no block-sparse weights', async () => {
    const model = buildMLP(backend, { inputs: 12, hidden: [16, 8], classes: 3, seed: 1 });
    perturb(model, 1);
    const x = backend.tensor(Float32Array.from({ length: 4 * 12 }, noise(2)), [4, 12]);
    const { bytes, back } = await roundTrip(model, x);
    const file = decodeSafetensors(bytes);
    expect([...file.tensors.keys()]).toEqual(['layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'layers.2.bias', 'layers.4.weight', 'layers.4.bias']);
    expect(file.tensors.get('layers.2.weight')!.shape).toEqual([16, 8]);
    expect(Array.from(file.tensors.get('layers.2.weight')!.data)).toEqual(Array.from(await backend.read((model.layers[2] as Linear).weight.value)));
    expect(file.metadata.format).toBe(MODEL_FILE_FORMAT);
    expect(file.metadata.version).toBe('1');
    expect(JSON.parse(file.metadata.block_sizes)).toEqual({});
    expect(file.metadata.vocabulary).toBeUndefined();
    // A Node Buffer (readFileSync's, often a view into a larger pool) reads the same.
    const pooled = Buffer.concat([Buffer.alloc(24, 7), Buffer.from(bytes)]).subarray(24);
    expect(pooled.byteOffset).toBeGreaterThan(0);
    const fromBuffer = modelFromSafetensors(backend, pooled);
    expect(Array.from(await logits(fromBuffer.model, x))).toEqual(Array.from(await logits(model, x)));
    fromBuffer.model.dispose();
    model.dispose();
    back.model.dispose();
    x.dispose();
  });

  it('round-trips a block-sparse MLP: blocks [nnz, bs, bs], the CSR as I32, the layouts with provenance', async () => {
    const model = buildMLP(backend, { inputs: 16, hidden: [32, 32, 24], classes: 5, blockSize: 8, layout: randomLayouts(0.4), sparseInput: true, activation: 'gelu', seed: 2 });
    perturb(model, 3);
    const x = backend.tensor(Float32Array.from({ length: 6 * 16 }, noise(4)), [6, 16]);
    const { bytes, back } = await roundTrip(model, x);
    const file = decodeSafetensors(bytes);
    const layer = model.layers[2] as BlockSparseLinear;
    const blocks = file.tensors.get('layers.2.blocks')!;
    expect(blocks.shape).toEqual([layer.layout.nnz, 8, 8]);
    expect(Array.from(blocks.data)).toEqual(Array.from(await backend.read(layer.weight.value)));
    expect(file.tensors.get('layers.2.row_ptr')).toEqual({ dtype: 'I32', shape: [5], data: layer.layout.rowPtr });
    expect(file.tensors.get('layers.2.col_idx')).toEqual({ dtype: 'I32', shape: [layer.layout.nnz], data: layer.layout.colIdx });
    expect(JSON.parse(file.metadata.block_sizes)).toEqual({ 'layers.0': 8, 'layers.2': 8, 'layers.4': 8 });
    // The architecture keeps each layout's provenance but not its CSR (the tensors hold it).
    const stored = JSON.parse(file.metadata.architecture);
    expect(stored[2].layout.rowPtr).toBeUndefined();
    expect(stored[2].layout.provenance).toEqual(layoutToJSON(layer.layout).provenance);
    model.dispose();
    back.model.dispose();
    x.dispose();
  });

  it('folds L0 gates into the blocks: closed gates give zero blocks, open ones the weights, the same logits bit for bit', async () => {
    const model = buildMLP(backend, { inputs: 16, hidden: [32, 32], classes: 4, blockSize: 8, layout: randomLayouts(1), l0: {}, seed: 5 });
    perturb(model, 6);
    for (const layer of allBlockSparse(model)) {
      // log alpha +-10: the test-time gate is exactly 1 or 0 (clamped).
      const logAlpha = Float32Array.from({ length: layer.layout.nnz }, (_, b) => (b % 3 === 0 ? -10 : 10));
      layer.logAlpha!.value.dispose();
      layer.logAlpha!.value = backend.tensor(logAlpha, [logAlpha.length]);
    }
    const x = backend.tensor(Float32Array.from({ length: 5 * 16 }, noise(7)), [5, 16]);
    const { bytes, back } = await roundTrip(model, x);
    const blocks = decodeSafetensors(bytes).tensors.get('layers.2.blocks')!.data;
    const weights = await backend.read((model.layers[2] as BlockSparseLinear).weight.value);
    for (let b = 0; b < blocks.length / 64; b++) {
      const closed = b % 3 === 0;
      // A closed gate gives zeros (-0 for a negative weight: w times 0).
      const block = Array.from(blocks.subarray(64 * b, 64 * (b + 1)));
      if (closed) expect(block.every((v) => v === 0)).toBe(true);
      else expect(block).toEqual(Array.from(weights.subarray(64 * b, 64 * (b + 1))));
    }
    expect((back.model.layers[2] as BlockSparseLinear).logAlpha).toBeNull();
    model.dispose();
    back.model.dispose();
    x.dispose();
  });

  it('folds gates strictly between 0 and 1 too (the same function to float32 rounding)', async () => {
    const model = buildMLP(backend, { inputs: 16, hidden: [16, 16], classes: 3, blockSize: 8, layout: randomLayouts(1), l0: {}, seed: 8 });
    perturb(model, 9);
    const x = backend.tensor(Float32Array.from({ length: 3 * 16 }, noise(10)), [3, 16]);
    const back = modelFromSafetensors(backend, await modelToSafetensors(model));
    const [a, b] = [await logits(model, x), await logits(back.model, x)];
    a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v))));
    model.dispose();
    back.model.dispose();
    x.dispose();
  });

  it('round-trips a CNN: convolution blocks [nnz, kh, kw, bs, bs], channel norms, pooling, the fixed stem', async () => {
    const model = buildCNN(backend, { height: 6, width: 6, channels: [8, 16], depth: 1, blockSize: 8, classes: 3, layout: randomLayouts(0.5), seed: 3 });
    perturb(model, 11);
    const x = backend.tensor(Float32Array.from({ length: 2 * 36 }, noise(12)), [2, 36]);
    const { bytes, back } = await roundTrip(model, x);
    const file = decodeSafetensors(bytes);
    expect(file.tensors.get('layers.1.blocks')!.shape).toEqual([1, 3, 3, 8, 8]);
    expect(file.tensors.get('layers.2.gain')!.shape).toEqual([8]);
    expect(JSON.parse(file.metadata.architecture)[1].fixedLayout).toBe(true);
    model.dispose();
    back.model.dispose();
    x.dispose();
  });

  it('round-trips an LSTM language model with its vocabulary: embedding, block-sparse input and recurrent weights, the bias', async () => {
    const vocabulary = CharVocabulary.fromTexts(['abcdefg']);
    const model = buildCharLSTM(backend, { symbols: vocabulary.size, embedding: 8, hidden: [16, 8], blockSize: 8, layout: randomLayouts(0.5), sparseInput: true, seed: 4 });
    perturb(model, 13);
    const [T, N] = [3, 2];
    const x = backend.tensor(Float32Array.from({ length: T * N }, (_, i) => (i * 3) % vocabulary.size), [T * N, 1]);
    const { bytes, back } = await roundTrip(model, x, { steps: T, vocabulary });
    expect(back.vocabulary).toEqual(vocabulary.toJSON());
    const file = decodeSafetensors(bytes);
    expect(file.tensors.get('layers.0.weight')!.shape).toEqual([7, 8]);
    expect(file.tensors.get('layers.1.recurrent.blocks')!.shape[1]).toBe(8);
    expect(file.tensors.get('layers.1.recurrent.row_ptr')!.shape).toEqual([3]);
    expect(file.tensors.get('layers.1.bias')!.shape).toEqual([64]);
    expect(JSON.parse(file.metadata.block_sizes)).toEqual({ 'layers.1.input': 8, 'layers.1.recurrent': 8, 'layers.2.input': 8, 'layers.2.recurrent': 8 });
    model.dispose();
    back.model.dispose();
    x.dispose();
  });

  it('refuses what it cannot write: a provenance that is not JSON, a vocabulary of another size, values that are not finite', async () => {
    const model = buildMLP(backend, { inputs: 4, hidden: [8], classes: 2, seed: 1 });
    await expect(modelToSafetensors(model, { provenance: { bad: Number.NaN } })).rejects.toMatchObject({ parameter: 'provenance' });
    await expect(modelToSafetensors(model, { provenance: [] as unknown as Record<string, unknown> })).rejects.toMatchObject({ parameter: 'provenance' });
    await expect(modelToSafetensors(model, { vocabulary: CharVocabulary.fromTexts(['ab']) })).rejects.toMatchObject({ parameter: 'vocabulary' });
    await expect(modelToSafetensors({} as Sequential)).rejects.toBeInstanceOf(ParameterError);
    const w = model.layers[0] as Linear;
    const values = Float32Array.from(await backend.read(w.weight.value));
    values[5] = Number.POSITIVE_INFINITY;
    w.weight.value.dispose();
    w.weight.value = backend.tensor(values, [4, 8]);
    await expect(modelToSafetensors(model)).rejects.toMatchObject({ parameter: '0.weight' });
    model.dispose();
  });
});

describe('model files: the meaning of the tensors, read by numpy', () => {
  it('numpy rebuilds the dense masked weights from the blocks and the CSR and reproduces the logits', async () => {
    const model = buildMLP(backend, { inputs: 16, hidden: [32, 24], classes: 5, blockSize: 8, layout: randomLayouts(0.4), sparseInput: true, activation: 'tanh', seed: 9 });
    perturb(model, 14);
    const x = Float32Array.from({ length: 3 * 16 }, noise(15));
    const ours = await logits(model, backend.tensor(x, [3, 16]));
    const bytes = await modelToSafetensors(model);
    const theirs = runPythonJSON<number[]>(
      `
import sys, json, struct, numpy as np
b = sys.stdin.buffer.read()
(n,) = struct.unpack('<Q', b[:8]); h = json.loads(b[8:8 + n]); meta = h.pop('__metadata__')
t = {k: np.frombuffer(b[8 + n + e['data_offsets'][0]:8 + n + e['data_offsets'][1]], dtype={'F32': '<f4', 'I32': '<i4'}[e['dtype']]).reshape(e['shape']).astype(np.float64 if e['dtype'] == 'F32' else np.int64) for k, e in h.items()}
x = np.array(${JSON.stringify(Array.from(x))}).reshape(3, 16)
for i, r in enumerate(json.loads(meta['architecture'])):
    p = 'layers.%d' % i
    if r['kind'] == 'activation':
        x = np.tanh(x); continue
    if r['kind'] == 'linear':
        W = t[p + '.weight']
    else:
        L = r['layout']; bs = L['blockSize']; W = np.zeros((L['inBlocks'] * bs, L['outBlocks'] * bs))
        rp, ci, blocks = t[p + '.row_ptr'], t[p + '.col_idx'], t[p + '.blocks']
        for c in range(L['inBlocks']):
            for bid in range(rp[c], rp[c + 1]):
                k = ci[bid]; W[c * bs:(c + 1) * bs, k * bs:(k + 1) * bs] = blocks[bid]
    x = x @ W + t[p + '.bias']
print(json.dumps(x.ravel().tolist()))
`,
      bytes,
    );
    expect(theirs.length).toBe(ours.length);
    theirs.forEach((v, i) => expect(Math.abs(v - ours[i]), `logit ${i}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
    model.dispose();
  });
});

/** A model file rewritten with `edit` applied to its tensors and metadata. */
function rewrite(bytes: Uint8Array, edit: (tensors: Map<string, SafetensorsTensor>, metadata: Record<string, string>) => void): Uint8Array {
  const file = decodeSafetensors(bytes);
  const tensors = new Map(file.tensors);
  const metadata = { ...file.metadata };
  edit(tensors, metadata);
  return encodeSafetensors(tensors, metadata);
}

/** Expects reading `bytes` to raise FormatError naming `field`. */
function expectFormatError(bytes: Uint8Array, field: string): FormatError {
  const error = catchError(() => modelFromSafetensors(backend, bytes));
  expect(error).toBeInstanceOf(FormatError);
  expect((error as FormatError).field).toBe(field);
  return error as FormatError;
}

describe('model files: malformed files are refused naming the field', () => {
  let good: Uint8Array;
  beforeAll(async () => {
    const model = buildMLP(backend, { inputs: 16, hidden: [16, 16], classes: 3, blockSize: 8, layout: randomLayouts(0.5), seed: 1 });
    good = await modelToSafetensors(model, { provenance: { run: 'x' } });
    model.dispose();
  });

  it('the metadata: version, unknown keys, architecture, provenance, block_sizes, vocabulary', () => {
    expectFormatError(rewrite(good, (_, m) => (m.version = '2')), 'version');
    expectFormatError(rewrite(good, (_, m) => (m.comment = 'hello')), 'comment');
    expectFormatError(rewrite(good, (_, m) => (m.architecture = '[{')), 'architecture');
    expectFormatError(rewrite(good, (_, m) => delete m.architecture), 'architecture');
    expectFormatError(rewrite(good, (_, m) => (m.provenance = '[1]')), 'provenance');
    expectFormatError(rewrite(good, (_, m) => (m.block_sizes = '{"layers.2": 16}')), 'block_sizes');
    expectFormatError(rewrite(good, (_, m) => (m.vocabulary = JSON.stringify(CharVocabulary.fromTexts(['ab']).toJSON()))), 'vocabulary');
    const arch = (edit: (records: Record<string, any>[]) => void) =>
      rewrite(good, (_, m) => {
        const records = JSON.parse(m.architecture);
        edit(records);
        m.architecture = JSON.stringify(records);
      });
    expectFormatError(arch((r) => (r[2].layout.nnz += 1)), 'architecture[2].layout.nnz');
    expectFormatError(arch((r) => (r[2].layout.rowPtr = [0])), 'architecture[2].layout.rowPtr');
    expectFormatError(arch((r) => (r[2].l0 = { beta: 0.66, gamma: -0.1, zeta: 1.1 })), 'architecture[2].l0');
    expectFormatError(arch((r) => (r[0].outFeatures = 17)), 'architecture[1]');
    expectFormatError(arch((r) => (r[1].activation = 'swish')), 'architecture[1].activation');
  });

  it('the tensors: missing, unknown, of another dtype or shape, an invalid CSR, values that are not finite', () => {
    expectFormatError(rewrite(good, (t) => t.delete('layers.2.row_ptr')), 'layers.2.row_ptr');
    expectFormatError(rewrite(good, (t) => t.delete('layers.4.bias')), 'layers.4.bias');
    expectFormatError(rewrite(good, (t) => t.set('layers.9.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) })), 'layers.9.weight');
    expectFormatError(
      rewrite(good, (t) => {
        const r = t.get('layers.2.row_ptr')!;
        t.set('layers.2.row_ptr', { dtype: 'F32', shape: r.shape, data: Float32Array.from(r.data) });
      }),
      'layers.2.row_ptr',
    );
    expectFormatError(
      rewrite(good, (t) => {
        const c = t.get('layers.2.col_idx')!;
        const data = Int32Array.from(c.data);
        data[0] = 7; // outside [0, outBlocks)
        t.set('layers.2.col_idx', { ...c, data });
      }),
      'layers.2.col_idx',
    );
    expectFormatError(
      rewrite(good, (t) => {
        const b = t.get('layers.2.blocks')!;
        t.set('layers.2.blocks', { dtype: 'F32', shape: [b.shape[0], 64], data: b.data });
      }),
      'layers.2.blocks',
    );
    const error = expectFormatError(
      rewrite(good, (t) => {
        const w = t.get('layers.0.weight')!;
        const data = Float32Array.from(w.data);
        data[3] = Number.NaN;
        t.set('layers.0.weight', { ...w, data });
      }),
      'layers.0.weight',
    );
    expect(error.message).toMatch(/NaN at element 3/);
    // A broken container is the codec's: its field.
    expect((catchError(() => modelFromSafetensors(backend, good.subarray(0, 6))) as FormatError).field).toBe('length');
  });

  it('a model larger than the memory budget is refused before it is built (ResourceError)', async () => {
    // 140k weights: a 0.56 MB file, whose model (weights and their gradients) needs over the 1 MiB budget.
    const model = buildMLP(backend, { inputs: 16, hidden: [512, 256], classes: 5, seed: 1 });
    const bytes = await modelToSafetensors(model);
    model.dispose();
    expect(bytes.length).toBeLessThan(2 ** 20);
    expect(catchError(() => withMemoryBudget(2 ** 20, () => modelFromSafetensors(backend, bytes)))).toBeInstanceOf(ResourceError);
    const zeros = (shape: number[]): SafetensorsTensor => ({ dtype: 'F32', shape, data: new Float32Array(shape[0] * (shape[1] ?? 1)) });
    const dict = encodeSafetensors([['0.weight', zeros([512, 16])], ['2.weight', zeros([256, 512])], ['4.weight', zeros([5, 256])]]);
    const error = catchError(() => withMemoryBudget(2 ** 20, () => modelFromSafetensors(backend, dict, { arch: parseMlpArch('mlp:16,512,256,5') })));
    expect(error).toBeInstanceOf(ResourceError);
  });

  it('arch is refused with a model file and required without one', () => {
    expectParameterError(() => modelFromSafetensors(backend, good, { arch: parseMlpArch('mlp:16,16,16,3') }), 'arch');
    expectParameterError(() => modelFromSafetensors(backend, rewrite(good, (_, m) => delete m.format)), 'arch');
    expectParameterError(() => modelFromSafetensors(backend, 'file' as unknown as Uint8Array), 'bytes');
  });
});

describe('parseMlpArch', () => {
  it('reads widths, an activation and a block size', () => {
    expect(parseMlpArch('mlp:784,1024,1024,10')).toEqual({ inputs: 784, hidden: [1024, 1024], classes: 10, activation: 'relu', blockSize: 32 });
    expect(parseMlpArch('mlp:20,5:block=8')).toEqual({ inputs: 20, hidden: [], classes: 5, activation: 'relu', blockSize: 8 });
    expect(parseMlpArch('mlp:16,32,4:activation=gelu:block=16')).toEqual({ inputs: 16, hidden: [32], classes: 4, activation: 'gelu', blockSize: 16 });
  });

  it('refuses other text, naming arch', () => {
    for (const text of ['', 'mlp', 'mlp:784', 'cnn:784,10', 'mlp:784,,10', 'mlp:784,10:activation=swish', 'mlp:784,10:block=12', 'mlp:784,10:block=8:block=8', 'mlp:784,10:depth=3', 'mlp: 784,10', 'mlp:784,-1,10']) {
      expectParameterError(() => parseMlpArch(text), 'arch');
    }
    expectParameterError(() => parseMlpArch('mlp:784,0,10'), 'arch.hidden[0]');
    expectParameterError(() => parseMlpArch('mlp:784,10,99999999999'), 'arch.classes');
  });
});

/** A PyTorch-style state dict of an MLP 16 -> 32 -> 16 -> 5 ([out, in] weights), layer 2 masked to 8 x 8 blocks. */
function stateDict(): { tensors: Map<string, SafetensorsTensor>; mask: Float32Array } {
  const next = noise(21);
  const f32 = (shape: number[]): SafetensorsTensor => ({ dtype: 'F32', shape, data: Float32Array.from({ length: shape[0] * (shape[1] ?? 1) }, () => 0.4 * next()) });
  // Block (k, c) of the [16, 32] weight (outputs k, inputs c): present when (k + 2c) % 3 != 0.
  const mask = new Float32Array(16 * 32);
  for (let o = 0; o < 16; o++) for (let i = 0; i < 32; i++) mask[o * 32 + i] = (Math.floor(o / 8) + 2 * Math.floor(i / 8)) % 3 !== 0 ? 1 : 0;
  const tensors = new Map<string, SafetensorsTensor>([
    ['net.0.weight', f32([32, 16])], ['net.0.bias', f32([32])],
    ['net.2.weight_orig', f32([16, 32])], ['net.2.weight_mask', { dtype: 'F32', shape: [16, 32], data: mask }], ['net.2.bias', f32([16])],
    ['net.4.weight', f32([5, 16])],
  ]);
  return { tensors, mask };
}

describe('a state dict trained elsewhere, with its arch', () => {
  const arch = parseMlpArch('mlp:16,32,16,5:activation=tanh:block=8');

  it('becomes dense Linear layers and a BlockSparseLinear on the mask\'s blocks, whose logits numpy reproduces', async () => {
    const { tensors, mask } = stateDict();
    const bytes = encodeSafetensors(tensors);
    const imported = modelFromSafetensors(backend, bytes, { arch, source: 'trained.safetensors' });
    expect(imported.origin).toBe('state-dict');
    expect(imported.model.layers.map((l) => l.kind)).toEqual(['linear', 'tanh', 'block-sparse-linear', 'tanh', 'linear']);
    expect((imported.model.layers[4] as Linear).bias).toBeNull();
    const layout = (imported.model.layers[2] as BlockSparseLinear).layout;
    const present: string[] = [];
    for (let c = 0; c < 4; c++) for (let b = layout.rowPtr[c]; b < layout.rowPtr[c + 1]; b++) present.push(`${c},${layout.colIdx[b]}`);
    const expected: string[] = [];
    for (let c = 0; c < 4; c++) for (let k = 0; k < 2; k++) if (mask[k * 8 * 32 + c * 8] === 1) expected.push(`${c},${k}`);
    expect(present).toEqual(expected);
    expect(layout.provenance).toEqual({ generator: 'state-dict-mask', params: { tensor: 'net.2.weight_mask', file: 'trained.safetensors' } });
    expect(imported.provenance).toMatchObject({ generator: 'state-dict', layers: ['net.0', 'net.2', 'net.4'], file: 'trained.safetensors' });
    const x = Float32Array.from({ length: 4 * 16 }, noise(22));
    const ours = await logits(imported.model, backend.tensor(x, [4, 16]));
    const theirs = runPythonJSON<number[]>(
      `
import sys, json, struct, numpy as np
b = sys.stdin.buffer.read()
(n,) = struct.unpack('<Q', b[:8]); h = json.loads(b[8:8 + n]); h.pop('__metadata__', None)
t = {k: np.frombuffer(b[8 + n + e['data_offsets'][0]:8 + n + e['data_offsets'][1]], dtype='<f4').reshape(e['shape']).astype(np.float64) for k, e in h.items()}
x = np.array(${JSON.stringify(Array.from(x))}).reshape(4, 16)
x = np.tanh(x @ t['net.0.weight'].T + t['net.0.bias'])
x = np.tanh(x @ (t['net.2.weight_orig'] * t['net.2.weight_mask']).T + t['net.2.bias'])
x = x @ t['net.4.weight'].T
print(json.dumps(x.ravel().tolist()))
`,
      bytes,
    );
    theirs.forEach((v, i) => expect(Math.abs(v - ours[i]), `logit ${i}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
    // Exported again, it is a model file of this toolkit.
    const again = modelFromSafetensors(backend, await modelToSafetensors(imported.model, { provenance: imported.provenance }));
    expect(Array.from(await logits(again.model, backend.tensor(x, [4, 16])))).toEqual(Array.from(ours));
    imported.model.dispose();
    again.model.dispose();
  });

  it('takes I32 masks and masks of no blocks (the layer gives its bias alone)', async () => {
    const { tensors } = stateDict();
    tensors.set('net.2.weight_mask', { dtype: 'I32', shape: [16, 32], data: new Int32Array(16 * 32) });
    const imported = modelFromSafetensors(backend, encodeSafetensors(tensors), { arch });
    const layer = imported.model.layers[2] as BlockSparseLinear;
    expect(layer.layout.nnz).toBe(0);
    const y = await layer.forward(backend.tensor(Float32Array.from({ length: 2 * 32 }, noise(23)), [2, 32]), { training: false });
    const bias = Array.from(tensors.get('net.2.bias')!.data);
    expect(Array.from(await backend.read(y))).toEqual([...bias, ...bias]);
    imported.model.dispose();
  });

  it('refuses what breaks the convention or disagrees with the arch, naming the tensor', () => {
    const check = (edit: (t: Map<string, SafetensorsTensor>) => void, field: string, message?: RegExp, a = arch) => {
      const { tensors } = stateDict();
      edit(tensors);
      const error = catchError(() => modelFromSafetensors(backend, encodeSafetensors(tensors), { arch: a }));
      expect(error).toBeInstanceOf(FormatError);
      expect((error as FormatError).field).toBe(field);
      if (message) expect((error as FormatError).message).toMatch(message);
    };
    const maskWith = (at: number, value: number) => (t: Map<string, SafetensorsTensor>) => {
      const m = t.get('net.2.weight_mask')!;
      const data = Float32Array.from(m.data);
      data[at] = value;
      t.set('net.2.weight_mask', { ...m, data });
    };
    check((t) => t.set('net.0.weight', { dtype: 'F32', shape: [16, 32], data: t.get('net.0.weight')!.data }), 'net.0.weight', /\[16, 32\] but Linear 0 .* needs \[32, 16\]/);
    check(maskWith(0, 0.5), 'net.2.weight_mask', /0.5 at \[0, 0\]/);
    check(maskWith(5 * 32 + 3, Number.NaN), 'net.2.weight_mask');
    check(maskWith(8 * 32 + 1, 1 - stateDict().mask[8 * 32 + 1]), 'net.2.weight_mask', /not constant on the 8 x 8 block of outputs \[8, 16\) and inputs \[0, 8\)/);
    check(() => {}, 'net.2.weight_mask', /multiples of it/, parseMlpArch('mlp:16,32,16,5:block=32'));
    check((t) => t.set('net.1.running_mean', { dtype: 'F32', shape: [32], data: new Float32Array(32) }), 'net.1.running_mean');
    check((t) => t.set('head.0.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) }), 'head.0.weight', /prefix/);
    check((t) => t.set('net.2.weight', t.get('net.2.weight_orig')!), 'net.2.weight_orig', /both/);
    check((t) => t.delete('net.0.weight'), 'net.0.weight', /no net.0.weight/);
    check((t) => {
      const w = t.get('net.4.weight')!;
      t.set('net.4.weight', { ...w, data: Float32Array.from(w.data, (v, i) => (i === 7 ? Number.NEGATIVE_INFINITY : v)) });
    }, 'net.4.weight', /-Infinity at element 7/);
    check(() => {}, 'arch', /3 Linear layers/, parseMlpArch('mlp:16,32,16,16,5:block=8'));
    check((t) => t.set('net.4.bias', { dtype: 'I32', shape: [5], data: new Int32Array(5) }), 'net.4.bias', /I32/);
  });
});

/** The loader's code block in docs/pytorch.md (the first python block after "## The loader"), so that the test runs what the page shows. */
function loaderFromDocs(): string {
  const page = readFileSync(new URL('../../docs/pytorch.md', import.meta.url), 'utf8');
  const section = page.slice(page.indexOf('## The loader'));
  const match = /```python\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error('docs/pytorch.md has no python block under "## The loader"');
  return match[1];
}

describe.skipIf(FAST_TIER || !hasTorch())('the PyTorch loader of docs/pytorch.md (python3-torch installed: a disagreement fails)', () => {
  const dir = tempDir('model-safetensors-');

  /** Runs the page's loader on `path` and `script` after it (x, model in scope); returns its JSON. */
  const runLoader = <T>(script: string): T => runPythonJSON<T>(`${loaderFromDocs()}\nimport sys\n${script}`);

  it('rebuilds an MLP (block-sparse and dense layers, gelu, prune masks on the block-sparse ones) and reproduces our logits', async () => {
    const model = buildMLP(backend, { inputs: 16, hidden: [32, 32, 16], classes: 5, blockSize: 8, layout: randomLayouts(0.4), sparseInput: true, activation: 'gelu', seed: 31 });
    perturb(model, 32);
    const path = join(dir, 'mlp.safetensors');
    writeFileSync(path, await modelToSafetensors(model, { provenance: { run: 'mlp' } }));
    const x = Float32Array.from({ length: 5 * 16 }, noise(33));
    const ours = await logits(model, backend.tensor(x, [5, 16]));
    const torch = runLoader<{ logits: number[]; provenance: unknown; masked: string[] }>(`
model, meta = load_blocksparse(${JSON.stringify(path)})
x = torch.tensor(${JSON.stringify(Array.from(x))}).reshape(5, 16)
with torch.no_grad(): y = model(x)
print(json.dumps({'logits': y.flatten().tolist(), 'provenance': json.loads(meta['provenance']), 'masked': sorted(k for k in model.state_dict() if k.endswith('weight_mask'))}))
`);
    expect(torch.provenance).toEqual({ run: 'mlp' });
    expect(torch.masked).toEqual(['0.weight_mask', '2.weight_mask', '4.weight_mask']);
    torch.logits.forEach((v, i) => expect(Math.abs(v - ours[i]), `logit ${i}: ours ${ours[i]}, torch ${v}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
    model.dispose();
  });

  it('rebuilds a CNN (NHWC, convolutions, channel norms, max and global pooling) and reproduces our logits', async () => {
    const model = buildCNN(backend, { height: 8, width: 8, channels: [8, 16], depth: 2, blockSize: 8, classes: 4, layout: randomLayouts(0.5), seed: 34 });
    perturb(model, 35);
    const path = join(dir, 'cnn.safetensors');
    writeFileSync(path, await modelToSafetensors(model));
    const x = Float32Array.from({ length: 3 * 64 }, noise(36));
    const ours = await logits(model, backend.tensor(x, [3, 64]));
    const torch = runLoader<number[]>(`
model, meta = load_blocksparse(${JSON.stringify(path)})
x = torch.tensor(${JSON.stringify(Array.from(x))}).reshape(3, 64)
with torch.no_grad(): y = model(x)
print(json.dumps(y.flatten().tolist()))
`);
    expect(torch.length).toBe(ours.length);
    torch.forEach((v, i) => expect(Math.abs(v - ours[i]), `logit ${i}: ours ${ours[i]}, torch ${v}`).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(v))));
    model.dispose();
  });

  it('an LSTM language model maps onto nn.Embedding, nn.LSTM and nn.Linear as the page says', async () => {
    const vocabulary = CharVocabulary.fromTexts(['abcdefgh']);
    const model = buildCharLSTM(backend, { symbols: vocabulary.size, embedding: 8, hidden: [16], blockSize: 8, layout: randomLayouts(0.5), sparseInput: true, seed: 37 });
    perturb(model, 38);
    const path = join(dir, 'lstm.safetensors');
    writeFileSync(path, await modelToSafetensors(model, { vocabulary }));
    const [T, N] = [4, 2];
    const x = Float32Array.from({ length: T * N }, (_, i) => (i * 5) % vocabulary.size);
    const ours = await logits(model, backend.tensor(x, [T * N, 1]), T);
    const torch = runLoader<number[]>(`
raw = open(${JSON.stringify(path)}, 'rb').read(); n = int.from_bytes(raw[:8], 'little'); head = json.loads(raw[8:8 + n]); meta = head.pop('__metadata__')
t = {k: torch.from_numpy(np.frombuffer(raw, {'F32': '<f4', 'I32': '<i4'}[e['dtype']], math.prod(e['shape']), 8 + n + e['data_offsets'][0]).reshape(e['shape']).copy()) for k, e in head.items()}
arch = json.loads(meta['architecture'])
def dense(p, L):  # W [in, out] from the blocks and the CSR
    bs = L['blockSize']; W = torch.zeros(L['inBlocks'] * bs, L['outBlocks'] * bs); rp, ci, b = t[p + '.row_ptr'], t[p + '.col_idx'], t[p + '.blocks']
    for c in range(L['inBlocks']):
        for j in range(rp[c], rp[c + 1]): W[c * bs:(c + 1) * bs, ci[j] * bs:(ci[j] + 1) * bs] = b[j]
    return W
emb = nn.Embedding.from_pretrained(t['layers.0.weight'])
r = arch[1]; lstm = nn.LSTM(r['inFeatures'], r['hidden'])
with torch.no_grad():
    lstm.weight_ih_l0.copy_(dense('layers.1.input', r['inputLayout']).T); lstm.weight_hh_l0.copy_(dense('layers.1.recurrent', r['recurrentLayout']).T)
    lstm.bias_ih_l0.copy_(t['layers.1.bias']); lstm.bias_hh_l0.zero_()
out = nn.Linear(r['hidden'], arch[2]['outFeatures']); out.weight.data = t['layers.2.weight'].T.contiguous(); out.bias.data = t['layers.2.bias']
x = torch.tensor(${JSON.stringify(Array.from(x))}).long().reshape(${T}, ${N})
with torch.no_grad(): y = out(lstm(emb(x))[0])
assert json.loads(meta['vocabulary'])['codePoints'] == [ord(c) for c in 'abcdefgh']
print(json.dumps(y.flatten().tolist()))
`);
    torch.forEach((v, i) => expect(Math.abs(v - ours[i]), `logit ${i}: ours ${ours[i]}, torch ${v}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
    model.dispose();
  });

  it('the whole route: export, load in PyTorch, train there (the masks keep the blocks), save the state dict, import it with its arch', async () => {
    const model = buildMLP(backend, { inputs: 16, hidden: [32, 16], classes: 5, blockSize: 8, layout: randomLayouts(0.5), sparseInput: true, seed: 41 });
    perturb(model, 42);
    const [exported, trained] = [join(dir, 'route.safetensors'), join(dir, 'trained.safetensors')];
    writeFileSync(exported, await modelToSafetensors(model));
    const x = Float32Array.from({ length: 6 * 16 }, noise(43));
    // safetensors.torch.save_file stands in here as a plain writer (Debian has no python3-safetensors).
    const torchLogits = runLoader<number[]>(`
model, meta = load_blocksparse(${JSON.stringify(exported)})
torch.manual_seed(0)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.tensor(${JSON.stringify(Array.from(x))}).reshape(6, 16)
for _ in range(3):
    opt.zero_grad(); nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 3, 4, 0])).backward(); opt.step()
def save_file(tensors, path):
    header, blobs, offset = {}, [], 0
    for k, v in tensors.items():
        a = v.detach().float().contiguous().numpy().astype('<f4'); header[k] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [offset, offset + a.nbytes]}; offset += a.nbytes; blobs.append(a.tobytes())
    h = json.dumps(header).encode(); h += b' ' * (-len(h) % 8)
    open(path, 'wb').write(len(h).to_bytes(8, 'little') + h + b''.join(blobs))
save_file(model.state_dict(), ${JSON.stringify(trained)})
with torch.no_grad(): print(json.dumps(model(x).flatten().tolist()))
`);
    const back = modelFromSafetensors(backend, readFileSync(trained), { arch: parseMlpArch('mlp:16,32,16,5:block=8') });
    // The blocks are the exported layouts' (the provenance is now the mask's).
    const blocks = (m: Sequential) => allBlockSparse(m).map((l) => [Array.from(l.layout.rowPtr), Array.from(l.layout.colIdx)]);
    expect(blocks(back.model)).toEqual(blocks(model));
    const ours = await logits(back.model, backend.tensor(x, [6, 16]));
    torchLogits.forEach((v, i) => expect(Math.abs(v - ours[i]), `logit ${i}: ours ${ours[i]}, torch ${v}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
    // Training moved the weights: the logits are not the exported model's.
    const before = await logits(model, backend.tensor(x, [6, 16]));
    expect(before.some((v, i) => Math.abs(v - ours[i]) > 1e-3)).toBe(true);
    model.dispose();
    back.model.dispose();
  });
});
