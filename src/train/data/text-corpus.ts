/**
 * Text for character-level language models: a corpus is three texts (train, validation, test),
 * from the Brown corpus (`loadBrownCorpus`, split by file) or from any UTF-8 file a user brings
 * (`loadTextFile`, split by position). Nothing is cached: each call reads the file again.
 */
import { statSync } from 'node:fs';
import { checkMemory, formatBytes } from '../../budget.js';
import { FormatError, ParameterError } from '../../errors.js';
import { readTextChecked } from '../../read-file.js';
import { DatasetMissingError } from '../errors.js';

/** A part of a text corpus. */
export type TextSplit = 'train' | 'validation' | 'test';

/** The three splits, in the order their texts are laid out. */
export const TEXT_SPLITS: readonly TextSplit[] = Object.freeze(['train', 'validation', 'test'] as const);

/** A text corpus held in memory: one text per split (the splits never overlap). */
export interface TextCorpus {
  /** Where the text came from: "brown", or "text:<path>" for a user's file. */
  source: string;
  /** The training text. */
  train: string;
  /** The validation text (held out; bits per character are measured over all of it). */
  validation: string;
  /** The test text (held out). */
  test: string;
}

/** The fractions of a text file given to each split, by position; each in (0, 1), summing to 1. */
export interface TextFractions {
  train: number;
  validation: number;
  test: number;
}

/** The default split of a text file: the first 90% trains, the next 5% validates, the last 5% tests. */
export const DEFAULT_TEXT_FRACTIONS: Readonly<TextFractions> = Object.freeze({ train: 0.9, validation: 0.05, test: 0.05 });

/** Options of `loadTextFile`. */
export interface TextFileOptions {
  /** The fractions of the text (counted in characters, i.e. code points) per split; default DEFAULT_TEXT_FRACTIONS. */
  fractions?: TextFractions;
}

/**
 * Memory per byte of a text file while it is loaded: the bytes read (1) and the decoded UTF-16
 * string (at most 2); the splits are slices of that string.
 */
const TEXT_BYTES_PER_FILE_BYTE = 3;

/** Checks `fractions` (an object of three numbers in (0, 1) summing to 1 within 1e-9); returns it. */
export function checkTextFractions(fractions: unknown, context?: string): TextFractions {
  if (typeof fractions !== 'object' || fractions === null) {
    throw new ParameterError('fractions', 'an object {train, validation, test} of numbers in (0, 1) summing to 1', fractions, context);
  }
  const record = fractions as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(TEXT_SPLITS as readonly string[]).includes(key)) throw new ParameterError(`fractions.${key}`, 'absent: the splits are train, validation and test', record[key], context);
  }
  for (const split of TEXT_SPLITS) {
    const value = record[split];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value >= 1) {
      throw new ParameterError(`fractions.${split}`, 'a number in (0, 1): every split gets part of the text', value, context);
    }
  }
  const { train, validation, test } = record as unknown as TextFractions;
  const sum = train + validation + test;
  if (Math.abs(sum - 1) > 1e-9) throw new ParameterError('fractions', 'three fractions summing to 1', `${train} + ${validation} + ${test} = ${sum}`, context);
  return { train, validation, test };
}

/**
 * `text` cut by position into train, validation and test: with n characters (code points, so a
 * surrogate pair is never cut), train is characters [0, floor(train * n)), validation
 * [that, floor((train + validation) * n)), test the rest. FormatError (field "length") when a split
 * would be empty; ParameterError for bad fractions. `what` names the text in messages.
 */
export function splitTextByPosition(text: string, fractions: TextFractions = DEFAULT_TEXT_FRACTIONS, what = 'the text'): Omit<TextCorpus, 'source'> {
  const context = 'splitTextByPosition';
  if (typeof text !== 'string') throw new ParameterError('text', 'a string', text, context);
  const { train, validation } = checkTextFractions(fractions, context);
  const n = countCodePoints(text);
  const firstCut = Math.floor(train * n);
  const secondCut = Math.floor((train + validation) * n);
  if (firstCut === 0 || secondCut === firstCut || secondCut === n) {
    throw new FormatError(`${what} holds ${n} characters: too few to give train, validation and test (${train}, ${validation}, ${1 - train - validation}) at least one each`, 'length');
  }
  const [a, b] = unitIndices(text, firstCut, secondCut);
  return { train: text.slice(0, a), validation: text.slice(a, b), test: text.slice(b) };
}

/**
 * Loads the UTF-8 text file at `path` (`--data text:<file>`) and splits it by position
 * (`splitTextByPosition`; default 90 / 5 / 5). Its size is checked against the memory budget
 * (about 3 bytes per byte of file) before it is read. DatasetMissingError naming the path when
 * the file does not exist; FileError when it cannot be read; FormatError when it is not valid
 * UTF-8 or too short to split; ResourceError when over the budget; ParameterError for bad options.
 */
export function loadTextFile(path: string, options: TextFileOptions = {}): TextCorpus {
  const context = 'loadTextFile';
  if (typeof path !== 'string' || path.length === 0) throw new ParameterError('path', 'a non-empty path', path, context);
  if (typeof options !== 'object' || options === null) throw new ParameterError('options', 'an object', options, context);
  const fractions = checkTextFractions(options.fractions ?? DEFAULT_TEXT_FRACTIONS, context);
  let size: number;
  try {
    size = statSync(path).size;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') {
      throw new DatasetMissingError('text file', path, 'give the path of an existing UTF-8 text file (--data text:<file>)');
    }
    size = 0; // Other failures (permissions, ...) are reported by the checked reader below.
  }
  checkMemory(`text file ${path} (${formatBytes(size)})`, TEXT_BYTES_PER_FILE_BYTE * size);
  const text = readTextChecked(path, { what: 'text file' });
  return { source: `text:${path}`, ...splitTextByPosition(text, fractions, `text file ${path}`) };
}

/** The number of code points of `text` (a lone surrogate counts as one, as in Array.from). */
export function countCodePoints(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++, count++) {
    if (isSurrogatePair(text, i)) i++;
  }
  return count;
}

/** Whether a high surrogate at `i` is followed by a low surrogate (one code point in two units). */
export function isSurrogatePair(text: string, i: number): boolean {
  const unit = text.charCodeAt(i);
  if (unit < 0xd800 || unit > 0xdbff || i + 1 >= text.length) return false;
  const next = text.charCodeAt(i + 1);
  return next >= 0xdc00 && next <= 0xdfff;
}

/** The UTF-16 indices of code points `first` and `second` (first <= second) of `text`. */
function unitIndices(text: string, first: number, second: number): [number, number] {
  let firstUnit = -1;
  let count = 0;
  for (let i = 0; i <= text.length; i++, count++) {
    if (count === first && firstUnit < 0) firstUnit = i;
    if (count === second) return [firstUnit, i];
    if (isSurrogatePair(text, i)) i++;
  }
  return [firstUnit < 0 ? text.length : firstUnit, text.length];
}
