import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import { loadLayout } from '../../src/patterns/files.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { CharVocabulary } from '../../src/train/data/char-vocabulary.js';
import { sequenceBatchesPerEpoch } from '../../src/train/data/sequence-batches.js';
import { buildMLP } from '../../src/train/model.js';
import { Adam } from '../../src/train/optimizers.js';
import { runMain } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';
import { FAST_TIER } from '../helpers/tier.js';

/*
 * `blocksparse train --model lstm` and `blocksparse sample` end to end on the CPU backend: a small
 * text file and a short Brown corpus run (outside the fast tier), and the typed one-line errors of
 * bad options (in it: they stop before anything is trained).
 */

const dir = tempDir('blocksparse-train-lm-cli-');

/** 400 lines of 8 words drawn (seeded) from 20: 13,490 characters of 19 distinct ones. */
function wordsText(): string {
  const words = 'the cat sat on the mat and the dog ran to the red ball while a bird sang in the tall tree'.split(' ');
  let state = 1;
  const next = () => (state = (state * 48271) % 2147483647) / 2147483647;
  const lines: string[] = [];
  for (let i = 0; i < 400; i++) lines.push(`${Array.from({ length: 8 }, () => words[Math.floor(next() * words.length)]).join(' ')}.\n`);
  return lines.join('');
}

const file = join(dir, 'words.txt');
let text: string;
beforeAll(() => {
  text = wordsText();
  writeFileSync(file, text);
});

/** Bits per character of the text's character frequencies (what a model without context reaches). */
function unigramEntropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

const tiny = ['train', '--model', 'lstm', '--hidden', '32', '--embedding', '16', '--block-size', '8', '--layout', 'watts-strogatz:k=2,p=0.5', '--seq', '16', '--batch', '8',
  '--lr', '0.01', '--backend', 'cpu', '--seed', '3'];

describe.skipIf(FAST_TIER)('blocksparse train --model lstm, and sample', () => {
  it('trains on a text file: bits per character in metrics.jsonl and summary.json, the vocabulary in the checkpoint; --resume continues; sample prints text', async () => {
    const out = join(dir, 'run');
    const first = await runMain([...tiny, '--data', `text:${file}`, '--epochs', '2', '--out', out, '--checkpoint-every', '50']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^test [\d.]+ bits\/char \(validation [\d.]+\) after 2 epochs; \d+ parameters; /);
    expect(first.stderr).toMatch(/epoch 1\/2: train [\d.]+ bits\/char, 0 steps clipped; validation [\d.]+ bits\/char; [\d.]+ s \(\d+ chars\/s\)/);
    expect(readdirSync(out).sort()).toEqual(['checkpoint', 'layout-0.json', 'metrics.jsonl', 'summary.json']);

    // The file split 90 / 5 / 5 by position; an epoch of 8 streams of 16 steps.
    const n = text.length;
    const characters = { train: Math.floor(0.9 * n), validation: Math.floor(0.95 * n) - Math.floor(0.9 * n), test: n - Math.floor(0.95 * n) };
    const batches = sequenceBatchesPerEpoch(characters.train, { batchSize: 8, steps: 16 });
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.epoch, l.step, l.testBpc === null])).toEqual([[0, batches, true], [1, 2 * batches, false]]);
    const vocabulary = CharVocabulary.fromTexts([text]);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    // Embedding 19 x 16, LSTM input 16 x 128 dense, recurrent 12 blocks of 8 x 8 (Watts-Strogatz k=2 on 4 nodes and the diagonal) for each of 4 gates, bias 128, output 32 x 19 + 19.
    const V = vocabulary.size;
    expect(summary).toMatchObject({
      model: 'lstm', data: `text:${file}`, hidden: [32], seq: 16, embedding: 16, clip: 1, epochs: 2, vocabularySize: V, characters,
      parameterCount: V * 16 + 16 * 128 + 48 * 64 + 128 + 32 * V + V, testBpc: lines[1].testBpc, validationBpc: lines[1].validationBpc, layouts: ['layout-0.json'],
    });
    expect(summary.testBpc).toBeLessThan(unigramEntropy(text) / 2);
    expect(summary.charactersPerSecond).toBeGreaterThan(0);
    const layout = loadLayout(join(out, 'layout-0.json'));
    expect([layout.inBlocks, layout.outBlocks, layout.nnz]).toEqual([4, 4, 12]);
    expect(layout.provenance).toMatchObject({ generator: 'watts-strogatz', seed: '3#recurrent0' });
    const checkpoint = loadCheckpoint(join(out, 'checkpoint'));
    expect(checkpoint.manifest.vocabulary).toEqual(vocabulary.toJSON());
    expect(checkpoint.manifest.position).toEqual({ epoch: 2, batch: 0, step: 2 * batches });

    const resumed = await runMain(['train', '--resume', out, '--epochs', '3', '--backend', 'cpu']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    const conflict = await runMain(['train', '--resume', out, '--seq', '8']);
    expect([conflict.code, conflict.stderr]).toEqual([2, expect.stringMatching(/--seq cannot be given with --resume/)]);

    const sample = ['sample', out, '--length', '120', '--seed', '1', '--prime', 'the ', '--backend', 'cpu'];
    const a = await runMain(sample);
    const b = await runMain(sample);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout.startsWith('the ')).toBe(true);
    expect([...a.stdout]).toHaveLength(4 + 120 + 1);
    for (const c of a.stdout) expect(vocabulary.indexOf(c), JSON.stringify(c)).toBeGreaterThanOrEqual(0);
    // Another seed, another text.
    expect(a.stdout).not.toBe((await runMain([...sample.slice(0, 4), '2', ...sample.slice(5)])).stdout);
  }, 120_000);

  it('trains on the Brown corpus (--limit: training characters), to below its unigram entropy, and samples from it', async () => {
    const out = join(dir, 'brown');
    const result = await runMain([
      'train', '--model', 'lstm', '--data', 'brown', '--limit', '200000', '--hidden', '64', '--embedding', '16', '--block-size', '16', '--layout', 'watts-strogatz:k=2,p=0.5',
      '--seq', '20', '--batch', '64', '--epochs', '1', '--lr', '0.01', '--backend', 'cpu', '--out', out,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ data: 'brown', vocabularySize: 85, characters: { train: 200000, validation: 658666, test: 664193 }, limit: 200000 });
    // 4.3986 bits/char is the unigram entropy of the Brown corpus (docs/language-models.md).
    expect(summary.testBpc).toBeLessThan(4);
    expect(summary.validationBpc).toBeLessThan(4);
    const sample = await runMain(['sample', out, '--length', '100', '--prime', 'The ', '--backend', 'cpu']);
    expect(sample.code, sample.stderr).toBe(0);
    expect([...sample.stdout]).toHaveLength(4 + 100 + 1);
  }, 120_000);
});

