/**
 * A run directory on disk: the names of the files a run writes into it, and opening it for a run
 * (created, locked for one writer, and not taken over from another run unless asked).
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { asFileError } from '../atomic-write.js';
import { checkOneOf } from '../check.js';
import { FileError, ParameterError } from '../errors.js';
import { lockDirectory, LOCK_FILE, type DirectoryLock } from '../lock.js';
import { printable } from '../printable.js';

/** The file names a run writes under its `outDir`. */
export const METRICS_FILE = 'metrics.jsonl';
/** The checkpoint directory's name inside a run directory. */
export const CHECKPOINT_DIR = 'checkpoint';
/** The summary the CLI writes into a run directory. */
export const SUMMARY_FILE = 'summary.json';

/** The names of a run's files in its directory: what marks a directory as holding a run, and what starting over removes. */
const RUN_FILE = /^(checkpoint|checkpoint\.previous|metrics\.jsonl|summary\.json|(l0-)?layout-\d+\.json)$/;
const RUN_MARKERS = new Set([CHECKPOINT_DIR, `${CHECKPOINT_DIR}.previous`, METRICS_FILE, SUMMARY_FILE]);

/**
 * What to do with a run directory that already holds files: `refuse` (FileError), `replace` (start
 * over: the old run's files, checkpoint/, metrics.jsonl, summary.json and layout files, are
 * removed; other files are left alone), or `continue` (the run in it is being resumed).
 */
export type ExistingRun = 'refuse' | 'replace' | 'continue';

/**
 * Creates (if needed) and locks the run directory `dir` for a training run, then applies `existing`
 * to what it holds. The lock (lock file `.blocksparse.lock`, next to checkpoint/, so that the
 * checkpoint's commit renames are not in its way) is held until `release()` or the process exits;
 * a second writer gets a LockError naming the holder's pid. With `refuse`, a directory holding
 * anything but the lock file is refused with a FileError that says whether it holds a run.
 */
export function openRunDirectory(dir: string, existing: ExistingRun = 'refuse'): DirectoryLock {
  if (typeof dir !== 'string' || dir.length === 0) throw new ParameterError('outDir', 'a non-empty path', dir, 'train');
  checkOneOf('existing', existing, ['refuse', 'replace', 'continue'] as const, 'train');
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw asFileError(dir, 'create the directory', error);
  }
  if (!statSync(dir).isDirectory()) throw new FileError(dir, 'not a directory: a run directory is needed');
  const lock = lockDirectory(dir, 'training run');
  try {
    const entries = readdirSync(dir).filter((name) => name !== LOCK_FILE).sort();
    if (existing === 'refuse' && entries.length > 0) {
      const run = entries.filter((name) => RUN_MARKERS.has(name));
      throw new FileError(
        dir,
        run.length > 0
          ? `already holds a training run (${run.join(', ')}): continue it with --resume, or start over with --force (its files are replaced)`
          : `is not empty (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, e.g. "${printable(entries[0])}"): choose a new or empty directory, or give --force to write the run into it`,
      );
    }
    if (existing === 'replace') {
      for (const name of entries) {
        if (!RUN_FILE.test(name)) continue;
        try {
          rmSync(join(dir, name), { recursive: true, force: true });
        } catch (error) {
          throw asFileError(join(dir, name), 'remove (starting the run over)', error);
        }
      }
    }
    return lock;
  } catch (error) {
    lock.release();
    throw error;
  }
}
