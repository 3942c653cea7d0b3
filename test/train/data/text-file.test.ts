import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withMemoryBudget } from '../../../src/budget.js';
import { FileError, FormatError, ResourceError } from '../../../src/errors.js';
import {
  DEFAULT_TEXT_FRACTIONS,
  countCodePoints,
  loadTextFile,
  splitTextByPosition,
} from '../../../src/train/data/text-corpus.js';
import { DatasetMissingError } from '../../../src/train/errors.js';
import { catchError, expectParameterError } from '../../helpers/expect-error.js';
import { tempDir } from '../../helpers/temp-dir.js';

const dir = tempDir('text-file-');

describe('splitTextByPosition', () => {
  it('cuts at floor(fraction * n) characters, 90 / 5 / 5 by default', () => {
    expect(DEFAULT_TEXT_FRACTIONS).toEqual({ train: 0.9, validation: 0.05, test: 0.05 });
    const text = 'abcdefghij'.repeat(10); // 100 characters
    const parts = splitTextByPosition(text);
    expect([parts.train.length, parts.validation.length, parts.test.length]).toEqual([90, 5, 5]);
    expect(parts.train + parts.validation + parts.test).toBe(text);
    expect(splitTextByPosition('0123456789', { train: 0.5, validation: 0.25, test: 0.25 })).toEqual({ train: '01234', validation: '56', test: '789' });
  });

  it('counts characters as code points and never cuts a surrogate pair', () => {
    const text = '🙂'.repeat(10); // 10 characters, 20 UTF-16 units
    expect(countCodePoints(text)).toBe(10);
    expect(splitTextByPosition(text, { train: 0.6, validation: 0.2, test: 0.2 })).toEqual({ train: '🙂'.repeat(6), validation: '🙂🙂', test: '🙂🙂' });
    expect(countCodePoints('a\uD800b')).toBe(3);
  });

  it('refuses bad fractions and a text too short for three non-empty splits', () => {
    const text = 'x'.repeat(100);
    for (const fractions of [
      { train: 1, validation: 0, test: 0 },
      { train: 0.9, validation: 0.1, test: 0 },
      { train: -0.1, validation: 0.6, test: 0.5 },
      { train: NaN, validation: 0.5, test: 0.5 },
    ]) {
      expectParameterError(() => splitTextByPosition(text, fractions), /^fractions\.(train|validation|test)$/);
    }
    expectParameterError(() => splitTextByPosition(text, { train: 0.8, validation: 0.1, test: 0.2 }), 'fractions');
    expectParameterError(() => splitTextByPosition(text, { train: 0.8, validation: 0.1, test: 0.1, extra: 0 } as never), 'fractions.extra');
    const error = catchError(() => splitTextByPosition('abcdefghi'));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).field).toBe('length');
  });
});

describe('loadTextFile', () => {
  it('reads a UTF-8 file and splits it by position', () => {
    const path = join(dir, 'story.txt');
    const text = 'Once upon a time, ünïcode and 🙂 too.\n'.repeat(20);
    writeFileSync(path, text);
    const corpus = loadTextFile(path, { fractions: { train: 0.8, validation: 0.1, test: 0.1 } });
    expect(corpus.source).toBe(`text:${path}`);
    expect(corpus.train + corpus.validation + corpus.test).toBe(text);
    const n = countCodePoints(text);
    expect([countCodePoints(corpus.train), countCodePoints(corpus.validation)]).toEqual([Math.floor(0.8 * n), Math.floor(0.9 * n) - Math.floor(0.8 * n)]);
  });

  it('names a missing file', () => {
    const path = join(dir, 'missing.txt');
    const error = catchError(() => loadTextFile(path));
    expect(error).toBeInstanceOf(DatasetMissingError);
    expect((error as DatasetMissingError).path).toBe(path);
    expect((error as Error).message).toContain(path);
  });

  it('refuses a directory, invalid UTF-8, bad fractions, and a file over the memory budget', () => {
    expect(catchError(() => loadTextFile(dir))).toBeInstanceOf(FileError);
    const binary = join(dir, 'binary.txt');
    writeFileSync(binary, Buffer.from([0x61, 0xff, 0x62, 0x63]));
    expect(catchError(() => loadTextFile(binary))).toBeInstanceOf(FormatError);
    const path = join(dir, 'large.txt');
    writeFileSync(path, 'a'.repeat(400_000));
    expectParameterError(() => loadTextFile(path, { fractions: { train: 0.5, validation: 0.5, test: 0 } }), 'fractions.test');
    expectParameterError(() => loadTextFile(''), 'path');
    // About 3 bytes per byte of file: 1.2 MB is over a 1 MiB budget.
    expect(catchError(() => withMemoryBudget(2 ** 20, () => loadTextFile(path)))).toBeInstanceOf(ResourceError);
    expect(loadTextFile(path).train.length).toBe(360_000);
  });
});
