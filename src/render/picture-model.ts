import { checkInteger, checkOneOf } from '../check.js';
import { ParameterError } from '../errors.js';
import type { BlockLayout } from '../patterns/layout.js';
import { describeProvenance } from '../patterns/provenance.js';
import { fitText, textWidth } from './fonts.js';
import { formatCount, formatPercent, formatTicks } from './number-format.js';
import { PICTURE_COLORS, densityShade, type DensityScale } from './picture-colors.js';

// The picture of a layout as a model (boxes, texts, a raster) that the SVG writer only encodes.

/** How a picture draws the blocks: one cell per block, or a density raster; 'auto' picks. */
export type PictureMode = 'auto' | 'cells' | 'density';

/** Options of layout pictures (SVG and PNG). */
export interface PictureOptions {
  /** Width of the whole picture in px, an integer in [240, 4096]; default 800. */
  width?: number;
  /** A title drawn above the plot (one line); default none. */
  title?: string;
  /**
   * 'cells' (one cell per block; needs every block to get at least 1 px), 'density' (each pixel
   * shaded by the fraction of the blocks it covers that are present) or 'auto' (default): cells
   * when they fit, else density.
   */
  mode?: PictureMode;
  /** Density shading: 'log' (default: a pixel with one block in a million still shows) or 'linear'. */
  densityScale?: DensityScale;
  /** Colour of present blocks, '#rrggbb'; default '#17365d' (dark blue). */
  presentColor?: string;
  /** Colour of absent blocks, '#rrggbb'; default '#eceff3' (light grey). */
  absentColor?: string;
}

/** Options with every default filled in. */
export interface ResolvedPictureOptions {
  width: number;
  title: string | null;
  mode: PictureMode;
  densityScale: DensityScale;
  presentColor: string;
  absentColor: string;
}

/** A rectangle in picture px. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A line of text placed in the picture; `y` is the baseline (or the centre line when rotated). */
export interface PictureText {
  x: number;
  y: number;
  text: string;
  size: number;
  anchor: 'start' | 'middle' | 'end';
  bold: boolean;
  color: string;
  /** Rotated by -90 degrees about (x, y) (the y-axis label; x is then the baseline). */
  rotated: boolean;
  /** Part of the legend (as opposed to title, axis labels and tick labels). */
  legend: boolean;
}

/**
 * What the plot shows, as a raster: `rows` x `cols` cells, each covering `rowBlocks` x `colBlocks`
 * blocks (fewer at the bottom and right edges) and drawn `cellHeight` x `cellWidth` px. `fraction`
 * (row-major) is the fraction of the covered blocks that are present: 0/1 in cells mode.
 */
export interface PictureRaster {
  rows: number;
  cols: number;
  rowBlocks: number;
  colBlocks: number;
  cellHeight: number;
  cellWidth: number;
  fraction: Float64Array;
}

/** The key under the legend text: present/absent swatches (cells) or a colour bar (density). */
export type PictureKey =
  | { kind: 'cells'; present: Box; absent: Box }
  | {
      kind: 'density';
      /** Swatch for "no block present" (log scale only: 0 is not on a log bar). */
      empty: Box | null;
      /** The bar; its colour runs linearly from shadeColor(barStart) at the left to the present colour. */
      bar: Box;
      barStart: number;
    };

/** Everything a picture draws, in picture px; the SVG and PNG writers only encode it. */
export interface PictureModel {
  width: number;
  height: number;
  mode: 'cells' | 'density';
  densityScale: DensityScale;
  options: ResolvedPictureOptions;
  plot: Box;
  raster: PictureRaster;
  /**
   * Cells mode: present blocks merged into horizontal runs, as (row c, first column k, end column)
   * triples (end exclusive), in row order; null in density mode.
   */
  runs: Int32Array | null;
  /** Whether thin lines separate the cells (cells mode with cells large enough to show them). */
  grid: boolean;
  /** Tick marks, as [x1, y1, x2, y2] lines. */
  ticks: Array<[number, number, number, number]>;
  texts: PictureText[];
  /** The legend, one string per line, as drawn (the key's labels excluded). */
  legend: string[];
  key: PictureKey;
  /** Lowest fraction on the log scale (the left end of the bar); 0 for the linear scale. */
  scaleFloor: number;
}

