/**
 * A character vocabulary: the distinct characters (Unicode code points, not UTF-16 units) of a
 * corpus's whole text, sorted by code point, so that the same text gives the same indices on every
 * machine. Built from all splits, so encoding any split meets no unknown character. It is stored
 * with a model as a small JSON record ("blocksparse-char-vocabulary", version 1):
 *
 * ```json
 * { "format": "blocksparse-char-vocabulary", "version": 1, "codePoints": [10, 32, 33, 34] }
 * ```
 *
 * `codePoints` holds 1 to 65,536 integers in [0, 0x10FFFF], strictly increasing; index i of the
 * vocabulary is codePoints[i]. No other keys are allowed; reading checks everything.
 */
import { checkMemory } from '../../budget.js';
import { BlocksparseError, FormatError, ParameterError } from '../../errors.js';
import { isSurrogatePair, TEXT_SPLITS, type TextCorpus } from './text-corpus.js';

/** The value of the record's `format` field. */
export const CHAR_VOCABULARY_FORMAT = 'blocksparse-char-vocabulary';
/** The version written, and the only one read. */
export const CHAR_VOCABULARY_VERSION = 1;
/** The most characters a vocabulary holds (indices fit a Uint16Array). */
export const MAX_CHAR_VOCABULARY_SIZE = 65536;
const MAX_CODE_POINT = 0x10ffff;

/** The JSON record of a vocabulary (see the module's description). */
export interface CharVocabularyJSON {
  format: typeof CHAR_VOCABULARY_FORMAT;
  version: typeof CHAR_VOCABULARY_VERSION;
  codePoints: number[];
}

/** Encoded text: one index per character, bytes for up to 256 characters, 16-bit beyond. */
export type EncodedText = Uint8Array | Uint16Array;

/** A text holds a character its vocabulary does not: names the character, its code point and its position (in code points). */
export class UnknownCharacterError extends BlocksparseError {
  readonly character: string;
  readonly codePoint: number;
  readonly position: number;
  constructor(codePoint: number, position: number, size: number) {
    const character = String.fromCodePoint(codePoint);
    const hex = codePoint.toString(16).toUpperCase().padStart(4, '0');
    super('E_UNKNOWN_CHARACTER', `the character ${JSON.stringify(character)} (U+${hex}) at position ${position} is not in the vocabulary of ${size} characters`);
    this.character = character;
    this.codePoint = codePoint;
    this.position = position;
  }
}

/** Calls `visit(codePoint, position)` for each code point of `text` (a lone surrogate is one code point, as in Array.from). */
function forEachCodePoint(text: string, visit: (codePoint: number, position: number) => void): number {
  let position = 0;
  for (let i = 0; i < text.length; i++, position++) {
    if (isSurrogatePair(text, i)) {
      visit(text.codePointAt(i)!, position);
      i++;
    } else {
      visit(text.charCodeAt(i), position);
    }
  }
  return position;
}

/** The distinct characters of a text, sorted by code point, and their indices. */
export class CharVocabulary {
  /** The vocabulary's code points, strictly increasing; index i stands for codePoints[i]. */
  readonly codePoints: readonly number[];
  // Index of each code point below 0x10000 (-1 when absent); astral ones in a Map.
  private readonly basic = new Int32Array(0x10000).fill(-1);
  private readonly astral = new Map<number, number>();

  private constructor(codePoints: readonly number[]) {
    this.codePoints = Object.freeze(codePoints.slice());
    codePoints.forEach((codePoint, index) => {
      if (codePoint < 0x10000) this.basic[codePoint] = index;
      else this.astral.set(codePoint, index);
    });
  }

  /** The vocabulary of the characters of `texts` together. ParameterError when they hold none, or more than 65,536 distinct ones. */
  static fromTexts(texts: readonly string[]): CharVocabulary {
    const context = 'CharVocabulary.fromTexts';
    if (!Array.isArray(texts)) throw new ParameterError('texts', 'an array of strings', texts, context);
    const seen = new Uint8Array(MAX_CODE_POINT + 1);
    texts.forEach((text, i) => {
      if (typeof text !== 'string') throw new ParameterError(`texts[${i}]`, 'a string', text, context);
      forEachCodePoint(text, (codePoint) => {
        seen[codePoint] = 1;
      });
    });
    const codePoints: number[] = [];
    for (let c = 0; c <= MAX_CODE_POINT; c++) if (seen[c]) codePoints.push(c);
    if (codePoints.length === 0) throw new ParameterError('texts', 'texts holding at least one character', '', context);
    if (codePoints.length > MAX_CHAR_VOCABULARY_SIZE) {
      throw new ParameterError('texts', `texts of at most ${MAX_CHAR_VOCABULARY_SIZE} distinct characters`, `${codePoints.length} distinct characters`, context);
    }
    return new CharVocabulary(codePoints);
  }

  /** The vocabulary of a corpus's whole text (train, validation and test together). */
  static fromCorpus(corpus: TextCorpus): CharVocabulary {
    if (typeof corpus !== 'object' || corpus === null) throw new ParameterError('corpus', 'a TextCorpus', corpus, 'CharVocabulary.fromCorpus');
    return CharVocabulary.fromTexts(TEXT_SPLITS.map((split) => corpus[split]));
  }

