/**
 * The render room: everything that turns results into pictures and printed numbers.
 *
 * - Layout pictures: `picture-model.ts` lays a layout out (boxes, texts, a raster), `picture-colors.ts`
 *   holds the colours and density shading, `picture-svg.ts` writes the model as SVG, `svg-to-png.ts`
 *   renders any SVG to PNG with the bundled font, and `picture.ts` picks SVG or PNG for a caller.
 * - Plots: `vega-plot.ts` renders a vega-lite specification (SVG, PNG, file); `analysis-plots.ts`
 *   builds the specifications of analysis results (a sweep, a comparison).
 * - `fonts.ts` (DejaVu Sans metrics and files) and `number-format.ts` (counts, percentages, ticks).
 *
 * Dependency direction: render sits beside analysis, above patterns. It may import the top-level
 * modules, patterns (the BlockLayout type, provenance) and analysis (result types); the CLI imports
 * render. Nothing in graph, patterns, analysis, kernels or train imports render; the public API
 * (src/index.ts) re-exports the names below. test/architecture.test.ts checks this.
 *
 * @module
 */
export { layoutToPNG, saveLayoutPicture } from './picture.js';
export { layoutToSVG } from './picture-svg.js';
export type { PictureMode, PictureOptions } from './picture-model.js';
export type { DensityScale } from './picture-colors.js';
export { plotToPNG, plotToSVG, savePlot, type PlotSpec } from './vega-plot.js';
export { comparePlot, linePlot, sweepPlot, wantsLogAxis, type ComparePlotRow, type LinePoint } from './analysis-plots.js';
