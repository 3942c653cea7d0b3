import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveLayout } from '../../src/patterns/files.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { loadLayout } from '../../src/patterns/files.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { runMain } from '../helpers/cli.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blocksparse-train-cli-'));
});

// 600 Fashion-MNIST training examples, 2 epochs, 784 -> 64 -> 64 -> 10 with a Watts-Strogatz layout of 4 x 4 blocks of 16.
const tiny = ['train', '--data', 'fashion-mnist', '--hidden', '64,64', '--block-size', '16', '--layout', 'watts-strogatz:k=2,p=0.5',
  '--limit', '600', '--batch', '50', '--lr', '0.01', '--backend', 'cpu', '--seed', '3'];

describe('blocksparse train', () => {
  it('trains on Fashion-MNIST and writes metrics, checkpoint, layouts and summary; --resume continues', async () => {
    const out = join(dir, 'run');
    const first = await runMain([...tiny, '--epochs', '1', '--out', out]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/test accuracy [\d.]+% after 1 epochs/);
    expect(first.stderr).toMatch(/epoch 1\/1: train loss/);
    expect(readdirSync(out).sort()).toEqual(['checkpoint', 'layout-0.json', 'metrics.jsonl', 'summary.json']);

    const resumed = await runMain(['train', '--resume', out, '--epochs', '2', '--backend', 'cpu']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.epoch, l.step])).toEqual([[0, 12], [1, 24]]);
    expect(lines[1].testAccuracy).toBeGreaterThan(0.5); // ten classes: chance is 0.1
    expect(lines[1].trainLoss).toBeLessThan(lines[0].trainLoss);

    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    // 784*64 + 64, 12 of 16 blocks of 16x16 (WS k=2 on 4 nodes plus the diagonal) + 64, 64*10 + 10
    expect(summary).toMatchObject({ epochs: 2, hidden: [64, 64], blockSize: 16, layout: 'watts-strogatz:k=2,p=0.5', parameterCount: 784 * 64 + 64 + 12 * 256 + 64 + 64 * 10 + 10 });
    expect(summary.testAccuracy).toBe(lines[1].testAccuracy);
    expect(summary.layerDensities.map((d: { density: number }) => d.density)).toEqual([1, 0.75, 1]);
    expect(summary.samplesPerSecond).toBeGreaterThan(0);
    const layout = loadLayout(join(out, 'layout-0.json'));
    expect([layout.inBlocks, layout.outBlocks, layout.blockSize, layout.nnz]).toEqual([4, 4, 16, 12]);
    expect(layout.provenance).toMatchObject({ generator: 'watts-strogatz', seed: 3 });
    expect(loadCheckpoint(join(out, 'checkpoint')).manifest.position).toEqual({ epoch: 2, batch: 0, step: 24 });

    // run settings come from the checkpoint
    const conflict = await runMain(['train', '--resume', out, '--hidden', '128,128']);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toMatch(/--hidden cannot be given with --resume/);
  }, 60_000);

  it('documents every option with its default', async () => {
    const help = await runMain(['train', '--help']);
    expect(help.code).toBe(0);
    for (const option of ['--data', '--hidden', '--layout', '--block-size', '--sparse-input', '--epochs', '--batch', '--lr', '--optimizer', '--momentum', '--weight-decay', '--l0', '--l0-lr-scale', '--prune', '--regrow', '--backend', '--seed', '--limit', '--out', '--resume', '--force']) {
      expect(help.stdout).toContain(option);
    }
    expect(help.stdout).toMatch(/--epochs <int>[\s\S]*?\(default: 10\)/);
    expect(help.stdout).toMatch(/--batch <int>[\s\S]*?\(default: 128\)/);
  });

  it('rejects bad input with one line naming the option, exit code 2', async () => {
    // a layout file of 8 x 8 blocks of 16 (128 features) for hidden layers of 64
    const file = join(dir, 'big.json');
    saveLayout(file, randomLayout({ inBlocks: 8, nnz: 20, blockSize: 16, seed: 1 }));
    const wrong = await runMain([...tiny, '--layout', file, '--epochs', '1', '--out', join(dir, 'x')]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect(wrong.stderr).toMatch(/--layout must be 4 x 4 blocks of 16 .*\(64 -> 64 features\).*8 x 8 blocks of 16 \(128 -> 128 features\)/);

    const notMultiple = await runMain(['train', '--hidden', '100,64', '--layout', 'random:density=0.5', '--out', join(dir, 'y'), '--backend', 'cpu']);
    expect(notMultiple.code).toBe(2);
    expect(notMultiple.stderr).toMatch(/--hidden must be widths that are multiples of the block size 32/);

    const batch = await runMain(['train', '--hidden', '64', '--batch', '0', '--out', join(dir, 'z')]);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toMatch(/--batch must be/);

    const noOut = await runMain(['train', '--hidden', '64']);
    expect([noOut.code, noOut.stderr]).toEqual([2, expect.stringMatching(/--out is required/)]);
  });

  it('names the Debian package when the data files are missing', async () => {
    const saved = process.env.BLOCKSPARSE_FASHION_MNIST;
    process.env.BLOCKSPARSE_FASHION_MNIST = join(dir, 'no-such-dir');
    try {
      const result = await runMain(['train', '--hidden', '64', '--epochs', '1', '--out', join(dir, 'missing')]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/Fashion-MNIST: .*no-such-dir\/train-images-idx3-ubyte.gz does not exist; install Debian's dataset-fashion-mnist package/);
    } finally {
      if (saved === undefined) delete process.env.BLOCKSPARSE_FASHION_MNIST;
      else process.env.BLOCKSPARSE_FASHION_MNIST = saved;
    }
  });
});
