import { extname } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../atomic-write.js';
import { ParameterError } from '../errors.js';
import { PICTURE_FONT_FAMILY } from './fonts.js';
import { svgToPNG } from './svg-to-png.js';

// vega-lite specifications rendered headless to SVG, PNG or a file, in the pictures' font and look.

/** A vega-lite specification (https://vega.github.io/vega-lite/). */
export type PlotSpec = TopLevelSpec;

// One look for every plot; the font is the one PNG rendering loads, so text measures the same.
const CONFIG = {
  font: PICTURE_FONT_FAMILY,
  background: 'white',
  view: { stroke: '#c8ccd4' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e6e8ec' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14 },
};

/** Renders a vega-lite spec to SVG text, headless (no browser, no canvas). */
export async function plotToSVG(spec: PlotSpec): Promise<string> {
  // Loaded on first use: vega's canvas probe uses top-level await, which would stop CommonJS
  // users (and tslab notebooks) from require()-ing this package at all.
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = compile({ ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as PlotSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders a vega-lite spec to PNG bytes (the SVG through resvg with the bundled DejaVu Sans), at `scale` x its size. */
export async function plotToPNG(spec: PlotSpec, scale = 2): Promise<Uint8Array> {
  const svg = await plotToSVG(spec);
  return svgToPNG(scale === 1 ? svg : scaleSVG(svg, scale));
}

/** Writes a plot as .svg or .png (by extension), atomically. */
export async function savePlot(path: string, spec: PlotSpec): Promise<void> {
  const extension = extname(path).toLowerCase();
  if (extension === '.svg') writeFileAtomic(path, await plotToSVG(spec));
  else if (extension === '.png') writeFileAtomic(path, await plotToPNG(spec));
  else throw new ParameterError('path', 'a file name ending in .svg or .png', path);
}

// vega writes width/height and a viewBox on the root element; scaling the former sharpens the PNG.
function scaleSVG(svg: string, scale: number): string {
  return svg.replace(/^<svg([^>]*?) width="([\d.]+)" height="([\d.]+)"/, (_m, attrs: string, w: string, h: string) =>
    `<svg${attrs} width="${Number(w) * scale}" height="${Number(h) * scale}"`);
}
