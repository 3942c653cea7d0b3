/**
 * Layouts as NumPy `.npy` files: the 0/1 block matrix `[inBlocks, outBlocks]`, so that numpy,
 * PyTorch and Triton users can load our layouts (`np.load`) and we can load theirs.
 *
 * Writing gives NPY 1.0, dtype '|u1', C order, byte for byte what `np.save` writes for the same
 * uint8 array. Reading accepts NPY 1.0, 2.0 and 3.0; dtypes bool, (u)int8/16/32/64, float16/32/64
 * in either byte order; C or Fortran order; a 2-D shape of at least 1 x 1; values exactly 0 or 1.
 * Anything else raises FormatError with `field` one of magic, version, header, descr,
 * fortran_order, shape, data.
 */
import { checkMemory, formatBytes, MAX_BUFFER_BYTES, memoryBudget, RAISE_BUDGET } from '../budget.js';
import { checkOneOf } from '../check.js';
import { FormatError, ParameterError, ResourceError } from '../errors.js';
import { checkLayoutMemory, describeLayoutSize } from './memory.js';
import { BLOCK_SIZES, BlockLayout, DEFAULT_BLOCK_SIZE, type BlockSize, type Provenance } from './layout.js';
import { MAX_BLOCK_INDEX } from './json-format.js';

/** The NPY magic string: 0x93 then "NUMPY". */
export const NPY_MAGIC = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59);
/** Largest header (in bytes) this reader parses; numpy itself refuses more than 10000 characters. */
export const MAX_NPY_HEADER = 65536;

/** What the header of an .npy file says. */
export interface NpyHeader {
  /** Format version [major, minor]: [1, 0], [2, 0] or [3, 0]. */
  version: [number, number];
  /** The dtype string, e.g. '<i4', '|b1'. */
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset of the array data. */
  dataOffset: number;
}

