/**
 * The layout JSON format ("blocksparse-layout", version 1): a human-readable file that carries a
 * layout's blocks and its provenance.
 *
 * ```json
 * {
 *   "format": "blocksparse-layout",
 *   "version": 1,
 *   "inBlocks": 4,
 *   "outBlocks": 6,
 *   "blockSize": 32,
 *   "nnz": 5,
 *   "rowPtr": [0, 2, 3, 3, 5],
 *   "colIdx": [0, 3, 1, 2, 5],
 *   "provenance": {
 *     "generator": "union",
 *     "params": {},
 *     "sources": [
 *       {"generator": "watts-strogatz", "params": {"k": 4, "p": 0.1}, "seed": 7},
 *       {"generator": "npy", "params": {"file": "mask.npy"}}
 *     ]
 *   }
 * }
 * ```
 *
 * Fields (all required unless marked optional; no other keys are allowed):
 * - `format`: the string "blocksparse-layout".
 * - `version`: the integer 1. Readers refuse other versions; a change to the fields bumps it.
 * - `inBlocks`, `outBlocks`: integers in [1, 2^31 - 2], the rows (input blocks) and columns
 *   (output blocks) of the block matrix; block (c, k) present means input block c feeds output block k.
 * - `blockSize`: 8, 16 or 32 (a block is blockSize x blockSize weights).
 * - `nnz`: the number of present blocks, an integer in [0, 2^31 - 2].
 * - `rowPtr`: inBlocks + 1 integers, starting at 0, non-decreasing, ending at nnz; row c's blocks are
 *   colIdx[rowPtr[c] .. rowPtr[c+1]).
 * - `colIdx`: nnz integers in [0, outBlocks), strictly increasing within each row: unsorted rows
 *   and repeated blocks are rejected, not repaired (a block's position is its block id, which
 *   indexes the layer's weights, so the order is part of the data).
 * - `provenance`: an object with `generator` (a non-empty string), `params` (an object of any JSON
 *   values), optional `seed` (a number, a string or null) and optional `sources` (an array of
 *   provenances of the layouts this one was made from). Nesting of `sources`, and of values in
 *   `params`, is limited to MAX_JSON_DEPTH (32) levels.
 *
 * Writing is deterministic: equal layouts with equal provenance give the same bytes (keys inside
 * provenance are sorted; numbers are written as JavaScript writes them; arrays of numbers are
 * packed onto lines of at most 100 characters; the text ends with a newline).
 *
 * Reading validates everything and throws FormatError whose `field` names what is wrong: the
 * top-level key (`version`, `nnz`, `rowPtr`, `colIdx` — for an entry of an array the message gives
 * its index), the path inside provenance (`provenance.sources[0].seed`), `json` when the text is not
 * JSON (the message gives line and column) and `document` when it is not an object.
 */
import { checkMemory, MAX_STRING_LENGTH } from '../budget.js';
import { BlocksparseError, FormatError, ParameterError, ResourceError, describeValue } from '../errors.js';
import { checkLayoutMemory, describeLayoutSize } from './memory.js';
import { BLOCK_SIZES, BlockLayout, type BlockSize, type Provenance } from './layout.js';

/** The value of the `format` field. */
export const LAYOUT_FORMAT = 'blocksparse-layout';
/** The version this module writes and the only one it reads. */
export const LAYOUT_JSON_VERSION = 1;
/** Deepest nesting of provenance `sources`, and of values inside `params`. */
export const MAX_JSON_DEPTH = 32;
/** Largest `inBlocks` / `outBlocks` / `nnz` the format allows (Int32Array indices). */
export const MAX_BLOCK_INDEX = 2 ** 31 - 2;

/** Any JSON value. */
export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

/** A provenance as stored in the JSON document. */
export interface ProvenanceJSON {
  generator: string;
  params: { [key: string]: JSONValue };
  seed?: number | string | null;
  sources?: ProvenanceJSON[];
}

/** The JSON document of a layout (see the format description at the top of this module). */
export interface LayoutJSON {
  format: typeof LAYOUT_FORMAT;
  version: typeof LAYOUT_JSON_VERSION;
  inBlocks: number;
  outBlocks: number;
  blockSize: BlockSize;
  nnz: number;
  rowPtr: number[];
  colIdx: number[];
  provenance: ProvenanceJSON;
}

