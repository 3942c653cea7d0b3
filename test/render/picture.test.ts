import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { BlockLayout } from '../../src/patterns/layout.js';
import { formatCount, formatPercent, formatTicks } from '../../src/render/number-format.js';
import { layoutToPNG, saveLayoutPicture } from '../../src/render/picture.js';
import { densityShade } from '../../src/render/picture-colors.js';
import { densityRaster, layoutPicture, presentRuns, type PictureModel } from '../../src/render/picture-model.js';
import { layoutToSVG, MAX_SVG_RUNS } from '../../src/render/picture-svg.js';
import { svgToPNG } from '../../src/render/svg-to-png.js';
import { expectParameterError } from '../helpers/expect-error.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('blocksparse-picture-');

/** Pairs (c, k) for which `keep` holds, on an inBlocks x outBlocks grid. */
function pairsWhere(inBlocks: number, outBlocks: number, keep: (c: number, k: number) => boolean): [number[], number[]] {
  const rows: number[] = [];
  const cols: number[] = [];
  for (let c = 0; c < inBlocks; c++) for (let k = 0; k < outBlocks; k++) if (keep(c, k)) (rows.push(c), cols.push(k));
  return [rows, cols];
}

/** 6 x 6 band |c - k| <= 1, plus the two far corners (so rows 0 and 5 have two runs each). */
function smallLayout(): BlockLayout {
  const corner = (c: number, k: number): boolean => (c === 0 && k === 5) || (c === 5 && k === 0);
  const [rows, cols] = pairsWhere(6, 6, (c, k) => Math.abs(c - k) <= 1 || corner(c, k));
  return BlockLayout.fromPairs({ inBlocks: 6, outBlocks: 6 }, rows, cols, { provenance: { generator: 'banded', params: { width: 1 } } });
}

function decode(bytes: Uint8Array): PNG {
  return PNG.sync.read(Buffer.from(bytes));
}

/** Relative luminance (0..255) of the pixel at (x, y). */
function luminance(png: PNG, x: number, y: number): number {
  const i = 4 * (Math.floor(y) * png.width + Math.floor(x));
  return 0.2126 * png.data[i] + 0.7152 * png.data[i + 1] + 0.0722 * png.data[i + 2];
}

function rgbAt(png: PNG, x: number, y: number): string {
  const i = 4 * (y * png.width + x);
  return '#' + [0, 1, 2].map((j) => png.data[i + j].toString(16).padStart(2, '0')).join('');
}

/** Centre of block (c, k) in a cells-mode picture. */
function cellCentre(model: PictureModel, c: number, k: number): [number, number] {
  const { plot, raster } = model;
  return [plot.x + (k + 0.5) * raster.cellWidth, plot.y + (c + 0.5) * raster.cellHeight];
}

function darkPixels(png: PNG, top: number, bottom: number): number {
  let count = 0;
  for (let y = top; y < bottom; y++) for (let x = 0; x < png.width; x++) if (luminance(png, x, y) < 128) count++;
  return count;
}

