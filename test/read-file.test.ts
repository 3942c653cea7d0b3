import { mkdirSync, writeFileSync, truncateSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { checkMemory, formatBytes, parseByteSize, setMemoryBudget, withMemoryBudget, memoryBudget, defaultMemoryBudget } from '../src/budget.js';
import { FileError, FormatError, ParameterError, ResourceError } from '../src/errors.js';
import { gunzipChecked, readFileChecked, readTextChecked } from '../src/read-file.js';
import { tempDir } from './helpers/temp-dir.js';

const dir = tempDir('blocksparse-read-');

describe('memory budget', () => {
  it('parses sizes in binary units and refuses anything else', () => {
    expect(parseByteSize('512M')).toBe(512 * 2 ** 20);
    expect(parseByteSize('8G')).toBe(8 * 2 ** 30);
    expect(parseByteSize('1.5GiB')).toBe(1.5 * 2 ** 30);
    expect(parseByteSize('4096')).toBe(4096);
    expect(parseByteSize('2tb')).toBe(2 * 2 ** 40);
    for (const bad of ['', 'lots', '-1G', '1e9', '8X']) expect(() => parseByteSize(bad)).toThrow(ParameterError);
  });

  it('formats bytes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(3 * 1024)).toBe('3.0 KiB');
    expect(formatBytes(8.8 * 2 ** 30)).toBe('8.8 GiB');
    expect(formatBytes(200 * 2 ** 30)).toBe('200 GiB');
  });

  it('refuses an estimate over the budget with one line naming the input, the estimate and the option', () => {
    withMemoryBudget(2 ** 30, () => {
      checkMemory('small', 2 ** 29);
      const run = () => checkMemory('layout of 1 x 2147483646 blocks: mixing depth', 17.2 * 2 ** 30);
      expect(run).toThrow(ResourceError);
      expect(run).toThrow('layout of 1 x 2147483646 blocks: mixing depth needs about 17 GiB of memory, over the budget of 1.0 GiB (raise it with --max-memory');
      expect(() => checkMemory('x', NaN)).toThrow(ResourceError);
      expect(() => checkMemory('x', Infinity)).toThrow(/an unbounded amount/);
      expect(() => checkMemory('x', 100, { elements: 2 ** 32 + 1 })).toThrow(/more than the 2\^32 one array can hold/);
    });
  });

  it('defaults to half the machine memory and can be set and restored', () => {
    expect(memoryBudget()).toBe(defaultMemoryBudget());
    setMemoryBudget(2 ** 30);
    expect(memoryBudget()).toBe(2 ** 30);
    setMemoryBudget(undefined);
    expect(memoryBudget()).toBe(defaultMemoryBudget());
    expect(() => setMemoryBudget(10)).toThrow(ParameterError);
  });
});

describe('readFileChecked', () => {
  it('reads a regular file whole', () => {
    const path = join(dir, 'a.bin');
    writeFileSync(path, Uint8Array.of(1, 2, 3));
    expect([...readFileChecked(path)]).toEqual([1, 2, 3]);
  });

  it('refuses directories and (unless allowed) FIFOs with a FileError, missing files with their reason', () => {
    mkdirSync(join(dir, 'd'));
    expect(() => readFileChecked(join(dir, 'd'))).toThrow(/cannot read: a directory, not a regular file/);
    const fifo = join(dir, 'fifo');
    const made = spawnSync('mkfifo', [fifo]);
    if (made.status === 0) expect(() => readFileChecked(fifo)).toThrow(/a FIFO, not a regular file/);
    expect(() => readFileChecked(join(dir, 'missing'))).toThrow(/no such file or directory \(ENOENT\)/);
    expect(() => readFileChecked(join(dir, 'missing'))).toThrow(FileError);
  });

  it('refuses a file over 4 GiB (a sparse 5 GiB file) before reading anything, and one over the budget', () => {
    const big = join(dir, 'big.json');
    writeFileSync(big, '');
    truncateSync(big, 5 * 2 ** 30);
    expect(() => readFileChecked(big)).toThrow(ResourceError);
    expect(() => readFileChecked(big)).toThrow(/big\.json is 5\.0 GiB, over the 4\.0 GiB that one buffer can hold/);
    expect(() => readTextChecked(big)).toThrow(/over the limit of 512 MiB \(a text this long cannot be held as one JavaScript string\)/);
    const mid = join(dir, 'mid.bin');
    writeFileSync(mid, '');
    truncateSync(mid, 3 * 2 ** 30);
    withMemoryBudget(2 ** 30, () => expect(() => readFileChecked(mid, { what: 'tensors.bin' })).toThrow(/reading tensors\.bin .*mid\.bin \(3\.0 GiB\) needs about 3\.0 GiB of memory, over the budget of 1\.0 GiB/));
  });

  it('reads text as UTF-8 and refuses invalid bytes with a FormatError', () => {
    const path = join(dir, 't.txt');
    writeFileSync(path, Uint8Array.of(0xff, 0xfe));
    expect(() => readTextChecked(path)).toThrow(FormatError);
    writeFileSync(path, 'héllo');
    expect(readTextChecked(path)).toBe('héllo');
  });
});

describe('gunzipChecked', () => {
  it('inflates within the cap and refuses a bomb with a ResourceError, garbage with a FormatError', () => {
    const bomb = gzipSync(new Uint8Array(64 * 2 ** 20));
    expect(bomb.length).toBeLessThan(2 ** 20);
    expect(gunzipChecked(bomb, 'x', 128 * 2 ** 20).length).toBe(64 * 2 ** 20);
    expect(() => gunzipChecked(bomb, 'images.gz', 2 ** 20)).toThrow(/images\.gz inflates to more than 1\.0 MiB, over the limit for this kind of file/);
    withMemoryBudget(2 ** 20 * 8, () => expect(() => gunzipChecked(bomb, 'images.gz')).toThrow(/over the memory budget \(raise it with --max-memory/));
    expect(() => gunzipChecked(Uint8Array.of(1, 2, 3), 'x')).toThrow(FormatError);
  });
});

describe('the public entry point', () => {
  it('exports the budget, the checked reader, the lock and printable()', async () => {
    const api = await import('../src/index.js');
    expect(api.setMemoryBudget).toBe(setMemoryBudget);
    expect(api.withMemoryBudget(2 ** 20 * 4, () => api.memoryBudget())).toBe(2 ** 22);
    expect(api.readFileChecked).toBe(readFileChecked);
    expect(typeof api.lockDirectory).toBe('function');
    expect(api.printable('\u0007')).toBe('\\x07');
  });
});

describe('readFileChecked with a prefix', () => {
  it('reads the first bytes of a file, the whole of a shorter one, and checks the budget against what it reads', () => {
    const path = join(dir, 'prefix.bin');
    writeFileSync(path, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
    expect([...readFileChecked(path, { prefix: 3 })]).toEqual([1, 2, 3]);
    expect([...readFileChecked(path, { prefix: 100 })]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...readFileChecked(path, { prefix: 0 })]).toEqual([]);
    // 8 bytes are over a 4-byte limit; their first 4 are not.
    expect(() => readFileChecked(path, { maxBytes: 4 })).toThrow(ResourceError);
    expect([...readFileChecked(path, { maxBytes: 4, prefix: 4 })]).toEqual([1, 2, 3, 4]);
  });
});