const DEFAULT_WIDTH = 800;
const MIN_WIDTH = 240;
const MAX_WIDTH = 4096;
const DEFAULT_PRESENT = '#17365d';
const DEFAULT_ABSENT = '#eceff3';
const MARGIN = 14;
const TITLE_SIZE = 16;
const AXIS_LABEL_SIZE = 13;
const TICK_LABEL_SIZE = 11;
const LEGEND_SIZE = 13;
const KEY_LABEL_SIZE = 11;
const LEGEND_LINE = 19;
const TICK_LENGTH = 4;
/** Cells at least this large get a grid line between them. */
const GRID_MIN_CELL = 6;
const HEX_COLOR = /^#[0-9a-fA-F]{6}$/;

/** Fills in defaults and checks every option; throws ParameterError naming the bad one. */
export function resolvePictureOptions(options: PictureOptions = {}): ResolvedPictureOptions {
  if (options === null || typeof options !== 'object') throw new ParameterError('options', 'an object', options);
  const width = checkInteger('width', options.width ?? DEFAULT_WIDTH, MIN_WIDTH, MAX_WIDTH);
  const title = options.title ?? null;
  if (title !== null && (typeof title !== 'string' || /[\n\r]/.test(title))) {
    throw new ParameterError('title', 'a one-line string', title);
  }
  const mode = checkOneOf('mode', options.mode ?? 'auto', ['auto', 'cells', 'density'] as const);
  const densityScale = checkOneOf('densityScale', options.densityScale ?? 'log', ['log', 'linear'] as const);
  const presentColor = checkColor('presentColor', options.presentColor ?? DEFAULT_PRESENT);
  const absentColor = checkColor('absentColor', options.absentColor ?? DEFAULT_ABSENT);
  return { width, title: title === '' ? null : title, mode, densityScale, presentColor, absentColor };
}

function checkColor(name: string, value: unknown): string {
  if (typeof value !== 'string' || !HEX_COLOR.test(value)) throw new ParameterError(name, 'a colour "#rrggbb"', value);
  return value.toLowerCase();
}

/**
 * The fraction of present blocks in each cell of a `rows` x `cols` raster whose cells cover
 * `rowBlocks` x `colBlocks` blocks; O(nnz + rows * cols), straight from the CSR.
 */
export function densityRaster(layout: BlockLayout, rowBlocks: number, colBlocks: number): Float64Array {
  checkInteger('rowBlocks', rowBlocks, 1);
  checkInteger('colBlocks', colBlocks, 1);
  const { inBlocks, outBlocks, rowPtr, colIdx } = layout;
  const rows = Math.ceil(inBlocks / rowBlocks);
  const cols = Math.ceil(outBlocks / colBlocks);
  const fraction = new Float64Array(rows * cols);
  for (let c = 0; c < inBlocks; c++) {
    const base = Math.floor(c / rowBlocks) * cols;
    for (let b = rowPtr[c]; b < rowPtr[c + 1]; b++) fraction[base + Math.floor(colIdx[b] / colBlocks)]++;
  }
  // Edge cells cover fewer blocks.
  const lastRowHeight = inBlocks - (rows - 1) * rowBlocks;
  const lastColWidth = outBlocks - (cols - 1) * colBlocks;
  for (let r = 0; r < rows; r++) {
    const height = r === rows - 1 ? lastRowHeight : rowBlocks;
    for (let j = 0; j < cols; j++) {
      const width = j === cols - 1 ? lastColWidth : colBlocks;
      fraction[r * cols + j] /= height * width;
    }
  }
  return fraction;
}