const LAYOUT_KEYS = ['format', 'version', 'inBlocks', 'outBlocks', 'blockSize', 'nnz', 'rowPtr', 'colIdx', 'provenance'] as const;
const PROVENANCE_KEYS = ['generator', 'params', 'seed', 'sources'];
const LINE_WIDTH = 100;

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * The JSON document of `layout` as a plain object (provenance keys sorted, typed arrays in params
 * turned into arrays, undefined-valued keys dropped). Throws ParameterError when the provenance
 * holds something JSON cannot (NaN, functions, class instances, cycles, nesting deeper than MAX_JSON_DEPTH).
 */
export function layoutToJSON(layout: BlockLayout): LayoutJSON {
  if (!(layout instanceof BlockLayout)) throw new ParameterError('layout', 'a BlockLayout', layout);
  // Arrays of JavaScript numbers: about 8 bytes an entry (more than the Int32 arrays they copy).
  checkMemory(`the JSON document of a layout of ${describeLayoutSize(layout.inBlocks, layout.outBlocks, layout.nnz)}`, 8 * (layout.inBlocks + 1 + layout.nnz));
  return {
    format: LAYOUT_FORMAT,
    version: LAYOUT_JSON_VERSION,
    inBlocks: layout.inBlocks,
    outBlocks: layout.outBlocks,
    blockSize: layout.blockSize,
    nnz: layout.nnz,
    rowPtr: Array.from(layout.rowPtr),
    colIdx: Array.from(layout.colIdx),
    provenance: readProvenance(layout.provenance, 'provenance', 0, WRITING),
  };
}

/**
 * The JSON text of `layout`: deterministic, indented, arrays of numbers packed, newline at the end.
 * ResourceError, before anything is built, when the text would be longer than one JavaScript
 * string holds or than the memory budget; `layoutToJSONChunks` (what `saveLayout` writes) has no
 * such limit.
 */
export function layoutToJSONString(layout: BlockLayout): string {
  if (!(layout instanceof BlockLayout)) throw new ParameterError('layout', 'a BlockLayout', layout);
  const length = jsonLengthBound(layout);
  const what = `the JSON text of a layout of ${describeLayoutSize(layout.inBlocks, layout.outBlocks, layout.nnz)}`;
  if (length > MAX_STRING_LENGTH) {
    throw new ResourceError(what, 2 * length, MAX_STRING_LENGTH, `${what} would be up to ${length} characters, more than one JavaScript string holds (${MAX_STRING_LENGTH}); write it in chunks with layoutToJSONChunks or saveLayout`);
  }
  checkMemory(what, 2 * 2 * length);
  return Array.from(layoutToJSONChunks(layout)).join('');
}

/** An upper bound of the length of a layout's JSON text, from its sizes alone (provenance aside). */
function jsonLengthBound(layout: BlockLayout): number {
  const digits = String(Math.max(layout.nnz, layout.outBlocks)).length;
  return 1024 + (layout.inBlocks + 1 + layout.nnz) * (digits + 2) + JSON.stringify(layout.provenance ?? null).length * 2;
}

// Characters gathered into one chunk of layoutToJSONChunks.
const CHUNK_CHARACTERS = 1 << 16;

/**
 * The JSON text of `layout` (the same characters as `layoutToJSONString`) as a sequence of string
 * chunks of at most about 64 Ki characters each, so that a layout with billions of blocks can be
 * written without building one string (or one JavaScript array) of its whole text.
 */
export function* layoutToJSONChunks(layout: BlockLayout): Generator<string> {
  if (!(layout instanceof BlockLayout)) throw new ParameterError('layout', 'a BlockLayout', layout);
  const provenance = readProvenance(layout.provenance, 'provenance', 0, WRITING);
  const indent = '  ';
  const scalars: [string, JSONValue][] = [
    ['format', LAYOUT_FORMAT],
    ['version', LAYOUT_JSON_VERSION],
    ['inBlocks', layout.inBlocks],
    ['outBlocks', layout.outBlocks],
    ['blockSize', layout.blockSize],
    ['nnz', layout.nnz],
  ];
  let head = '{\n';
  for (const [key, value] of scalars) head += `${indent}${JSON.stringify(key)}: ${JSON.stringify(value)},\n`;
  yield head;
  for (const [key, values] of [['rowPtr', layout.rowPtr], ['colIdx', layout.colIdx]] as const) {
    const name = JSON.stringify(key);
    yield `${indent}${name}: `;
    yield* numberArrayChunks(values, indent, indent.length + name.length + 2);
    yield ',\n';
  }
  const out: string[] = [`${indent}"provenance": `];
  formatValue(provenance as unknown as JSONValue, indent, indent.length + '"provenance"'.length + 2, out);
  out.push('\n}\n');
  yield out.join('');
}

