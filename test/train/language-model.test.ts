import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, ParameterError, ResourceError, ShapeError } from '../../src/errors.js';
import { withMemoryBudget } from '../../src/budget.js';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import { denseLayout } from '../../src/patterns/dense.js';
import { repeatColumns } from '../../src/patterns/layout-operations.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { restoreModel, restoreOptimizer } from '../../src/train/checkpoint-restore.js';
import { CharVocabulary } from '../../src/train/data/char-vocabulary.js';
import { evaluateText } from '../../src/train/evaluate.js';
import { clipGradNorm } from '../../src/train/gradient-clipping.js';
import { buildCharLSTM, gateSharedLayout } from '../../src/train/language-model.js';
import { BlockSparseLinear } from '../../src/train/layers/block-sparse-linear.js';
import { Embedding } from '../../src/train/layers/embedding.js';
import { LSTM } from '../../src/train/layers/lstm.js';
import { Sequential } from '../../src/train/layers/sequential.js';
import { checkLayerRecords, describeModel, estimateModelBytes, layerDensities, modelFromRecord, parameterCount, type LayoutRequest } from '../../src/train/model.js';
import { Adam, type Optimizer } from '../../src/train/optimizers.js';

/*
 * The character-level language model: its builder, its architecture records and memory estimate,
 * checkpoints of LSTMs with block-sparse L0-gated weights and a carried state, gradient clipping,
 * and bits per character over a whole text. CPU backend, one thread (the same bytes every run).
 * Training runs are in language-model-training.test.ts.
 */

let backend: CpuBackend;
let dir: string;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
  dir = mkdtempSync(join(tmpdir(), 'blocksparse-lm-'));
});
afterAll(async () => {
  await backend.dispose();
});

const text = 'hello world\n'.repeat(20);
const vocabulary = CharVocabulary.fromTexts([text]);
const tokens = vocabulary.encode(text);
const bits = async (t: unknown) => Array.from(new Uint32Array((await backend.read(t as never)).buffer));

/** An LSTM model: embedding 8, LSTMs of 16 and 16, blocks of 8; recurrent (and input) weights random at half density, L0-gated. */
function sparseModel(seed = 1): Sequential {
  return buildCharLSTM(backend, {
    symbols: vocabulary.size, embedding: 8, hidden: [16, 16], blockSize: 8, seed, sparseInput: true, l0: {},
    layout: ({ role, index, inBlocks, outBlocks, blockSize }) => randomLayout({ inBlocks, outBlocks, blockSize, nnz: role === 'input' ? 1 : 2, diagonal: false, seed: `${role}${index}` }),
  });
}

/** Forward and backward on the first 4 x 8 characters (streams of 8 steps), leaving gradients and a carried state. */
async function backwardPass(model: Sequential): Promise<void> {
  const rows = 32;
  const x = backend.tensor(Float32Array.from(tokens.subarray(0, rows)), [rows, 1]);
  const labels = backend.tensor(Float32Array.from(tokens.subarray(1, rows + 1)), [rows]);
  const logits = await model.forward(x, { training: true, steps: 8 });
  const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
  await model.backward(dlogits);
  for (const t of [x, labels, logits, loss, dlogits, correct]) t.dispose();
}

/** One training step (backwardPass, then the optimiser), leaving gradients, optimiser state and a carried state. */
async function step(model: Sequential, optimizer: Optimizer): Promise<void> {
  await backwardPass(model);
  await optimizer.step();
}

