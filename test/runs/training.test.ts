import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileError, loadCheckpoint, runTraining, type EpochMetrics, type TrainingSettings } from '../../src/index.js';
import { FAST_TIER } from '../helpers/tier.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('blocksparse-runs-');

/** A quick run's settings: the `train` command's options, as a script gives them. */
const settings: TrainingSettings = {
  data: 'fashion-mnist', hidden: [32, 32], layout: 'random:density=0.5', blockSize: 16, batch: 50, lr: 1e-3, optimizer: 'adam',
  momentum: 0.9, weightDecay: 0, l0LrScale: 1, sparseInput: false, seed: 3, limit: 100, prune: '0.5',
};

describe.skipIf(FAST_TIER)('runTraining: a run from a configuration', () => {
  it('trains, writes the run directory, and a resumed run continues it', async () => {
    const out = join(dir, 'run');
    const epochs: EpochMetrics[] = [];
    const first = await runTraining({ out, epochs: 1, backend: 'cpu', settings }, { log: () => {}, onEpoch: (m) => epochs.push(m) });
    expect(first.out).toBe(out);
    expect(epochs.map((m) => m.epoch)).toEqual([0]);
    expect(readdirSync(out).sort()).toEqual(['checkpoint', 'layout-0.json', 'metrics.jsonl', 'summary.json']);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toEqual(first.summary);
    expect(first.summary).toMatchObject({ hidden: [32, 32], epochs: 1, layouts: ['layout-0.json'], prune: { final: 0.5 } });

    // A new run into it is refused; resuming takes its settings from the checkpoint.
    await expect(runTraining({ out, epochs: 1, backend: 'cpu', settings })).rejects.toBeInstanceOf(FileError);
    const resumed = await runTraining({ resume: out, epochs: 2, backend: 'cpu' }, { log: () => {} });
    expect(resumed.metrics.map((m) => m.epoch)).toEqual([0, 1]);
    expect(resumed.summary).toMatchObject({ seed: 3, limit: 100, epochs: 2 });
    expect(loadCheckpoint(join(out, 'checkpoint')).manifest.position).toEqual({ epoch: 2, batch: 0, step: 4 });
  }, 60_000);
});

describe('runTraining: settings checked before anything is read', () => {
  it('names what is missing as the train command does', async () => {
    await expect(runTraining({ epochs: 1, backend: 'cpu', settings })).rejects.toThrow('--out is required (or --resume)');
    await expect(runTraining({ out: join(dir, 'never'), epochs: 0, backend: 'cpu', settings })).rejects.toThrow(/epochs must be an integer/);
    await expect(runTraining({ resume: join(dir, 'missing'), epochs: 1, backend: 'cpu' })).rejects.toThrow(/there is no run to --resume/);
  });
});
