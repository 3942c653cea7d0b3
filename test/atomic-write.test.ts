import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { asFileError, writeFileAtomic, writeFileAtomicAsync } from '../src/atomic-write.js';
import { FileError, ParameterError, ShapeError } from '../src/errors.js';
import { tempDir } from './helpers/temp-dir.js';

const root = tempDir('blocksparse-atomic-');
let dir: string;
let case_ = 0;

beforeEach(() => {
  dir = join(root, `case-${case_++}`);
  mkdirSync(dir);
});

/** Names in `dir` that look like our temporary files. */
function tempFiles(where = dir): string[] {
  return readdirSync(where).filter((name) => name.endsWith('.tmp'));
}

describe('writeFileAtomic', () => {
  it('creates a file from a string (UTF-8) or bytes', () => {
    writeFileAtomic(join(dir, 'a.txt'), 'héllo\n');
    writeFileAtomic(join(dir, 'b.bin'), Uint8Array.of(0, 1, 2, 255));
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('héllo\n');
    expect([...readFileSync(join(dir, 'b.bin'))]).toEqual([0, 1, 2, 255]);
    expect(readdirSync(dir).sort()).toEqual(['a.txt', 'b.bin']);
  });

  it('replaces the content of an existing file and leaves no temporary file', () => {
    const path = join(dir, 'layout.json');
    writeFileSync(path, 'old content that is longer than the new one');
    writeFileAtomic(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['layout.json']);
  });

  it('writes an iterable of chunks in order', () => {
    const path = join(dir, 'chunks.bin');
    writeFileAtomic(path, ['ab', Uint8Array.of(0x63), '', 'd']);
    expect(readFileSync(path, 'latin1')).toBe('abcd');
  });

  it('keeps the old content when producing the data fails midway, and removes the temporary file', () => {
    const path = join(dir, 'keep.txt');
    writeFileSync(path, 'old');
    function* failing(): Generator<string> {
      yield 'half of the new ';
      throw new ShapeError('boom');
    }
    // The producer's own error comes back unchanged (it is not a file-system failure).
    expect(() => writeFileAtomic(path, failing())).toThrow(ShapeError);
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(tempFiles()).toEqual([]);
  });

  it('rejects chunks that are neither strings nor bytes, keeping the old content', () => {
    const path = join(dir, 'keep.txt');
    writeFileSync(path, 'old');
    expect(() => writeFileAtomic(path, ['ok', 42 as unknown as string])).toThrow(ParameterError);
    expect(() => writeFileAtomic(path, 42 as unknown as string)).toThrow(ParameterError);
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(tempFiles()).toEqual([]);
  });

  it('throws FileError naming the path when the rename fails, and cleans up', () => {
    // A directory cannot be replaced by a file: one appears at the path while the temporary file
    // is written (after the up-front checks), so the rename fails.
    const path = join(dir, 'occupied');
    function* chunks(): Iterable<string> {
      yield 'da';
      mkdirSync(path);
      writeFileSync(join(path, 'inside.txt'), 'untouched');
      yield 'ta';
    }
    let error: unknown;
    try {
      writeFileAtomic(path, chunks());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FileError);
    const fileError = error as FileError;
    expect(fileError.path).toBe(path);
    expect(fileError.code).toBe('E_FILE');
    expect(fileError.message).toContain(path);
    expect(fileError.message).toMatch(/rename .*\(E[A-Z]+\)/);
    expect(statSync(path).isDirectory()).toBe(true);
    expect(readFileSync(join(path, 'inside.txt'), 'utf8')).toBe('untouched');
    expect(tempFiles()).toEqual([]);
  });

  it('throws FileError when the directory does not exist', () => {
    const path = join(dir, 'missing', 'x.json');
    expect(() => writeFileAtomic(path, 'data')).toThrow(FileError);
    expect(() => writeFileAtomic(path, 'data')).toThrow(/x\.json: cannot create a temporary file: no such file or directory \(ENOENT\)/);
  });

  it('rejects an empty path', () => {
    expect(() => writeFileAtomic('', 'x')).toThrow(ParameterError);
  });

  it('keeps the permission bits of the file it replaces', () => {
    const path = join(dir, 'private.json');
    writeFileSync(path, 'old');
    chmodSync(path, 0o640);
    writeFileAtomic(path, 'new');
    expect(statSync(path).mode & 0o777).toBe(0o640);
  });

  it('never writes through a symbolic link at the path: refused, the link and its target untouched', async () => {
    const target = join(dir, 'real.json');
    const link = join(dir, 'link.json');
    writeFileSync(target, 'old');
    symlinkSync(target, link);
    expect(() => writeFileAtomic(link, 'new')).toThrow(/link\.json: refusing to write: it is a symbolic link/);
    await expect(writeFileAtomicAsync(link, 'new')).rejects.toThrow(FileError);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('old');
  });

  it('refuses a read-only target (even as root) and a directory, leaving them as they were', async () => {
    const path = join(dir, 'locked.json');
    writeFileSync(path, 'old');
    chmodSync(path, 0o444);
    expect(() => writeFileAtomic(path, 'new')).toThrow(/locked\.json: refusing to write: the file is read-only/);
    await expect(writeFileAtomicAsync(path, 'new')).rejects.toThrow(FileError);
    expect(readFileSync(path, 'utf8')).toBe('old');
    mkdirSync(join(dir, 'sub'));
    expect(() => writeFileAtomic(join(dir, 'sub'), 'x')).toThrow(/not a regular file/);
    expect(tempFiles()).toEqual([]);
  });

  it('uses a temporary name that fits even for a very long target name', () => {
    const path = join(dir, `${'n'.repeat(240)}.json`);
    writeFileAtomic(path, 'ok');
    expect(readFileSync(path, 'utf8')).toBe('ok');
  });

  it('leaves the old content when the process is killed mid-write', () => {
    const path = join(dir, 'killed.json');
    writeFileSync(path, 'old content');
    const script = join(dir, 'writer.mjs');
    const module = pathToFileURL(resolve('src/atomic-write.ts')).href;
    writeFileSync(
      script,
      `const { writeFileAtomic } = await import(${JSON.stringify(module)});
       function* chunks() { yield 'first half,'; process.kill(process.pid, 'SIGKILL'); yield 'second half'; }
       writeFileAtomic(${JSON.stringify(path)}, chunks());`,
    );
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8' });
    expect(child.signal).toBe('SIGKILL');
    expect(readFileSync(path, 'utf8')).toBe('old content');
    // The killed writer could not clean up: its half-written temporary file is all that is left.
    const left = tempFiles();
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^\.killed\.json\.\d+\.[0-9a-f]{12}\.tmp$/);
    expect(readFileSync(join(dir, left[0]), 'utf8')).toBe('first half,');
  });
});

