import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLayout } from '../../src/patterns/files.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { blocksToKeep, cubicSparsity } from '../../src/train/sparsity/schedules.js';
import { runMain } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

/*
 * `blocksparse train --model cnn` end to end on the CPU backend: a small CNN (channels 16,32 in
 * blocks of 8) on 512 Fashion-MNIST examples for a few steps, pruned, resumed, and with L0 gates;
 * and the one-line errors of options that do not go with a CNN. Left out of the fast tier (it
 * reads Fashion-MNIST; each epoch evaluates the whole test set, a few seconds).
 */

const dir = tempDir('blocksparse-train-cnn-');

// 512 examples in batches of 32: 16 steps an epoch. 784 -> [28, 28, 8] -> stem 16 -> conv 16 -> pool -> conv 32 -> pool -> 10.
const base = ['train', '--model', 'cnn', '--data', 'fashion-mnist', '--channels', '16,32', '--block-size', '8', '--limit', '512', '--batch', '32',
  '--lr', '0.01', '--backend', 'cpu', '--seed', '4'];

describe('blocksparse train --model cnn', () => {
  it('trains, prunes the convolutions gradually, writes their layouts, and --resume continues', async () => {
    const out = join(dir, 'prune');
    const first = await runMain([...base, '--layout', 'dense', '--prune', '0.5,begin=2,end=8,every=2', '--epochs', '1', '--out', out]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/test accuracy [\d.]+% after 1 epochs/);
    expect(readdirSync(out).sort()).toEqual(['checkpoint', 'layout-0.json', 'layout-1.json', 'metrics.jsonl', 'summary.json']);
    // The stem is dense and fixed: the two layouts are the block-sparse convolutions', 2 x 2 and 2 x 4 channel blocks.
    const layouts = [0, 1].map((i) => loadLayout(join(out, `layout-${i}.json`)));
    expect(layouts.map((l) => [l.inBlocks, l.outBlocks, l.blockSize])).toEqual([[2, 2, 8], [2, 4, 8]]);
    expect(layouts.map((l) => l.nnz)).toEqual([blocksToKeep(4, cubicSparsity(8, { initial: 0, final: 0.5, begin: 2, end: 8, frequency: 2 })), blocksToKeep(8, 0.5)]);
    expect(layouts[1].provenance).toMatchObject({ generator: 'pruned', params: { method: 'magnitude' } });

    const resumed = await runMain(['train', '--resume', out, '--epochs', '2', '--backend', 'cpu']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.epoch, l.step])).toEqual([[0, 16], [1, 32]]);
    // A CNN starts slowly (32 steps of 32 examples here): above twice chance (ten classes), and still learning.
    expect(lines[1].testAccuracy).toBeGreaterThan(0.2);
    expect(lines[1].trainLoss).toBeLessThan(lines[0].trainLoss);
    expect(lines[1].densities.map((d: { kind: string }) => d.kind)).toEqual(['block-sparse-conv2d', 'block-sparse-conv2d', 'block-sparse-conv2d', 'linear']);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ model: 'cnn', channels: [16, 32], depth: 1, hidden: [], blockSize: 8, epochs: 2, layouts: ['layout-0.json', 'layout-1.json'] });
    // Weights: the stem's 2 blocks and the pruned convolutions' blocks of 3 x 3 x 8 x 8, three norms, the classifier.
    expect(summary.parameterCount).toBe((2 + layouts[0].nnz + layouts[1].nnz) * 576 + 2 * (16 + 16 + 32) + 32 * 10 + 10);
    const manifest = loadCheckpoint(join(out, 'checkpoint')).manifest;
    expect(manifest.position).toEqual({ epoch: 2, batch: 0, step: 32 });
    expect(manifest.architecture.filter((l) => l.kind === 'block-sparse-conv2d')).toHaveLength(3);
    // A learned conv layout is a layout like any other: inspect and compare read it.
    const inspect = await runMain(['inspect', join(out, 'layout-1.json'), '--json', '--metrics', 'none']);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ inBlocks: 2, outBlocks: 4, nnz: layouts[1].nnz });
    const compare = await runMain(['compare', join(out, 'layout-0.json'), join(out, 'layout-1.json'), '--metrics', 'degree-sd', '--json']);
    expect(compare.code, compare.stderr).toBe(0);
    expect(JSON.parse(compare.stdout).map((r: { nnz: number }) => r.nnz)).toEqual(layouts.map((l) => l.nnz));
  }, 120_000);

  it('L0 gates on the convolutions write the learned layouts next to the gated ones', async () => {
    const out = join(dir, 'l0');
    const run = await runMain([...base, '--depth', '2', '--l0', '0.001', '--l0-lr-scale', '10', '--epochs', '1', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    const files = readdirSync(out);
    for (let i = 0; i < 4; i++) expect(files).toContain(`l0-layout-${i}.json`);
    const gated = loadCheckpoint(join(out, 'checkpoint')).manifest.architecture.filter((l) => l.kind === 'block-sparse-conv2d');
    // The stem, then two convolutions per stage, each gated; the stem is not.
    expect(gated.map((l) => (l as { l0: unknown }).l0 !== null)).toEqual([false, true, true, true, true]);
    expect(loadLayout(join(out, 'l0-layout-3.json')).provenance).toMatchObject({ generator: 'l0', params: { lambda: 0.001, step: 16 } });
  }, 120_000);

  it('documents --channels and --depth, and refuses options that are not a CNN\'s with one line', async () => {
    const help = await runMain(['train', '--help']);
    expect(help.stdout).toMatch(/--channels <sizes>/);
    expect(help.stdout).toMatch(/--depth <int>/);
    expect(help.stdout).toMatch(/--model <kind>[\s\S]*?cnn/);
    const cases: [string[], RegExp][] = [
      [['--hidden', '64'], /--hidden is an MLP's or an LSTM's setting: a CNN takes --channels/],
      [['--sparse-input'], /--sparse-input is an MLP's or an LSTM's setting/],
      [['--data', 'brown'], /--data brown is text/],
      [['--channels', '12'], /--channels must be widths that are multiples of the block size 8/],
      [['--channels', '8,8,8,8,8,8'], /--channels must be at most 5 widths for 28 x 28 images/],
      [['--depth', '0'], /--depth must be/],
    ];
    for (const [extra, message] of cases) {
      const args = [...base, ...extra, '--out', join(dir, 'bad')];
      // the later --channels wins over base's
      const result = await runMain(args);
      expect(result.code, `${extra.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    }
    const missing = await runMain(['train', '--model', 'cnn', '--out', join(dir, 'none')]);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringMatching(/--channels is required with --model cnn/)]);
    const mlp = await runMain(['train', '--hidden', '64', '--channels', '16', '--out', join(dir, 'mlp')]);
    expect([mlp.code, mlp.stderr]).toEqual([2, expect.stringMatching(/--channels is a CNN's setting: give it with --model cnn/)]);
  });
});
