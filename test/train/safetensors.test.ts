import { describe, expect, it } from 'vitest';
import { FormatError, ParameterError } from '../../src/errors.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from '../../src/train/safetensors.js';
import { runPythonJSON } from '../helpers/python.js';

/*
 * The safetensors codec: a round trip, the bytes read by an independent reader (Python's json and
 * numpy, as the format's specification describes them), and malformed files refused with
 * FormatError naming the field.
 */

const tensors: [string, SafetensorsTensor][] = [
  ['layer0.blocks', { dtype: 'F32', shape: [2, 2, 3], data: Float32Array.from({ length: 12 }, (_, i) => i / 4 - 1.5) }],
  ['layer0.rowPtr', { dtype: 'I32', shape: [3], data: Int32Array.of(0, 1, 2) }],
  ['layer0.colIdx', { dtype: 'I32', shape: [2], data: Int32Array.of(1, -7) }],
  ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
];
const metadata = { format: 'blocksparse', blockSize: '32' };

/** A file made by hand: header JSON, its length, and data bytes. */
function file(header: unknown, data = new Uint8Array(0), length?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips F32 and I32 tensors and string metadata, with the header padded to 8 bytes', () => {
    const bytes = encodeSafetensors(tensors, metadata);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    expect(bytes.length).toBe(8 + headerLength + 4 * (12 + 3 + 2));
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual(metadata);
    expect([...back.tensors.keys()]).toEqual(tensors.map(([name]) => name));
    for (const [name, t] of tensors) {
      const got = back.tensors.get(name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(Array.from(got.data)).toEqual(Array.from(t.data));
    }
  });

  it('is read by an independent reader (json and numpy, as the specification describes the format)', () => {
    const bytes = encodeSafetensors(tensors, metadata);
    const read = runPythonJSON<Record<string, unknown>>(
      `import sys, json, struct, numpy as np
b = sys.stdin.buffer.read()
(n,) = struct.unpack('<Q', b[:8])
h = json.loads(b[8:8 + n])
out = {'__metadata__': h.pop('__metadata__')}
for name, e in h.items():
    s, t = e['data_offsets']
    a = np.frombuffer(b[8 + n + s:8 + n + t], dtype={'F32': '<f4', 'I32': '<i4'}[e['dtype']]).reshape(e['shape'])
    out[name] = {'shape': list(a.shape), 'values': a.ravel().tolist()}
print(json.dumps(out))`,
      bytes,
    );
    expect(read.__metadata__).toEqual(metadata);
    for (const [name, t] of tensors) expect(read[name]).toEqual({ shape: [...t.shape], values: Array.from(t.data) });
  });

  it('refuses tensors that do not match their dtype or shape, and names given twice', () => {
    expect(() => encodeSafetensors([['a', { dtype: 'I32', shape: [1], data: new Float32Array(1) as unknown as Int32Array }]])).toThrow(ParameterError);
    expect(() => encodeSafetensors([['a', { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }]])).toThrow(/a.shape/);
    expect(() => encodeSafetensors([['a', tensors[1][1]], ['a', tensors[1][1]]])).toThrow(/given once/);
  });

  it('refuses malformed files with FormatError naming the field', () => {
    const four = new Uint8Array(4);
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(5), 'length'],
      [file('{}', new Uint8Array(0), 1e9), 'length'],
      [file('{not json'), 'header'],
      [file('[1]'), 'header'],
      [file({ a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), 'dtype'],
      [file({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, four), 'shape'],
      [file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, four), 'data_offsets'],
      [file({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 8] } }, four), 'data_offsets'],
      // a gap, an overlap, uncovered bytes
      [file({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), 'data_offsets'],
      [file({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, four), 'data_offsets'],
      [file({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)), 'data_offsets'],
      [file({ __metadata__: { a: 1 } }), '__metadata__'],
    ];
    for (const [bytes, field] of cases) {
      let caught: unknown;
      try {
        decodeSafetensors(bytes);
      } catch (error) {
        caught = error;
      }
      expect(caught, field).toBeInstanceOf(FormatError);
      expect((caught as FormatError).field, (caught as Error).message).toBe(field);
    }
  });
});
