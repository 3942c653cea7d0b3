import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileError, FormatError, ParameterError } from '../../src/errors.js';
import { layoutFileKind, loadLayout, saveLayout } from '../../src/patterns/files.js';
import { layoutToJSONString } from '../../src/patterns/json-format.js';
import { BlockLayout } from '../../src/patterns/layout.js';
import { layoutToNpy } from '../../src/patterns/npy.js';
import { catchError, expectParameterError } from '../helpers/expect-error.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('blocksparse-files-');

const layout = BlockLayout.fromPairs({ inBlocks: 3, outBlocks: 5, blockSize: 16 }, [0, 0, 2], [1, 4, 0], {
  provenance: { generator: 'hand', params: { note: 'three blocks' }, seed: 1 },
});

describe('layoutFileKind', () => {
  it('goes by the extension, ignoring case', () => {
    expect(layoutFileKind('a/b/layout.json')).toBe('json');
    expect(layoutFileKind('MASK.NPY')).toBe('npy');
    expect(layoutFileKind('x.tar.json')).toBe('json');
  });

  it.each(['layout.txt', 'layout', 'layout.npz', 'json', ''])('rejects %j with ParameterError naming path and the allowed extensions', (path) => {
    const error = expectParameterError(() => layoutFileKind(path), 'path');
    expect(error.message).toMatch(path === '' ? /non-empty/ : /\.json or \.npy/);
  });
});

describe('saveLayout and loadLayout', () => {
  it('round-trips through JSON with block size and provenance', () => {
    const path = join(dir, 'layout.json');
    saveLayout(path, layout);
    expect(readFileSync(path, 'utf8')).toBe(layoutToJSONString(layout));
    const back = loadLayout(path);
    expect(back.equals(layout)).toBe(true);
    expect(back.blockSize).toBe(16);
    expect(back.provenance).toEqual(layout.provenance);
    expect(loadLayout(path, { blockSize: 16 }).equals(layout)).toBe(true);
  });

  it('round-trips through .npy, the block size coming from the caller', () => {
    const path = join(dir, 'layout.npy');
    saveLayout(path, layout);
    expect(new Uint8Array(readFileSync(path))).toEqual(layoutToNpy(layout));
    const back = loadLayout(path, { blockSize: 16 });
    expect(back.equals(layout)).toBe(true);
    expect(back.provenance).toEqual({ generator: 'npy', params: { file: 'layout.npy' } });
    expect(loadLayout(path).blockSize).toBe(32);
  });

  it('overwrites an existing file and leaves no temporary files', () => {
    const sub = join(dir, 'overwrite');
    mkdirSync(sub);
    const path = join(sub, 'l.json');
    writeFileSync(path, 'stale');
    saveLayout(path, layout);
    saveLayout(path, layout.withBlockSize(8));
    expect(loadLayout(path).blockSize).toBe(8);
    expect(readdirSync(sub)).toEqual(['l.json']);
  });

  it('refuses an unknown extension before writing anything', () => {
    const path = join(dir, 'layout.csv');
    expect(() => saveLayout(path, layout)).toThrow(ParameterError);
    expect(existsSync(path)).toBe(false);
    expect(() => loadLayout(path)).toThrow(/path must be a file name ending in .json or .npy/);
  });

  it('refuses a JSON file whose block size differs from the one asked for', () => {
    const path = join(dir, 'bs.json');
    saveLayout(path, layout);
    const error = catchError(() => loadLayout(path, { blockSize: 32 }));
    expect(error).toBeInstanceOf(ParameterError);
    expect((error as ParameterError).message).toContain('block size stored in the file (16)');
    expect(() => loadLayout(path, { blockSize: 12 as 8 })).toThrow(ParameterError);
  });

  it('raises FileError for a missing file or a directory', () => {
    const missing = join(dir, 'missing.json');
    const error = catchError(() => loadLayout(missing));
    expect(error).toBeInstanceOf(FileError);
    expect((error as FileError).path).toBe(missing);
    expect((error as FileError).message).toBe(`${missing}: cannot read: no such file or directory (ENOENT)`);
    const folder = join(dir, 'folder.npy');
    mkdirSync(folder);
    expect(() => loadLayout(folder)).toThrow(FileError);
  });

  it('raises FileError when saving into a missing directory', () => {
    expect(() => saveLayout(join(dir, 'nowhere', 'l.npy'), layout)).toThrow(FileError);
  });

  it('raises FormatError starting with the path, keeping the field, for bad contents', () => {
    const json = join(dir, 'bad.json');
    writeFileSync(json, layoutToJSONString(layout).replace('"version": 1', '"version": 7'));
    const error = catchError(() => loadLayout(json));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).field).toBe('version');
    expect((error as FormatError).message).toBe(`${json}: unsupported version 7; this reader supports version 1`);

    const npy = join(dir, 'bad.npy');
    writeFileSync(npy, layoutToNpy(layout).subarray(0, 130));
    expect(catchError(() => loadLayout(npy))).toMatchObject({ field: 'data', message: expect.stringMatching(/^.*bad\.npy: truncated/) });

    // A .json name on .npy bytes is not valid UTF-8.
    const mislabelled = join(dir, 'really-npy.json');
    writeFileSync(mislabelled, layoutToNpy(layout));
    expect(catchError(() => loadLayout(mislabelled))).toMatchObject({ field: 'json', message: expect.stringMatching(/not valid UTF-8/) });
  });
});
