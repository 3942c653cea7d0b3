import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel, predictRun } from '../../src/runs/index.js';
import { loadFashionMNIST } from '../../src/train/data/fashion-mnist.js';
import { runMain } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';
import { FAST_TIER } from '../helpers/tier.js';

const dir = tempDir('blocksparse-predict-');
const run = join(dir, 'run');

// A dense MLP 784 -> 64 -> 64 -> 10 trained for one epoch on 600 examples.
beforeAll(async () => {
  const trained = await runMain(['train', '--hidden', '64,64', '--limit', '600', '--batch', '50', '--lr', '0.01', '--backend', 'cpu', '--seed', '3', '--epochs', '1', '--out', run]);
  expect(trained.code, trained.stderr).toBe(0);
}, 60_000);

describe('blocksparse predict and loadModel', () => {
  it('gives the run\'s own test accuracy and writes every prediction', async () => {
    const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'));
    const out = join(dir, 'predictions.csv');
    const result = await runMain(['predict', run, '--backend', 'cpu', '--json', '--output', out]);
    expect(result.code, result.stderr).toBe(0);
    const figures = JSON.parse(result.stdout);
    expect(figures.examples).toBe(10000);
    expect(figures.accuracy).toBeCloseTo(summary.testAccuracy, 10);
    expect(figures.loss).toBeCloseTo(summary.testLoss, 5);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(10001);
    expect(lines[0]).toBe('index,label,predicted,label_name,predicted_name');
    const rows = lines.slice(1).map((l) => l.split(','));
    const correct = rows.filter((r) => r[1] === r[2]).length;
    expect(correct / 10000).toBeCloseTo(summary.testAccuracy, 10);
    // An existing output is not replaced unless asked.
    const again = await runMain(['predict', run, '--backend', 'cpu', '--output', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists: give --force/);
  }, 60_000);

  it('loadModel predicts batch by batch what the whole test set gives, with no optimiser state or gradients', async () => {
    const model = await loadModel(run, { backend: 'cpu' });
    try {
      expect(model.run).toMatchObject({ hidden: [64, 64], model: 'mlp', data: 'fashion-mnist' });
      expect(model.model.parameters().every((p) => p.grad === null)).toBe(true);
      const test = loadFashionMNIST({ split: 'test', limit: 300 });
      const whole = await model.predict(test.images, 300);
      // Batch 1 (the latency path) gives the same logits row by row.
      for (const r of [0, 17, 299]) {
        const one = await model.predict(test.images.slice(r * 784, (r + 1) * 784), 1);
        for (let j = 0; j < 10; j++) expect(one.logits[j]).toBeCloseTo(whole.logits[r * 10 + j], 4);
        expect(one.classes[0]).toBe(whole.classes[r]);
      }
      await expect(model.predict(new Float32Array(10), 1)).rejects.toThrow(/x has 10 values but 1 rows of 784 features need 784/);
    } finally {
      await model.dispose();
    }
    const limited = await predictRun(run, { backend: 'cpu', limit: 300 });
    expect(limited.kind === 'classification' && limited.examples).toBe(300);
  }, 60_000);

  it('names what is wrong in one line', async () => {
    const missing = await runMain(['predict', join(dir, 'nothing'), '--backend', 'cpu']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/does not exist: there is no run to load/);
    const wrongData = await runMain(['predict', run, '--data', 'brown', '--backend', 'cpu']);
    expect(wrongData.code).toBe(2);
    expect(wrongData.stderr).toMatch(/--data brown does not fit the run's model/);
  });
});

describe.skipIf(FAST_TIER)('blocksparse prune', () => {
  it('prunes at each sparsity, fine-tunes, and writes runs that predict and train --resume take', async () => {
    const out = join(dir, 'pruned');
    const result = await runMain(['prune', run, '--sparsity', '0.5,0.9', '--finetune-epochs', '1', '--block-size', '16', '--out', out, '--backend', 'cpu']);
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['prune.json', 'sparsity-0.5', 'sparsity-0.9']);
    const summary = JSON.parse(readFileSync(join(out, 'prune.json'), 'utf8'));
    expect(summary.metric).toBe('testAccuracy');
    expect(summary.levels.map((l: { sparsity: number }) => l.sparsity)).toEqual([0.5, 0.9]);
    // 784 -> 64 in blocks of 16: 49 x 4 = 196 blocks, round(0.1 x 196) = 20 kept; 64 -> 64: 16 blocks, 2 kept.
    expect(summary.levels[1].weights.map((w: { blocks: number; blocksAfter: number }) => [w.blocks, w.blocksAfter])).toEqual([[196, 20], [16, 2]]);
    // Parameters: 20 + 2 blocks of 256, the biases 64 + 64, the dense output layer 64 x 10 + 10.
    expect(summary.levels[1].parameters).toBe(22 * 256 + 128 + 650);
    expect(result.stdout).toMatch(/sparsity\s+parameters\s+pruned\s+fine-tuned \(1 epochs\)/);
    const level = join(out, 'sparsity-0.9');
    expect(readdirSync(level).sort()).toEqual(['checkpoint', 'layout-0.json', 'layout-1.json', 'metrics.jsonl', 'summary.json']);
    const layout = JSON.parse(readFileSync(join(level, 'layout-1.json'), 'utf8'));
    expect(layout.provenance).toMatchObject({ generator: 'pruned', params: { sparsity: 0.9, after: 'training' } });
    const predicted = await runMain(['predict', level, '--backend', 'cpu', '--json']);
    expect(JSON.parse(predicted.stdout).accuracy).toBeCloseTo(summary.levels[1].finetuned, 10);

    // Without fine-tuning: the pruned model as it is; it can be trained on with --resume.
    const bare = join(dir, 'bare');
    expect((await runMain(['prune', run, '--sparsity', '0.75', '--out', bare, '--backend', 'cpu'])).code).toBe(0);
    const bareSummary = JSON.parse(readFileSync(join(bare, 'prune.json'), 'utf8'));
    expect(bareSummary.levels[0].finetuned).toBeNull();
    const resumed = await runMain(['train', '--resume', join(bare, 'sparsity-0.75'), '--epochs', '1', '--backend', 'cpu']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(bare, 'sparsity-0.75', 'layout-0.json'), 'utf8')).provenance.generator).toBe('pruned');

    // An output directory holding files is refused unless --force.
    const refused = await runMain(['prune', run, '--sparsity', '0.75', '--out', bare, '--backend', 'cpu']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/is not empty/);
  }, 180_000);

  it('rejects bad sparsities in one line', async () => {
    const bad = await runMain(['prune', run, '--sparsity', '0.5,1', '--out', join(dir, 'never'), '--backend', 'cpu']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--sparsity.*\[0, 1\)/);
    const twice = await runMain(['prune', run, '--sparsity', '0.5,0.5', '--out', join(dir, 'never'), '--backend', 'cpu']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/sparsity\[1\].*not given before/);
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });
});