/** Present blocks merged into horizontal runs: (row, first column, end column) triples, end exclusive. */
export function presentRuns(layout: BlockLayout): Int32Array {
  const { inBlocks, rowPtr, colIdx } = layout;
  let count = 0;
  for (let c = 0; c < inBlocks; c++) {
    for (let b = rowPtr[c]; b < rowPtr[c + 1]; b++) if (b === rowPtr[c] || colIdx[b] !== colIdx[b - 1] + 1) count++;
  }
  const runs = new Int32Array(3 * count);
  let w = 0;
  for (let c = 0; c < inBlocks; c++) {
    for (let b = rowPtr[c]; b < rowPtr[c + 1]; b++) {
      if (b === rowPtr[c] || colIdx[b] !== colIdx[b - 1] + 1) {
        runs[w] = c;
        runs[w + 1] = colIdx[b];
        w += 3;
      }
      runs[w - 1] = colIdx[b] + 1;
    }
  }
  return runs;
}

/** Ticks 0, step, 2 step, ... below `count` with step 1, 2 or 5 x 10^m: the smallest whose labels keep `minGap` px apart. */
function axisTicks(count: number, pxPerBlock: number, minGap: (labels: string[]) => number): number[] {
  for (let exponent = 0; ; exponent++) {
    for (const mantissa of [1, 2, 5]) {
      const step = mantissa * 10 ** exponent;
      // No label is narrower than 10 px: skip steps that cannot fit before listing their ticks.
      if (step < count && step * pxPerBlock < 10) continue;
      const values: number[] = [];
      for (let v = 0; v < count; v += step) values.push(v);
      if (values.length === 1 || step * pxPerBlock >= minGap(formatTicks(values))) return values;
    }
  }
}

/** Splits `text` into at most `maxLines` lines of at most `maxWidth` px, cutting the last with an ellipsis. */
function wrapText(text: string, maxWidth: number, size: number, maxLines: number): string[] {
  const words = text.split(' ');
  const lines: string[] = [];
  let current = '';
  for (let i = 0; i < words.length; i++) {
    const candidate = current === '' ? words[i] : `${current} ${words[i]}`;
    if (current !== '' && textWidth(candidate, size) > maxWidth) {
      if (lines.length === maxLines - 1) return [...lines, fitText(`${current} ${words.slice(i).join(' ')}`, maxWidth, size)];
      lines.push(current);
      current = words[i];
    } else {
      current = candidate;
    }
  }
  lines.push(fitText(current, maxWidth, size));
  return lines;
}

interface Geometry {
  mode: 'cells' | 'density';
  rowBlocks: number;
  colBlocks: number;
  cellHeight: number;
  cellWidth: number;
  plotWidth: number;
  plotHeight: number;
}

/**
 * Plot size and binning for a plot whose longer side may be `long` px. The plot keeps the block
 * matrix's aspect ratio (square blocks), except that its shorter side is never below a sixth of
 * `long` (so a 1 x 100,000 layout is a strip, not a line).
 */
function plotGeometry(layout: BlockLayout, long: number, mode: PictureMode): Geometry {
  const { inBlocks, outBlocks } = layout;
  const minShort = Math.max(40, Math.round(long / 6));
  const wide = outBlocks >= inBlocks;
  const natural = (long * Math.min(inBlocks, outBlocks)) / Math.max(inBlocks, outBlocks);
  const clamped = natural < minShort;
  const short = Math.floor(clamped ? minShort : natural);
  const maxWidth = wide ? long : short;
  const maxHeight = wide ? short : long;
  const cellsFit = outBlocks <= maxWidth && inBlocks <= maxHeight;
  if (mode === 'cells' && !cellsFit) {
    throw new ParameterError(
      'mode',
      `"density" or "auto" for this layout: "cells" needs at most ${maxHeight} x ${maxWidth} blocks at this width`,
      mode,
    );
  }
  if (cellsFit && mode !== 'density') {
    let cellWidth = Math.floor(maxWidth / outBlocks);
    let cellHeight = Math.floor(maxHeight / inBlocks);
    if (!clamped) cellWidth = cellHeight = Math.min(cellWidth, cellHeight);
    return { mode: 'cells', rowBlocks: 1, colBlocks: 1, cellHeight, cellWidth, plotWidth: outBlocks * cellWidth, plotHeight: inBlocks * cellHeight };
  }
  let colBlocks = Math.ceil(outBlocks / maxWidth);
  let rowBlocks = Math.ceil(inBlocks / maxHeight);
  if (!clamped) colBlocks = rowBlocks = Math.max(colBlocks, rowBlocks);
  const cols = Math.ceil(outBlocks / colBlocks);
  const rows = Math.ceil(inBlocks / rowBlocks);
  let cellWidth = Math.max(1, Math.floor(maxWidth / cols));
  let cellHeight = Math.max(1, Math.floor(maxHeight / rows));
  if (!clamped) cellWidth = cellHeight = Math.min(cellWidth, cellHeight);
  return { mode: 'density', rowBlocks, colBlocks, cellHeight, cellWidth, plotWidth: cols * cellWidth, plotHeight: rows * cellHeight };
}