/** Options of `layoutFromNpy`. */
export interface NpyReadOptions {
  /** Block size of the layout (the file does not carry one); default 32. */
  blockSize?: BlockSize;
  /** Provenance of the layout; default {generator: 'npy', params: {}}. */
  provenance?: Provenance;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** The NPY 1.0 header (magic, version, length, dict, padding) of a layout's uint8 matrix. */
function npyHeaderBytes(inBlocks: number, outBlocks: number): Uint8Array {
  // As numpy 1.24 writes it: keys sorted, spare spaces so the first axis can grow in place, then
  // spaces and a newline so that the data starts at a multiple of 64 bytes.
  let header = `{'descr': '|u1', 'fortran_order': False, 'shape': (${inBlocks}, ${outBlocks}), }`;
  header += ' '.repeat(Math.max(0, 21 - String(inBlocks).length));
  const headerLength = header.length + 1;
  const padding = 64 - ((NPY_MAGIC.length + 2 + 2 + headerLength) % 64);
  header += ' '.repeat(padding) + '\n';
  const out = new Uint8Array(NPY_MAGIC.length + 4 + header.length);
  out.set(NPY_MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >>> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  return out;
}

/** Bytes of the .npy file of a layout: the header and one byte per block of the inBlocks x outBlocks matrix. */
export function npyFileBytes(layout: BlockLayout): number {
  return npyHeaderBytes(layout.inBlocks, layout.outBlocks).length + layout.inBlocks * layout.outBlocks;
}

/**
 * Checks, before anything is written, that the .npy file of `layout` (one byte per block, present
 * or not) is no larger than it could be read back: the memory budget and the 4 GiB one buffer
 * holds. ResourceError naming `path`, the shape and the size otherwise.
 */
export function checkNpyFileSize(path: string, layout: BlockLayout): void {
  const bytes = npyFileBytes(layout);
  const limit = Math.min(memoryBudget(), MAX_BUFFER_BYTES);
  if (bytes > limit) {
    const why = limit === MAX_BUFFER_BYTES ? 'the most one buffer holds' : `the memory budget (raise it with ${RAISE_BUDGET})`;
    throw new ResourceError(
      path,
      bytes,
      limit,
      `${path}: the .npy of a ${layout.inBlocks} x ${layout.outBlocks}-block layout is a dense matrix of ${formatBytes(bytes)}, over the ${formatBytes(limit)} a layout file can be read back in (${why}); write .json, which holds only the ${layout.nnz} present blocks`,
    );
  }
}

// Bytes of one chunk of the matrix in layoutToNpyChunks.
const NPY_CHUNK = 1 << 20;

/**
 * The layout's .npy bytes (as `layoutToNpy`) as a sequence of chunks of at most 1 MiB: the header,
 * then the row-major 0/1 matrix, so that a large matrix is written in bounded memory.
 */
export function* layoutToNpyChunks(layout: BlockLayout): Generator<Uint8Array> {
  if (!(layout instanceof BlockLayout)) throw new ParameterError('layout', 'a BlockLayout', layout);
  const { inBlocks, outBlocks, rowPtr, colIdx, nnz } = layout;
  yield npyHeaderBytes(inBlocks, outBlocks);
  const total = inBlocks * outBlocks;
  // Blocks in CSR order are in row-major cell order, so one cursor walks them alongside the chunks.
  let b = 0;
  let row = 0;
  for (let start = 0; start < total; start += NPY_CHUNK) {
    const length = Math.min(NPY_CHUNK, total - start);
    const chunk = new Uint8Array(length);
    for (; b < nnz; b++) {
      while (rowPtr[row + 1] <= b) row++;
      const cell = row * outBlocks + colIdx[b];
      if (cell >= start + length) break;
      chunk[cell - start] = 1;
    }
    yield chunk;
  }
}

/** The layout's 0/1 block matrix as NPY 1.0 bytes (dtype '|u1', C order, shape (inBlocks, outBlocks)). */
export function layoutToNpy(layout: BlockLayout): Uint8Array {
  if (!(layout instanceof BlockLayout)) throw new ParameterError('layout', 'a BlockLayout', layout);
  const mask = layout.toMask();
  const header = npyHeaderBytes(layout.inBlocks, layout.outBlocks);
  checkMemory(`the .npy bytes of a layout of ${describeLayoutSize(layout.inBlocks, layout.outBlocks, layout.nnz)}`, header.length + mask.length);
  const out = new Uint8Array(header.length + mask.length);
  out.set(header, 0);
  out.set(mask, header.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** A layout from .npy bytes holding a 2-D 0/1 matrix; throws FormatError (with `field`) naming what is wrong. */
export function layoutFromNpy(bytes: Uint8Array, options: NpyReadOptions = {}): BlockLayout {
  if (!(bytes instanceof Uint8Array)) throw new ParameterError('bytes', 'a Uint8Array', bytes);
  const blockSize = checkOneOf('blockSize', options.blockSize ?? DEFAULT_BLOCK_SIZE, BLOCK_SIZES, 'layoutFromNpy');
  const header = readNpyHeader(bytes);
  const dtype = parseDescr(header.descr);
  if (header.shape.length !== 2) {
    throw new FormatError(`a layout .npy must hold a 2-D array (got shape ${formatShape(header.shape)})`, 'shape');
  }
  const [rows, cols] = header.shape;
  if (rows < 1 || cols < 1 || rows > MAX_BLOCK_INDEX || cols > MAX_BLOCK_INDEX) {
    throw new FormatError(`shape ${formatShape(header.shape)}: each dimension must be in [1, ${MAX_BLOCK_INDEX}]`, 'shape');
  }
  // Check the declared size against the bytes present before allocating anything of that size.
  const available = bytes.length - header.dataOffset;
  const declared = rows * cols * dtype.size;
  if (declared !== available) {
    const what = declared > available ? 'truncated' : 'trailing bytes after the array';
    throw new FormatError(
      `${what}: shape ${formatShape(header.shape)} of '${header.descr}' needs ${declared} data bytes, the file has ${available}`,
      'data',
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + header.dataOffset, available);
  const read = elementReader(dtype, view, bytes.subarray(header.dataOffset));
  const fortran = header.fortranOrder;
  // rowPtr now; colIdx (at most one entry per cell) after counting.
  checkLayoutMemory('a layout read from .npy', rows, cols, 0, 1);
  // Two passes over the values in row-major order: count and check, then fill.
  const rowPtr = new Int32Array(rows + 1);
  let nnz = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const index = fortran ? c * rows + r : r * cols + c;
      const flag = read(index);
      if (flag < 0) {
        throw new FormatError(
          `value at (row ${r}, col ${c}) is ${describeElement(dtype, view, index)}; a layout .npy holds only 0 and 1`,
          'data',
        );
      }
      nnz += flag;
    }
    rowPtr[r + 1] = nnz;
  }
  if (nnz > MAX_BLOCK_INDEX) throw new FormatError(`${nnz} present blocks is more than a layout holds (${MAX_BLOCK_INDEX})`, 'data');
  checkLayoutMemory('a layout read from .npy', rows, cols, nnz, 1);
  const colIdx = new Int32Array(nnz);
  let w = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (read(fortran ? c * rows + r : r * cols + c) === 1) colIdx[w++] = c;
    }
  }
  const provenance = options.provenance ?? { generator: 'npy', params: {} };
  return BlockLayout.fromCSR({ inBlocks: rows, outBlocks: cols, blockSize, rowPtr, colIdx, provenance });
}

/** The parsed header of .npy bytes; throws FormatError for a bad magic, version or header dict. */
export function readNpyHeader(bytes: Uint8Array): NpyHeader {
  if (!(bytes instanceof Uint8Array)) throw new ParameterError('bytes', 'a Uint8Array', bytes);
  for (let i = 0; i < NPY_MAGIC.length; i++) {
    if (bytes[i] !== NPY_MAGIC[i]) {
      throw new FormatError(
        bytes.length < NPY_MAGIC.length && i === bytes.length
          ? `not an .npy file: ${bytes.length} bytes, shorter than the magic string`
          : 'not an .npy file: the first bytes are not the magic string "\\x93NUMPY"',
        'magic',
      );
    }
  }
  if (bytes.length < 8) throw new FormatError('truncated .npy file: no version bytes after the magic string', 'version');
  const major = bytes[6];
  const minor = bytes[7];
  if (!(major === 1 || major === 2 || major === 3) || minor !== 0) {
    throw new FormatError(`unsupported .npy version ${major}.${minor}; this reader supports 1.0, 2.0 and 3.0`, 'version');
  }
  const lengthBytes = major === 1 ? 2 : 4;
  const headerStart = 8 + lengthBytes;
  if (bytes.length < headerStart) throw new FormatError('truncated .npy file: no header length', 'header');
  let headerLength = 0;
  for (let i = lengthBytes - 1; i >= 0; i--) headerLength = headerLength * 256 + bytes[8 + i];
  if (headerLength > MAX_NPY_HEADER) {
    throw new FormatError(`header length ${headerLength} is more than this reader accepts (${MAX_NPY_HEADER})`, 'header');
  }
  const dataOffset = headerStart + headerLength;
  if (dataOffset > bytes.length) {
    throw new FormatError(`truncated .npy file: the header declares ${headerLength} bytes but ${bytes.length - headerStart} follow`, 'header');
  }
  // The header is ASCII in practice (latin1 for 1.0/2.0, UTF-8 for 3.0); any other byte is a parse error anyway.
  let text = '';
  for (let i = headerStart; i < dataOffset; i++) text += String.fromCharCode(bytes[i]);
  const dict = parseHeaderDict(text);
  return { version: [major, minor], ...dict, dataOffset };
}

// ---------------------------------------------------------------------------------------------
// The header dict: a Python literal like {'descr': '<i4', 'fortran_order': False, 'shape': (3, 4), }

type PyValue = string | boolean | null | number | PyValue[] | { tuple: PyValue[] } | Map<string, PyValue>;

const MAX_LITERAL_DEPTH = 8;

function parseHeaderDict(text: string): Pick<NpyHeader, 'descr' | 'fortranOrder' | 'shape'> {
  const parser = new LiteralParser(text);
  const value = parser.parseValue(0);
  parser.skipSpace();
  if (parser.pos < text.length) parser.fail('unexpected text after the header dict');
  if (!(value instanceof Map)) throw new FormatError(`the header must be a Python dict literal (got ${JSON.stringify(text.slice(0, 60))})`, 'header');
  const keys = [...value.keys()].sort();
  if (keys.length !== 3 || keys[0] !== 'descr' || keys[1] !== 'fortran_order' || keys[2] !== 'shape') {
    throw new FormatError(`the header dict must have exactly the keys 'descr', 'fortran_order', 'shape' (got ${keys.map((k) => `'${k}'`).join(', ')})`, 'header');
  }
  const descr = value.get('descr');
  if (typeof descr !== 'string') {
    throw new FormatError(`unsupported dtype: structured or non-string descr ${describePy(descr)}; ${SUPPORTED_DTYPES}`, 'descr');
  }
  const fortranOrder = value.get('fortran_order');
  if (typeof fortranOrder !== 'boolean') {
    throw new FormatError(`'fortran_order' must be True or False (got ${describePy(fortranOrder)})`, 'fortran_order');
  }
  const shape = value.get('shape');
  if (!isTuple(shape) || !shape.tuple.every((d) => typeof d === 'number')) {
    throw new FormatError(`'shape' must be a tuple of integers (got ${describePy(shape)})`, 'shape');
  }
  return { descr, fortranOrder, shape: shape.tuple as number[] };
}

function isTuple(value: PyValue | undefined): value is { tuple: PyValue[] } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Map);
}

