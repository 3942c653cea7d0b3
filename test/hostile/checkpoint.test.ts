/**
 * Hostile and careless checkpoints (issue 9): every damaged or malicious manifest or tensors.bin
 * gives one typed error naming the field, before anything large is allocated; a checkpoint is
 * written only from finite state. FUZZ_RUNS (default 10000) scales the fuzzing at the end
 * (a tenth of it here: each run reads a checkpoint and rebuilds a model).
 */
import fc from 'fast-check';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withMemoryBudget } from '../../src/budget.js';
import { BlocksparseError, FormatError, ResourceError } from '../../src/errors.js';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import { bandedLayout } from '../../src/patterns/banded.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { restoreHooks, restoreModel, restoreOptimizer } from '../../src/train/checkpoint-restore.js';
import { crc32 } from '../../src/train/checkpoint-manifest.js';
import { gaussianBlobs } from '../../src/train/data/synthetic.js';
import { NonFiniteError } from '../../src/train/errors.js';
import type { TrainingHook } from '../../src/train/hooks.js';
import { BlockSparseLinear } from '../../src/train/layers/block-sparse-linear.js';
import type { Sequential } from '../../src/train/layers/sequential.js';
import { buildMLP, estimateModelBytes, modelFromRecord, type LayerRecord } from '../../src/train/model.js';
import { Adam } from '../../src/train/optimizers.js';
import { gradualPruning } from '../../src/train/sparsity/prune.js';
import { setRegrowth } from '../../src/train/sparsity/regrow.js';

const MiB = 2 ** 20;
let backend: CpuBackend;
let dir: string;
/** A good checkpoint (Adam, L0 gates, pruning and SET hooks, one metrics record) and its files. */
let good: { path: string; manifest: string; tensors: Buffer };

const data = gaussianBlobs({ n: 32, features: 16, classes: 4, seed: 'hostile' });

function model(): Sequential {
  return buildMLP(backend, {
    inputs: 16, hidden: [32, 32], classes: 4, blockSize: 8, seed: 3, l0: {},
    layout: ({ inBlocks }) => bandedLayout({ inBlocks, bandwidth: 1, blockSize: 8 }),
  });
}

/** The hooks of the saved run, over `m`'s block-sparse layers. */
function hooksOf(m: Sequential): TrainingHook[] {
  const layers = m.layers.filter((l): l is BlockSparseLinear => l instanceof BlockSparseLinear);
  return [
    gradualPruning({ layers, schedule: { initial: 0, final: 0.5, begin: 0, end: 10, frequency: 5 } }),
    setRegrowth({ layers, every: 5, dropFraction: 0.2, seed: 'set' }),
  ];
}

const metricsRecord = (epoch: number, step: number) => ({
  epoch, step, trainLoss: 1.2, trainAccuracy: 0.5, testLoss: 1.3, testAccuracy: 0.4, seconds: 0.1, evalSeconds: 0.01,
  samplesPerSecond: null, lr: 0.01, densities: [{ layer: 2, kind: 'block-sparse-linear', inFeatures: 32, outFeatures: 32, density: 0.625, nnz: 10 }],
  events: [],
});

beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
  dir = mkdtempSync(join(tmpdir(), 'blocksparse-hostile-checkpoint-'));
  const m = model();
  const optimizer = new Adam(m.parameters(), { lr: 0.01 });
  const x = backend.tensor(data.images, [32, 16]);
  const labels = backend.tensor(Float32Array.from(data.labels), [32]);
  const logits = await m.forward(x, { training: true });
  const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
  await m.backward(dlogits);
  await optimizer.step();
  for (const t of [x, labels, logits, loss, dlogits, correct]) t.dispose();
  const path = join(dir, 'good');
  await saveCheckpoint(path, { model: m, optimizer, seed: 7, position: { epoch: 1, batch: 0, step: 1 }, hooks: hooksOf(m), metrics: [metricsRecord(0, 1)] });
  good = { path, manifest: readFileSync(join(path, 'manifest.json'), 'utf8'), tensors: readFileSync(join(path, 'tensors.bin')) };
  optimizer.dispose();
  m.dispose();
});
afterAll(async () => {
  await backend.dispose();
});

