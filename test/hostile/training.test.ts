/**
 * Hostile and careless input to training (issue 9): divergence on any step, empty and oversized
 * data files, gzip bombs, model sizes past the memory budget, and run directories that belong to
 * another run, another process or an attacker's symlink. Each case ends in one typed error (one
 * line, exit 2 on the command line) or works in bounded memory, and leaves other files untouched.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withMemoryBudget } from '../../src/budget.js';
import { FileError, FormatError, LockError, ParameterError, ResourceError } from '../../src/errors.js';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import { lockDirectory } from '../../src/lock.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { FASHION_MNIST_FILES, loadFashionMNIST } from '../../src/train/data/fashion-mnist.js';
import type { Dataset } from '../../src/train/data/dataset.js';
import { decodeIdx, encodeIdx, readIdxFile } from '../../src/train/data/idx.js';
import { gaussianBlobs } from '../../src/train/data/synthetic.js';
import { TrainingDivergedError } from '../../src/train/errors.js';
import type { TrainingHook } from '../../src/train/hooks.js';
import { train } from '../../src/train/loop.js';
import { openRunDirectory } from '../../src/train/run-directory.js';
import { buildMLP } from '../../src/train/model.js';
import { Adam, SGD } from '../../src/train/optimizers.js';
import { catchError } from '../helpers/expect-error.js';
import { runCli, runMain } from '../helpers/cli.js';
import { FAST_TIER } from '../helpers/tier.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('blocksparse-hostile-training-');

/** stderr of a failed run: exactly one line, starting "blocksparse: error: ". */
function oneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.length > 0);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^blocksparse: error: /);
  return lines[0];
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected an error');
    },
    (error: unknown) => error,
  );
}

let backend: CpuBackend;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
});
afterAll(async () => {
  await backend.dispose();
});

// 64 examples of 8 features in 4 classes; 16 test examples.
const blobs = gaussianBlobs({ n: 80, features: 8, classes: 4, seed: 'hostile' });
const part = (from: number, to: number): Dataset => ({ ...blobs, images: blobs.images.slice(from * 8, to * 8), labels: blobs.labels.slice(from, to), n: to - from });
const trainSet = part(0, 64);
const testSet = part(64, 80);
const smallModel = () => buildMLP(backend, { inputs: 8, hidden: [16], classes: 4, seed: 1 });

/** A hook that runs `act` after the optimiser step of step `at`. */
const after = (at: number, act: (model: Parameters<NonNullable<TrainingHook['afterStep']>>[0]['model']) => Promise<void>): TrainingHook => ({
  name: 'sabotage',
  async afterStep({ step, model }) {
    if (step === at) await act(model);
  },
});