function describePy(value: PyValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'string') return `'${value.slice(0, 40)}'`;
  if (typeof value === 'number') return String(value);
  if (value instanceof Map) return 'a dict';
  if (Array.isArray(value)) return 'a list';
  return `a tuple of ${value.tuple.length}`;
}

/** Recursive descent over the few Python literals a header can hold: dict, tuple, list, str, int, bool, None. */
class LiteralParser {
  pos = 0;
  constructor(private readonly text: string) {}

  fail(problem: string): never {
    throw new FormatError(`cannot parse the header dict: ${problem} at character ${this.pos}`, 'header');
  }

  skipSpace(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos])) this.pos++;
  }

  parseValue(depth: number): PyValue {
    if (depth > MAX_LITERAL_DEPTH) this.fail('nesting too deep');
    this.skipSpace();
    const ch = this.text[this.pos];
    if (ch === undefined) this.fail('unexpected end');
    if (ch === '{') return this.parseDict(depth);
    if (ch === '(') {
      const items = this.parseSequence(')', depth);
      // (x) without a comma is just x in Python.
      return items.single ? items.values[0] : { tuple: items.values };
    }
    if (ch === '[') return this.parseSequence(']', depth).values;
    if (ch === "'" || ch === '"') return this.parseString();
    if (ch === '-' || (ch >= '0' && ch <= '9')) return this.parseInteger();
    for (const [word, value] of [['True', true], ['False', false], ['None', null]] as const) {
      if (this.text.startsWith(word, this.pos) && !/[A-Za-z0-9_]/.test(this.text[this.pos + word.length] ?? '')) {
        this.pos += word.length;
        return value;
      }
    }
    return this.fail(`unexpected ${JSON.stringify(ch)}`);
  }

  private parseDict(depth: number): Map<string, PyValue> {
    this.pos++;
    const dict = new Map<string, PyValue>();
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return dict;
      }
      const key = this.parseValue(depth + 1);
      if (typeof key !== 'string') this.fail('dict keys must be strings');
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      if (dict.has(key)) this.fail(`repeated key '${key}'`);
      dict.set(key, this.parseValue(depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== '}') this.fail("expected ',' or '}'");
    }
  }

  private parseSequence(close: string, depth: number): { values: PyValue[]; single: boolean } {
    this.pos++;
    const values: PyValue[] = [];
    let sawComma = false;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) {
        this.pos++;
        return { values, single: values.length === 1 && !sawComma };
      }
      values.push(this.parseValue(depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ',') {
        this.pos++;
        sawComma = true;
      } else if (this.text[this.pos] !== close) this.fail(`expected ',' or '${close}'`);
    }
  }

  private parseString(): string {
    const quote = this.text[this.pos++];
    const start = this.pos;
    while (this.pos < this.text.length && this.text[this.pos] !== quote) {
      const ch = this.text[this.pos];
      if (ch === '\\' || ch === '\n') this.fail('escapes and line breaks in strings are not supported');
      this.pos++;
    }
    if (this.pos >= this.text.length) this.fail('unterminated string');
    return this.text.slice(start, this.pos++);
  }

  private parseInteger(): number {
    const match = /^-?[0-9]+L?/.exec(this.text.slice(this.pos, this.pos + 40));
    if (match === null) return this.fail('expected an integer');
    this.pos += match[0].length;
    if (/^[0-9.eEjJxXoObB_]/.test(this.text[this.pos] ?? '')) this.fail('only plain integers are supported');
    const digits = match[0].replace('L', '');
    // Anything past 2^53 is far beyond any shape we accept; keep it as a large number for the message.
    return Number(digits);
  }
}