/** A copy of the good checkpoint in a new directory, its manifest edited by `edit`. */
function damaged(edit: (m: Record<string, any>) => void, tensors: Buffer = good.tensors): string {
  const path = mkdtempSync(join(dir, 'case-'));
  const m = JSON.parse(good.manifest);
  edit(m);
  writeFileSync(join(path, 'manifest.json'), JSON.stringify(m));
  writeFileSync(join(path, 'tensors.bin'), tensors);
  return path;
}

/** The error `fn` throws (failing when it returns). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error, but it returned');
}

/** A FormatError naming `field`, whose one-line message matches `message`. */
function expectFormat(error: Error, field: string, message: RegExp): void {
  expect(error).toBeInstanceOf(FormatError);
  expect((error as FormatError).field).toBe(field);
  expect(error.message).toMatch(message);
  expect(error.message).not.toContain('\n');
}

/** Restores everything a resumed run restores; returns nothing, disposes what it made. */
function restoreAll(path: string): void {
  const checkpoint = loadCheckpoint(path);
  const m = restoreModel(checkpoint, backend);
  try {
    const optimizer = restoreOptimizer(checkpoint, m);
    optimizer.dispose();
    restoreHooks(checkpoint, hooksOf(m));
  } finally {
    m.dispose();
  }
}

