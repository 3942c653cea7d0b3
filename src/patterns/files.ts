import { basename, extname } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { readFileChecked, readTextChecked } from '../read-file.js';
import { checkOneOf } from '../check.js';
import { FormatError, ParameterError } from '../errors.js';
import { layoutToJSONChunks, parseLayoutJSON } from './json-format.js';
import { BLOCK_SIZES, BlockLayout, type BlockSize } from './layout.js';
import { checkNpyFileSize, layoutFromNpy, layoutToNpyChunks } from './npy.js';

/** The kinds of layout file, chosen by extension: .json (versioned JSON with provenance) or .npy (0/1 matrix). */
export type LayoutFileKind = 'json' | 'npy';

/** Options of `loadLayout`. */
export interface LoadLayoutOptions {
  /** For .npy: the layout's block size (default 32). For .json: must equal the file's, if given. */
  blockSize?: BlockSize;
}

/** The kind of layout file `path` names, by its extension (case-insensitive); ParameterError for others. */
export function layoutFileKind(path: string): LayoutFileKind {
  if (typeof path !== 'string' || path.length === 0) throw new ParameterError('path', 'a non-empty file name', path);
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.npy') return 'npy';
  throw new ParameterError('path', 'a file name ending in .json or .npy', path);
}

/**
 * Writes `layout` to `path` atomically, as JSON or .npy by the extension, streamed in chunks (no
 * whole-file string or buffer). A .npy is the dense inBlocks x outBlocks byte matrix: ResourceError,
 * before anything is written, when that is more than could be read back (the memory budget, 4 GiB).
 */
export function saveLayout(path: string, layout: BlockLayout): void {
  const kind = layoutFileKind(path);
  if (!(layout instanceof BlockLayout)) throw new ParameterError('layout', 'a BlockLayout', layout);
  if (kind === 'npy') checkNpyFileSize(path, layout);
  writeFileAtomic(path, kind === 'json' ? layoutToJSONChunks(layout) : layoutToNpyChunks(layout));
}

/**
 * Reads a layout from `path` (.json or .npy by the extension). FileError when the file cannot be
 * read, FormatError (its message starting with the path) when its contents are not a valid layout.
 * A .npy layout gets provenance {generator: 'npy', params: {file: <base name>}}.
 */
export function loadLayout(path: string, options: LoadLayoutOptions = {}): BlockLayout {
  const kind = layoutFileKind(path);
  const blockSize = options.blockSize === undefined ? undefined : checkOneOf('blockSize', options.blockSize, BLOCK_SIZES, 'loadLayout');
  // Checked reads: regular files only, the size against the budget (and a JSON text against the
  // string limit) before anything is read.
  const bytes = kind === 'npy' ? readFileChecked(path, { what: 'layout file' }) : undefined;
  let text = '';
  if (kind === 'json') {
    try {
      text = readTextChecked(path, { what: 'layout file' });
    } catch (error) {
      if (error instanceof FormatError) throw new FormatError(error.message, 'json');
      throw error;
    }
  }
  try {
    if (bytes !== undefined) {
      return layoutFromNpy(bytes, { blockSize, provenance: { generator: 'npy', params: { file: basename(path) } } });
    }
    const layout = parseLayoutJSON(text);
    if (blockSize !== undefined && blockSize !== layout.blockSize) {
      throw new ParameterError('blockSize', `the block size stored in the file (${layout.blockSize}) or omitted`, blockSize, path);
    }
    return layout;
  } catch (error) {
    if (error instanceof FormatError) throw new FormatError(`${path}: ${error.message}`, error.field);
    throw error;
  }
}