// ---------------------------------------------------------------------------------------------
// Dtypes

interface Dtype {
  kind: 'b' | 'u' | 'i' | 'f';
  size: number;
  littleEndian: boolean;
}

const SUPPORTED_DTYPES = 'supported: bool (b1), u1/i1, u2/i2, u4/i4, u8/i8, f2/f4/f8 with byte order <, > or |';

function parseDescr(descr: string): Dtype {
  const match = /^([<>|=]?)([biuf])([1248])$/.exec(descr);
  const bad = () => new FormatError(`unsupported dtype '${descr.slice(0, 40)}'; ${SUPPORTED_DTYPES}`, 'descr');
  if (match === null) throw bad();
  const kind = match[2] as Dtype['kind'];
  const size = Number(match[3]);
  if ((kind === 'b' && size !== 1) || (kind === 'f' && size === 1)) throw bad();
  return { kind, size, littleEndian: match[1] !== '>' };
}

/** A function from element index to 1, 0, or -1 for a value that is neither. */
function elementReader(dtype: Dtype, view: DataView, data: Uint8Array): (index: number) => number {
  const le = dtype.littleEndian;
  switch (dtype.kind === 'f' ? `f${dtype.size}` : `i${dtype.size}`) {
    case 'i1':
      return (i) => (data[i] <= 1 ? data[i] : -1);
    case 'i2':
      return (i) => {
        const v = view.getUint16(2 * i, le);
        return v <= 1 ? v : -1;
      };
    case 'i4':
      return (i) => {
        const v = view.getUint32(4 * i, le);
        return v <= 1 ? v : -1;
      };
    case 'i8':
      return (i) => {
        const lo = view.getUint32(8 * i + (le ? 0 : 4), le);
        const hi = view.getUint32(8 * i + (le ? 4 : 0), le);
        return hi === 0 && lo <= 1 ? lo : -1;
      };
    case 'f2':
      return (i) => {
        const v = view.getUint16(2 * i, le);
        return v === 0 || v === 0x8000 ? 0 : v === 0x3c00 ? 1 : -1;
      };
    case 'f4':
      return (i) => {
        const v = view.getFloat32(4 * i, le);
        return v === 0 ? 0 : v === 1 ? 1 : -1;
      };
    default:
      return (i) => {
        const v = view.getFloat64(8 * i, le);
        return v === 0 ? 0 : v === 1 ? 1 : -1;
      };
  }
}

/** The value of element `index` as numpy would print it (for error messages only). */
function describeElement(dtype: Dtype, view: DataView, index: number): string {
  const le = dtype.littleEndian;
  const offset = index * dtype.size;
  if (dtype.kind === 'b') return `the byte ${view.getUint8(offset)} (a bool must be 0 or 1)`;
  if (dtype.kind === 'f') {
    if (dtype.size === 2) return String(halfToNumber(view.getUint16(offset, le)));
    return String(dtype.size === 4 ? view.getFloat32(offset, le) : view.getFloat64(offset, le));
  }
  const signed = dtype.kind === 'i';
  switch (dtype.size) {
    case 1:
      return String(signed ? view.getInt8(offset) : view.getUint8(offset));
    case 2:
      return String(signed ? view.getInt16(offset, le) : view.getUint16(offset, le));
    case 4:
      return String(signed ? view.getInt32(offset, le) : view.getUint32(offset, le));
    default:
      return String(signed ? view.getBigInt64(offset, le) : view.getBigUint64(offset, le));
  }
}

function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function formatShape(shape: number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}
