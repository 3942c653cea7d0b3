import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FileError, FormatError } from '../../../src/errors.js';
import { decodeIdx, encodeIdx, IDX_TYPE_CODES, isGzip, readIdxFile, type IdxArray, type IdxType } from '../../../src/train/data/idx.js';
import { catchError } from '../../helpers/expect-error.js';
import { runPythonJSON } from '../../helpers/python.js';
import { FAST_TIER } from '../../helpers/tier.js';
import { tempDir } from '../../helpers/temp-dir.js';

const dir = tempDir('blocksparse-idx-');

interface NumpyFile {
  name: string;
  type: IdxType;
  shape: number[];
  gzip: boolean;
  values: number[];
}

// numpy writes IDX files by hand (magic and dimensions with struct, data as big-endian tobytes),
// with each type's extremes among the values, in every shape below, gzipped and not.
// Python runs at collection here: in the fast tier it does not run, and the describe is skipped.
const written = FAST_TIER ? [] : runPythonJSON<NumpyFile[]>(`
import gzip, json, struct, sys
import numpy as np
out = ${JSON.stringify(dir)}
rng = np.random.default_rng(5)
types = {'uint8': (0x08, '>u1'), 'int8': (0x09, '>i1'), 'int16': (0x0B, '>i2'),
         'int32': (0x0C, '>i4'), 'float32': (0x0D, '>f4'), 'float64': (0x0E, '>f8')}
shapes = [[7], [3, 4, 5], [2, 1, 3, 2], [0, 28, 28]]
files = []
for name, (code, dtype) in types.items():
    dt = np.dtype(dtype)
    for si, shape in enumerate(shapes):
        count = int(np.prod(shape))
        if dt.kind == 'f':
            a = (rng.standard_normal(count) * 1000).astype(dt)
            extremes = [np.finfo(dt).max, np.finfo(dt).tiny, -np.finfo(dt).max, 0.0, -1.5]
        else:
            info = np.iinfo(dt)
            a = rng.integers(info.min, int(info.max) + 1, count).astype(dt)
            extremes = [info.min, info.max, 0, 1, -1 if info.min < 0 else 2]
        k = min(count, len(extremes))
        a[:k] = np.array(extremes[:k]).astype(dt)
        a = a.reshape(shape)
        raw = struct.pack('>BBBB', 0, 0, code, len(shape)) + struct.pack('>' + 'I' * len(shape), *shape) + a.tobytes()
        for gz in (False, True):
            fname = f'{name}-{si}' + ('.gz' if gz else '')
            with open(f'{out}/{fname}', 'wb') as f:
                f.write(gzip.compress(raw) if gz else raw)
            files.append({'name': fname, 'type': name, 'shape': shape, 'gzip': gz,
                          'values': [float(v) if dt.kind == 'f' else int(v) for v in a.ravel()]})
print(json.dumps(files))
`);

describe.skipIf(FAST_TIER)('decodeIdx and readIdxFile: files written by numpy', () => {
  it('covers every type, gzipped and not', () => {
    expect(new Set(written.map((f) => f.type))).toEqual(new Set(Object.keys(IDX_TYPE_CODES)));
    expect(written.filter((f) => f.gzip).length).toBe(written.length / 2);
  });

  for (const file of written) {
    it(`${file.name}: ${file.type} [${file.shape.join(', ')}]${file.gzip ? ' gzipped' : ''}`, () => {
      const path = join(dir, file.name);
      expect(isGzip(readFileSync(path))).toBe(file.gzip);
      const array = readIdxFile(path);
      expect(array.type).toBe(file.type);
      expect(array.shape).toEqual(file.shape);
      expect(array.data.constructor.name).toBe(
        { uint8: 'Uint8Array', int8: 'Int8Array', int16: 'Int16Array', int32: 'Int32Array', float32: 'Float32Array', float64: 'Float64Array' }[file.type],
      );
      // float32 values come through JSON as the doubles they equal exactly.
      expect(Array.from(array.data)).toEqual(file.values);
    });
  }

  it('encodeIdx writes the bytes numpy wrote (uncompressed), and gzipped bytes decode back', () => {
    for (const file of written.filter((f) => !f.gzip)) {
      const bytes = readFileSync(join(dir, file.name));
      const array = decodeIdx(bytes);
      expect(Buffer.from(encodeIdx(array)).equals(bytes)).toBe(true);
      const gz = encodeIdx(array, { gzip: true });
      expect(isGzip(gz)).toBe(true);
      expect(Buffer.from(gunzipSync(gz)).equals(bytes)).toBe(true);
      expect(decodeIdx(gz)).toEqual(array);
    }
  });

  it('returns a copy: changing the input bytes afterwards leaves the array alone', () => {
    const bytes = encodeIdx({ type: 'uint8', shape: [3], data: Uint8Array.of(1, 2, 3) });
    const array = decodeIdx(bytes);
    bytes[8] = 99;
    expect(Array.from(array.data)).toEqual([1, 2, 3]);
  });

  it('checks an expected type and shape (null: any size)', () => {
    const bytes = encodeIdx({ type: 'uint8', shape: [2, 28, 28], data: new Uint8Array(2 * 784) });
    expect(decodeIdx(bytes, { type: 'uint8', shape: [null, 28, 28] }).shape).toEqual([2, 28, 28]);
  });
});

