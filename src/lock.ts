/**
 * One writer per directory: a lock file created with O_EXCL holds the writer's pid. A second
 * writer gets a LockError naming that pid; a lock left by a process that no longer exists (killed)
 * is taken over. Locks are released when the holder calls `release` or exits.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { asFileError } from './atomic-write.js';
import { LockError } from './errors.js';

/** The name of the lock file inside a locked directory. */
export const LOCK_FILE = '.blocksparse.lock';

/** A held lock. */
export interface DirectoryLock {
  /** The lock file's path. */
  readonly path: string;
  /** Removes the lock file (idempotent). */
  release(): void;
}

const held = new Set<string>();
let exitHandlerInstalled = false;

function releaseAllOnExit(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on('exit', () => {
    for (const path of held) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    }
  });
}

/** Whether a process with `pid` exists on this machine (EPERM: it exists but is not ours). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderOf(path: string): { pid: number | undefined; host: string | undefined } {
  try {
    const [pid, host] = readFileSync(path, 'utf8').split('\n');
    const n = Number(pid);
    return { pid: Number.isSafeInteger(n) && n > 0 ? n : undefined, host: host || undefined };
  } catch {
    return { pid: undefined, host: undefined };
  }
}

/**
 * Takes the lock of directory `dir` (which must exist) for `what` (e.g. "training run"). LockError
 * when a live process holds it, naming its pid; FileError when the lock file cannot be created.
 */
export function lockDirectory(dir: string, what = 'directory'): DirectoryLock {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw asFileError(path, 'create the lock file', error);
      const { pid, host } = holderOf(path);
      const here = host === undefined || host === hostname();
      if (pid !== undefined && (!here || alive(pid))) {
        throw new LockError(dir, pid, `this ${what} is in use by process ${pid}${here ? '' : ` on ${host}`} (lock file ${LOCK_FILE}; remove it if that process is gone)`);
      }
      if (pid === undefined && attempt === 0) {
        // Being written by its creator this instant, or left empty by a crash: look once more.
        continue;
      }
      try {
        unlinkSync(path); // stale: its holder is gone
      } catch {
        // Another process took it over first; try again.
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n${hostname()}\n`);
    } finally {
      closeSync(fd);
    }
    held.add(path);
    releaseAllOnExit();
    return {
      path,
      release() {
        if (!held.delete(path)) return;
        try {
          unlinkSync(path);
        } catch {
          // Already gone.
        }
      },
    };
  }
  const { pid } = holderOf(path);
  throw new LockError(dir, pid, `this ${what} is locked (lock file ${LOCK_FILE}${pid ? ` held by process ${pid}` : ''})`);
}
