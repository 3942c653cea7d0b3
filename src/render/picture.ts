import { extname } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { ParameterError } from '../errors.js';
import type { BlockLayout } from '../patterns/layout.js';
import type { PictureOptions } from './picture-model.js';
import { layoutToSVG } from './picture-svg.js';
import { svgToPNG } from './svg-to-png.js';

// A layout picture in the format a caller asks for: SVG as written, PNG as that SVG rendered.

/** A PNG picture of `layout`: the SVG of `layoutToSVG` rendered by resvg. */
export function layoutToPNG(layout: BlockLayout, options: PictureOptions = {}): Uint8Array {
  return svgToPNG(layoutToSVG(layout, options));
}

/**
 * Writes a picture of `layout` to `path`, as SVG or PNG by its extension (.svg or .png, any case),
 * atomically. Throws ParameterError for another extension, FileError when writing fails.
 */
export function saveLayoutPicture(path: string, layout: BlockLayout, options: PictureOptions = {}): void {
  if (typeof path !== 'string') throw new ParameterError('path', 'a file name ending in .svg or .png', path);
  const extension = extname(path).toLowerCase();
  if (extension === '.svg') writeFileAtomic(path, layoutToSVG(layout, options));
  else if (extension === '.png') writeFileAtomic(path, layoutToPNG(layout, options));
  else throw new ParameterError('path', 'a file name ending in .svg or .png', path);
}