describe('small layouts: one cell per block', () => {
  const layout = smallLayout();

  it('draws present blocks dark and absent ones light at every block centre of the PNG', () => {
    const model = layoutPicture(layout);
    expect(model.mode).toBe('cells');
    const png = decode(layoutToPNG(layout));
    expect([png.width, png.height]).toEqual([model.width, model.height]);
    expect(png.width).toBe(800);
    expect(model.raster.cellWidth).toBe(model.raster.cellHeight);
    expect(model.grid).toBe(true);
    for (let c = 0; c < 6; c++) {
      for (let k = 0; k < 6; k++) {
        const [x, y] = cellCentre(model, c, k);
        if (layout.has(c, k)) expect(luminance(png, x, y), `block (${c}, ${k})`).toBeLessThan(80);
        else expect(luminance(png, x, y), `block (${c}, ${k})`).toBeGreaterThan(200);
      }
    }
  });

  it('writes one rect per horizontal run of present blocks, covering exactly the present blocks', () => {
    const model = layoutPicture(layout);
    const svg = layoutToSVG(layout);
    const group = /<g id="blocks"[^>]*>([\s\S]*?)<\/g>/.exec(svg);
    expect(group).not.toBeNull();
    const rects = [...group![1].matchAll(/<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)"\/>/g)];
    // Runs counted independently: a run starts at each present block whose left neighbour is absent.
    const [rows] = pairsWhere(6, 6, (c, k) => layout.has(c, k) && !layout.has(c, k - 1));
    expect(rows.length).toBe(8);
    expect(rects.length).toBe(rows.length);
    const covered = new Set<string>();
    const { cellWidth, cellHeight } = model.raster;
    for (const [, x, y, w, h] of rects) {
      expect(Number(h)).toBe(cellHeight);
      const c = (Number(y) - model.plot.y) / cellHeight;
      const k0 = (Number(x) - model.plot.x) / cellWidth;
      for (let k = k0; k < k0 + Number(w) / cellWidth; k++) covered.add(`${c},${k}`);
    }
    const expected = new Set(Array.from(layout.pairs().rows, (c, i) => `${c},${layout.pairs().cols[i]}`));
    expect(covered).toEqual(expected);
  });

  it('has the axis labels and a legend with shape, nnz, density and provenance', () => {
    const svg = layoutToSVG(layout);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('>output block k</text>');
    expect(svg).toContain('>input block c</text>');
    expect(layoutPicture(layout).legend).toEqual(['6 × 6 blocks of 32 × 32', 'nnz 18 · density 50.0%', 'banded width=1']);
    expect(svg).toContain('>nnz 18 · density 50.0%</text>');
    expect(svg).toContain('>banded width=1</text>');
  });

  it('renders the legend text in the PNG (compared with the same picture with its text removed)', () => {
    const model = layoutPicture(layout);
    const svg = layoutToSVG(layout);
    const withText = decode(svgToPNG(svg));
    const withoutText = decode(svgToPNG(svg.replace(/<text [^>]*>[^<]*<\/text>\n/g, '')));
    const legendTop = model.plot.y + model.plot.height + 4;
    const withCount = darkPixels(withText, legendTop, model.height);
    const withoutCount = darkPixels(withoutText, legendTop, model.height);
    expect(withCount).toBeGreaterThan(withoutCount + 400);
    // The rotated axis label renders too: left of the tick labels.
    let labelPixels = 0;
    for (let y = model.plot.y; y < model.plot.y + model.plot.height; y++) for (let x = 0; x < 28; x++) if (luminance(withText, x, y) < 128) labelPixels++;
    expect(labelPixels).toBeGreaterThan(50);
  });

  it('gives the same bytes for the same layout and options', () => {
    expect(layoutToSVG(layout, { title: 'band' })).toBe(layoutToSVG(layout, { title: 'band' }));
    expect(Buffer.from(layoutToPNG(layout, { title: 'band' })).equals(Buffer.from(layoutToPNG(layout, { title: 'band' })))).toBe(true);
  });

  it('keeps blocks square in a rectangular 40 x 100 layout and draws each block right', () => {
    const [rows, cols] = pairsWhere(40, 100, (c, k) => (c * 7 + k * 3) % 11 === 0 || k === 2 * c);
    const rect = BlockLayout.fromPairs({ inBlocks: 40, outBlocks: 100 }, rows, cols);
    const model = layoutPicture(rect);
    expect(model.mode).toBe('cells');
    expect(model.raster.cellWidth).toBe(model.raster.cellHeight);
    expect(model.plot.width / model.plot.height).toBeCloseTo(100 / 40, 10);
    const png = decode(layoutToPNG(rect));
    for (let c = 0; c < 40; c++) {
      for (let k = 0; k < 100; k++) {
        const [x, y] = cellCentre(model, c, k);
        expect(luminance(png, x, y) < 80, `block (${c}, ${k})`).toBe(rect.has(c, k));
      }
    }
  });

  it('embeds cells as an exact image (one pixel per block) when there are too many runs for rects', () => {
    // Checkerboard: every present block is its own run.
    const [rows, cols] = pairsWhere(400, 400, (c, k) => (c + k) % 2 === 0);
    const board = BlockLayout.fromPairs({ inBlocks: 400, outBlocks: 400 }, rows, cols);
    const model = layoutPicture(board);
    expect(model.mode).toBe('cells');
    expect(model.runs!.length / 3).toBeGreaterThan(MAX_SVG_RUNS);
    expect(model.raster.cellWidth).toBe(1);
    const svg = layoutToSVG(board);
    expect(svg).not.toContain('<g id="blocks"');
    expect(svg).toContain('data:image/png;base64,');
    const png = decode(svgToPNG(svg));
    let wrong = 0;
    for (let c = 0; c < 400; c++) {
      for (let k = 0; k < 400; k++) {
        const colour = rgbAt(png, model.plot.x + k, model.plot.y + c);
        if (colour !== ((c + k) % 2 === 0 ? model.options.presentColor : model.options.absentColor)) wrong++;
      }
    }
    expect(wrong).toBe(0);
  });

  it('scales an embedded raster without smoothing (forced density mode on a small layout)', () => {
    const model = layoutPicture(layout, { mode: 'density' });
    expect(model.mode).toBe('density');
    expect([model.raster.rowBlocks, model.raster.colBlocks]).toEqual([1, 1]);
    expect(model.raster.cellWidth).toBeGreaterThan(50);
    const png = decode(layoutToPNG(layout, { mode: 'density' }));
    const { plot, raster } = model;
    for (let c = 0; c < 6; c++) {
      for (let k = 0; k < 6; k++) {
        const expected = layout.has(c, k) ? model.options.presentColor : model.options.absentColor;
        // Pixels one in from each corner of the cell: smoothing would blend them with neighbours.
        for (const [dx, dy] of [[1, 1], [raster.cellWidth - 2, 1], [1, raster.cellHeight - 2], [raster.cellWidth - 2, raster.cellHeight - 2]]) {
          expect(rgbAt(png, plot.x + k * raster.cellWidth + dx, plot.y + c * raster.cellHeight + dy)).toBe(expected);
        }
      }
    }
  });
});

describe('large layouts: density shading', () => {
  // 100,000 x 100,000 blocks: the band |c - k| <= 2 plus a full 1,000 x 1,000 square at rows
  // 20,000.., columns 60,000..; about 1.5 million present blocks.
  const n = 100_000;
  const square = { c0: 20_000, k0: 60_000, size: 1_000 };
  const bandCount = 5 * n - 6;
  const rows = new Int32Array(bandCount + square.size ** 2);
  const cols = new Int32Array(rows.length);
  let w = 0;
  for (let c = 0; c < n; c++) {
    for (let k = Math.max(0, c - 2); k <= Math.min(n - 1, c + 2); k++) (rows[w] = c), (cols[w++] = k);
  }
  for (let c = square.c0; c < square.c0 + square.size; c++) {
    for (let k = square.k0; k < square.k0 + square.size; k++) (rows[w] = c), (cols[w++] = k);
  }
  const big = BlockLayout.fromPairs({ inBlocks: n, outBlocks: n }, rows, cols, {
    provenance: { generator: 'union', params: {}, sources: [{ generator: 'banded', params: { width: 5 } }, { generator: 'dense', params: {} }] },
  });

  it('chooses density mode and says so in the legend', () => {
    const model = layoutPicture(big);
    expect(model.mode).toBe('density');
    const b = model.raster.rowBlocks;
    expect(model.raster.colBlocks).toBe(b);
    expect(Math.ceil(n / b)).toBe(model.raster.rows);
    expect(model.plot.width).toBe(model.raster.cols);
    expect(model.plot.width).toBeLessThanOrEqual(800);
    expect(model.plot.width).toBeGreaterThan(600);
    const shading = model.legend.find((line) => line.includes('density ('));
    expect(shading).toBe(`shaded by density (log scale): each pixel = ${b} × ${b} blocks`);
    expect(model.legend[1]).toBe(`nnz ${formatCount(big.nnz)} · density ${formatPercent(big.nnz / n ** 2)}`);
    expect(layoutToSVG(big)).toContain('shaded by density');
  });

  it('shades the full square dark, the band lighter and empty space light', () => {
    const model = layoutPicture(big);
    const { plot, raster } = model;
    const b = raster.rowBlocks;
    // A raster cell wholly inside the square, one on the band far from it, one in empty space.
    const full = { r: Math.ceil(square.c0 / b) + 1, j: Math.ceil(square.k0 / b) + 1 };
    const band = { r: Math.floor(80_000 / b), j: Math.floor(80_000 / b) };
    const empty = { r: Math.floor(80_000 / b), j: Math.floor(10_000 / b) };
    expect(raster.fraction[full.r * raster.cols + full.j]).toBe(1);
    expect(raster.fraction[empty.r * raster.cols + empty.j]).toBe(0);
    const bandFraction = raster.fraction[band.r * raster.cols + band.j];
    expect(bandFraction).toBeGreaterThan(0);
    expect(bandFraction).toBeLessThan(0.1);
    const png = decode(layoutToPNG(big));
    const at = (cell: { r: number; j: number }): number => luminance(png, plot.x + cell.j + 0.5, plot.y + cell.r + 0.5);
    expect(at(full)).toBeLessThan(80);
    expect(at(empty)).toBeGreaterThan(200);
    expect(at(band)).toBeGreaterThan(at(full) + 20);
    expect(at(band)).toBeLessThan(at(empty) - 20);
    expect(rgbAt(png, plot.x + full.j, plot.y + full.r)).toBe(model.options.presentColor);
  });

  it('gives the same bytes twice', () => {
    expect(Buffer.from(layoutToPNG(big)).equals(Buffer.from(layoutToPNG(big)))).toBe(true);
  });

  it('uses non-square cells for a very flat layout and says how many px a cell is', () => {
    const [r, c] = pairsWhere(40, 100_000, (i, k) => k % 1000 === i);
    const flat = BlockLayout.fromPairs({ inBlocks: 40, outBlocks: 100_000 }, r, c);
    const model = layoutPicture(flat);
    expect(model.mode).toBe('density');
    expect(model.raster.rowBlocks).toBe(1);
    expect(model.raster.cellHeight).toBeGreaterThan(1);
    expect(model.plot.height).toBeGreaterThanOrEqual(100);
    expect(model.legend.at(-1)).toBe(
      `shaded by density (log scale): each ${model.raster.cellHeight} × 1 px cell = 1 × ${formatCount(model.raster.colBlocks)} blocks`,
    );
  });
});

describe('picture helpers', () => {
  it('computes the density raster as a brute-force count over the dense mask, edges included', () => {
    let state = 12345;
    const random = (): number => ((state = (state * 48271) % 2147483647) / 2147483647);
    const [rows, cols] = pairsWhere(37, 53, () => random() < 0.3);
    const layout = BlockLayout.fromPairs({ inBlocks: 37, outBlocks: 53 }, rows, cols);
    const mask = layout.toMask();
    const fraction = densityRaster(layout, 4, 6);
    const rasterRows = Math.ceil(37 / 4);
    const rasterCols = Math.ceil(53 / 6);
    expect(fraction.length).toBe(rasterRows * rasterCols);
    for (let r = 0; r < rasterRows; r++) {
      for (let j = 0; j < rasterCols; j++) {
        let present = 0;
        let total = 0;
        for (let c = 4 * r; c < Math.min(37, 4 * r + 4); c++) {
          for (let k = 6 * j; k < Math.min(53, 6 * j + 6); k++) (present += mask[c * 53 + k]), total++;
        }
        expect(fraction[r * rasterCols + j]).toBeCloseTo(present / total, 12);
      }
    }
  });

  it('merges runs of consecutive present blocks', () => {
    const layout = BlockLayout.fromPairs({ inBlocks: 2, outBlocks: 8 }, [0, 0, 0, 0, 1, 1], [1, 2, 3, 6, 0, 7]);
    expect(Array.from(presentRuns(layout))).toEqual([0, 1, 4, 0, 6, 7, 1, 0, 1, 1, 7, 8]);
  });

  it('formats counts, percentages and ticks the same in every locale', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(999)).toBe('999');
    expect(formatPercent(0.125)).toBe('12.5%');
    expect(formatPercent(0.5)).toBe('50.0%');
    expect(formatPercent(1 / 3)).toBe('33.3%');
    expect(formatPercent(0.0296)).toBe('2.96%');
    expect(formatPercent(3e-6)).toBe('0.000300%');
    expect(formatPercent(0.99999)).toBe('99.999%');
    expect(formatPercent(1e-13)).toBe('0.0000000000100%');
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(1)).toBe('100%');
    expect(formatTicks([0, 20_000, 40_000])).toEqual(['0', '20k', '40k']);
    expect(formatTicks([0, 500_000])).toEqual(['0', '500k']);
    expect(formatTicks([0, 500_000, 1_000_000, 1_500_000])).toEqual(['0', '0.5M', '1M', '1.5M']);
    expect(formatTicks([0, 2500, 5000])).toEqual(['0', '2,500', '5,000']);
  });

  it('maps fractions to shades: linear is the fraction, log rises from the floor to 1', () => {
    expect(densityShade(0.5, 'linear', 0)).toBe(0.5);
    expect(densityShade(0, 'log', 1e-4)).toBe(0);
    expect(densityShade(1e-4, 'log', 1e-4)).toBeCloseTo(0.2, 12);
    expect(densityShade(1e-2, 'log', 1e-4)).toBeCloseTo(0.6, 12);
    expect(densityShade(1, 'log', 1e-4)).toBe(1);
  });
});