describe('buildCharLSTM', () => {
  it('stacks Embedding, LSTMs and a dense output, asks the factory for each LSTM\'s recurrent (and input) layout, seeds layer i with "<seed>#layer<i>"', () => {
    const requests: LayoutRequest[] = [];
    const model = buildCharLSTM(backend, {
      symbols: 9, embedding: 16, hidden: [32, 16], blockSize: 8, seed: 4, sparseInput: true,
      layout: (request) => {
        requests.push(request);
        // A square layout for the first LSTM's recurrent weights, per-gate (rectangular) for the rest.
        const { inBlocks, outBlocks, blockSize, role, index } = request;
        return role === 'recurrent' && index === 0 ? denseLayout({ inBlocks, outBlocks, blockSize }) : randomLayout({ inBlocks, outBlocks: 4 * outBlocks, blockSize, nnz: 3, diagonal: false, seed: 1 });
      },
    });
    expect(requests).toEqual([
      { index: 0, role: 'input', inBlocks: 2, outBlocks: 4, blockSize: 8 },
      { index: 0, role: 'recurrent', inBlocks: 4, outBlocks: 4, blockSize: 8 },
      { index: 1, role: 'input', inBlocks: 4, outBlocks: 2, blockSize: 8 },
      { index: 1, role: 'recurrent', inBlocks: 2, outBlocks: 2, blockSize: 8 },
    ]);
    expect(model.layers.map((l) => l.kind)).toEqual(['embedding', 'lstm', 'lstm', 'linear']);
    expect(model.parameters().map((p) => `${p.name} [${p.value.shape.join(',')}]`)).toEqual([
      '0.weight [9,16]',
      '1.input.weight [3,8,8]', '1.recurrent.weight [64,8,8]', '1.bias [128]',
      '2.input.weight [3,8,8]', '2.recurrent.weight [3,8,8]', '2.bias [64]',
      '3.weight [16,9]', '3.bias [9]',
    ]);
    // The square layout is repeated for the four gates: 16 blocks, 64 held.
    const recurrent = (model.layers[1] as LSTM).recurrent as BlockSparseLinear;
    expect(gateSharedLayout(recurrent.layout)!.equals(denseLayout({ inBlocks: 4, outBlocks: 4, blockSize: 8 }))).toBe(true);
    expect(model.blockSparseLayers()).toHaveLength(4);
    // 9*16 + (3 + 64)*64 + 128 + (3 + 3)*64 + 64 + 16*9 + 9
    expect(parameterCount(model)).toBe(9 * 16 + 67 * 64 + 128 + 6 * 64 + 64 + 16 * 9 + 9);
    expect(layerDensities(model)).toEqual([
      { layer: 0, kind: 'embedding', inFeatures: 9, outFeatures: 16, density: 1 },
      { layer: 1, kind: 'lstm', part: 'input', inFeatures: 16, outFeatures: 128, density: 3 / 32, nnz: 3 },
      { layer: 1, kind: 'lstm', part: 'recurrent', inFeatures: 32, outFeatures: 128, density: 1, nnz: 64 },
      { layer: 2, kind: 'lstm', part: 'input', inFeatures: 32, outFeatures: 64, density: 3 / 32, nnz: 3 },
      { layer: 2, kind: 'lstm', part: 'recurrent', inFeatures: 16, outFeatures: 64, density: 3 / 16, nnz: 3 },
      { layer: 3, kind: 'linear', inFeatures: 16, outFeatures: 9, density: 1 },
    ]);
    // Same seed, same weights; layer 1 seeded "4#layer1" as an LSTM built alone.
    const alone = new LSTM(backend, 16, 32, { seed: '4#layer1', forgetBias: 1 });
    expect((model.layers[1] as LSTM).bias.value.shape).toEqual(alone.bias.value.shape);
    return Promise.all([bits((model.layers[1] as LSTM).bias.value), bits(alone.bias.value)]).then(([a, b]) => {
      expect(a).toEqual(b);
      alone.dispose();
      model.dispose();
    });
  });

  it('is dense without a layout, and names the option at fault', () => {
    const dense = buildCharLSTM(backend, { symbols: 5, hidden: [12] });
    expect(dense.parameters().map((p) => `${p.name} [${p.value.shape.join(',')}]`)).toEqual(['0.weight [5,64]', '1.input.weight [64,48]', '1.recurrent.weight [12,48]', '1.bias [48]', '2.weight [12,5]', '2.bias [5]']);
    expect(dense.blockSparseLayers()).toEqual([]);
    dense.dispose();
    const layout = ({ inBlocks, outBlocks, blockSize }: LayoutRequest) => denseLayout({ inBlocks, outBlocks, blockSize });
    const error = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as ParameterError;
      }
      throw new Error('expected an error');
    };
    expect(error(() => buildCharLSTM(backend, { symbols: 5, hidden: [] }))).toMatchObject({ parameter: 'hidden' });
    expect(error(() => buildCharLSTM(backend, { symbols: 0, hidden: [8] }))).toMatchObject({ parameter: 'symbols' });
    expect(error(() => buildCharLSTM(backend, { symbols: 5, hidden: [12], layout })).message).toMatch(/hidden must be widths that are multiples of the block size 32/);
    expect(error(() => buildCharLSTM(backend, { symbols: 5, hidden: [16], blockSize: 16, l0: {} })).message).toMatch(/layout must be given with l0/);
    expect(error(() => buildCharLSTM(backend, { symbols: 5, hidden: [16], blockSize: 16, embedding: 20, sparseInput: true, layout })).message).toMatch(/embedding must be a multiple of the block size 16 with sparseInput/);
    const wrong = error(() => buildCharLSTM(backend, { symbols: 5, hidden: [32], blockSize: 8, layout: () => denseLayout({ inBlocks: 4, outBlocks: 3, blockSize: 8 }) }));
    expect(wrong).toBeInstanceOf(ParameterError);
    expect(wrong.message).toMatch(/layout must be 4 x 4 blocks of 8 \(shared by the four gates\) or 4 x 16 for the recurrent weights of LSTM 0 \(32 -> 32 features\) \(got "4 x 3 blocks of 8 \(32 -> 24 features\)"\)$/);
    // The memory is checked before anything is allocated.
    const huge = error(() => withMemoryBudget(2 ** 20, () => buildCharLSTM(backend, { symbols: 5, hidden: [4096] })));
    expect(huge).toBeInstanceOf(ResourceError);
    expect(huge.message).toMatch(/^model \(LSTM 64 -> 4096 at layer 1, the largest of 3 layers; values, gradients and Adam state\) needs about/);
  });

  it('gateSharedLayout undoes repeatColumns, and is null once the gates have blocks of their own', () => {
    const square = randomLayout({ inBlocks: 5, outBlocks: 5, blockSize: 8, nnz: 9, seed: 3 });
    const repeated = repeatColumns(square, 4);
    const shared = gateSharedLayout(repeated)!;
    expect(shared.equals(square)).toBe(true);
    expect(shared.provenance).toEqual(square.provenance);
    const apart = randomLayout({ inBlocks: 5, outBlocks: 20, blockSize: 8, nnz: 36, seed: 4 });
    expect(gateSharedLayout(apart)).toBeNull();
    expect(gateSharedLayout(square)).toBeNull(); // 5 columns: not four gates
  });
});

