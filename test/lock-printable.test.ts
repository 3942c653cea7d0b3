import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LockError } from '../src/errors.js';
import { LOCK_FILE, lockDirectory } from '../src/lock.js';
import { oneLine, printable } from '../src/printable.js';
import { tempDir } from './helpers/temp-dir.js';

const root = tempDir('blocksparse-lock-');

describe('lockDirectory', () => {
  it('lets one writer in; a second gets a LockError naming the holder, and may enter after release', () => {
    const dir = join(root, 'run');
    mkdirSync(dir);
    const lock = lockDirectory(dir, 'training run');
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').split('\n')[0]).toBe(String(process.pid));
    let error: unknown;
    try {
      lockDirectory(dir, 'training run');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LockError);
    expect((error as LockError).holder).toBe(process.pid);
    expect((error as Error).message).toBe(`${dir}: this training run is in use by process ${process.pid} (lock file ${LOCK_FILE}; remove it if that process is gone)`);
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lockDirectory(dir).release();
  });

  it('takes over a lock whose holder is gone', () => {
    const dir = join(root, 'stale');
    mkdirSync(dir);
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(child.stdout);
    writeFileSync(join(dir, LOCK_FILE), `${deadPid}\n`);
    const lock = lockDirectory(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').startsWith(`${process.pid}\n`)).toBe(true);
    lock.release();
  });
});

describe('printable', () => {
  it('escapes terminal controls so that file contents cannot drive the terminal', () => {
    expect(printable('a\u001b]0;owned\u0007b\nc\td\u009be\u2028')).toBe('a\\x1b]0;owned\\x07b\\nc\\td\\x9be\\u2028');
    expect(printable('plain text, ünïcode')).toBe('plain text, ünïcode');
  });

  it('folds line breaks into one line', () => {
    expect(oneLine("error: unknown option '--blcks'\n(Did you mean --blocks?)")).toBe("error: unknown option '--blcks' (Did you mean --blocks?)");
    expect(oneLine('bad\u001b[2Jname')).toBe('bad\\x1b[2Jname');
  });
});
