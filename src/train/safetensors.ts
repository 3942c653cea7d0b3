import { checkMemory } from '../budget.js';
import { FormatError, ParameterError } from '../errors.js';

/*
 * The safetensors format (Hugging Face's, read by PyTorch through the `safetensors` package and
 * by plain Python with json and numpy): an 8-byte little-endian header length N, N bytes of JSON
 * (padded with spaces to a multiple of 8), then the tensors' bytes, little-endian and C order.
 * The header maps each tensor's name to {dtype, shape, data_offsets: [begin, end)} (offsets into
 * the data after the header) and may hold "__metadata__", a map of strings to strings.
 *
 * Written here: F32 and I32 tensors (block weights, dense weights, a layout's CSR), in the order
 * given, packed without gaps. Read here: F32 and I32, any order, every byte of the data covered
 * by exactly one tensor (as the format requires); anything else raises FormatError naming the
 * field (length, header, dtype, shape, data_offsets, __metadata__).
 */

/** The element types this toolkit writes and reads. */
export type SafetensorsDtype = 'F32' | 'I32';

/** One tensor: its element type, shape and values (row-major). */
export interface SafetensorsTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

/** A safetensors file's contents: tensors by name, and string metadata. */
export interface SafetensorsFile {
  readonly tensors: ReadonlyMap<string, SafetensorsTensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Largest header (bytes) read: the format's own limit is 100 MB; a model's header is kilobytes. */
export const MAX_SAFETENSORS_HEADER = 100_000_000;

const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The bytes of a safetensors file holding `tensors` (written in the order given) and `metadata`. */
export function encodeSafetensors(tensors: Iterable<[string, SafetensorsTensor]>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  const entries = [...tensors];
  if (Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new ParameterError(`metadata.${key}`, 'a string', value, 'encodeSafetensors');
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__' || name in header) throw new ParameterError('name', 'a tensor name given once, not __metadata__', name, 'encodeSafetensors');
    const expected = t.dtype === 'F32' ? Float32Array : Int32Array;
    if (!(t.data instanceof expected)) throw new ParameterError(`${name}.data`, `a ${expected.name} for dtype ${t.dtype}`, t.data?.constructor?.name, 'encodeSafetensors');
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || elementCount(t.shape) !== t.data.length) {
      throw new ParameterError(`${name}.shape`, `non-negative integers whose product is the ${t.data.length} values`, `[${t.shape.join(', ')}]`, 'encodeSafetensors');
    }
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + 4 * t.data.length] };
    offset += 4 * t.data.length;
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(json);
  json += ' '.repeat((8 - (headerBytes.length % 8)) % 8);
  headerBytes = encoder.encode(json);
  checkMemory('a safetensors file', 8 + headerBytes.length + offset);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, t] of entries) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    // Typed arrays are little-endian on every platform Node runs this toolkit on (x86-64, arm64).
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/** Reads a safetensors file's bytes; FormatError naming the field for anything malformed. */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8) throw new FormatError(`a safetensors file starts with an 8-byte header length; this one has ${bytes.length} bytes`, 'length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getBigUint64(0, true);
  if (length > BigInt(Math.min(MAX_SAFETENSORS_HEADER, bytes.length - 8))) {
    throw new FormatError(`the header length ${length} exceeds the file (${bytes.length - 8} bytes after it) or ${MAX_SAFETENSORS_HEADER}`, 'length');
  }
  const headerEnd = 8 + Number(length);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd)));
  } catch (error) {
    throw new FormatError(`the header is not UTF-8 JSON: ${(error as Error).message}`, 'header');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new FormatError('the header is not a JSON object', 'header');
  const dataBytes = bytes.length - headerEnd;
  const metadata: Record<string, string> = Object.create(null);
  const tensors = new Map<string, SafetensorsTensor>();
  const spans: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || Object.values(entry).some((v) => typeof v !== 'string')) {
        throw new FormatError('__metadata__ must map strings to strings', '__metadata__');
      }
      Object.assign(metadata, entry);
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object') throw new FormatError(`tensor ${JSON.stringify(name)}: not an object`, 'header');
    if (e.dtype !== 'F32' && e.dtype !== 'I32') throw new FormatError(`tensor ${JSON.stringify(name)}: dtype ${JSON.stringify(e.dtype)}; this reader takes F32 and I32`, 'dtype');
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new FormatError(`tensor ${JSON.stringify(name)}: shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`, 'shape');
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o)) || !(0 <= offsets[0] && offsets[0] <= offsets[1] && offsets[1] <= dataBytes)) {
      throw new FormatError(`tensor ${JSON.stringify(name)}: data_offsets ${JSON.stringify(offsets)} are not [begin, end] within the ${dataBytes} data bytes`, 'data_offsets');
    }
    const count = elementCount(e.shape as number[]);
    if (offsets[1] - offsets[0] !== 4 * count) {
      throw new FormatError(`tensor ${JSON.stringify(name)}: shape [${(e.shape as number[]).join(', ')}] needs ${4 * count} bytes but data_offsets span ${offsets[1] - offsets[0]}`, 'data_offsets');
    }
    spans.push([offsets[0], offsets[1], name]);
    // Uint8Array's slice copies; a Node Buffer's would be a view into its (possibly pooled) memory.
    const copy = Uint8Array.prototype.slice.call(bytes, headerEnd + offsets[0], headerEnd + offsets[1]);
    const data = e.dtype === 'F32' ? new Float32Array(copy.buffer, 0, count) : new Int32Array(copy.buffer, 0, count);
    tensors.set(name, { dtype: e.dtype, shape: e.shape as number[], data });
  }
  // The data must be covered exactly: no gaps, no overlaps (the format forbids both).
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let end = 0;
  for (const [begin, stop, name] of spans) {
    if (begin !== end) throw new FormatError(`tensor ${JSON.stringify(name)} starts at data byte ${begin}, but the previous data ends at ${end} (a gap or an overlap)`, 'data_offsets');
    end = stop;
  }
  if (end !== dataBytes) throw new FormatError(`the tensors cover ${end} of the ${dataBytes} data bytes`, 'data_offsets');
  return { tensors, metadata: { ...metadata } };
}