describe('hostile training: divergence is caught on every step, and only finite state is checkpointed', () => {
  it('an update that breaks the weights on the last step of an epoch (lr 1e300, one step an epoch) stops the run; no checkpoint is written', async () => {
    const model = smallModel();
    const optimizer = new SGD(model.parameters(), { lr: 1e300, momentum: 0 });
    const out = join(dir, 'lr1e300');
    const error = await caught(train({ model, optimizer, train: trainSet, test: testSet, epochs: 2, batchSize: 64, seed: 0, outDir: out }));
    expect(error).toBeInstanceOf(TrainingDivergedError);
    expect(error).toMatchObject({ step: 0, epoch: 0, checkpoint: null });
    expect((error as Error).message).toMatch(/^training diverged: parameter \S+ is (-?Infinity|NaN) after step 0 \(the end of epoch 0\); no checkpoint was written before it$/);
    expect(existsSync(join(out, 'checkpoint'))).toBe(false);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).toBe('');
    model.dispose();
    optimizer.dispose();
  });

  it('a weight broken on the last step of a later epoch keeps the previous epoch\'s checkpoint, which holds finite values', async () => {
    const model = smallModel();
    const optimizer = new Adam(model.parameters(), { lr: 0.01 });
    const out = join(dir, 'late');
    // 4 steps an epoch: step 7 is the last of epoch 1.
    const breakWeight = after(7, async (m) => backend.fill(m.parameters()[0].value, Number.POSITIVE_INFINITY));
    const error = await caught(train({ model, optimizer, train: trainSet, test: testSet, epochs: 3, batchSize: 16, seed: 0, outDir: out, hooks: [breakWeight] }));
    expect(error).toMatchObject({ step: 7, epoch: 1, loss: Number.POSITIVE_INFINITY, checkpoint: join(out, 'checkpoint') });
    const kept = loadCheckpoint(join(out, 'checkpoint'));
    expect(kept.manifest.position).toEqual({ epoch: 1, batch: 0, step: 4 });
    expect(kept.values.every(Number.isFinite)).toBe(true);
    model.dispose();
    optimizer.dispose();
  });

  it('a test loss that is not finite (finite weights of 1e38) is divergence, not null in the log', async () => {
    const model = smallModel();
    const optimizer = new SGD(model.parameters(), { lr: 0.01 });
    const huge = after(3, async (m) => backend.fill(m.parameters()[0].value, 1e38));
    const error = await caught(train({ model, optimizer, train: trainSet, test: testSet, epochs: 1, batchSize: 16, seed: 0, hooks: [huge] }));
    expect(error).toBeInstanceOf(TrainingDivergedError);
    expect((error as Error).message).toMatch(/^training diverged: the test loss is (NaN|Infinity) after step 3 \(the end of epoch 0\)/);
    model.dispose();
    optimizer.dispose();
  });

  it('a checkpoint holding non-finite values is refused as a starting point', async () => {
    const model = smallModel();
    const optimizer = new SGD(model.parameters(), { lr: 0.01 });
    const out = join(dir, 'poisoned');
    await train({ model, optimizer, train: trainSet, test: testSet, epochs: 1, batchSize: 16, seed: 0, outDir: out });
    // tensors.bin is float32 little-endian: its first value becomes +Infinity.
    const tensors = join(out, 'checkpoint', 'tensors.bin');
    const bytes = readFileSync(tensors);
    bytes.writeFloatLE(Number.POSITIVE_INFINITY, 0);
    writeFileSync(tensors, bytes);
    const error = await caught(train({ backend, train: trainSet, test: testSet, epochs: 2, batchSize: 16, seed: 0, resumeFrom: join(out, 'checkpoint') }));
    // The checkpoint's own checks (checksums) or the loop's finiteness check: either way a FormatError naming it.
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toContain(join(out, 'checkpoint'));
    model.dispose();
    optimizer.dispose();
  });

  it.skipIf(FAST_TIER)('the command line: train --lr 1e300 exits 2 with one line and writes no checkpoint', async () => {
    const out = join(dir, 'cli-lr');
    const result = await runMain(['train', '--limit', '128', '--batch', '128', '--epochs', '1', '--hidden', '64', '--optimizer', 'sgd', '--lr', '1e300', '--backend', 'cpu', '--out', out]);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toMatch(/training diverged: parameter \S+ is (-?Infinity|NaN) after step 0 \(the end of epoch 0\); no checkpoint was written before it$/);
    expect(result.stdout).toBe('');
    expect(readdirSync(out).sort()).toEqual(['metrics.jsonl']);
  }, 30_000);
});