describe('decodeIdx: malformed bytes, each error named', () => {
  const valid = encodeIdx({ type: 'int16', shape: [2, 3], data: Int16Array.of(1, -2, 3, -4, 5, -6) });

  function formatError(bytes: Uint8Array | number[], expect_ = {}): FormatError {
    const error = catchError(() => decodeIdx(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes), expect_));
    expect(error).toBeInstanceOf(FormatError);
    return error as FormatError;
  }

  function modified(change: (bytes: Uint8Array) => void): Uint8Array {
    const bytes = valid.slice();
    change(bytes);
    return bytes;
  }

  const cases: [string, Uint8Array | number[], object, string, RegExp][] = [
    ['empty file', [], {}, 'magic', /truncated IDX file: 0 bytes/],
    ['three bytes', [0, 0, 8], {}, 'magic', /fewer than the 4 of the magic/],
    ['nonzero first byte', modified((b) => (b[0] = 1)), {}, 'magic', /bad magic number 0x01000b02/],
    ['a PNG, not IDX', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], {}, 'magic', /bad magic number 0x89504e47/],
    ['type 0x0a', modified((b) => (b[2] = 0x0a)), {}, 'type', /unsupported IDX element type 0x0a; supported: 0x08 uint8, 0x09 int8/],
    ['type 0x00', modified((b) => (b[2] = 0)), {}, 'type', /unsupported IDX element type 0x00/],
    ['zero dimensions', [0, 0, 8, 0], {}, 'dims', /declares 0 dimensions/],
    ['header cut in the dimensions', [0, 0, 8, 3, 0, 0, 0, 1, 0, 0], {}, 'dims', /3 dimensions need a 16-byte header but the file has 10 bytes/],
    ['data cut short', valid.subarray(0, valid.length - 1), {}, 'data', /truncated IDX data: shape \[2, 3\] of int16 needs 12 bytes after the header but 11 follow/],
    ['no data at all', valid.subarray(0, 12), {}, 'data', /needs 12 bytes after the header but 0 follow/],
    ['trailing bytes', Uint8Array.of(...valid, 0, 0, 0), {}, 'data', /3 trailing bytes after the 12 bytes of shape \[2, 3\] of int16/],
    ['a dimension of 2^32 - 1', modified((b) => b.set([0xff, 0xff, 0xff, 0xff], 4)), {}, 'data', /truncated IDX data: shape \[4294967295, 3\]/],
    ['gzip magic then garbage', [0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8], {}, 'gzip', /not a valid gzip stream/],
    ['gzip stream cut in half', gzipSync(valid).subarray(0, 20), {}, 'gzip', /not a valid gzip stream/],
    ['unexpected type', valid, { type: 'uint8' }, 'type', /element type int16 where uint8 was expected/],
    ['unexpected number of dimensions', valid, { shape: [null] }, 'shape', /dimension mismatch: shape \[2, 3\] where \[\*\] \(1-D\) was expected/],
    ['unexpected dimension size', valid, { shape: [2, 4] }, 'shape', /dimension mismatch: shape \[2, 3\] where \[2, 4\]/],
  ];
  for (const [name, bytes, expectation, field, message] of cases) {
    it(`${name}: FormatError on ${field}`, () => {
      const error = formatError(bytes, expectation);
      expect(error.field).toBe(field);
      expect(error.code).toBe('E_FORMAT');
      expect(error.message).toMatch(message);
    });
  }

  it('the same checks apply inside a gzip stream', () => {
    const error = formatError(gzipSync(Uint8Array.of(...valid, 7)));
    expect(error.field).toBe('data');
    expect(error.message).toMatch(/1 trailing bytes/);
  });

  it('readIdxFile puts the path in front of the message; a missing file is a FileError', () => {
    const path = join(dir, 'cut.idx');
    writeFileSync(path, valid.subarray(0, 14));
    const error = catchError(() => readIdxFile(path)) as FormatError;
    expect(error).toBeInstanceOf(FormatError);
    expect(error.field).toBe('data');
    expect(error.message).toBe(`${path}: truncated IDX data: shape [2, 3] of int16 needs 12 bytes after the header but 2 follow`);
    const missing = catchError(() => readIdxFile(join(dir, 'nothing-here.gz'))) as FileError;
    expect(missing).toBeInstanceOf(FileError);
    expect(missing.path).toBe(join(dir, 'nothing-here.gz'));
    expect(missing.message).toMatch(/ENOENT/);
  });
});

describe('encodeIdx: bad input', () => {
  it('names the parameter that is wrong', () => {
    const bad: [Partial<IdxArray>, string][] = [
      [{ type: 'uint16' as IdxType, shape: [1], data: new Uint8Array(1) }, 'type'],
      [{ type: 'uint8', shape: [], data: new Uint8Array(1) }, 'shape'],
      [{ type: 'uint8', shape: [2.5], data: new Uint8Array(1) }, 'shape'],
      [{ type: 'uint8', shape: [2], data: new Uint8Array(3) }, 'data'],
      [{ type: 'int16', shape: [2], data: new Uint8Array(2) }, 'data'],
    ];
    for (const [array, parameter] of bad) {
      expect(catchError(() => encodeIdx(array as IdxArray))).toMatchObject({ parameter });
    }
  });
});