describe('blocksparse train --model lstm and sample: bad options are one typed line, exit 2', () => {
  let backend: CpuBackend;
  beforeAll(async () => {
    backend = await createCpuBackend({ threads: 1 });
  });
  afterAll(async () => {
    await backend.dispose();
  });

  const refused = async (args: string[], message: RegExp) => {
    const result = await runMain(args);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n'), result.stderr).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  };
  const out = () => join(dir, `x${Math.random().toString(36).slice(2)}`);

  it('train', async () => {
    await refused(['train', '--model', 'lstm', '--data', 'fashion-mnist', '--hidden', '32', '--out', out()], /--model lstm trains on text: give --data brown or --data text:<file> \(not fashion-mnist\)/);
    await refused(['train', '--data', 'brown', '--hidden', '32', '--out', out()], /--data brown is text: train a language model on it with --model lstm/);
    await refused(['train', '--data', 'wiki', '--hidden', '32', '--out', out()], /--data <name>' argument 'wiki' is invalid\. must be fashion-mnist, brown or text:<file>/);
    await refused(['train', '--seq', '10', '--hidden', '32', '--out', out()], /--seq is an LSTM's setting: give it with --model lstm/);
    await refused(['train', '--model', 'lstm', '--seq', '0', '--hidden', '32', '--out', out()], /--seq must be an integer in \[1, 1048576\] \(got 0\)/);
    await refused(['train', '--model', 'lstm', '--embedding', '0', '--hidden', '32', '--out', out()], /--embedding must be an integer in \[1, 16777216\] \(got 0\)/);
    await refused(['train', '--model', 'lstm', '--clip', '-1', '--hidden', '32', '--out', out()], /--clip must be a number in \[0, /);
    await refused(['train', '--model', 'lstm', '--checkpoint-every', '0', '--hidden', '32', '--out', out()], /--checkpoint-every must be an integer in \[1, /);
    await refused(['train', '--model', 'lstm', '--data', `text:${join(dir, 'missing.txt')}`, '--hidden', '32', '--out', out()], /text file: .*missing\.txt does not exist; give the path of an existing UTF-8 text file/);
    await refused([...tiny, '--data', `text:${file}`, '--limit', '100', '--out', out()], /100 training characters \(--limit\) are fewer than one epoch of --batch 8 streams of --seq 16 steps needs \(B \(2T - 1\) \+ 1 = 249\)/);
    await refused([...tiny, '--data', `text:${file}`, '--limit', '99999', '--out', out()], new RegExp(`--limit must be an integer in \\[1, ${Math.floor(0.9 * text.length)}\\] \\(the training characters of text:`));
    await refused([...tiny, '--data', `text:${file}`, '--sparse-input', '--embedding', '12', '--out', out()], /--embedding must be a multiple of the block size 8 with sparseInput/);
    await refused([...tiny, '--data', `text:${file}`, '--hidden', '36', '--out', out()], /--hidden must be widths that are multiples of the block size 8/);
    await refused([...tiny, '--data', `text:${file}`, '--prune', '0.5', '--layout', 'dense', '--hidden', '30', '--block-size', '8', '--out', out()], /--hidden must be widths/);
  });

  it('sample', async () => {
    // An MLP's run: a checkpoint without a vocabulary.
    const mlp = join(dir, 'mlp-run');
    mkdirSync(mlp);
    const model = buildMLP(backend, { inputs: 4, hidden: [8], classes: 2, seed: 1 });
    const optimizer = new Adam(model.parameters(), { lr: 0.01 });
    await saveCheckpoint(join(mlp, 'checkpoint'), { model, optimizer, seed: 1, position: { epoch: 1, batch: 0, step: 1 } });
    model.dispose();
    optimizer.dispose();
    await refused(['sample', mlp, '--backend', 'cpu'], /not a language model's run \(its checkpoint holds no character vocabulary\)/);
    await refused(['sample', join(dir, 'nothing')], /nothing: does not exist: there is no run to sample from/);
    await refused(['sample', mlp, '--length', '0'], /--length must be an integer in \[1, 100000\] \(got 0\)/);
    await refused(['sample', mlp, '--temperature', '0'], /--temperature must be a number in \(0, 100\]/);
    await refused(['sample', mlp, '--prime', ''], /--prime must be a non-empty string/);
    await refused(['sample'], /missing required argument 'run'/);
  });
});