/**
 * The text `formatValue` gives an array of integers at `indent` with `used` characters of its
 * line taken, in chunks: inline when it fits the line, else packed lines then the closing bracket.
 */
function* numberArrayChunks(values: Int32Array, indent: string, used: number): Generator<string> {
  // As compactIfFits: "[" + entries joined by ", " + "]" within the line, one character kept for the comma.
  const budget = LINE_WIDTH - used - 1;
  let inlineLength = 2;
  for (let i = 0; i < values.length && inlineLength <= budget; i++) inlineLength += String(values[i]).length + (i > 0 ? 2 : 0);
  if (inlineLength <= budget) {
    yield `[${Array.from(values).join(', ')}]`;
    return;
  }
  // As packPrimitives.
  const inner = indent + '  ';
  let chunk = '[\n';
  let line = inner;
  for (let i = 0; i < values.length; i++) {
    const piece = String(values[i]) + (i + 1 < values.length ? ',' : '');
    if (line.length > inner.length && line.length + 1 + piece.length > LINE_WIDTH) {
      chunk += line + '\n';
      line = inner;
      if (chunk.length >= CHUNK_CHARACTERS) {
        yield chunk;
        chunk = '';
      }
    }
    line += line.length > inner.length ? ' ' + piece : piece;
  }
  yield chunk + line + '\n' + indent + ']';
}

/**
 * Appends the text of `value` at indentation `indent`; `used` characters of its first line are
 * taken already (indent and key), or -1 to force the multi-line form.
 */
function formatValue(value: JSONValue, indent: string, used: number, out: string[]): void {
  if (value === null || typeof value !== 'object') {
    out.push(JSON.stringify(value));
    return;
  }
  // One character is kept for the comma after the value.
  const inline = used < 0 ? null : compactIfFits(value, LINE_WIDTH - used - 1);
  if (inline !== null) {
    out.push(inline);
    return;
  }
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) {
      packPrimitives(value, inner, out);
    } else {
      out.push('[\n');
      value.forEach((v, i) => {
        out.push(inner);
        formatValue(v, inner, inner.length, out);
        out.push(i + 1 < value.length ? ',\n' : '\n');
      });
    }
    out.push(indent, ']');
    return;
  }
  const keys = Object.keys(value);
  out.push('{\n');
  keys.forEach((key, i) => {
    const name = JSON.stringify(key);
    out.push(inner, name, ': ');
    formatValue(value[key], inner, inner.length + name.length + 2, out);
    out.push(i + 1 < keys.length ? ',\n' : '\n');
  });
  out.push(indent, '}');
}

/** "[\n" then the values packed onto lines of at most LINE_WIDTH characters, then "\n" (no closing bracket). */
function packPrimitives(values: JSONValue[], inner: string, out: string[]): void {
  out.push('[\n');
  let line = inner;
  for (let i = 0; i < values.length; i++) {
    const piece = JSON.stringify(values[i]) + (i + 1 < values.length ? ',' : '');
    if (line.length > inner.length && line.length + 1 + piece.length > LINE_WIDTH) {
      out.push(line, '\n');
      line = inner;
    }
    line += line.length > inner.length ? ' ' + piece : piece;
  }
  out.push(line, '\n');
}

