/**
 * IDX files, the format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a 4-byte
 * magic (two zero bytes, the element type code, the number of dimensions), one big-endian uint32
 * per dimension, then the elements in C order, big-endian. Files may be gzip-compressed (as the
 * data sets ship); the gzip magic 1f 8b is detected, so a plain file and its .gz read the same.
 *
 * Element types: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
 * Anything malformed raises FormatError with `field` one of gzip, magic, type, dims, data, shape.
 * Sizes come from the header, so they are checked against the memory budget (ResourceError) before
 * anything of that size is allocated; a gzip stream is inflated with its output capped at the size
 * its header declares, so a "gzip bomb" stops there.
 */
import { constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';
import { checkMemory, formatBytes, MAX_BUFFER_BYTES } from '../../budget.js';
import { gunzipChecked, readFileChecked } from '../../read-file.js';
import { checkOneOf } from '../../check.js';
import { FormatError, ParameterError, ResourceError } from '../../errors.js';

/** The element types of IDX files, named as the typed arrays that hold them. */
export type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** The typed array holding the elements of an IDX file (one per IdxType). */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** An n-dimensional array read from (or to write to) an IDX file: elements in C order. */
export interface IdxArray {
  type: IdxType;
  /** Dimension sizes, outermost first (e.g. [60000, 28, 28] for MNIST images). */
  shape: number[];
  /** The elements; possibly a view into a larger buffer (check byteOffset before using `.buffer`). */
  data: IdxData;
}

/** What a caller expects of an IDX file; a mismatch raises FormatError (field `type` or `shape`). */
export interface IdxExpectation {
  /** The element type. */
  type?: IdxType;
  /** The shape: one entry per dimension, a size or null for any size. */
  shape?: readonly (number | null)[];
}

/** Options of `encodeIdx`. */
export interface IdxEncodeOptions {
  /** Gzip the bytes (default false). */
  gzip?: boolean;
}

/** The type code (third magic byte) of each IDX element type. */
export const IDX_TYPE_CODES: Readonly<Record<IdxType, number>> = {
  uint8: 0x08,
  int8: 0x09,
  int16: 0x0b,
  int32: 0x0c,
  float32: 0x0d,
  float64: 0x0e,
};

const IDX_TYPES = Object.keys(IDX_TYPE_CODES) as IdxType[];
const TYPE_BY_CODE = new Map<number, IdxType>(IDX_TYPES.map((type) => [IDX_TYPE_CODES[type], type]));
const ELEMENT_BYTES: Record<IdxType, number> = { uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8 };
const TYPED_ARRAYS = {
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const;

const SUPPORTED_TYPES = IDX_TYPES.map((type) => `0x${hex(IDX_TYPE_CODES[type])} ${type}`).join(', ');

/** Whether `bytes` start with the gzip magic (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** What an IDX header declares: element type, shape, header and data sizes in bytes. */
interface IdxHeader {
  type: IdxType;
  shape: number[];
  count: number;
  dataOffset: number;
  dataBytes: number;
}

// Compressed bytes inflated to read the header of a gzipped file before the whole stream: the
// header is at most 1,024 bytes; 2 KiB of deflate output can inflate to about 2 MiB at most.
const GZIP_HEADER_PREFIX = 2048;
// Inflated bytes allowed past what the header declares before inflating stops.
const TRAILING_SLACK = 2 ** 16;

/**
 * The header of a gzipped IDX file, read by inflating only the start of the stream; undefined
 * when that start does not hold a whole header (unusual gzip header fields, or not IDX at all:
 * decoding the whole stream then says what is wrong).
 */
function peekGzipHeader(bytes: Uint8Array): IdxHeader | undefined {
  let start: Uint8Array;
  try {
    start = gunzipSync(bytes.subarray(0, GZIP_HEADER_PREFIX), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch {
    return undefined;
  }
  try {
    return parseHeader(start, false);
  } catch {
    return undefined;
  }
}

/** The stream inflated, capped at the size its header declares (or the budget when the header cannot be read first). */
function inflateIdx(bytes: Uint8Array, what: string): Uint8Array {
  const header = peekGzipHeader(bytes);
  if (header === undefined) return gunzipChecked(bytes, what);
  const declared = header.dataOffset + header.dataBytes;
  const declaredWhat = `${what} (shape [${header.shape.join(', ')}] of ${header.type}, ${formatBytes(declared)} inflated)`;
  checkMemory(declaredWhat, declared, { elements: header.count });
  if (declared > MAX_BUFFER_BYTES) {
    throw new ResourceError(what, declared, MAX_BUFFER_BYTES, `${declaredWhat} is over the ${formatBytes(MAX_BUFFER_BYTES)} that one buffer can hold`);
  }
  // A little slack past the declared size, so that a few trailing bytes are reported as such (FormatError).
  const cap = declared + TRAILING_SLACK;
  try {
    return gunzipChecked(bytes, what, cap);
  } catch (error) {
    if (error instanceof ResourceError && error.limit === cap) {
      throw new ResourceError(
        what,
        cap + 1,
        cap,
        `${what} inflates past ${formatBytes(cap)}, more than the ${formatBytes(declared)} its header declares (shape [${header.shape.join(', ')}] of ${header.type}): trailing data or a gzip bomb`,
      );
    }
    throw error;
  }
}

/** The magic number and dimensions at the start of `bytes`; with `whole`, also checks that the data that follows has exactly the declared size. */
function parseHeader(bytes: Uint8Array, whole: boolean): IdxHeader {
  if (bytes.length < 4) throw new FormatError(`truncated IDX file: ${bytes.length} bytes, fewer than the 4 of the magic number`, 'magic');
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new FormatError(`bad magic number 0x${[...bytes.subarray(0, 4)].map(hex).join('')}: an IDX file starts with two zero bytes`, 'magic');
  }
  const type = TYPE_BY_CODE.get(bytes[2]);
  if (type === undefined) throw new FormatError(`unsupported IDX element type 0x${hex(bytes[2])}; supported: ${SUPPORTED_TYPES}`, 'type');
  const dims = bytes[3];
  if (dims === 0) throw new FormatError('the magic number declares 0 dimensions; an IDX array has at least 1', 'dims');
  const dataOffset = 4 + 4 * dims;
  if (bytes.length < dataOffset) {
    throw new FormatError(`truncated IDX file: ${dims} dimensions need a ${dataOffset}-byte header but the file has ${bytes.length} bytes`, 'dims');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let d = 0; d < dims; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    shape.push(size);
    count *= size;
  }
  // Exact while it matters: past 2^53 it is far more than any buffer holds, so still "truncated".
  const dataBytes = count * ELEMENT_BYTES[type];
  if (whole) {
    const present = bytes.length - dataOffset;
    if (present < dataBytes) {
      throw new FormatError(
        `truncated IDX data: shape [${shape.join(', ')}] of ${type} needs ${dataBytes} bytes after the header but ${present} follow`,
        'data',
      );
    }
    if (present > dataBytes) {
      throw new FormatError(`${present - dataBytes} trailing bytes after the ${dataBytes} bytes of shape [${shape.join(', ')}] of ${type}`, 'data');
    }
  }
  return { type, shape, count, dataOffset, dataBytes };
}

/**
 * The array in IDX bytes (gzip-compressed or not); throws FormatError (with `field`) naming what is
 * wrong, and ResourceError (naming `what`) when the declared shape does not fit the memory budget or
 * a gzip stream inflates past the size its header declares.
 */
export function decodeIdx(bytes: Uint8Array, expect: IdxExpectation = {}, what = 'IDX data'): IdxArray {
  if (!(bytes instanceof Uint8Array)) throw new ParameterError('bytes', 'a Uint8Array', bytes, 'decodeIdx');
  let owned = false;
  if (isGzip(bytes)) {
    bytes = inflateIdx(bytes, what);
    owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  }
  const { type, shape, count, dataOffset } = parseHeader(bytes, true);
  // Converting to native order copies the elements unless they are bytes this module owns.
  if (!(owned && ELEMENT_BYTES[type] === 1)) checkMemory(`${what} (shape [${shape.join(', ')}] of ${type})`, count * ELEMENT_BYTES[type], { elements: count });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const array: IdxArray = { type, shape, data: readElements(view, dataOffset, type, count, owned) };
  checkExpectation(array, expect);
  return array;
}

/**
 * The array in the IDX file at `path` (gzip or not); FileError if unreadable, FormatError (message
 * starting with the path) if malformed, ResourceError (naming the file) when it, or what its header
 * declares, does not fit the memory budget, or a gzip stream inflates past its declared size.
 */
export function readIdxFile(path: string, expect: IdxExpectation = {}): IdxArray {
  const bytes = readFileChecked(path, { what: 'IDX file' });
  try {
    return decodeIdx(bytes, expect, `IDX file ${path}`);
  } catch (error) {
    if (error instanceof FormatError) throw new FormatError(`${path}: ${error.message}`, error.field);
    throw error;
  }
}

/** IDX bytes (optionally gzipped) for `array`; its data must be the typed array of its type and match its shape. */
export function encodeIdx(array: IdxArray, options: IdxEncodeOptions = {}): Uint8Array {
  const type = checkOneOf('type', array?.type, IDX_TYPES, 'encodeIdx');
  const { shape, data } = array;
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 255 || !shape.every((s) => Number.isInteger(s) && s >= 0 && s <= 0xffffffff)) {
    throw new ParameterError('shape', 'an array of 1 to 255 integers in [0, 2^32 - 1]', shape, 'encodeIdx');
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (!(data instanceof TYPED_ARRAYS[type]) || data.length !== count) {
    throw new ParameterError('data', `a ${TYPED_ARRAYS[type].name} of ${count} elements (the product of the shape)`, data, 'encodeIdx');
  }
  const dataOffset = 4 + 4 * shape.length;
  const out = new Uint8Array(dataOffset + count * ELEMENT_BYTES[type]);
  const view = new DataView(out.buffer);
  out[2] = IDX_TYPE_CODES[type];
  out[3] = shape.length;
  shape.forEach((size, d) => view.setUint32(4 + 4 * d, size, false));
  writeElements(view, dataOffset, type, data);
  return options.gzip ? new Uint8Array(gzipSync(out)) : out;
}

/**
 * Big-endian elements as a native-endian typed array that never aliases the caller's bytes: a copy,
 * or for bytes this module owns (a gunzipped buffer) a view of them.
 */
function readElements(view: DataView, offset: number, type: IdxType, count: number, owned: boolean): IdxData {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, count * ELEMENT_BYTES[type]);
  switch (type) {
    case 'uint8':
      return owned ? bytes : bytes.slice();
    case 'int8':
      return owned ? new Int8Array(bytes.buffer, bytes.byteOffset, count) : new Int8Array(bytes.slice().buffer);
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Native-endian elements written big-endian from `offset`. */
function writeElements(view: DataView, offset: number, type: IdxType, data: IdxData): void {
  const n = data.length;
  switch (type) {
    case 'uint8':
    case 'int8':
      new Uint8Array(view.buffer, offset, n).set(new Uint8Array(data.buffer, data.byteOffset, n));
      return;
    case 'int16':
      for (let i = 0; i < n; i++) view.setInt16(offset + 2 * i, data[i], false);
      return;
    case 'int32':
      for (let i = 0; i < n; i++) view.setInt32(offset + 4 * i, data[i], false);
      return;
    case 'float32':
      for (let i = 0; i < n; i++) view.setFloat32(offset + 4 * i, data[i], false);
      return;
    case 'float64':
      for (let i = 0; i < n; i++) view.setFloat64(offset + 8 * i, data[i], false);
      return;
  }
}

function checkExpectation(array: IdxArray, expect: IdxExpectation): void {
  if (expect.type !== undefined && array.type !== expect.type) {
    throw new FormatError(`element type ${array.type} where ${expect.type} was expected`, 'type');
  }
  const shape = expect.shape;
  if (shape === undefined) return;
  const matches = array.shape.length === shape.length && shape.every((size, d) => size === null || size === array.shape[d]);
  if (!matches) {
    const wanted = shape.map((size) => (size === null ? '*' : String(size))).join(', ');
    throw new FormatError(`dimension mismatch: shape [${array.shape.join(', ')}] where [${wanted}] (${shape.length}-D) was expected`, 'shape');
  }
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