describe('options and files', () => {
  const layout = smallLayout();

  it('rejects bad options with a ParameterError naming the option', () => {
    const bad: Array<[object, string]> = [
      [{ width: 100 }, 'width'],
      [{ width: 800.5 }, 'width'],
      [{ presentColor: 'red' }, 'presentColor'],
      [{ absentColor: '#12345' }, 'absentColor'],
      [{ mode: 'dots' }, 'mode'],
      [{ densityScale: 'sqrt' }, 'densityScale'],
      [{ title: 'two\nlines' }, 'title'],
    ];
    for (const [options, parameter] of bad) {
      expectParameterError(() => layoutToSVG(layout, options as never), parameter);
    }
    const [rows, cols] = pairsWhere(1000, 1000, (c, k) => c === k);
    const diagonal = BlockLayout.fromPairs({ inBlocks: 1000, outBlocks: 1000 }, rows, cols);
    expect(() => layoutPicture(diagonal, { mode: 'cells' })).toThrow(/mode must be/);
  });

  it('uses the width option and custom colours', () => {
    const model = layoutPicture(layout, { width: 400, presentColor: '#AA0000', absentColor: '#ffffff' });
    expect(model.width).toBe(400);
    const png = decode(layoutToPNG(layout, { width: 400, presentColor: '#AA0000', absentColor: '#ffffff' }));
    expect(png.width).toBe(400);
    const [x, y] = cellCentre(model, 0, 0);
    expect(rgbAt(png, Math.floor(x), Math.floor(y))).toBe('#aa0000');
  });

  it('saves SVG or PNG by extension, atomically, and rejects other extensions', () => {
    saveLayoutPicture(join(dir, 'band.svg'), layout);
    expect(readFileSync(join(dir, 'band.svg'), 'utf8')).toBe(layoutToSVG(layout));
    saveLayoutPicture(join(dir, 'band.PNG'), layout, { title: 'Band' });
    expect(readFileSync(join(dir, 'band.PNG')).equals(Buffer.from(layoutToPNG(layout, { title: 'Band' })))).toBe(true);
    for (const name of ['band.jpg', 'band', 'band.svg.txt']) {
      expectParameterError(() => saveLayoutPicture(join(dir, name), layout), 'path');
    }
  });
});