/** `value` on one line ("[1, 2]", {"a": 1}) when that takes at most `budget` characters, else null. */
function compactIfFits(value: JSONValue, budget: number): string | null {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    return text.length <= budget ? text : null;
  }
  const parts: string[] = [];
  let used = 2;
  if (Array.isArray(value)) {
    for (const v of value) {
      const text = compactIfFits(v, budget - used);
      if (text === null) return null;
      used += text.length + (parts.length > 0 ? 2 : 0);
      if (used > budget) return null;
      parts.push(text);
    }
    return `[${parts.join(', ')}]`;
  }
  for (const key of Object.keys(value)) {
    const name = JSON.stringify(key);
    used += name.length + 2 + (parts.length > 0 ? 2 : 0);
    if (used > budget) return null;
    const text = compactIfFits(value[key], budget - used);
    if (text === null) return null;
    used += text.length;
    if (used > budget) return null;
    parts.push(`${name}: ${text}`);
  }
  return `{${parts.join(', ')}}`;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Parses the JSON text of a layout; throws FormatError (with `field`) naming what is wrong. */
export function parseLayoutJSON(text: string): BlockLayout {
  if (typeof text !== 'string') throw new ParameterError('text', 'a string', text);
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw jsonSyntaxError(body, error);
  }
  return layoutFromJSON(value);
}

/** A layout from its parsed JSON document; throws FormatError (with `field`) naming what is wrong. */
export function layoutFromJSON(value: unknown): BlockLayout {
  if (!isPlainObject(value)) {
    throw new FormatError(`a layout document must be a JSON object (got ${describeJSON(value)})`, 'document');
  }
  const doc = value as Record<string, unknown>;
  if (!hasOwn(doc, 'format')) throw new FormatError(`missing "format": expected "format": "${LAYOUT_FORMAT}"`, 'format');
  if (doc.format !== LAYOUT_FORMAT) {
    throw new FormatError(`"format" must be "${LAYOUT_FORMAT}" (got ${describeJSON(doc.format)})`, 'format');
  }
  if (!hasOwn(doc, 'version')) throw new FormatError(`missing "version" (this reader supports version ${LAYOUT_JSON_VERSION})`, 'version');
  if (doc.version !== LAYOUT_JSON_VERSION) {
    const what = typeof doc.version === 'number' ? `unsupported version ${doc.version}` : `"version" must be an integer (got ${describeJSON(doc.version)})`;
    throw new FormatError(`${what}; this reader supports version ${LAYOUT_JSON_VERSION}`, 'version');
  }
  for (const key of Object.keys(doc)) {
    if (!(LAYOUT_KEYS as readonly string[]).includes(key)) {
      throw new FormatError(`unknown field ${JSON.stringify(key)}; a version ${LAYOUT_JSON_VERSION} layout has only ${LAYOUT_KEYS.join(', ')}`, key);
    }
  }
  const inBlocks = readCount(doc, 'inBlocks', 1);
  const outBlocks = readCount(doc, 'outBlocks', 1);
  if (!hasOwn(doc, 'blockSize')) throw new FormatError(`missing "blockSize" (one of ${BLOCK_SIZES.join(', ')})`, 'blockSize');
  if (!(BLOCK_SIZES as readonly unknown[]).includes(doc.blockSize)) {
    throw new FormatError(`"blockSize" must be one of ${BLOCK_SIZES.join(', ')} (got ${describeJSON(doc.blockSize)})`, 'blockSize');
  }
  const blockSize = doc.blockSize as BlockSize;
  const nnz = readCount(doc, 'nnz', 0);

  const rowPtrValue = readArray(doc, 'rowPtr');
  if (rowPtrValue.length !== inBlocks + 1) {
    throw new FormatError(`"rowPtr" must have inBlocks + 1 = ${inBlocks + 1} entries (got ${rowPtrValue.length})`, 'rowPtr');
  }
  const colIdxValue = readArray(doc, 'colIdx');

  checkLayoutMemory('a layout read from JSON', inBlocks, outBlocks, Math.min(nnz, colIdxValue.length), 1);
  const rowPtr = new Int32Array(inBlocks + 1);
  for (let c = 0; c <= inBlocks; c++) {
    const x = rowPtrValue[c];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > MAX_BLOCK_INDEX) {
      throw new FormatError(`rowPtr[${c}] must be an integer in [0, ${MAX_BLOCK_INDEX}] (got ${describeJSON(x)})`, 'rowPtr');
    }
    if (c === 0 && x !== 0) throw new FormatError(`rowPtr must start at 0 (got rowPtr[0] = ${x})`, 'rowPtr');
    if (c > 0 && x < rowPtr[c - 1]) {
      throw new FormatError(`rowPtr must be non-decreasing (rowPtr[${c}] = ${x} < rowPtr[${c - 1}] = ${rowPtr[c - 1]})`, 'rowPtr');
    }
    rowPtr[c] = x;
  }
  const end = rowPtr[inBlocks];
  // Blame the field that disagrees with the other two.
  if (end !== nnz && colIdxValue.length === end) {
    throw new FormatError(`"nnz" is ${nnz} but rowPtr ends at ${end} and colIdx has ${end} entries`, 'nnz');
  }
  if (end !== nnz) throw new FormatError(`rowPtr must end at nnz = ${nnz} (got rowPtr[${inBlocks}] = ${end})`, 'rowPtr');
  if (colIdxValue.length !== nnz) throw new FormatError(`"colIdx" must have nnz = ${nnz} entries (got ${colIdxValue.length})`, 'colIdx');

  const colIdx = new Int32Array(nnz);
  for (let c = 0; c < inBlocks; c++) {
    const start = rowPtr[c];
    const stop = rowPtr[c + 1];
    for (let i = start; i < stop; i++) {
      const k = colIdxValue[i];
      if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k >= outBlocks) {
        throw new FormatError(`colIdx[${i}] (row ${c}) must be an integer in [0, ${outBlocks - 1}] (got ${describeJSON(k)})`, 'colIdx');
      }
      colIdx[i] = k;
      if (i > start && k <= colIdx[i - 1]) {
        if (k === colIdx[i - 1]) throw duplicateError(c, k, i - 1, i);
        // Report a repeat anywhere in the row before calling it merely unsorted.
        checkRowForRepeats(colIdxValue, c, start, stop);
        throw new FormatError(
          `colIdx must be sorted ascending within each row; row ${c} has colIdx[${i}] = ${k} after colIdx[${i - 1}] = ${colIdx[i - 1]} (unsorted rows are rejected: the order defines block ids)`,
          'colIdx',
        );
      }
    }
  }

  if (!hasOwn(doc, 'provenance')) throw new FormatError('missing "provenance" (an object with "generator" and "params")', 'provenance');
  const provenance = readProvenance(doc.provenance, 'provenance', 0, READING) as Provenance;
  return BlockLayout.fromCSR({ inBlocks, outBlocks, blockSize, rowPtr, colIdx, provenance });
}

