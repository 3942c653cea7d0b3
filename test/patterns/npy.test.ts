import { describe, expect, it } from 'vitest';
import { FormatError, ParameterError } from '../../src/errors.js';
import { BlockLayout } from '../../src/patterns/layout.js';
import { layoutFromNpy, layoutToNpy, readNpyHeader } from '../../src/patterns/npy.js';
import { catchError } from '../helpers/expect-error.js';
import { runPythonJSON } from '../helpers/python.js';
import { FAST_TIER } from '../helpers/tier.js';

/** A layout from a row-major 0/1 matrix given as strings ("0110"). */
function fromRows(rows: string[]): BlockLayout {
  const r: number[] = [];
  const c: number[] = [];
  rows.forEach((row, i) => [...row].forEach((ch, k) => ch === '1' && (r.push(i), c.push(k))));
  return BlockLayout.fromPairs({ inBlocks: rows.length, outBlocks: rows[0].length }, r, c);
}

/** The 0/1 matrix of a layout as nested arrays. */
function matrix(layout: BlockLayout): number[][] {
  const mask = layout.toMask();
  return Array.from({ length: layout.inBlocks }, (_, c) => Array.from(mask.subarray(c * layout.outBlocks, (c + 1) * layout.outBlocks)));
}

/** A seeded pseudo-random 0/1 layout (xorshift, so the test needs nothing else). */
function randomLayout(inBlocks: number, outBlocks: number, seed: number): BlockLayout {
  let s = seed >>> 0 || 1;
  const r: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < inBlocks; i++) {
    for (let k = 0; k < outBlocks; k++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      if ((s >>> 0) % 3 === 0) (r.push(i), c.push(k));
    }
  }
  return BlockLayout.fromPairs({ inBlocks, outBlocks }, r, c);
}