/**
 * Left end of the log colour bar: the largest power of ten at or below the least non-zero fraction
 * a cell of `area` blocks can show, lowered so that the decades split into at most 4 equal steps.
 */
function logScaleFloor(area: number): number {
  const decades = Math.max(1, Math.ceil(Math.log10(area) - 1e-9));
  const every = Math.ceil(decades / 4);
  return 10 ** -(Math.ceil(decades / every) * every);
}

/** Label of 10^exponent for the colour bar: "1", "10⁻³". */
function powerLabel(exponent: number): string {
  if (exponent === 0) return '1';
  const superscript = '⁰¹²³⁴⁵⁶⁷⁸⁹';
  return '10⁻' + Array.from(String(-exponent), (d) => superscript[Number(d)]).join('');
}

/**
 * Builds the picture of a layout: the block matrix (rows = input blocks c, top to bottom; columns =
 * output blocks k, left to right), axis labels and ticks, and a legend with the shape, nnz, density,
 * provenance and (density mode) how pixels are shaded, with a colour bar. Small layouts get one cell
 * per block; layouts too large for that get a density raster. Deterministic; never builds the dense mask.
 */
export function layoutPicture(layout: BlockLayout, options: PictureOptions = {}): PictureModel {
  const opts = resolvePictureOptions(options);
  const { inBlocks, outBlocks, blockSize } = layout;
  const W = opts.width;
  const texts: PictureText[] = [];
  const text = (x: number, y: number, value: string, size: number, extra: Partial<PictureText> = {}): void => {
    texts.push({ x, y, text: value, size, anchor: 'start', bold: false, color: PICTURE_COLORS.text, rotated: false, legend: false, ...extra });
  };

  // Top: title, x-axis label, tick labels, tick marks.
  let top = MARGIN;
  const titleBaseline = top + TITLE_SIZE - 2;
  if (opts.title !== null) top += TITLE_SIZE + 10;
  const xLabelBaseline = top + AXIS_LABEL_SIZE - 2;
  top += AXIS_LABEL_SIZE + 6;
  const xTickBaseline = top + TICK_LABEL_SIZE - 2;
  top += TICK_LABEL_SIZE + 3 + TICK_LENGTH;
  const plotY = top;

  // Left: rotated y-axis label, tick labels, tick marks. The tick labels depend on the plot height,
  // which depends on the room they leave: iterate to a fixed point (two rounds in practice).
  const yLabelBaseline = MARGIN + AXIS_LABEL_SIZE - 2; // rotated: the glyphs lie left of it
  const widest = (labels: string[]): number => Math.max(...labels.map((l) => textWidth(l, TICK_LABEL_SIZE)));
  const xGap = (labels: string[]): number => Math.max(50, widest(labels) + 16);
  const yGap = (): number => 40;
  let tickRoom = textWidth('0', TICK_LABEL_SIZE);
  let geometry!: Geometry;
  let yTicks: number[] = [];
  let plotX = 0;
  for (let round = 0; round < 4; round++) {
    plotX = Math.ceil(MARGIN + AXIS_LABEL_SIZE + 8 + tickRoom + 3 + TICK_LENGTH);
    geometry = plotGeometry(layout, W - plotX - MARGIN - 4, opts.mode);
    yTicks = axisTicks(inBlocks, geometry.cellHeight / geometry.rowBlocks, yGap);
    const needed = widest(formatTicks(yTicks));
    if (needed <= tickRoom) break;
    tickRoom = needed;
  }
  const { mode, rowBlocks, colBlocks, cellHeight, cellWidth, plotWidth, plotHeight } = geometry;
  const plot: Box = { x: plotX, y: plotY, width: plotWidth, height: plotHeight };
  const xTicks = axisTicks(outBlocks, cellWidth / colBlocks, xGap);

  if (opts.title !== null) text(MARGIN, titleBaseline, fitText(opts.title, W - 2 * MARGIN, TITLE_SIZE, true), TITLE_SIZE, { bold: true });
  text(plot.x + plot.width / 2, xLabelBaseline, 'output block k', AXIS_LABEL_SIZE, { anchor: 'middle' });
  text(yLabelBaseline, plot.y + plot.height / 2, 'input block c', AXIS_LABEL_SIZE, { anchor: 'middle', rotated: true });
  const ticks: Array<[number, number, number, number]> = [];
  const xLabels = formatTicks(xTicks);
  const yLabels = formatTicks(yTicks);
  xTicks.forEach((v, i) => {
    const x = plot.x + ((v + 0.5) * cellWidth) / colBlocks;
    ticks.push([x, plot.y - TICK_LENGTH, x, plot.y]);
    text(x, xTickBaseline, xLabels[i], TICK_LABEL_SIZE, { anchor: 'middle', color: PICTURE_COLORS.secondaryText });
  });
  yTicks.forEach((v, i) => {
    const y = plot.y + ((v + 0.5) * cellHeight) / rowBlocks;
    ticks.push([plot.x - TICK_LENGTH, y, plot.x, y]);
    text(plot.x - TICK_LENGTH - 3, y + TICK_LABEL_SIZE * 0.36, yLabels[i], TICK_LABEL_SIZE, { anchor: 'end', color: PICTURE_COLORS.secondaryText });
  });

  // Legend: beside a narrow plot when there is room, else below it.
  const besideX = plot.x + plot.width + 28;
  const beside = W - MARGIN - besideX >= 300;
  const legendX = beside ? besideX : plot.x;
  const legendWidth = W - MARGIN - legendX;
  let legendY = beside ? plot.y : plot.y + plot.height + 24;
  const legend: string[] = [];
  // Each item takes one line, or up to three (word-wrapped, then cut) in a narrow picture.
  const legendLine = (value: string, color: string = PICTURE_COLORS.text): void => {
    for (const line of wrapText(value, legendWidth, LEGEND_SIZE, 3)) {
      legend.push(line);
      text(legendX, legendY + LEGEND_SIZE - 2, line, LEGEND_SIZE, { color, legend: true });
      legendY += LEGEND_LINE;
    }
  };
  legendLine(`${formatCount(inBlocks)} × ${formatCount(outBlocks)} ${inBlocks * outBlocks === 1 ? 'block' : 'blocks'} of ${blockSize} × ${blockSize}`);
  legendLine(`nnz ${formatCount(layout.nnz)} · density ${formatPercent(layout.density)}`);
  legendLine(describeProvenance(layout.provenance), PICTURE_COLORS.secondaryText);

  const raster: PictureRaster = {
    rows: Math.ceil(inBlocks / rowBlocks),
    cols: Math.ceil(outBlocks / colBlocks),
    rowBlocks,
    colBlocks,
    cellHeight,
    cellWidth,
    fraction: densityRaster(layout, rowBlocks, colBlocks),
  };
  const scaleFloor = opts.densityScale === 'log' ? logScaleFloor(rowBlocks * colBlocks) : 0;
  let key: PictureKey;
  legendY += 4;
  if (mode === 'cells') {
    const swatch = 12;
    const present: Box = { x: legendX, y: legendY, width: swatch, height: swatch };
    const presentLabel = cellWidth === 1 && cellHeight === 1 ? 'present block (one pixel per block)' : 'present block';
    text(legendX + swatch + 6, legendY + swatch - 1, presentLabel, KEY_LABEL_SIZE, { legend: true });
    let absentX = legendX + swatch + 6 + textWidth(presentLabel, KEY_LABEL_SIZE) + 18;
    if (absentX + swatch + 6 + textWidth('absent block', KEY_LABEL_SIZE) > W - MARGIN) {
      // No room beside it: the second swatch goes on its own line.
      absentX = legendX;
      legendY += swatch + 8;
    }
    const absent: Box = { x: absentX, y: legendY, width: swatch, height: swatch };
    text(absentX + swatch + 6, legendY + swatch - 1, 'absent block', KEY_LABEL_SIZE, { legend: true });
    key = { kind: 'cells', present, absent };
    legendY += swatch;
  } else {
    const scaleName = opts.densityScale === 'log' ? 'log scale' : 'linear scale';
    const pixel = cellWidth === 1 && cellHeight === 1 ? 'each pixel' : `each ${cellHeight} × ${cellWidth} px cell`;
    const blocks = rowBlocks * colBlocks === 1 ? 'block' : 'blocks';
    legendLine(`shaded by density (${scaleName}): ${pixel} = ${formatCount(rowBlocks)} × ${formatCount(colBlocks)} ${blocks}`);
    const barHeight = 12;
    const emptyRoom = opts.densityScale === 'log' ? barHeight + 22 : 0;
    const barWidth = Math.max(60, Math.min(240, legendWidth - emptyRoom - 10));
    const caption = 'fraction of blocks present';
    const captionBeside = legendX + emptyRoom + barWidth + 12 + textWidth(caption, KEY_LABEL_SIZE) <= W - MARGIN;
    if (!captionBeside) {
      text(legendX, legendY + KEY_LABEL_SIZE - 2, caption, KEY_LABEL_SIZE, { color: PICTURE_COLORS.secondaryText, legend: true });
      legendY += KEY_LABEL_SIZE + 6;
    }
    const labelBaseline = legendY + barHeight + 3 + KEY_LABEL_SIZE;
    let empty: Box | null = null;
    if (opts.densityScale === 'log') {
      empty = { x: legendX, y: legendY, width: barHeight, height: barHeight };
      text(legendX + barHeight / 2, labelBaseline, '0', KEY_LABEL_SIZE, { anchor: 'middle', color: PICTURE_COLORS.secondaryText, legend: true });
    }
    const bar: Box = { x: legendX + emptyRoom, y: legendY, width: barWidth, height: barHeight };
    if (captionBeside) {
      text(bar.x + bar.width + 12, legendY + barHeight - 1, caption, KEY_LABEL_SIZE, { color: PICTURE_COLORS.secondaryText, legend: true });
    }
    const barStart = densityShade(opts.densityScale === 'log' ? scaleFloor : 0, opts.densityScale, scaleFloor);
    const barTicks: Array<[number, string]> = [];
    if (opts.densityScale === 'log') {
      const decades = Math.round(-Math.log10(scaleFloor));
      const every = Math.ceil(decades / 4); // as in logScaleFloor, so both ends get a label
      for (let e = 0; e <= decades; e += every) barTicks.push([1 - e / decades, powerLabel(-e)]);
    } else {
      for (const v of [0, 0.25, 0.5, 0.75, 1]) barTicks.push([v, String(v)]);
    }
    for (const [at, label] of barTicks) {
      const x = bar.x + at * bar.width;
      ticks.push([x, bar.y + bar.height, x, bar.y + bar.height + 3]);
      text(x, labelBaseline + 1, label, KEY_LABEL_SIZE, { anchor: 'middle', color: PICTURE_COLORS.secondaryText, legend: true });
    }
    key = { kind: 'density', empty, bar, barStart };
    legendY = labelBaseline + 4;
  }

  const height = Math.ceil(Math.max(plot.y + plot.height, legendY) + MARGIN);
  return {
    width: W,
    height,
    mode,
    densityScale: opts.densityScale,
    options: opts,
    plot,
    raster,
    runs: mode === 'cells' ? presentRuns(layout) : null,
    grid: mode === 'cells' && cellWidth >= GRID_MIN_CELL && cellHeight >= GRID_MIN_CELL,
    ticks,
    texts,
    legend,
    key,
    scaleFloor,
  };
}