describe('architecture records of embeddings and LSTMs', () => {
  it('describe, validate and rebuild the model (layouts as the layers hold them), and estimate its memory in closed form', () => {
    const model = sparseModel();
    const records = describeModel(model);
    expect(records.map((r) => r.kind)).toEqual(['embedding', 'lstm', 'lstm', 'linear']);
    expect(records[0]).toEqual({ kind: 'embedding', symbols: vocabulary.size, features: 8 });
    const lstm = records[1] as Extract<(typeof records)[number], { kind: 'lstm' }>;
    expect({ ...lstm, inputLayout: null, recurrentLayout: null }).toEqual({ kind: 'lstm', inFeatures: 8, hidden: 16, inputLayout: null, recurrentLayout: null, l0: { beta: 2 / 3, gamma: -0.1, zeta: 1.1 } });
    expect([lstm.inputLayout!.inBlocks, lstm.inputLayout!.outBlocks, lstm.inputLayout!.nnz]).toEqual([1, 8, 4]);
    expect([lstm.recurrentLayout!.inBlocks, lstm.recurrentLayout!.outBlocks, lstm.recurrentLayout!.nnz]).toEqual([2, 8, 8]);
    const rebuilt = modelFromRecord(backend, JSON.parse(JSON.stringify(records)));
    expect(describeModel(rebuilt)).toEqual(records);
    expect(rebuilt.parameters().map((p) => [p.name, p.value.shape])).toEqual(model.parameters().map((p) => [p.name, p.value.shape]));
    // Adam: values, gradients, two moments (4 copies) of every parameter, gate logits included, plus each layout's tables.
    const V = vocabulary.size;
    const sparse = (inBlocks: number, outBlocks: number, nnz: number) => ({ params: nnz * 64 + nnz, tables: 4 * (inBlocks + 2 * outBlocks + 5 * nnz) });
    const [in1, rec1, in2, rec2] = [sparse(1, 8, 4), sparse(2, 8, 8), sparse(2, 8, 4), sparse(2, 8, 8)];
    const params = V * 8 + in1.params + rec1.params + 64 + in2.params + rec2.params + 64 + 16 * V + V;
    expect(estimateModelBytes(records).bytes).toBe(16 * params + in1.tables + rec1.tables + in2.tables + rec2.tables);
    rebuilt.dispose();
    model.dispose();
  });

  it('refuse records that are not an embedding or an LSTM of consistent sizes, naming the field', () => {
    const model = sparseModel();
    const records = describeModel(model);
    model.dispose();
    const damaged = (edit: (r: any[]) => void) => {
      const copy = JSON.parse(JSON.stringify(records));
      edit(copy);
      try {
        checkLayerRecords(copy);
      } catch (error) {
        expect(error).toBeInstanceOf(FormatError);
        return [(error as FormatError).field, (error as Error).message];
      }
      throw new Error('expected a FormatError');
    };
    expect(damaged((r) => (r[1].hidden = 24))).toEqual(['architecture[1].inputLayout', expect.stringMatching(/must be null \(dense\) or a layout of 8 -> 96 features .*got 8 -> 64/)]);
    expect(damaged((r) => (r[1].recurrentLayout.inBlocks = 3))).toEqual(['architecture[1].recurrentLayout', expect.stringMatching(/must be null \(dense\) or a layout of 16 -> 64 features .*got 24 -> 64/)]);
    expect(damaged((r) => (r[1].inputLayout.blockSize = 12))).toEqual(['architecture[1].inputLayout.blockSize', expect.stringMatching(/must be one of 8, 16, 32/)]);
    expect(damaged((r) => ((r[1].inputLayout = null), (r[1].recurrentLayout = null)))).toEqual(['architecture[1].l0', expect.stringMatching(/must be null when both weights are dense/)]);
    expect(damaged((r) => (r[1].forgetBias = 1))).toEqual(['architecture[1].forgetBias', expect.stringMatching(/is not a field of a lstm layer/)]);
    expect(damaged((r) => (r[0].features = 9))).toEqual(['architecture[1]', expect.stringMatching(/takes 8 features but architecture\[0\] gives 9/)]);
    expect(damaged((r) => (r[1].recurrentLayout.colIdx[0] = 99))[0]).toMatch(/^architecture\[1\]\.recurrentLayout\./);
  });
});

