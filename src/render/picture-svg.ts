import { PNG } from 'pngjs';
import type { BlockLayout } from '../patterns/layout.js';
import { PICTURE_FONT_STACK } from './fonts.js';
import { PICTURE_COLORS, densityShade, hexColor, shadeColor } from './picture-colors.js';
import { layoutPicture, type Box, type PictureModel, type PictureOptions, type PictureText } from './picture-model.js';

/** Above this many runs of present blocks, cells are embedded as an image instead of one rect per run. */
export const MAX_SVG_RUNS = 20_000;

/** An SVG picture of `layout`: the block matrix with axis labels and a legend (see `layoutPicture`). */
export function layoutToSVG(layout: BlockLayout, options: PictureOptions = {}): string {
  return pictureToSVG(layoutPicture(layout, options));
}

/**
 * The SVG text of a picture model. Cells are drawn as one rect per horizontal run of present blocks
 * (or, past MAX_SVG_RUNS runs, as an embedded image); a density raster is embedded as a PNG data URI
 * drawn with nearest-neighbour scaling. Same model, same bytes.
 */
export function pictureToSVG(model: PictureModel): string {
  const { width, height, plot, options } = model;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="${escapeXml(PICTURE_FONT_STACK)}">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="${PICTURE_COLORS.background}"/>`);

  if (model.mode === 'cells' && model.runs !== null && model.runs.length / 3 <= MAX_SVG_RUNS) {
    out.push(`<rect x="${plot.x}" y="${plot.y}" width="${plot.width}" height="${plot.height}" fill="${options.absentColor}"/>`);
    out.push(`<g id="blocks" fill="${options.presentColor}" shape-rendering="crispEdges">`);
    const { runs } = model;
    const { cellWidth, cellHeight } = model.raster;
    for (let i = 0; i < runs.length; i += 3) {
      const x = plot.x + runs[i + 1] * cellWidth;
      const y = plot.y + runs[i] * cellHeight;
      out.push(`<rect x="${x}" y="${y}" width="${(runs[i + 2] - runs[i + 1]) * cellWidth}" height="${cellHeight}"/>`);
    }
    out.push('</g>');
  } else {
    out.push(rasterImage(model));
  }
  if (model.grid) out.push(gridPath(model));
  out.push(
    `<rect x="${plot.x - 0.5}" y="${plot.y - 0.5}" width="${plot.width + 1}" height="${plot.height + 1}" ` +
      `fill="none" stroke="${PICTURE_COLORS.frame}" stroke-width="1"/>`,
  );
  out.push(keySVG(model));
  if (model.ticks.length > 0) {
    const d = model.ticks.map(([x1, y1, x2, y2]) => `M${num(x1)} ${num(y1)}L${num(x2)} ${num(y2)}`).join('');
    out.push(`<path d="${d}" stroke="${PICTURE_COLORS.frame}" stroke-width="1" fill="none"/>`);
  }
  for (const t of model.texts) out.push(textSVG(t));
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The raster as an <image>: one PNG pixel per raster cell, scaled to the plot without smoothing. */
function rasterImage(model: PictureModel): string {
  const { plot, raster, options } = model;
  const { rows, cols, fraction } = raster;
  const png = new PNG({ width: cols, height: rows, colorType: 2, inputHasAlpha: true });
  const data = png.data;
  // Few distinct shades in practice: cache the colour of each fraction.
  const cache = new Map<number, [number, number, number]>();
  for (let i = 0; i < rows * cols; i++) {
    const f = fraction[i];
    let rgb = cache.get(f);
    if (rgb === undefined) {
      rgb = shadeColor(densityShade(f, model.densityScale, model.scaleFloor), options.presentColor, options.absentColor);
      cache.set(f, rgb);
    }
    data[4 * i] = rgb[0];
    data[4 * i + 1] = rgb[1];
    data[4 * i + 2] = rgb[2];
    data[4 * i + 3] = 255;
  }
  const encoded = PNG.sync.write(png, { colorType: 2, inputHasAlpha: true, deflateLevel: 9 });
  // image-rendering: the attribute (optimizeSpeed) for resvg and SVG 1.1 viewers, the CSS value
  // (pixelated) for browsers, where the style wins over the attribute.
  return (
    `<image x="${plot.x}" y="${plot.y}" width="${plot.width}" height="${plot.height}" preserveAspectRatio="none" ` +
    `image-rendering="optimizeSpeed" style="image-rendering:pixelated" href="data:image/png;base64,${encoded.toString('base64')}"/>`
  );
}

/** White 1 px lines on the first pixel row/column of every cell but the first. */
function gridPath(model: PictureModel): string {
  const { plot, raster } = model;
  const parts: string[] = [];
  for (let j = 1; j < raster.cols; j++) {
    const x = plot.x + j * raster.cellWidth + 0.5;
    parts.push(`M${x} ${plot.y}V${plot.y + plot.height}`);
  }
  for (let r = 1; r < raster.rows; r++) {
    const y = plot.y + r * raster.cellHeight + 0.5;
    parts.push(`M${plot.x} ${y}H${plot.x + plot.width}`);
  }
  if (parts.length === 0) return '';
  return `<path id="grid" d="${parts.join('')}" stroke="${PICTURE_COLORS.grid}" stroke-width="1" fill="none"/>`;
}

function keySVG(model: PictureModel): string {
  const { key, options } = model;
  const frame = `stroke="${PICTURE_COLORS.frame}" stroke-width="1"`;
  if (key.kind === 'cells') {
    return [rectSVG(key.present, options.presentColor, frame), rectSVG(key.absent, options.absentColor, frame)].join('\n');
  }
  const start = hexColor(shadeColor(key.barStart, options.presentColor, options.absentColor));
  const parts = [
    `<defs><linearGradient id="density-scale" x1="0" y1="0" x2="1" y2="0">` +
      `<stop offset="0" stop-color="${start}"/><stop offset="1" stop-color="${options.presentColor}"/></linearGradient></defs>`,
    rectSVG(key.bar, 'url(#density-scale)', frame),
  ];
  if (key.empty !== null) parts.push(rectSVG(key.empty, options.absentColor, frame));
  return parts.join('\n');
}

function rectSVG(box: Box, fill: string, extra: string): string {
  return `<rect x="${num(box.x + 0.5)}" y="${num(box.y + 0.5)}" width="${num(box.width - 1)}" height="${num(box.height - 1)}" fill="${fill}" ${extra}/>`;
}

function textSVG(t: PictureText): string {
  const attrs = [`x="${num(t.x)}"`, `y="${num(t.y)}"`, `font-size="${t.size}"`, `fill="${t.color}"`];
  if (t.anchor !== 'start') attrs.push(`text-anchor="${t.anchor}"`);
  if (t.bold) attrs.push('font-weight="bold"');
  if (t.rotated) attrs.push(`transform="rotate(-90 ${num(t.x)} ${num(t.y)})"`);
  if (t.legend) attrs.push('class="legend"');
  return `<text ${attrs.join(' ')}>${escapeXml(t.text)}</text>`;
}

/** A coordinate with at most two decimals, no trailing zeros. */
function num(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** Escapes the five XML special characters. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}