const layouts: Record<string, BlockLayout> = {
  'one block': fromRows(['1']),
  'one absent block': fromRows(['0']),
  'wide with empty rows': fromRows(['0000000', '1010011', '0000000']),
  'tall with empty columns': fromRows(['10', '00', '10', '11', '00', '10', '10']),
  'random 13 x 29': randomLayout(13, 29, 7),
  'random 100 x 3': randomLayout(100, 3, 11),
};

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** An .npy file with the given header dict text (NPY 1.0, padded like numpy) followed by `data`. */
function npyWithHeader(dict: string, data: Uint8Array | number[] = [], version = 1): Uint8Array {
  const lengthBytes = version === 1 ? 2 : 4;
  let header = dict;
  const pad = 64 - ((6 + 2 + lengthBytes + header.length + 1) % 64);
  header += ' '.repeat(pad) + '\n';
  const out = new Uint8Array(8 + lengthBytes + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  for (let i = 0; i < lengthBytes; i++) out[8 + i] = (header.length >>> (8 * i)) & 0xff;
  for (let i = 0; i < header.length; i++) out[8 + lengthBytes + i] = header.charCodeAt(i);
  out.set(data, 8 + lengthBytes + header.length);
  return out;
}

describe('layoutToNpy', () => {
  it('writes NPY 1.0, |u1, C order, with the data at a multiple of 64 bytes', () => {
    const bytes = layoutToNpy(layouts['wide with empty rows']);
    const header = readNpyHeader(bytes);
    expect(header).toEqual({ version: [1, 0], descr: '|u1', fortranOrder: false, shape: [3, 7], dataOffset: 128 });
    expect(bytes[header.dataOffset - 1]).toBe(0x0a);
    expect([...bytes.subarray(header.dataOffset)]).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it.each(Object.entries(layouts))('round-trips %s', (_, layout) => {
    const back = layoutFromNpy(layoutToNpy(layout), { blockSize: layout.blockSize });
    expect(back.equals(layout)).toBe(true);
    expect(back.provenance).toEqual({ generator: 'npy', params: {} });
  });

  it('writes what numpy loads as the same uint8 matrix, byte for byte what np.save writes', () => {
    const cases = Object.values(layouts).map((layout) => ({ npy: base64(layoutToNpy(layout)), matrix: matrix(layout) }));
    const results = runPythonJSON<{ dtype: string; shape: number[]; same: boolean; identical: boolean }[]>(
      `
import base64, io, json, sys
import numpy as np
out = []
for case in json.load(sys.stdin):
    raw = base64.b64decode(case['npy'])
    a = np.load(io.BytesIO(raw))
    buf = io.BytesIO()
    np.save(buf, np.array(case['matrix'], dtype=np.uint8))
    out.append({'dtype': str(a.dtype), 'shape': list(a.shape),
                'same': bool(np.array_equal(a, np.array(case['matrix']))), 'identical': buf.getvalue() == raw})
print(json.dumps(out))
`,
      JSON.stringify(cases),
    );
    expect(results).toHaveLength(cases.length);
    results.forEach((result, i) => {
      expect(result).toEqual({ dtype: 'uint8', shape: [cases[i].matrix.length, cases[i].matrix[0].length], same: true, identical: true });
    });
  });
});

// Python runs at collection here: in the fast tier it does not run, and the describe is skipped.
describe.skipIf(FAST_TIER)('layoutFromNpy on files numpy wrote', () => {
  const layout = randomLayout(9, 14, 3);
  const files = FAST_TIER ? {} : runPythonJSON<Record<string, string>>(
    `
import base64, io, json, sys
import numpy as np
m = np.array(json.load(sys.stdin), dtype=np.uint8)
out = {}
def save(name, a, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, a)
    else:
        np.lib.format.write_array(buf, a, version=version)
    out[name] = base64.b64encode(buf.getvalue()).decode()
for dt in ['bool', 'uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'uint64', 'int64', 'float16', 'float32', 'float64',
           '>i2', '>u4', '>i4', '>i8', '>f4', '>f8']:
    save(dt, m.astype(dt))
save('fortran uint8', np.asfortranarray(m))
save('fortran >f8', np.asfortranarray(m.astype('>f8')))
save('fortran bool', np.asfortranarray(m.astype(bool)))
save('version 2.0', m, (2, 0))
save('version 3.0 int32', m.astype(np.int32), (3, 0))
save('transposed view', m.T.T)
print(json.dumps(out))
`,
    JSON.stringify(matrix(layout)),
  );

  it.each(Object.keys(files))('reads %s', (name) => {
    const bytes = fromBase64(files[name]);
    const read = layoutFromNpy(bytes);
    expect(read.equals(layout)).toBe(true);
  });

  it('reads the descr, order and version numpy wrote', () => {
    expect(readNpyHeader(fromBase64(files['>i4'])).descr).toBe('>i4');
    expect(readNpyHeader(fromBase64(files['bool'])).descr).toBe('|b1');
    expect(readNpyHeader(fromBase64(files['fortran uint8'])).fortranOrder).toBe(true);
    expect(readNpyHeader(fromBase64(files['version 2.0'])).version).toEqual([2, 0]);
    expect(readNpyHeader(fromBase64(files['version 3.0 int32'])).version).toEqual([3, 0]);
  });

  it('reads a transposed (Fortran-ordered) array as the transpose', () => {
    const out = runPythonJSON<{ npy: string }>(
      `
import base64, io, json, sys
import numpy as np
m = np.array(json.load(sys.stdin), dtype=np.uint8)
buf = io.BytesIO(); np.save(buf, m.T)
print(json.dumps({'npy': base64.b64encode(buf.getvalue()).decode()}))
`,
      JSON.stringify(matrix(layout)),
    );
    const read = layoutFromNpy(fromBase64(out.npy));
    expect(readNpyHeader(fromBase64(out.npy)).fortranOrder).toBe(true);
    expect([read.inBlocks, read.outBlocks]).toEqual([14, 9]);
    for (let c = 0; c < 9; c++) for (let k = 0; k < 14; k++) expect(read.has(k, c)).toBe(layout.has(c, k));
  });
});

describe.skipIf(FAST_TIER)('layoutFromNpy rejects files numpy wrote that are not layouts', () => {
  const files = FAST_TIER ? {} : runPythonJSON<Record<string, string>>(`
import base64, io, json
import numpy as np
out = {}
def save(name, a):
    buf = io.BytesIO(); np.save(buf, a, allow_pickle=True)
    out[name] = base64.b64encode(buf.getvalue()).decode()
save('complex64', np.ones((2, 2), dtype=np.complex64))
save('object', np.array([[1, None]], dtype=object))
save('unicode', np.array([['1', '0']]))
save('bytes', np.array([[b'1', b'0']]))
save('structured', np.zeros((2, 2), dtype=[('a', '<i4')]))
save('datetime', np.zeros((2, 2), dtype='datetime64[s]'))
save('1-D', np.ones(4, dtype=np.uint8))
save('3-D', np.ones((2, 2, 2), dtype=np.uint8))
save('0-D', np.array(1, dtype=np.uint8))
save('empty', np.zeros((0, 3), dtype=np.uint8))
save('value 2', np.array([[0, 1], [2, 0]], dtype=np.uint8))
save('value -1', np.array([[0, 1], [1, -1]], dtype=np.int32))
save('value 0.5', np.array([[0.5, 1]], dtype=np.float32))
save('NaN', np.array([[0, 1, 1], [1, 1, np.nan]], dtype='>f8'))
save('int64 2**32', np.array([[0, 2**32]], dtype=np.int64))
save('float16 -1', np.array([[1, -1]], dtype=np.float16))
print(json.dumps(out))
`);
  // [file, field, message pattern]
  const expected: [string, string, RegExp][] = [
    ['complex64', 'descr', /unsupported dtype '<c8'; supported: bool/],
    ['object', 'descr', /unsupported dtype '\|O'/],
    ['unicode', 'descr', /unsupported dtype '<U1'/],
    ['bytes', 'descr', /unsupported dtype '\|S1'/],
    ['structured', 'descr', /structured or non-string descr/],
    ['datetime', 'descr', /unsupported dtype '<M8\[s\]'/],
    ['1-D', 'shape', /2-D array \(got shape \(4,\)\)/],
    ['3-D', 'shape', /got shape \(2, 2, 2\)/],
    ['0-D', 'shape', /got shape \(\)/],
    ['empty', 'shape', /shape \(0, 3\): each dimension must be in \[1,/],
    ['value 2', 'data', /value at \(row 1, col 0\) is 2; a layout .npy holds only 0 and 1/],
    ['value -1', 'data', /value at \(row 1, col 1\) is -1;/],
    ['value 0.5', 'data', /value at \(row 0, col 0\) is 0.5;/],
    ['NaN', 'data', /value at \(row 1, col 2\) is NaN;/],
    ['int64 2**32', 'data', /value at \(row 0, col 1\) is 4294967296;/],
    ['float16 -1', 'data', /value at \(row 0, col 1\) is -1;/],
  ];
  it.each(expected)('%s', (name, field, message) => {
    const error = catchError(() => layoutFromNpy(fromBase64(files[name])));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).field).toBe(field);
    expect((error as FormatError).message).toMatch(message);
  });
});

describe('layoutFromNpy rejects malformed files', () => {
  const good = layoutToNpy(fromRows(['10', '01']));
  const u1 = (shape: string) => `{'descr': '|u1', 'fortran_order': False, 'shape': ${shape}, }`;
  const cases: [string, Uint8Array, string, RegExp][] = [
    ['an empty file', new Uint8Array(0), 'magic', /shorter than the magic string/],
    ['a bad magic string', Uint8Array.from(good, (b, i) => (i === 1 ? 0x6e : b)), 'magic', /not the magic string/],
    ['JSON text', new TextEncoder().encode('{"format": "blocksparse-layout"}'), 'magic', /not an .npy file/],
    ['no version bytes', good.subarray(0, 7), 'version', /no version bytes/],
    ['version 4.0', Uint8Array.from(good, (b, i) => (i === 6 ? 4 : b)), 'version', /unsupported .npy version 4.0; this reader supports 1.0, 2.0 and 3.0/],
    ['version 1.1', Uint8Array.from(good, (b, i) => (i === 7 ? 1 : b)), 'version', /version 1.1/],
    ['no header length', good.subarray(0, 9), 'header', /no header length/],
    ['a truncated header', good.subarray(0, 40), 'header', /declares 118 bytes but 30 follow/],
    ['a header that is not a dict', npyWithHeader("('|u1', False, (2, 2))", [1, 0, 0, 1]), 'header', /must be a Python dict literal/],
    ['a header that does not parse', npyWithHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2)", [1, 0, 0, 1]), 'header', /cannot parse the header dict: expected ',' or '}'/],
    ['a header with code in it', npyWithHeader("{'descr': __import__('os'), 'fortran_order': False, 'shape': (2, 2), }"), 'header', /cannot parse the header dict: unexpected "_"/],
    ['a missing key', npyWithHeader("{'descr': '|u1', 'shape': (2, 2), }", [1, 0, 0, 1]), 'header', /exactly the keys .* \(got 'descr', 'shape'\)/],
    ['an extra key', npyWithHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), 'x': 1}", [1, 0, 0, 1]), 'header', /exactly the keys/],
    ['a repeated key', npyWithHeader("{'descr': '|u1', 'descr': '|u1', 'fortran_order': False, 'shape': (2, 2)}", [1, 0, 0, 1]), 'header', /repeated key 'descr'/],
    ['fortran_order 0', npyWithHeader("{'descr': '|u1', 'fortran_order': 0, 'shape': (2, 2), }", [1, 0, 0, 1]), 'fortran_order', /must be True or False \(got 0\)/],
    ['a shape list', npyWithHeader(u1('[2, 2]'), [1, 0, 0, 1]), 'shape', /tuple of integers \(got a list\)/],
    ['a float in the shape', npyWithHeader(u1('(2.0, 2)'), [1, 0, 0, 1]), 'header', /only plain integers/],
    ['a negative dimension', npyWithHeader(u1('(-2, 2)')), 'shape', /each dimension must be in \[1,/],
    ['an unknown dtype', npyWithHeader("{'descr': '<q9', 'fortran_order': False, 'shape': (1, 1), }", [1]), 'descr', /unsupported dtype '<q9'/],
    ['a b2 dtype', npyWithHeader("{'descr': '|b2', 'fortran_order': False, 'shape': (1, 1), }", [1, 0]), 'descr', /unsupported dtype '\|b2'/],
    ['truncated data', good.subarray(0, good.length - 1), 'data', /truncated: shape \(2, 2\) of '\|u1' needs 4 data bytes, the file has 3/],
    ['trailing data', Uint8Array.from([...good, 0]), 'data', /trailing bytes after the array: .* needs 4 data bytes, the file has 5/],
    ['a bool byte of 2', npyWithHeader("{'descr': '|b1', 'fortran_order': False, 'shape': (1, 2), }", [1, 2]), 'data', /\(row 0, col 1\) is the byte 2 \(a bool must be 0 or 1\)/],
  ];
  it.each(cases)('%s', (_, bytes, field, message) => {
    const error = catchError(() => layoutFromNpy(bytes));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).field).toBe(field);
    expect((error as FormatError).message).toMatch(message);
  });

  it('fails fast on a header declaring a huge shape, before allocating it', () => {
    // (1e9, 1e9) uint8 would be 10^18 bytes; and (2^31 - 2)^2 float64 is past 2^53.
    for (const shape of ['(1000000000, 1000000000)', '(2147483646, 2147483646)', '(99999999999999999999999, 1)']) {
      const error = catchError(() => layoutFromNpy(npyWithHeader(u1(shape), [1, 0, 0, 1])));
      expect(error).toBeInstanceOf(FormatError);
      expect((error as FormatError).field).toMatch(/^(data|shape)$/);
    }
    const error = catchError(() => layoutFromNpy(npyWithHeader(u1('(1000000000, 1000000000)'), [1])));
    expect((error as FormatError).message).toMatch(/truncated: shape \(1000000000, 1000000000\) of '\|u1' needs 1000000000000000000 data bytes, the file has 1/);
  });

  it('reads Python 2 style long integers, double quotes and a version 2.0 header', () => {
    const layout = layoutFromNpy(npyWithHeader('{"descr": "<u2", "fortran_order": True, "shape": (2L, 3L)}', [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], 2));
    // Fortran order: the data runs down columns.
    expect(matrix(layout)).toEqual([
      [1, 0, 1],
      [0, 0, 0],
    ]);
  });
});

describe('layoutFromNpy options', () => {
  const bytes = layoutToNpy(fromRows(['11', '01']));
  it('sets the block size and provenance', () => {
    const layout = layoutFromNpy(bytes, { blockSize: 16, provenance: { generator: 'triton', params: { head: 3 } } });
    expect(layout.blockSize).toBe(16);
    expect(layout.provenance).toEqual({ generator: 'triton', params: { head: 3 } });
    expect(layoutFromNpy(bytes).blockSize).toBe(32);
  });

  it('rejects a block size outside 8, 16, 32 and a non-Uint8Array', () => {
    expect(() => layoutFromNpy(bytes, { blockSize: 12 as 8 })).toThrow(ParameterError);
    expect(() => layoutFromNpy([1, 2] as unknown as Uint8Array)).toThrow(ParameterError);
  });

  it('reads from a view into a larger buffer', () => {
    const big = new Uint8Array(bytes.length + 10);
    big.set(bytes, 5);
    expect(layoutFromNpy(big.subarray(5, 5 + bytes.length)).equals(fromRows(['11', '01']))).toBe(true);
  });
});