describe('hostile training: data files', () => {
  const idxDir = join(dir, 'idx');
  mkdirSync(idxDir, { recursive: true });

  it('an IDX data set of 0 examples is refused, naming the file; so is an empty Dataset given to train', async () => {
    const empty = join(idxDir, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, FASHION_MNIST_FILES.train.images), encodeIdx({ type: 'uint8', shape: [0, 28, 28], data: new Uint8Array(0) }, { gzip: true }));
    writeFileSync(join(empty, FASHION_MNIST_FILES.train.labels), encodeIdx({ type: 'uint8', shape: [0], data: new Uint8Array(0) }, { gzip: true }));
    const error = catchError(() => loadFashionMNIST({ dir: empty, split: 'train' }));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toBe(`${join(empty, FASHION_MNIST_FILES.train.images)} holds no images: a data set needs at least one example`);

    const model = smallModel();
    const optimizer = new SGD(model.parameters(), { lr: 0.01 });
    const out = join(dir, 'empty-run');
    const refused = await caught(train({ model, optimizer, train: part(0, 0), test: testSet, epochs: 1, batchSize: 16, seed: 0, outDir: out }));
    expect(refused).toBeInstanceOf(ParameterError);
    expect((refused as Error).message).toBe('train: train must be a data set of at least one example (got "an empty one (n = 0)")');
    expect(existsSync(out)).toBe(false);
    model.dispose();
    optimizer.dispose();
  });

  it('an IDX header claiming a huge shape is refused against the budget before anything is inflated', () => {
    // 12 bytes: magic, 3 dimensions of 2^32 - 1, 28, 28 (about 3 PiB), and no data.
    const header = Buffer.from([0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28, 0, 0, 0, 28]);
    const error = withMemoryBudget(64 * 2 ** 20, () => catchError(() => decodeIdx(gzipSync(header), {}, 'IDX file huge.gz')));
    expect(error).toBeInstanceOf(ResourceError);
    expect((error as Error).message).toMatch(/^IDX file huge\.gz \(shape \[4294967295, 28, 28\] of uint8, 3\.1 TiB inflated\) needs about 3\.1 TiB of memory, over the budget of 64 MiB/);
  });

  it('an IDX gzip bomb stops inflating past the size its header declares, and says so', () => {
    // The header declares 10 images of 28 x 28 (7,856 bytes); the stream inflates to 32 MiB.
    const raw = Buffer.alloc(32 * 2 ** 20);
    raw.set([0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28]);
    const path = join(idxDir, 'bomb.gz');
    writeFileSync(path, gzipSync(raw));
    const error = catchError(() => readIdxFile(path));
    expect(error).toBeInstanceOf(ResourceError);
    expect((error as Error).message).toBe(`IDX file ${path} inflates past 72 KiB, more than the 7.7 KiB its header declares (shape [10, 28, 28] of uint8): trailing data or a gzip bomb`);
  });

  it('an IDX file past 2 GiB (sparse) is checked as an "IDX file" against the budget before it is read', () => {
    const path = join(idxDir, 'big.idx');
    writeFileSync(path, '');
    truncateSync(path, 3 * 2 ** 30);
    try {
      const error = withMemoryBudget(64 * 2 ** 20, () => catchError(() => readIdxFile(path)));
      expect(error).toBeInstanceOf(ResourceError);
      expect((error as Error).message).toMatch(new RegExp(`^reading IDX file ${path} \\(3\\.0 GiB\\) needs about 3\\.0 GiB of memory, over the budget of 64 MiB`));
    } finally {
      unlinkSync(path);
    }
  });
});

