import { Resvg } from '@resvg/resvg-js';
import { PICTURE_FONT_FAMILY, pictureFontFiles } from './fonts.js';

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
