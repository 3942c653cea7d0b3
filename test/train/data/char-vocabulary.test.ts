import { describe, expect, it } from 'vitest';
import { FormatError } from '../../../src/errors.js';
import {
  CHAR_VOCABULARY_FORMAT,
  CharVocabulary,
  MAX_CHAR_VOCABULARY_SIZE,
  UnknownCharacterError,
} from '../../../src/train/data/char-vocabulary.js';
import type { TextCorpus } from '../../../src/train/data/text-corpus.js';
import { catchError, expectParameterError } from '../../helpers/expect-error.js';

const corpus: TextCorpus = { source: 'test', train: 'hello world\n', validation: 'Hej, värld!', test: 'a 🙂 b' };

describe('CharVocabulary', () => {
  it('holds every character of all splits, sorted by code point', () => {
    const vocabulary = CharVocabulary.fromCorpus(corpus);
    const expected = [...new Set(Array.from(corpus.train + corpus.validation + corpus.test))].map((c) => c.codePointAt(0)!).sort((a, b) => a - b);
    expect(vocabulary.codePoints).toEqual(expected);
    expect(vocabulary.size).toBe(18);
    expect(vocabulary.codePoints.slice(0, 4)).toEqual([10, 32, 33, 44]);
    expect(vocabulary.codePoints.at(-1)).toBe(0x1f642); // the emoji: one symbol, not two surrogates
    expect(vocabulary.indexOf('\n')).toBe(0);
    expect(vocabulary.indexOf('🙂')).toBe(17);
    expect(vocabulary.indexOf('z')).toBe(-1);
    expectParameterError(() => vocabulary.indexOf('ab'), 'character');
  });

  it('encodes code points, not UTF-16 units, and decodes back', () => {
    const vocabulary = CharVocabulary.fromCorpus(corpus);
    const encoded = vocabulary.encode(corpus.test);
    expect(encoded).toBeInstanceOf(Uint8Array);
    expect(Array.from(encoded)).toEqual([vocabulary.indexOf('a'), 1, 17, 1, vocabulary.indexOf('b')]);
    for (const text of [corpus.train, corpus.validation, corpus.test, '']) expect(vocabulary.decode(vocabulary.encode(text))).toBe(text);
    expect(vocabulary.decode([0, 17, 0])).toBe('\n🙂\n');
  });

  it('gives the same indices for the same text, whatever the order of the splits', () => {
    const a = CharVocabulary.fromTexts(['abc', 'cab']);
    const b = CharVocabulary.fromTexts(['bca', 'a', 'cccc']);
    expect(a.codePoints).toEqual(b.codePoints);
    expect(a.encode('cab')).toEqual(new Uint8Array([2, 0, 1]));
  });

  it('uses 16-bit indices beyond 256 characters, up to 65,536', () => {
    const text = String.fromCodePoint(...Array.from({ length: 300 }, (_, i) => 0x400 + i));
    const vocabulary = CharVocabulary.fromTexts([text]);
    const encoded = vocabulary.encode(text);
    expect(encoded).toBeInstanceOf(Uint16Array);
    expect(encoded[299]).toBe(299);
    expect(vocabulary.decode(encoded)).toBe(text);
    expect(MAX_CHAR_VOCABULARY_SIZE).toBe(65536);
  });

  it('keeps a lone surrogate as one character, as Array.from does', () => {
    const text = 'a\uD800b\uDC00';
    const vocabulary = CharVocabulary.fromTexts([text]);
    expect(vocabulary.codePoints).toEqual([0x61, 0x62, 0xd800, 0xdc00]);
    expect(vocabulary.decode(vocabulary.encode(text))).toBe(text);
  });

  it('names an unknown character and its position', () => {
    const vocabulary = CharVocabulary.fromCorpus(corpus);
    const error = catchError(() => vocabulary.encode('a🙂hé'));
    expect(error).toBeInstanceOf(UnknownCharacterError);
    const e = error as UnknownCharacterError;
    expect([e.character, e.codePoint, e.position, e.code]).toEqual(['é', 0xe9, 3, 'E_UNKNOWN_CHARACTER']);
    expect(e.message).toBe('the character "é" (U+00E9) at position 3 is not in the vocabulary of 18 characters');
  });

  it('refuses bad input: no characters, bad indices, non-strings', () => {
    expectParameterError(() => CharVocabulary.fromTexts(['', '']), 'texts');
    expectParameterError(() => CharVocabulary.fromTexts(['a', 3 as unknown as string]), 'texts[1]');
    const vocabulary = CharVocabulary.fromTexts(['abc']);
    expectParameterError(() => vocabulary.decode([0, 3]), 'indices[1]');
    expectParameterError(() => vocabulary.decode([-1]), 'indices[0]');
    expectParameterError(() => vocabulary.decode([0.5]), 'indices[0]');
    expectParameterError(() => vocabulary.encode(5 as unknown as string), 'text');
  });

  it('round-trips through JSON', () => {
    const vocabulary = CharVocabulary.fromCorpus(corpus);
    const record = vocabulary.toJSON();
    expect(record).toEqual({ format: CHAR_VOCABULARY_FORMAT, version: 1, codePoints: [...vocabulary.codePoints] });
    const back = CharVocabulary.fromJSON(JSON.parse(JSON.stringify(vocabulary)));
    expect(back.codePoints).toEqual(vocabulary.codePoints);
    expect(back.encode(corpus.validation)).toEqual(vocabulary.encode(corpus.validation));
  });

  it('refuses a malformed record with a FormatError naming the field', () => {
    const good = CharVocabulary.fromTexts(['abc']).toJSON();
    const cases: [unknown, string][] = [
      [null, 'document'],
      [[1, 2], 'document'],
      [{ ...good, format: 'blocksparse-layout' }, 'format'],
      [{ ...good, version: 2 }, 'version'],
      [{ ...good, extra: 1 }, 'extra'],
      [{ ...good, codePoints: [] }, 'codePoints'],
      [{ ...good, codePoints: 'abc' }, 'codePoints'],
      [{ ...good, codePoints: [97, 97] }, 'codePoints'],
      [{ ...good, codePoints: [98, 97] }, 'codePoints'],
      [{ ...good, codePoints: [97, 0x110000] }, 'codePoints'],
      [{ ...good, codePoints: [97, 98.5] }, 'codePoints'],
      [{ ...good, codePoints: [-1] }, 'codePoints'],
      [{ format: good.format, version: 1 }, 'codePoints'],
    ];
    for (const [record, field] of cases) {
      const error = catchError(() => CharVocabulary.fromJSON(record));
      expect(error, JSON.stringify(record)).toBeInstanceOf(FormatError);
      expect((error as FormatError).field).toBe(field);
    }
  });
});