describe('hostile training: model sizes', () => {
  it('train --hidden 16777216 is refused before anything is built, naming --hidden and the budget', async () => {
    const result = await runMain(['train', '--hidden', '16777216', '--limit', '100', '--epochs', '1', '--backend', 'cpu', '--max-memory', '64M', '--out', join(dir, 'wide')]);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toMatch(/^blocksparse: error: --hidden 16777216 with batches of 1000 examples \(activations and their gradients\) needs about 250 GiB of memory, over the budget of 64 MiB \(raise it with --max-memory/);
    expect(existsSync(join(dir, 'wide'))).toBe(false);

    const tooWide = await runMain(['train', '--hidden', '64,16777217', '--out', join(dir, 'wider')]);
    expect(tooWide.code).toBe(2);
    expect(oneErrorLine(tooWide.stderr)).toMatch(/option '--hidden <sizes>' argument '64,16777217' is invalid\. must be a comma-separated list of integers in \[1, 16777216\]/);
  });
});

describe('hostile training: run directories', () => {
  /** A directory that looks like an earlier run, plus a file of the user's. */
  function oldRun(name: string): string {
    const out = join(dir, name);
    mkdirSync(join(out, 'checkpoint'), { recursive: true });
    writeFileSync(join(out, 'checkpoint', 'manifest.json'), '{"old": true}');
    writeFileSync(join(out, 'metrics.jsonl'), '{"epoch":0}\n');
    writeFileSync(join(out, 'layout-5.json'), 'old layout');
    writeFileSync(join(out, 'notes.txt'), 'mine');
    return out;
  }

  it('a fresh train --out into an existing run is refused, and the run is untouched', async () => {
    const out = oldRun('taken');
    const result = await runMain(['train', '--hidden', '16', '--limit', '100', '--epochs', '1', '--backend', 'cpu', '--out', out]);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toBe(`blocksparse: error: ${out}: already holds a training run (checkpoint, metrics.jsonl): continue it with --resume, or start over with --force (its files are replaced)`);
    expect(readFileSync(join(out, 'checkpoint', 'manifest.json'), 'utf8')).toBe('{"old": true}');
    expect(readdirSync(out).sort()).toEqual(['checkpoint', 'layout-5.json', 'metrics.jsonl', 'notes.txt']);

    const other = join(dir, 'not-empty');
    mkdirSync(other);
    writeFileSync(join(other, 'thesis.tex'), 'x');
    expect(catchError(() => openRunDirectory(other))).toMatchObject({
      message: `${other}: is not empty (1 entry, e.g. "thesis.tex"): choose a new or empty directory, or give --force to write the run into it`,
    });
  });

  it.skipIf(FAST_TIER)('--force starts over: the old run\'s files are replaced, other files are left alone', async () => {
    const out = oldRun('forced');
    const result = await runMain(['train', '--hidden', '16', '--limit', '100', '--batch', '50', '--epochs', '1', '--backend', 'cpu', '--force', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['checkpoint', 'metrics.jsonl', 'notes.txt', 'summary.json']);
    expect(loadCheckpoint(join(out, 'checkpoint')).manifest.position).toEqual({ epoch: 1, batch: 0, step: 2 });
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  }, 30_000);

  it('a second writer into a locked run directory gets a LockError naming the holder\'s pid', async () => {
    const out = join(dir, 'locked');
    mkdirSync(out);
    const lock = lockDirectory(out, 'training run');
    try {
      // A process of its own: this one holds the lock.
      const result = runCli(['train', '--hidden', '16', '--limit', '100', '--epochs', '1', '--backend', 'cpu', '--out', out]);
      expect(result.code).toBe(2);
      expect(oneErrorLine(result.stderr)).toBe(`blocksparse: error: ${out}: this training run is in use by process ${process.pid} (lock file .blocksparse.lock; remove it if that process is gone)`);
      const model = smallModel();
      const optimizer = new SGD(model.parameters(), { lr: 0.01 });
      const error = await caught(train({ model, optimizer, train: trainSet, test: testSet, epochs: 1, batchSize: 16, seed: 0, outDir: out }));
      expect(error).toBeInstanceOf(LockError);
      expect(error).toMatchObject({ holder: process.pid });
      model.dispose();
      optimizer.dispose();
    } finally {
      lock.release();
    }
    expect(readdirSync(out)).toEqual([]);
  }, 30_000);

  it('metrics.jsonl swapped for a symlink (or made read-only) mid-run is never written through; the target is untouched', async () => {
    for (const attack of ['symlink', 'read-only'] as const) {
      const out = join(dir, `append-${attack}`);
      const victim = join(dir, `victim-${attack}.txt`);
      writeFileSync(victim, 'precious\n');
      const metrics = join(out, 'metrics.jsonl');
      const swap = after(0, async () => {
        if (attack === 'symlink') {
          rmSync(metrics);
          symlinkSync(victim, metrics);
        } else chmodSync(metrics, 0o444);
      });
      const model = smallModel();
      const optimizer = new SGD(model.parameters(), { lr: 0.01 });
      const error = await caught(train({ model, optimizer, train: trainSet, test: testSet, epochs: 1, batchSize: 64, seed: 0, outDir: out, hooks: [swap] }));
      expect(error).toBeInstanceOf(FileError);
      expect((error as Error).message).toBe(
        attack === 'symlink' ? `${metrics}: cannot append: a symbolic link (a run never writes through one)` : `${metrics}: cannot append: the file is read-only`,
      );
      expect(readFileSync(victim, 'utf8')).toBe('precious\n');
      expect(readFileSync(metrics, 'utf8')).toBe(attack === 'symlink' ? 'precious\n' : '');
      model.dispose();
      optimizer.dispose();
    }
  });

  it('a symlink planted as summary.json is removed by --force, never followed', () => {
    const out = join(dir, 'planted');
    mkdirSync(out);
    const victim = join(dir, 'victim-summary.txt');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, join(out, 'summary.json'));
    expect(catchError(() => openRunDirectory(out))).toBeInstanceOf(FileError);
    openRunDirectory(out, 'replace').release();
    expect(() => lstatSync(join(out, 'summary.json'))).toThrow(/ENOENT/);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });

  it('garbage metrics in a checkpoint are refused on resume, not copied into metrics.jsonl', async () => {
    const model = smallModel();
    const optimizer = new SGD(model.parameters(), { lr: 0.01 });
    const out = join(dir, 'garbage-metrics');
    await train({ model, optimizer, train: trainSet, test: testSet, epochs: 1, batchSize: 16, seed: 0, outDir: out });
    const manifestPath = join(out, 'checkpoint', 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    manifest.metrics[0].trainLoss = 'a\u001b[31mred';
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const error = await caught(train({ backend, train: trainSet, test: testSet, epochs: 2, batchSize: 16, seed: 0, outDir: out, resumeFrom: join(out, 'checkpoint') }));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toMatch(/metrics\[0\]/);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).not.toContain('red');
    model.dispose();
    optimizer.dispose();
  });
});