describe('hostile checkpoints', () => {
  it('the good checkpoint restores completely (the baseline of every case below)', () => {
    expect(JSON.parse(good.manifest).version).toBe(2);
    restoreAll(good.path);
  });

  it('tensors.bin over the memory budget or past one buffer: a one-line ResourceError before reading', () => {
    // A sparse file: nothing is written to disk, and nothing may be read into memory.
    const big = 300 * MiB;
    const path = damaged((m) => (m.tensors.bytes = big));
    truncateSync(join(path, 'tensors.bin'), big);
    const error = withMemoryBudget(64 * MiB, () => thrown(() => loadCheckpoint(path)));
    expect(error).toBeInstanceOf(ResourceError);
    expect(error.message).toMatch(/^reading tensors\.bin .*tensors\.bin \(300 MiB\) needs about 300 MiB of memory, over the budget of 64 MiB \(raise it with --max-memory/);
    const huge = 5 * 2 ** 30;
    const path5 = damaged((m) => (m.tensors.bytes = huge));
    truncateSync(join(path5, 'tensors.bin'), huge);
    const error5 = thrown(() => loadCheckpoint(path5));
    expect(error5).toBeInstanceOf(ResourceError);
    expect(error5.message).toMatch(/^tensors\.bin .*tensors\.bin is 5\.0 GiB, over the 4\.0 GiB that one buffer can hold$/);
  });

  it('buildMLP --hidden 16777216: a ResourceError naming the layer before any tensor is allocated', () => {
    const error = withMemoryBudget(256 * MiB, () => thrown(() => buildMLP(backend, { hidden: [16777216] })));
    expect(error).toBeInstanceOf(ResourceError);
    expect(error.message).toMatch(/^model \(Linear 784 x 16777216 at layer 0, the largest of 3 layers; values, gradients and Adam state\) needs about 199 GiB of memory, over the budget of 256 MiB/);
    // The estimate: values, gradients and two Adam moments of 784 x 16777216 + 16777216 + 16777216 x 10 + 10 floats.
    const records: LayerRecord[] = [{ kind: 'linear', inFeatures: 784, outFeatures: 16777216, bias: true }];
    expect(estimateModelBytes(records).bytes).toBe(4 * 4 * (784 * 16777216 + 16777216));
    expect(estimateModelBytes(records, { kind: 'sgd', momentum: 0.9 }).bytes).toBe(4 * 3 * (784 * 16777216 + 16777216));
  });

  it('a manifest architecture of Linear 30000 x 30000 is refused before allocation', () => {
    const records: LayerRecord[] = [{ kind: 'linear', inFeatures: 30000, outFeatures: 30000, bias: true }];
    const started = performance.now();
    const error = withMemoryBudget(256 * MiB, () => thrown(() => modelFromRecord(backend, records)));
    expect(error).toBeInstanceOf(ResourceError);
    expect(error.message).toMatch(/^model \(Linear 30000 x 30000 at layer 0; values, gradients and Adam state\) needs about 13 GiB of memory/);
    // In a checkpoint whose tensors do not match, the manifest is refused before the model is built.
    const path = damaged((m) => (m.architecture[0].outFeatures = 30000));
    expectFormat(thrown(() => loadCheckpoint(path)), 'architecture[1]', /architecture\[1\] takes 32 features but architecture\[0\] gives 30000/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('a block-sparse layer of 1 x 2147483646 blocks is refused before allocation', () => {
    // A self-consistent checkpoint: one block, no bias, so tensors.bin is tiny; only the layout's tables are huge.
    const path = damaged((m) => {
      const layout = { format: 'blocksparse-layout', version: 1, inBlocks: 1, outBlocks: 2147483646, blockSize: 8, nnz: 1, rowPtr: [0, 1], colIdx: [5], provenance: { generator: 'custom', params: {} } };
      m.architecture = [{ kind: 'block-sparse-linear', layout, bias: false, l0: null }];
      m.parameters = [{ ...m.parameters[0], name: '0.weight', shape: [1, 8, 8], length: 64, offset: 0, crc32: crc32(good.tensors.subarray(0, 256)) }];
      m.optimizer.state = [];
      m.noise = [];
      m.metrics = [];
      m.hooks = {};
    });
    const checkpoint = loadCheckpoint(path);
    const error = withMemoryBudget(256 * MiB, () => thrown(() => restoreModel(checkpoint, backend)));
    expect(error).toBeInstanceOf(ResourceError);
    expect(error.message).toMatch(/^model \(BlockSparseLinear 1 x 2147483646 blocks of 8, nnz 1 at layer 0; values, gradients and Adam state\) needs about 16 GiB of memory/);
  });

  it('every architecture field is validated (kind, sizes, activation, eps, L0 constants, unknown fields)', () => {
    const cases: [(m: Record<string, any>) => void, string, RegExp][] = [
      [(m) => (m.architecture[1].kind = 'conv'), 'architecture[1].kind', /must be one of linear, activation, layer-norm, block-sparse-linear, embedding, lstm, block-sparse-conv2d, image-input, channel-norm, max-pool2d, avg-pool2d, global-avg-pool \(got "conv"\)/],
      [(m) => (m.architecture[0].inFeatures = -16), 'architecture[0].inFeatures', /must be an integer in \[1, 16777216\] \(got -16\)/],
      [(m) => (m.architecture[0].inFeatures = 1e308), 'architecture[0].inFeatures', /got 1e\+308/],
      [(m) => (m.architecture[1].activation = 'swish'), 'architecture[1].activation', /must be one of relu, gelu, tanh/],
      [(m) => (m.architecture[2].l0.beta = -1), 'architecture[2].l0.beta', /must be a number > 0 \(got -1\)/],
      [(m) => (m.architecture[2].bias = 'yes'), 'architecture[2].bias', /must be true or false/],
      [(m) => (m.architecture[4].extra = 1), 'architecture[4].extra', /is not a field of a linear layer/],
      [(m) => (m.architecture[2].layout.outBlocks = 2 ** 40), 'architecture[2].layout.outBlocks', /must be an integer in \[1, 2147483646\]/],
      [(m) => m.architecture.splice(1, 1), 'parameters[2]', /parameters\[2\] is 2\.weight \[10, 8, 8\] but the architecture has 1\.weight \[10, 8, 8\] there/],
      [(m) => (m.architecture[3].features = 64), 'architecture[3]', /architecture\[3\] takes 64 features but architecture\[2\] gives 32/],
    ];
    for (const [edit, field, message] of cases) expectFormat(thrown(() => loadCheckpoint(damaged(edit))), field, message);
  });

  it('overlapping or duplicate tensor ranges are refused, naming both entries', () => {
    const path = damaged((m) => (m.parameters[3].offset = m.parameters[2].offset));
    expectFormat(thrown(() => loadCheckpoint(path)), 'parameters[3]', /parameters\[2\] \(2\.weight\) and parameters\[3\] \(2\.bias\) overlap in tensors\.bin: bytes \[\d+, \d+\) and \[\d+, \d+\)/);
    const slot = damaged((m) => (m.optimizer.state[0].slots[1].offset = m.optimizer.state[0].slots[0].offset));
    expectFormat(thrown(() => loadCheckpoint(slot)), 'optimizer.state[0].slots[1]', /optimizer\.state\[0\]\.slots\[0\] \(0\.weight#0\) and optimizer\.state\[0\]\.slots\[1\] \(0\.weight#1\) overlap/);
  });

  it('a damaged tensors.bin fails its checksum; a version 1 checkpoint (no checksums) is still read', () => {
    const m = JSON.parse(good.manifest);
    const bytes = Buffer.from(good.tensors);
    bytes[m.parameters[3].offset + 1] ^= 0x40;
    const path = damaged(() => {}, bytes);
    expectFormat(thrown(() => loadCheckpoint(path)), 'parameters[3]', /tensors\.bin: checksum of parameters\[3\] \(2\.bias\) does not match: the file is damaged$/);
    const stripped = (x: Record<string, any>) => {
      x.version = 1;
      for (const e of x.parameters) delete e.crc32;
      for (const s of x.optimizer.state) for (const e of s.slots) delete e.crc32;
    };
    restoreAll(damaged(stripped));
    expectFormat(thrown(() => loadCheckpoint(damaged((x) => delete x.parameters[0].crc32))), 'parameters[0].crc32', /must be a CRC-32/);
  });

  it('metrics entries are validated: [null], a string loss, an epoch after the checkpoint', () => {
    expectFormat(thrown(() => loadCheckpoint(damaged((m) => (m.metrics = [null])))), 'metrics[0]', /metrics\[0\] must be an epoch's metrics record \(got null\)/);
    expectFormat(thrown(() => loadCheckpoint(damaged((m) => (m.metrics[0].trainLoss = 'low')))), 'metrics[0].trainLoss', /must be a finite number or null \(got "low"\)/);
    expectFormat(thrown(() => loadCheckpoint(damaged((m) => (m.metrics[0].epoch = 5)))), 'metrics[0].epoch', /must be an integer in \[0, 0\] \(got 5\)/);
    expectFormat(thrown(() => loadCheckpoint(damaged((m) => (m.metrics[0].densities = [{ layer: 2 }])))), 'metrics[0].densities[0].inFeatures', /got undefined/);
  });

  it('optimiser hyper-parameters out of range are refused', () => {
    expectFormat(thrown(() => loadCheckpoint(damaged((m) => (m.optimizer.beta1 = 1)))), 'optimizer.beta1', /must be a finite number in \[0, 1\) \(got 1\)/);
    expectFormat(thrown(() => loadCheckpoint(damaged((m) => (m.optimizer.lr = -0.1)))), 'optimizer.lr', /must be a finite number >= 0/);
    expectFormat(thrown(() => loadCheckpoint(damaged((m) => (m.optimizer.eps = 0)))), 'optimizer.eps', /in \(0, 1\]/);
    expectFormat(thrown(() => loadCheckpoint(damaged((m) => (m.optimizer.state[0].steps = 1e12)))), 'optimizer.state[0].steps', /must be an integer in \[0, 1\]/);
    expectFormat(thrown(() => loadCheckpoint(damaged((m) => m.optimizer.state[0].slots.pop()))), 'optimizer.state[0].slots', /must be a list of 2 state tensors for adam/);
  });

  it('gate-noise and hook states are validated completely, naming the field', () => {
    expectFormat(thrown(() => loadCheckpoint(damaged((m) => (m.noise[0].state.s0 = 1e308)))), 'noise[0].state.s0', /must be a number in \[0, 1\) \(got 1e\+308\)/);
    expectFormat(thrown(() => loadCheckpoint(damaged((m) => (m.noise[0].layer = 0)))), 'noise[0].layer', /L0-gated block-sparse layer/);
    const restoring = (edit: (m: Record<string, any>) => void) => thrown(() => restoreAll(damaged(edit)));
    expectFormat(restoring((m) => (m.hooks['gradual-pruning'].initialNnz = [1e12])), 'hooks.gradual-pruning.initialNnz[0]', /manifest\.json: hooks\.gradual-pruning\.initialNnz\[0\] must be an integer in \[10, 16\] \(the layer's present blocks to all its 4 x 4 blocks; got 1000000000000\)$/);
    expectFormat(restoring((m) => (m.hooks['gradual-pruning'].sources = [{ generator: '' }])), 'hooks.gradual-pruning.sources[0].generator', /not a valid provenance/);
    expectFormat(restoring((m) => (m.hooks['set-regrowth'].s0 = 1e308)), 'hooks.set-regrowth.s0', /hooks\.set-regrowth\.s0 must be a number in \[0, 1\) \(got 1e\+308\)$/);
    expectFormat(restoring((m) => (m.hooks['set-regrowth'].c = 2 ** 40)), 'hooks.set-regrowth.c', /must be an integer in \[0, 2091639\]/);
    expectFormat(restoring((m) => (m.hooks['set-regrowth'] = null)), 'hooks.set-regrowth', /hooks\.set-regrowth is null, but the hook needs its saved state to continue the run$/);
  });

  it('saveCheckpoint refuses non-finite state before writing anything: the last checkpoint stays as it was', async () => {
    const checkpoint = loadCheckpoint(good.path);
    const m = restoreModel(checkpoint, backend);
    const optimizer = restoreOptimizer(checkpoint, m);
    const path = join(dir, 'finite');
    await saveCheckpoint(path, { model: m, optimizer, seed: 7, position: { epoch: 1, batch: 0, step: 1 } });
    const before = readFileSync(join(path, 'tensors.bin'));
    const weight = m.parameters()[2];
    const values = await backend.read(weight.value);
    values[5] = Number.POSITIVE_INFINITY;
    weight.value.dispose();
    weight.value = backend.tensor(values, weight.value.shape);
    const error = await saveCheckpoint(path, { model: m, optimizer, seed: 7, position: { epoch: 2, batch: 0, step: 2 } }).then(() => null, (e: Error) => e);
    expect(error).toBeInstanceOf(NonFiniteError);
    expect(error!.message).toBe('saveCheckpoint: parameter 2.weight holds Infinity at element 5; only finite values are saved (the training has diverged; the last checkpoint is kept as it was)');
    expect(readFileSync(join(path, 'tensors.bin')).equals(before)).toBe(true);
    expect(loadCheckpoint(path).manifest.position.epoch).toBe(1);
    expect(readdirSync(dir).filter((name) => name.startsWith('.finite'))).toEqual([]);
    // A NaN learning rate (a broken schedule) is refused too, naming the field.
    const slots = await backend.read(optimizer.state(m.parameters()[0])[0]);
    expect(slots.every(Number.isFinite)).toBe(true);
    values[5] = 0;
    weight.value.dispose();
    weight.value = backend.tensor(values, weight.value.shape);
    optimizer.lr = Number.NaN;
    const lr = await saveCheckpoint(path, { model: m, optimizer, seed: 7, position: { epoch: 2, batch: 0, step: 2 } }).then(() => null, (e: Error) => e);
    expectFormat(lr!, 'optimizer.lr', /^saveCheckpoint: the state given would not read back: optimizer\.lr must be a finite number >= 0 \(got null\)$/);
    expect(existsSync(join(path, 'manifest.json'))).toBe(true);
    optimizer.dispose();
    m.dispose();
  });
});

/** Every leaf and inner path of a JSON value (arrays longer than 8 contribute their first 8 items). */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (prefix.length > 0) out.push(prefix);
  if (Array.isArray(value)) value.slice(0, 8).forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

function setAt(root: any, path: (string | number)[], value: unknown): void {
  let node = root;
  for (const key of path.slice(0, -1)) node = node[key];
  const last = path[path.length - 1];
  if (value === DELETE) {
    if (Array.isArray(node) && typeof last === 'number') node.splice(last, 1);
    else delete node[last];
  } else node[last] = value;
}

const DELETE = Symbol('delete');
const FUZZ_RUNS = Math.max(50, Math.floor(Number(process.env.FUZZ_RUNS || 10_000) / 10));

describe('fuzzing checkpoint manifests', () => {
  it('every mutation of a manifest gives a typed error or a checkpoint that restores, in bounded memory', () => {
    const base = JSON.parse(good.manifest);
    const all = paths(base);
    const hostile = fc.oneof(
      fc.constantFrom(null, true, '', 'x', [], {}, 0, -1, 0.5, 1, 1e308, -1e308, 2 ** 31 - 2, 2 ** 32, 2 ** 53, 2147483646, 16777216, 30000, DELETE),
      fc.integer(),
      fc.double({ noNaN: true }),
      fc.string({ maxLength: 8 }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    const mutation = fc.oneof(
      // a value anywhere (architecture records, checksums, metrics, hook states, sizes ...)
      fc.tuple(fc.nat(all.length - 1), hostile).map(([i, v]) => (m: any) => setAt(m, all[i], v)),
      // one tensor's range over another's (overlaps, duplicates)
      fc.tuple(fc.nat(20), fc.nat(20)).map(([i, j]) => (m: any) => {
        const entries = [...m.parameters, ...m.optimizer.state.flatMap((s: any) => s.slots)];
        const [a, b] = [entries[i % entries.length], entries[j % entries.length]];
        b.offset = a.offset;
      }),
      // a huge layout that is otherwise consistent
      fc.constantFrom(1, 2 ** 20, 2 ** 31 - 2).map((outBlocks) => (m: any) => {
        m.architecture[2].layout.outBlocks = outBlocks;
      }),
    );
    let typed = 0;
    let restored = 0;
    const path = join(dir, 'fuzz');
    saveFiles(path, base);
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
        const m = JSON.parse(good.manifest);
        for (const mutate of mutations) {
          try {
            mutate(m);
          } catch {
            return; // a path that an earlier mutation removed
          }
        }
        writeFileSync(join(path, 'manifest.json'), JSON.stringify(m));
        try {
          withMemoryBudget(256 * MiB, () => restoreAll(path));
          restored++;
        } catch (error) {
          if (!(error instanceof BlocksparseError)) throw error;
          expect(error.message).not.toContain('\n');
          typed++;
        }
        expect(process.memoryUsage().arrayBuffers).toBeLessThan(512 * MiB);
      }),
      { numRuns: FUZZ_RUNS },
    );
    // Most mutations break the manifest; some (a number changed within range) still restore.
    expect(typed).toBeGreaterThan(FUZZ_RUNS / 2);
    expect(restored).toBeGreaterThan(0);
  }, 300_000);
});

function saveFiles(path: string, manifest: unknown): void {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'manifest.json'), JSON.stringify(manifest));
  writeFileSync(join(path, 'tensors.bin'), good.tensors);
}