describe('checkpoints of a language model', () => {
  it('round-trip an LSTM model with block-sparse L0-gated weights: values, gate noise of the nested weights, the carried state, the vocabulary', async () => {
    const model = sparseModel();
    const optimizer = new Adam(model.parameters(), { lr: 0.01 });
    await step(model, optimizer);
    await step(model, optimizer);
    const path = join(dir, 'lm');
    await saveCheckpoint(path, { model, optimizer, seed: 'lm', position: { epoch: 1, batch: 0, step: 2 }, vocabulary });
    const checkpoint = loadCheckpoint(path);
    const m = checkpoint.manifest;
    expect(m.version).toBe(3);
    expect(m.noise.map((n) => [n.layer, n.part])).toEqual([[1, 'input'], [1, 'recurrent'], [2, 'input'], [2, 'recurrent']]);
    expect(m.state.map((s) => [s.layer, s.h.name, s.h.shape, s.c.name, s.c.shape])).toEqual([[1, '1.state.h', [4, 16], '1.state.c', [4, 16]], [2, '2.state.h', [4, 16], '2.state.c', [4, 16]]]);
    expect(CharVocabulary.fromJSON(m.vocabulary).codePoints).toEqual(vocabulary.codePoints);
    expect(m.progress).toBeNull();
    // LSTM.setState, which restores it, takes [N, hidden] tensors only.
    const wrong = () => ({ h: backend.zeros([4, 8]), c: backend.zeros([4, 8]) });
    expect(() => (model.layers[1] as LSTM).setState(wrong())).toThrow(ShapeError);

    const restored = restoreModel(checkpoint, backend);
    const restoredOptimizer = restoreOptimizer(checkpoint, restored);
    expect(describeModel(restored)).toEqual(describeModel(model));
    for (const [i, p] of model.parameters().entries()) expect(await bits(restored.parameters()[i].value), p.name).toEqual(await bits(p.value));
    for (const [i, layer] of model.blockSparseLayers().entries()) expect(restored.blockSparseLayers()[i].noiseState()).toEqual(layer.noiseState());
    for (const i of [1, 2]) {
      const [a, b] = [(model.layers[i] as LSTM).state!, (restored.layers[i] as LSTM).state!];
      expect(await bits(b.h)).toEqual(await bits(a.h));
      expect(await bits(b.c)).toEqual(await bits(a.c));
    }
    // The next step is the same from either: gates' noise, state and optimiser all restored.
    await step(model, optimizer);
    await step(restored, restoredOptimizer);
    for (const [i, p] of model.parameters().entries()) expect(await bits(restored.parameters()[i].value), p.name).toEqual(await bits(p.value));

    // Damaged manifests are refused, naming the field.
    const manifest = readFileSync(join(path, 'manifest.json'), 'utf8');
    const damaged = (name: string, edit: (x: any) => void) => {
      const copy = JSON.parse(manifest);
      edit(copy);
      const where = join(dir, name);
      saveCopy(where, copy, readFileSync(join(path, 'tensors.bin')));
      try {
        loadCheckpoint(where);
      } catch (error) {
        expect(error).toBeInstanceOf(FormatError);
        return (error as FormatError).field;
      }
      throw new Error('expected a FormatError');
    };
    expect(damaged('no-noise', (x) => x.noise.pop())).toBe('noise');
    expect(damaged('bad-part', (x) => (x.noise[0].part = 'forget'))).toBe('noise[0].part');
    expect(damaged('bad-state', (x) => ((x.state[0].h.shape = [2, 32]), (x.state[0].h.length = 64)))).toBe('state[0].h.shape');
    expect(damaged('state-of-linear', (x) => (x.state[0].layer = 3))).toBe('state[0].layer');
    expect(damaged('bad-vocabulary', (x) => x.vocabulary.codePoints.pop())).toBe('vocabulary');
    expect(damaged('v2-state', (x) => (x.version = 2))).toBe('manifest.state');
    expect(damaged('progress-at-start', (x) => (x.progress = { samples: 1, loss: 1, correct: 0, seconds: 1, clippedSteps: 0, events: [] }))).toBe('progress');
    expect(damaged('no-progress', (x) => (x.position.batch = 3))).toBe('progress');
    for (const m2 of [model, restored]) m2.dispose();
    optimizer.dispose();
    restoredOptimizer.dispose();
  });
});

