import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { sweepPattern } from '../../src/analysis/sweep.js';
import { comparePlot, sweepPlot } from '../../src/render/analysis-plots.js';
import { plotToPNG, plotToSVG } from '../../src/render/vega-plot.js';

describe('plots', () => {
  it('render a sweep and a comparison to SVG and PNG with their text', async () => {
    const result = await sweepPattern({ pattern: 'ws', param: 'p', values: [0.001, 0.01, 0.1, 1], seeds: 2, base: { blocks: 60, params: { k: 4 } } });
    const svg = await plotToSVG(sweepPlot(result));
    expect(svg).toContain('L(p) / L(0.001)');
    expect(svg).toContain('C(p) / C(0.001)');
    const png = PNG.sync.read(Buffer.from(await plotToPNG(sweepPlot(result))));
    expect(png.width).toBeGreaterThan(800); // rendered at 2x
    const compare = comparePlot([{ name: 'a', metrics: { clustering: 0.5 }, mixing: [0.1, 1] }, { name: 'b', metrics: { clustering: 0.2 } }]);
    const compareSVG = await plotToSVG(compare);
    expect(compareSVG).toContain('clustering');
    expect(compareSVG).toContain('mixing');
  });
});
