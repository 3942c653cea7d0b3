import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadLayout } from '../../src/patterns/files.js';
import { parsePruneSpec, parseRegrowSpec } from '../../src/runs/training-hooks.js';
import { blocksToKeep, cubicSparsity } from '../../src/train/sparsity/schedules.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { runMain } from '../helpers/cli.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blocksparse-train-sparsity-'));
});

// 512 Fashion-MNIST examples in batches of 64: 8 steps per epoch; 784 -> 64 -> 64 -> 10, blocks of 16 (4 x 4 = 16 blocks).
const base = ['train', '--data', 'fashion-mnist', '--hidden', '64,64', '--block-size', '16', '--limit', '512', '--batch', '64',
  '--lr', '0.01', '--backend', 'cpu', '--seed', '5'];

describe('train --prune, --regrow, --l0', () => {
  it('prunes gradually to the final sparsity and writes the pruned layout with provenance', async () => {
    const out = join(dir, 'prune');
    const run = await runMain([...base, '--layout', 'dense', '--epochs', '2', '--prune', '0.75,begin=2,end=10,every=2', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    const layout = loadLayout(join(out, 'layout-0.json'));
    expect(layout.nnz).toBe(blocksToKeep(16, cubicSparsity(10, { initial: 0, final: 0.75, begin: 2, end: 10, frequency: 2 })));
    expect(layout.nnz).toBe(4);
    expect(layout.provenance.generator).toBe('pruned');
    expect(layout.provenance.params).toMatchObject({ method: 'magnitude', norm: 'l2' });
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.prune).toEqual({ final: 0.75, initial: 0, begin: 2, end: 10, every: 2, norm: 'l2' });
    expect(summary.layerDensities[1].density).toBe(0.25);
    // A pruned layout is a layout like any other: compare reads it.
    const compare = await runMain(['compare', join(out, 'layout-0.json'), '--metrics', 'components,degree-sd', '--json']);
    expect(compare.code, compare.stderr).toBe(0);
    expect(JSON.parse(compare.stdout)[0].nnz).toBe(4);
  }, 60_000);

  it('RigL keeps the block count and resumes with the same settings', async () => {
    const out = join(dir, 'rigl');
    const run = await runMain([...base, '--layout', 'random:density=0.5', '--epochs', '1', '--regrow', 'rigl,every=2,fraction=0.5,end=8', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    const layout = loadLayout(join(out, 'layout-0.json'));
    expect(layout.nnz).toBe(8);
    expect(layout.provenance.generator).toBe('regrown');
    const resumed = await runMain(['train', '--resume', out, '--epochs', '2', '--backend', 'cpu']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(loadLayout(join(out, 'layout-0.json')).nnz).toBe(8);
  }, 60_000);

  it('L0 gates write the learned layout next to the gated one', async () => {
    const out = join(dir, 'l0');
    const run = await runMain([...base, '--epochs', '1', '--l0', '0.01', '--l0-lr-scale', '10', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).l0LrScale).toBe(10);
    const gated = loadCheckpoint(join(out, 'checkpoint')).manifest.architecture.find((l) => l.kind === 'block-sparse-linear');
    expect(gated).toMatchObject({ l0: { lrScale: 10 } });
    expect(readdirSync(out)).toContain('l0-layout-0.json');
    const learned = loadLayout(join(out, 'l0-layout-0.json'));
    expect(learned.provenance.generator).toBe('l0');
    expect(learned.provenance.params).toMatchObject({ lambda: 0.01, step: 8 });
    expect(learned.nnz).toBeLessThanOrEqual(16);
  }, 60_000);

  it('resolves the specs with defaults from the run length, and names bad input', async () => {
    expect(parsePruneSpec('0.9', 400)).toEqual({ final: 0.9, initial: 0, begin: 0, end: 300, every: 20, norm: 'l2' });
    expect(parsePruneSpec('0.5,begin=10,every=5,norm=max', 100)).toEqual({ final: 0.5, initial: 0, begin: 10, end: 75, every: 5, norm: 'max' });
    expect(parseRegrowSpec('set', 400)).toEqual({ method: 'set', every: 40, fraction: 0.3, end: 300, norm: 'l2' });
    expect(parseRegrowSpec('rigl,every=100,fraction=0.2', 5000)).toEqual({ method: 'rigl', every: 100, fraction: 0.2, end: 3750, norm: 'l2' });
    expect(() => parsePruneSpec('1.5', 100)).toThrow(/--prune final sparsity \(the first value\) must be a number in \[0, 0.999999\] \(got 1.5\)/);
    expect(() => parsePruneSpec('0.5,begin=0,end=7,every=2', 100)).toThrow(/--prune end must be begin plus a multiple of every/);
    expect(() => parsePruneSpec('0.5,speed=3', 100)).toThrow(/"speed=3" is not one of begin=..., end=..., every=..., initial=..., norm=.../);
    expect(() => parseRegrowSpec('grow', 100)).toThrow(/--regrow must start with set or rigl/);
    const cli = await runMain([...base, '--epochs', '1', '--prune', '0.5', '--out', join(dir, 'bad')]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/--prune needs block-sparse layers: give --layout/);
  });
});