function duplicateError(row: number, col: number, first: number, second: number): FormatError {
  return new FormatError(`duplicate block (row ${row}, column ${col}) at colIdx[${first}] and colIdx[${second}]`, 'colIdx');
}

function checkRowForRepeats(values: unknown[], row: number, start: number, stop: number): void {
  const seen = new Map<number, number>();
  for (let i = start; i < stop; i++) {
    const k = values[i];
    if (typeof k !== 'number' || !Number.isInteger(k)) continue;
    const before = seen.get(k);
    if (before !== undefined) throw duplicateError(row, k, before, i);
    seen.set(k, i);
  }
}

function readCount(doc: Record<string, unknown>, key: string, min: number): number {
  if (!hasOwn(doc, key)) throw new FormatError(`missing "${key}" (an integer in [${min}, ${MAX_BLOCK_INDEX}])`, key);
  const x = doc[key];
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > MAX_BLOCK_INDEX) {
    const what = typeof x === 'number' && Number.isInteger(x) && x < 0 ? 'must not be negative' : `must be an integer in [${min}, ${MAX_BLOCK_INDEX}]`;
    throw new FormatError(`"${key}" ${what} (got ${describeJSON(x)})`, key);
  }
  return x;
}

function readArray(doc: Record<string, unknown>, key: string): unknown[] {
  if (!hasOwn(doc, key)) throw new FormatError(`missing "${key}" (an array of integers)`, key);
  const x = doc[key];
  if (!Array.isArray(x)) throw new FormatError(`"${key}" must be an array of integers (got ${describeJSON(x)})`, key);
  return x;
}

// ---------------------------------------------------------------------------------------------
// Provenance and params: one walker for both directions. Reading accepts exactly JSON values and
// throws FormatError; writing also turns typed arrays into arrays and drops undefined-valued keys
// (as JSON.stringify does), and throws ParameterError (the caller handed us the bad value).

interface Mode {
  writing: boolean;
  /** The error for the value at `path`, which should have been `expected`. */
  fail(path: string, expected: string, value: unknown): BlocksparseError;
}

