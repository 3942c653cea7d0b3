/**
 * The one way this toolkit reads an input file: the path is checked first (a regular file unless the
 * caller allows others, its size against a limit and the memory budget), then read in pieces into one
 * buffer, so files past Node's 2 GiB single-read limit work up to the 4 GiB one buffer holds. Text
 * readers add JavaScript's string limit; gzip input is inflated with its output capped.
 */
import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { asFileError } from './atomic-write.js';
import { checkMemory, formatBytes, MAX_BUFFER_BYTES, MAX_STRING_LENGTH, memoryBudget, RAISE_BUDGET } from './budget.js';
import { FileError, FormatError, ResourceError } from './errors.js';

/** Options of `readFileChecked`. */
export interface ReadFileOptions {
  /** What the file is, for messages (default "file"), e.g. "layout file", "tensors.bin". */
  what?: string;
  /** A size limit of this kind of file, below the budget (e.g. JavaScript's string limit for text). */
  maxBytes?: number;
  /** Why `maxBytes` holds, for the message (e.g. "a JSON text cannot exceed 512 MiB"). */
  maxReason?: string;
  /** Also read FIFOs, character devices and sockets (e.g. /dev/stdin), up to the same limits. */
  allowSpecial?: boolean;
  /** Read only the first this many bytes of a regular file (all of it when it is shorter); the limits apply to what is read. */
  prefix?: number;
}

// Pieces of at most 1 GiB: readSync takes at most 2^31 - 1 bytes at once.
const PIECE = 2 ** 30;

function kindOf(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The limit that applies to one file read: the caller's, the one-buffer limit and the budget. */
function checkSize(path: string, size: number, options: ReadFileOptions): void {
  const what = `${options.what ?? 'file'} ${path}`;
  if (options.maxBytes !== undefined && size > options.maxBytes) {
    throw new ResourceError(what, size, options.maxBytes, `${what} is ${formatBytes(size)}, over the limit of ${formatBytes(options.maxBytes)}${options.maxReason ? ` (${options.maxReason})` : ''}`);
  }
  if (size > MAX_BUFFER_BYTES) {
    throw new ResourceError(what, size, MAX_BUFFER_BYTES, `${what} is ${formatBytes(size)}, over the ${formatBytes(MAX_BUFFER_BYTES)} that one buffer can hold`);
  }
  checkMemory(`reading ${what} (${formatBytes(size)})`, size);
}

/**
 * The bytes of the file at `path`. FileError when it is missing, unreadable, a directory or (unless
 * `allowSpecial`) not a regular file; ResourceError, before anything is read, when it is larger than
 * `maxBytes`, than one buffer holds, or than the memory budget.
 */
export function readFileChecked(path: string, options: ReadFileOptions = {}): Buffer {
  let info: Stats;
  try {
    info = statSync(path);
  } catch (error) {
    throw asFileError(path, 'read', error);
  }
  if (info.isDirectory() || (!info.isFile() && !options.allowSpecial)) {
    throw new FileError(path, `cannot read: ${kindOf(info)}, not a regular file`);
  }
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const opened = fstatSync(fd);
    if (!opened.isFile()) return readStream(fd, path, options);
    return options.prefix === undefined ? readRegular(fd, path, opened.size, options) : readRegular(fd, path, Math.min(options.prefix, opened.size), options, false);
  } catch (error) {
    throw asFileError(path, 'read', error);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The first `size` bytes of an open regular file; with `whole`, FileError when the file is longer (it grew while being read). */
function readRegular(fd: number, path: string, size: number, options: ReadFileOptions, whole = true): Buffer {
  checkSize(path, size, options);
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  while (offset < size) {
    const n = readSync(fd, out, offset, Math.min(PIECE, size - offset), offset);
    if (n === 0) throw new FileError(path, `cannot read: the file shrank from ${size} to ${offset} bytes while being read`);
    offset += n;
  }
  // A file that grew while being read is read as it was when opened; say so rather than truncate silently.
  if (whole && readSync(fd, Buffer.alloc(1), 0, 1, size) !== 0) throw new FileError(path, 'cannot read: the file grew while being read');
  return out;
}

function readStream(fd: number, path: string, options: ReadFileOptions): Buffer {
  const pieces: Buffer[] = [];
  let total = 0;
  const piece = Buffer.allocUnsafe(2 ** 16);
  for (;;) {
    const n = readSync(fd, piece, 0, piece.length, null);
    if (n === 0) break;
    total += n;
    checkSize(path, total, options);
    pieces.push(Buffer.from(piece.subarray(0, n)));
  }
  return Buffer.concat(pieces, total);
}

/**
 * The UTF-8 text of the file at `path`, with the checks of `readFileChecked` and JavaScript's string
 * limit; FormatError when the bytes are not valid UTF-8.
 */
export function readTextChecked(path: string, options: ReadFileOptions = {}): string {
  const maxBytes = Math.min(options.maxBytes ?? Infinity, MAX_STRING_LENGTH);
  const bytes = readFileChecked(path, {
    ...options,
    maxBytes,
    maxReason: maxBytes === MAX_STRING_LENGTH ? `a text this long cannot be held as one JavaScript string` : options.maxReason,
  });
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FormatError(`${path}: not valid UTF-8 text`, 'encoding');
  }
}

/**
 * `bytes` inflated from gzip, the output capped at `maxBytes` (and the memory budget): a ResourceError
 * names `what` when the stream inflates to more (a "gzip bomb"), a FormatError when it is not gzip.
 */
export function gunzipChecked(bytes: Uint8Array, what: string, maxBytes: number = MAX_BUFFER_BYTES): Buffer {
  const kindLimit = Math.min(maxBytes, MAX_BUFFER_BYTES);
  const limit = Math.min(kindLimit, memoryBudget());
  try {
    return gunzipSync(bytes, { maxOutputLength: limit });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      const over = limit < kindLimit ? `the memory budget (raise it with ${RAISE_BUDGET})` : 'the limit for this kind of file';
      throw new ResourceError(what, limit + 1, limit, `${what} inflates to more than ${formatBytes(limit)}, over ${over}`);
    }
    throw new FormatError(`not a valid gzip stream (${(error as Error).message})`, 'gzip');
  }
}