/** A checkpoint directory holding `manifest` and `tensors`. */
function saveCopy(where: string, manifest: unknown, tensors: Buffer): void {
  mkdirSync(where, { recursive: true });
  writeFileSync(join(where, 'manifest.json'), JSON.stringify(manifest));
  writeFileSync(join(where, 'tensors.bin'), tensors);
}

describe('clipGradNorm', () => {
  it('scales every gradient by maxNorm / norm when the global norm is larger: the norm after is maxNorm (host float64)', async () => {
    const model = sparseModel(2);
    const optimizer = new Adam(model.parameters(), { lr: 0 });
    await backwardPass(model);
    const hostNorm = async () => {
      let sum = 0;
      for (const p of model.parameters()) for (const v of await backend.read(p.grad!)) sum += v * v;
      return Math.sqrt(sum);
    };
    const before = await hostNorm();
    const firstGrad = Array.from(await backend.read(model.parameters()[1].grad!));
    // Above the norm: nothing changes.
    expect(await clipGradNorm(model.parameters(), before * 2)).toEqual({ norm: expect.closeTo(before, 5), scale: 1, clipped: false });
    expect(await hostNorm()).toBe(before);
    const maxNorm = before / 7;
    const clip = await clipGradNorm(model.parameters(), maxNorm);
    expect(clip.clipped).toBe(true);
    expect(clip.norm).toBeCloseTo(before, 4);
    expect(Math.abs((await hostNorm()) - maxNorm) / maxNorm).toBeLessThan(1e-6);
    // The direction is kept: each gradient is the old one times the same factor.
    const after = await backend.read(model.parameters()[1].grad!);
    firstGrad.forEach((g, i) => expect(after[i]).toBeCloseTo(g * clip.scale, 7));
    await expect(clipGradNorm(model.parameters(), 0)).rejects.toThrow(/maxNorm must be/);
    optimizer.dispose();
    model.dispose();
  });
});

describe('evaluateText', () => {
  it('is the mean cross-entropy over every character but the first, whatever the batch shape (a bigram table, in closed form)', async () => {
    // Embedding(V, V) alone: the logits of the next character are the table's row of this one.
    const table = new Embedding(backend, vocabulary.size, vocabulary.size, { seed: 5 });
    const model = new Sequential([table]);
    const weights = await backend.read(table.weight.value);
    const V = vocabulary.size;
    let nats = 0;
    for (let i = 0; i + 1 < tokens.length; i++) {
      const row = Array.from(weights.subarray(tokens[i] * V, tokens[i] * V + V));
      const max = Math.max(...row);
      const logSum = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      nats += logSum - row[tokens[i + 1]];
    }
    const expected = nats / (tokens.length - 1);
    for (const shape of [{ batchSize: 1, steps: 240 }, { batchSize: 7, steps: 5 }, { batchSize: 64, steps: 3 }]) {
      const result = await evaluateText(model, tokens, shape);
      expect(result.characters).toBe(tokens.length - 1);
      expect(Math.abs(result.loss - expected) / expected, JSON.stringify(shape)).toBeLessThan(1e-5);
      expect(result.bpc).toBeCloseTo(result.loss / Math.LN2, 12);
    }
    model.dispose();
  });
});