describe('writeFileAtomicAsync', () => {
  it('writes strings, bytes and async chunks', async () => {
    const path = join(dir, 'a.txt');
    await writeFileAtomicAsync(path, 'one');
    expect(readFileSync(path, 'utf8')).toBe('one');
    async function* chunks(): AsyncGenerator<string | Uint8Array> {
      yield 'tw';
      yield Uint8Array.of(0x6f);
    }
    await writeFileAtomicAsync(path, chunks());
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(readdirSync(dir)).toEqual(['a.txt']);
  });

  it('keeps the old content when an async producer fails midway', async () => {
    const path = join(dir, 'keep.txt');
    writeFileSync(path, 'old');
    async function* failing(): AsyncGenerator<string> {
      yield 'partial';
      throw new Error('producer failed');
    }
    await expect(writeFileAtomicAsync(path, failing())).rejects.toThrow('producer failed');
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(tempFiles()).toEqual([]);
  });

  it('throws FileError when the rename fails, and cleans up', async () => {
    const path = join(dir, 'occupied');
    mkdirSync(path);
    await expect(writeFileAtomicAsync(path, 'data')).rejects.toBeInstanceOf(FileError);
    expect(statSync(path).isDirectory()).toBe(true);
    expect(tempFiles()).toEqual([]);
  });
});

describe('asFileError', () => {
  it('wraps system errors and passes other errors through', () => {
    let system: unknown;
    try {
      readFileSync(join(dir, 'nope'));
    } catch (e) {
      system = e;
    }
    const wrapped = asFileError('nope.json', 'read', system);
    expect(wrapped).toBeInstanceOf(FileError);
    expect(wrapped.message).toBe('nope.json: cannot read: no such file or directory (ENOENT)');
    const plain = new Error('not from the file system');
    expect(asFileError('x', 'read', plain)).toBe(plain);
    const ours = new ShapeError('mismatch');
    expect(asFileError('x', 'read', ours)).toBe(ours);
  });
});