const READING: Mode = {
  writing: false,
  fail: (path, expected, value) => new FormatError(`${path} must be ${expected} (got ${describeJSON(value)})`, path),
};
const WRITING: Mode = {
  writing: true,
  fail: (path, expected, value) => new ParameterError(`layout.${path}`, expected, describeJSON(value)),
};

function readProvenance(value: unknown, path: string, depth: number, mode: Mode): ProvenanceJSON {
  if (depth > MAX_JSON_DEPTH) throw mode.fail(path, `absent: sources may nest at most ${MAX_JSON_DEPTH} levels deep`, value);
  if (!isPlainObject(value)) throw mode.fail(path, 'an object with "generator" and "params"', value);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!PROVENANCE_KEYS.includes(key)) {
      if (mode.writing && record[key] === undefined) continue;
      throw mode.fail(`${path}.${key}`, `absent: a provenance has only ${PROVENANCE_KEYS.join(', ')} (other data goes in params)`, record[key]);
    }
  }
  const { generator, params, seed, sources } = record;
  if (typeof generator !== 'string' || generator.length === 0) {
    throw mode.fail(`${path}.generator`, 'a non-empty string', generator);
  }
  if (!isPlainObject(params)) throw mode.fail(`${path}.params`, 'an object', params);
  const out: ProvenanceJSON = { generator, params: readJSONValue(params, `${path}.params`, 1, mode) as ProvenanceJSON['params'] };
  const seedGiven = hasOwn(record, 'seed') && !(mode.writing && seed === undefined);
  if (seedGiven) {
    if (!(seed === null || typeof seed === 'string' || (typeof seed === 'number' && Number.isFinite(seed)))) {
      throw mode.fail(`${path}.seed`, 'a finite number, a string or null', seed);
    }
    out.seed = seed;
  }
  const sourcesGiven = hasOwn(record, 'sources') && !(mode.writing && sources === undefined);
  if (sourcesGiven) {
    if (!Array.isArray(sources)) throw mode.fail(`${path}.sources`, 'an array of provenances', sources);
    out.sources = sources.map((s, i) => readProvenance(s, `${path}.sources[${i}]`, depth + 1, mode));
  }
  return out;
}

