import { Resvg } from '@resvg/resvg-js';
import { extname } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { ParameterError } from '../errors.js';
import { PICTURE_FONT_FAMILY, pictureFontFiles } from './fonts.js';
import type { BlockLayout } from './layout.js';
import type { PictureOptions } from './picture.js';
import { layoutToSVG } from './picture-svg.js';

/**
 * Renders SVG text to PNG bytes with resvg, using only the bundled DejaVu Sans (no system fonts), so
 * the same SVG gives the same PNG on every machine. Images are scaled without smoothing.
 */
export function svgToPNG(svg: string): Uint8Array {
  const resvg = new Resvg(svg, {
    font: { fontFiles: pictureFontFiles(), loadSystemFonts: false, defaultFontFamily: PICTURE_FONT_FAMILY, sansSerifFamily: PICTURE_FONT_FAMILY },
    // resvg does not know the CSS value "pixelated"; this makes its fallback nearest-neighbour too.
    imageRendering: 1,
    fitTo: { mode: 'original' },
    logLevel: 'off',
  });
  const png = resvg.render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

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
