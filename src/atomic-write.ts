import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  openSync,
  renameSync,
  lstatSync,
  type Stats,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BlocksparseError, FileError, ParameterError } from './errors.js';

/**
 * What `writeFileAtomic` writes: a string (as UTF-8), bytes, or chunks of either (so a large file,
 * e.g. a checkpoint, can be streamed without first concatenating it in memory).
 */
export type AtomicData = string | Uint8Array | Iterable<string | Uint8Array>;

/** As `AtomicData`, also accepting an async iterable of chunks (for `writeFileAtomicAsync`). */
export type AtomicDataAsync = AtomicData | AsyncIterable<string | Uint8Array>;

// Longest piece of the target's name kept in the temporary name, so that the temporary name
// stays under the usual 255-byte limit for a file name.
const MAX_NAME_IN_TEMP = 180;

/**
 * Writes `data` to `path` so that `path` holds either its old content or all of `data`, never a
 * part: writes a temporary file next to it, fsyncs it, renames it over `path`, fsyncs the directory.
 * Throws FileError (naming `path` and the reason) when the file system fails, after removing the
 * temporary file; an error thrown while producing the chunks is rethrown as is, after the same
 * cleanup. Refused up front with a FileError: a symbolic link at `path` (it is never followed, so a
 * link planted there cannot redirect the write), a directory or other non-regular file, and a file
 * without write permission (mode 0444; refused even for root, as `rm -i` asks). An existing file's
 * permission bits are kept. A process killed mid-write leaves the target intact but may leave
 * its `.<name>.<pid>.<random>.tmp` file behind.
 */
export function writeFileAtomic(path: string, data: AtomicData): void {
  checkPath(path);
  const target = resolve(path);
  const mode = existingMode(path, lstatOrUndefined(target));
  const temp = tempPathFor(target);
  let fd: number | undefined;
  let stage = 'create a temporary file';
  try {
    fd = openSync(temp, 'wx', 0o666);
    if (mode !== undefined) {
      stage = 'set permissions on the temporary file';
      fchmodSync(fd, mode);
    }
    for (const chunk of chunksOf(data)) {
      stage = 'write';
      writeAll(fd, chunk);
    }
    stage = 'flush (fsync)';
    fsyncSync(fd);
    stage = 'close';
    closeSync(fd);
    fd = undefined;
    stage = 'rename the temporary file over the target';
    renameSync(temp, target);
  } catch (error) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // Already failing; the original error is the one to report.
      }
    }
    try {
      unlinkSync(temp);
    } catch {
      // Not created, or already renamed.
    }
    throw asFileError(path, stage, error);
  }
  syncDirectory(dirname(target));
}

/** The async form of `writeFileAtomic`, with the same guarantees; also takes an async iterable. */
export async function writeFileAtomicAsync(path: string, data: AtomicDataAsync): Promise<void> {
  checkPath(path);
  const target = resolve(path);
  const mode = existingMode(path, await lstat(target).catch(() => undefined));
  const temp = tempPathFor(target);
  let handle: FileHandle | undefined;
  let stage = 'create a temporary file';
  try {
    handle = await open(temp, 'wx', 0o666);
    if (mode !== undefined) {
      stage = 'set permissions on the temporary file';
      await handle.chmod(mode);
    }
    const chunks = isAsyncIterable(data) ? data : chunksOf(data);
    for await (const chunk of chunks) {
      stage = 'write';
      const bytes = toBytes(chunk);
      let offset = 0;
      while (offset < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
        offset += bytesWritten;
      }
    }
    stage = 'flush (fsync)';
    await handle.sync();
    stage = 'close';
    await handle.close();
    handle = undefined;
    stage = 'rename the temporary file over the target';
    await rename(temp, target);
  } catch (error) {
    if (handle !== undefined) {
      try {
        await handle.close();
      } catch {
        // Already failing.
      }
    }
    try {
      await unlink(temp);
    } catch {
      // Not created, or already renamed.
    }
    throw asFileError(path, stage, error);
  }
  syncDirectory(dirname(target));
}

/**
 * A FileError for `path` from a Node file-system error raised while doing `action` (e.g. 'read'),
 * with the system's reason and code ("no such file or directory (ENOENT)"). Other errors of this
 * toolkit, and errors that are not from the file system, are returned unchanged.
 */
export function asFileError(path: string, action: string, error: unknown): Error {
  if (!(error instanceof Error)) return new FileError(path, `cannot ${action}: ${String(error)}`);
  const { code, syscall } = error as { code?: unknown; syscall?: unknown };
  // System errors carry both; anything else (ours, or the caller's) passes through.
  if (error instanceof BlocksparseError || typeof code !== 'string' || typeof syscall !== 'string') return error;
  // Node's messages read "ENOENT: no such file or directory, open '/a/b'": keep the description.
  const match = /^[A-Z0-9_]+: ([^,]+)/.exec(error.message);
  const reason = match ? match[1] : error.message;
  const wrapped = new FileError(path, `cannot ${action}: ${reason} (${code})`);
  Object.defineProperty(wrapped, 'cause', { value: error, enumerable: false, configurable: true, writable: true });
  return wrapped;
}

function checkPath(path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new ParameterError('path', 'a non-empty string without NUL characters', path);
  }
}

function tempPathFor(target: string): string {
  const name = basename(target).slice(0, MAX_NAME_IN_TEMP);
  return join(dirname(target), `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The permission bits of the file being replaced (undefined when there is none); FileError when
 * what is at the path must not be replaced: a symbolic link, a directory or special file, or a
 * read-only file.
 */
function existingMode(path: string, info: Stats | undefined): number | undefined {
  if (info === undefined) return undefined;
  if (info.isSymbolicLink()) throw new FileError(path, 'refusing to write: it is a symbolic link (writes never follow a link; remove it or write elsewhere)');
  if (!info.isFile()) throw new FileError(path, 'refusing to write: it exists and is not a regular file');
  if ((info.mode & 0o222) === 0) throw new FileError(path, 'refusing to write: the file is read-only (make it writable or remove it first)');
  return info.mode & 0o7777;
}

/** Makes the rename durable where the platform allows fsync on a directory (not on Windows). */
export function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Best effort: the rename itself has happened.
  } finally {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // Nothing to do.
      }
    }
  }
}

function* chunksOf(data: AtomicData): Iterable<string | Uint8Array> {
  if (typeof data === 'string' || data instanceof Uint8Array) {
    yield data;
    return;
  }
  if (data === null || typeof data !== 'object' || typeof (data as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new ParameterError('data', 'a string, a Uint8Array or an iterable of them', data);
  }
  yield* data;
}

function isAsyncIterable(data: unknown): data is AsyncIterable<string | Uint8Array> {
  return data !== null && typeof data === 'object' && typeof (data as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

function toBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return chunk;
  throw new ParameterError('data', 'chunks that are strings or Uint8Arrays', chunk);
}

function writeAll(fd: number, chunk: unknown): void {
  const bytes = toBytes(chunk);
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}