describe.skipIf(FAST_TIER)('blocksparse predict and prune on a language model', () => {
  it('gives the run\'s test bits per character and every next-character prediction; prune takes it', async () => {
    // 300 lines of 6 words drawn (seeded) from a few: a text an LSTM learns something of in one epoch.
    const words = 'the cat sat on a mat and a dog ran to the ball'.split(' ');
    let state = 3;
    const next = () => (state = (state * 48271) % 2147483647) / 2147483647;
    const text = Array.from({ length: 300 }, () => `${Array.from({ length: 6 }, () => words[Math.floor(next() * words.length)]).join(' ')}.\n`).join('');
    const file = join(dir, 'words.txt');
    writeFileSync(file, text);
    const lm = join(dir, 'lm');
    const trained = await runMain(['train', '--model', 'lstm', '--data', `text:${file}`, '--hidden', '32', '--embedding', '16', '--block-size', '8', '--seq', '16', '--batch', '8',
      '--lr', '0.01', '--epochs', '1', '--backend', 'cpu', '--out', lm]);
    expect(trained.code, trained.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(lm, 'summary.json'), 'utf8'));
    const out = join(dir, 'lm-predictions.csv');
    const predicted = await runMain(['predict', lm, '--backend', 'cpu', '--json', '--output', out]);
    expect(predicted.code, predicted.stderr).toBe(0);
    const figures = JSON.parse(predicted.stdout);
    expect(figures.bpc).toBeCloseTo(summary.testBpc, 6);
    // The test split is the text's last 5%: every character but its first is predicted once.
    const testText = [...text].slice(Math.floor(0.95 * [...text].length));
    expect(figures.characters).toBe(testText.length - 1);
    const rows = readFileSync(out, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('position,next,predicted');
    const parsed = rows.slice(1).map((line) => JSON.parse(`[${line}]`) as [number, string, string]);
    expect(parsed).toHaveLength(testText.length - 1);
    expect(parsed.map((r) => r[1]).join('')).toBe(testText.slice(1).join(''));
    const correct = parsed.filter((r) => r[1] === r[2]).length;
    expect(correct / parsed.length).toBeCloseTo(figures.accuracy, 10);

    const pruned = await runMain(['prune', lm, '--sparsity', '0.5', '--block-size', '8', '--out', join(dir, 'lm-pruned'), '--backend', 'cpu']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toMatch(/bpc/);
    const levelFigures = JSON.parse((await runMain(['predict', join(dir, 'lm-pruned', 'sparsity-0.5'), '--backend', 'cpu', '--json'])).stdout);
    const prunedSummary = JSON.parse(readFileSync(join(dir, 'lm-pruned', 'prune.json'), 'utf8'));
    expect(prunedSummary.metric).toBe('testBpc');
    expect(levelFigures.bpc).toBeCloseTo(prunedSummary.levels[0].pruned, 6);
  }, 120_000);
});