  /** The vocabulary stored as `record` (`toJSON`'s output, e.g. parsed from a model file); FormatError naming the field when it is malformed. */
  static fromJSON(record: unknown): CharVocabulary {
    const where = 'character vocabulary';
    if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new FormatError(`${where}: not a JSON object`, 'document');
    const fields = record as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      if (!['format', 'version', 'codePoints'].includes(key)) throw new FormatError(`${where}: unknown field ${JSON.stringify(key)}`, key);
    }
    if (fields.format !== CHAR_VOCABULARY_FORMAT) throw new FormatError(`${where}: format must be ${JSON.stringify(CHAR_VOCABULARY_FORMAT)} (got ${JSON.stringify(fields.format)})`, 'format');
    if (fields.version !== CHAR_VOCABULARY_VERSION) throw new FormatError(`${where}: version must be ${CHAR_VOCABULARY_VERSION} (got ${JSON.stringify(fields.version)})`, 'version');
    const codePoints = fields.codePoints;
    if (!Array.isArray(codePoints) || codePoints.length === 0 || codePoints.length > MAX_CHAR_VOCABULARY_SIZE) {
      throw new FormatError(`${where}: codePoints must be an array of 1 to ${MAX_CHAR_VOCABULARY_SIZE} code points`, 'codePoints');
    }
    codePoints.forEach((value, i) => {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_CODE_POINT) {
        throw new FormatError(`${where}: codePoints[${i}] must be an integer in [0, 0x10FFFF] (got ${JSON.stringify(value)})`, 'codePoints');
      }
      if (i > 0 && value <= codePoints[i - 1]) {
        throw new FormatError(`${where}: codePoints must be strictly increasing (codePoints[${i}] = ${value} follows ${codePoints[i - 1]})`, 'codePoints');
      }
    });
    return new CharVocabulary(codePoints as number[]);
  }

  /** The number of characters. */
  get size(): number {
    return this.codePoints.length;
  }

  /** The index of `character` (one code point), or -1 when it is not in the vocabulary. */
  indexOf(character: string): number {
    const codePoint = character.codePointAt(0);
    if (codePoint === undefined || String.fromCodePoint(codePoint) !== character) {
      throw new ParameterError('character', 'a string of exactly one character (code point)', character, 'CharVocabulary.indexOf');
    }
    return this.indexOfCodePoint(codePoint);
  }

  private indexOfCodePoint(codePoint: number): number {
    return codePoint < 0x10000 ? this.basic[codePoint] : (this.astral.get(codePoint) ?? -1);
  }

  /**
   * The indices of `text`'s characters: a Uint8Array when the vocabulary has at most 256
   * characters, a Uint16Array otherwise. UnknownCharacterError naming the first character not in
   * the vocabulary; ResourceError when the result exceeds the memory budget.
   */
  encode(text: string): EncodedText {
    if (typeof text !== 'string') throw new ParameterError('text', 'a string', text, 'CharVocabulary.encode');
    const wide = this.size > 256;
    checkMemory(`encoding a text of ${text.length} characters`, text.length * (wide ? 2 : 1), { elements: text.length });
    const out = wide ? new Uint16Array(text.length) : new Uint8Array(text.length);
    const count = forEachCodePoint(text, (codePoint, position) => {
      const index = this.indexOfCodePoint(codePoint);
      if (index < 0) throw new UnknownCharacterError(codePoint, position, this.size);
      out[position] = index;
    });
    return count === out.length ? out : out.slice(0, count);
  }

  /** The text of `indices` (any integers in [0, size)); ParameterError naming the first bad index. */
  decode(indices: ArrayLike<number>): string {
    const context = 'CharVocabulary.decode';
    if (typeof indices !== 'object' || indices === null || !Number.isInteger(indices.length)) throw new ParameterError('indices', 'an array or typed array of indices', indices, context);
    checkMemory(`decoding ${indices.length} characters`, indices.length * 4);
    const pieces: string[] = [];
    const chunk = 4096;
    for (let start = 0; start < indices.length; start += chunk) {
      const end = Math.min(indices.length, start + chunk);
      const codePoints = new Array<number>(end - start);
      for (let i = start; i < end; i++) {
        const index = indices[i];
        if (!Number.isInteger(index) || index < 0 || index >= this.size) {
          throw new ParameterError(`indices[${i}]`, `an index in [0, ${this.size - 1}]`, index, context);
        }
        codePoints[i - start] = this.codePoints[index];
      }
      pieces.push(String.fromCodePoint(...codePoints));
    }
    return pieces.join('');
  }

  /** The JSON record of this vocabulary (for storing with a model; `fromJSON` reads it back). */
  toJSON(): CharVocabularyJSON {
    return { format: CHAR_VOCABULARY_FORMAT, version: CHAR_VOCABULARY_VERSION, codePoints: this.codePoints.slice() };
  }
}