function readJSONValue(value: unknown, path: string, depth: number, mode: Mode): JSONValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw mode.fail(path, 'a finite number', value);
    return value;
  }
  if (typeof value !== 'object') throw mode.fail(path, 'a JSON value', value);
  if (depth > MAX_JSON_DEPTH) throw mode.fail(path, `absent: params values may nest at most ${MAX_JSON_DEPTH} levels deep`, value);
  if (Array.isArray(value)) return value.map((v, i) => readJSONValue(v, `${path}[${i}]`, depth + 1, mode));
  if (mode.writing && ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const items = Array.from(value as unknown as ArrayLike<number | bigint>);
    return items.map((v, i) => readJSONValue(v, `${path}[${i}]`, depth + 1, mode));
  }
  if (!isPlainObject(value)) throw mode.fail(path, 'a JSON value', value);
  const record = value as Record<string, unknown>;
  const out: { [key: string]: JSONValue } = {};
  const keys = Object.keys(record);
  if (mode.writing) keys.sort();
  for (const key of keys) {
    const v = record[key];
    if (mode.writing && v === undefined) continue;
    // defineProperty, so that a key "__proto__" stays data and never becomes the prototype.
    Object.defineProperty(out, key, {
      value: readJSONValue(v, `${path}.${key}`, depth + 1, mode),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function isPlainObject(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function hasOwn(record: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(record, key);
}

/** A value as a JSON reader would name it: "an object", "a string "abc"", "null". */
function describeJSON(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (isPlainObject(value)) return 'an object';
  if (typeof value === 'string') return `the string ${describeValue(value)}`;
  if (typeof value === 'bigint') return `the bigint ${value}`;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return `an instance of ${value.constructor?.name ?? 'a class'}`;
  return describeValue(value);
}

/** A FormatError for text that JSON.parse rejected, with the line and column of the first error. */
function jsonSyntaxError(text: string, error: unknown): FormatError {
  const found = findJSONSyntaxError(text);
  if (found === null) {
    const reason = error instanceof Error ? error.message : String(error);
    return new FormatError(`not valid JSON: ${reason}`, 'json');
  }
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < found.position; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  const column = found.position - lineStart + 1;
  return new FormatError(`not valid JSON: ${found.problem} at line ${line}, column ${column} (offset ${found.position})`, 'json');
}

// Scanner states: expecting a value, after a value, expecting a property name.
const SCAN_VALUE = 0;
const SCAN_AFTER = 1;
const SCAN_KEY = 2;

/**
 * Where JSON.parse's input first goes wrong, by a small iterative scanner (V8's messages do not
 * always give a position). Returns null when the text is valid JSON.
 */
export function findJSONSyntaxError(text: string): { position: number; problem: string } | null {
  const n = text.length;
  const stack: number[] = []; // 0 = array, 1 = object
  let i = 0;
  let state = SCAN_VALUE;
  const skipSpace = () => {
    while (i < n) {
      const ch = text.charCodeAt(i);
      if (ch !== 32 && ch !== 9 && ch !== 10 && ch !== 13) break;
      i++;
    }
  };
  const fail = (problem: string) => ({ position: i, problem });
  const found = () => (i < n ? `unexpected ${JSON.stringify(text[i])}` : 'unexpected end of input');
  // Returns a problem or null; on success i is just past the string.
  const scanString = (): string | null => {
    i++; // opening quote
    while (i < n) {
      const ch = text.charCodeAt(i);
      if (ch === 34) {
        i++;
        return null;
      }
      if (ch < 32) return 'control character in a string';
      if (ch === 92) {
        const esc = text[i + 1];
        if (esc === undefined) {
          i++;
          return 'unterminated string';
        }
        if (esc === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i += 2;
            return 'bad \\u escape in a string';
          }
          i += 6;
          continue;
        }
        if (!'"\\/bfnrt'.includes(esc)) {
          i++;
          return `bad escape \\${esc} in a string`;
        }
        i += 2;
        continue;
      }
      i++;
    }
    return 'unterminated string';
  };
  const digits = () => {
    const start = i;
    while (i < n && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    return i - start;
  };
  const scanNumber = (): string | null => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else if (digits() === 0) return 'expected a digit';
    if (text[i] === '.') {
      i++;
      if (digits() === 0) return 'expected a digit after the decimal point';
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (digits() === 0) return 'expected a digit in the exponent';
    }
    return null;
  };
  for (;;) {
    skipSpace();
    if (state === SCAN_VALUE) {
      if (i >= n) return fail('unexpected end of input, expected a value');
      const ch = text[i];
      if (ch === '{' || ch === '[') {
        stack.push(ch === '[' ? 0 : 1);
        i++;
        skipSpace();
        if (text[i] === (ch === '[' ? ']' : '}')) {
          stack.pop();
          i++;
          state = SCAN_AFTER;
        } else {
          state = ch === '[' ? SCAN_VALUE : SCAN_KEY;
        }
        continue;
      }
      let problem: string | null;
      if (ch === '"') problem = scanString();
      else if (ch === '-' || (ch >= '0' && ch <= '9')) problem = scanNumber();
      else {
        const word = ['true', 'false', 'null'].find((w) => text.startsWith(w, i));
        if (word === undefined) return fail(`${found()}, expected a value`);
        i += word.length;
        problem = null;
      }
      if (problem !== null) return fail(problem);
      state = SCAN_AFTER;
    } else if (state === SCAN_KEY) {
      if (text[i] !== '"') return fail(`${found()}, expected a property name in double quotes`);
      const problem = scanString();
      if (problem !== null) return fail(problem);
      skipSpace();
      if (text[i] !== ':') return fail(`${found()}, expected ':' after a property name`);
      i++;
      state = SCAN_VALUE;
    } else {
      if (stack.length === 0) return i < n ? fail(`${found()} after the JSON value`) : null;
      const inArray = stack[stack.length - 1] === 0;
      if (text[i] === ',') {
        i++;
        state = inArray ? SCAN_VALUE : SCAN_KEY;
      } else if (text[i] === (inArray ? ']' : '}')) {
        i++;
        stack.pop();
      } else {
        return fail(`${found()}, expected ',' or '${inArray ? ']' : '}'}'`);
      }
    }
  }
}
