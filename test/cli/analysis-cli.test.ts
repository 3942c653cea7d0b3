import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { runMain } from '../helpers/cli.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blocksparse-analysis-cli-'));
});

describe('blocksparse inspect with metrics', () => {
  it('adds the default metrics for a square layout, as text and JSON', async () => {
    const file = join(dir, 'ring.json');
    expect((await runMain(['generate', 'ring-lattice', '--blocks', '60', '--k', '6', '-o', file])).code).toBe(0);
    const text = await runMain(['inspect', file]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/path length\s+5\.424/); // n(n+k-2)/(2k(n-1)) = 60*64/(12*59)
    expect(text.stdout).toMatch(/clustering\s+0\.6\b/); // 3(k-2)/(4(k-1)) = 0.6
    const json = JSON.parse((await runMain(['inspect', file, '--json', '--metrics', 'diameter,mixing-depth'])).stdout);
    expect(Object.keys(json.metrics)).toEqual(['diameter', 'mixing-depth']);
    expect(json.metrics.diameter.value).toBe(10);
    expect(json.metrics['mixing-depth'].value).toBe(10);
  });

  it('names an unknown metric', async () => {
    const result = await runMain(['inspect', join(dir, 'ring.json'), '--metrics', 'speed']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--metrics');
    expect(result.stderr).toContain('speed');
  });
});

describe('blocksparse compare', () => {
  it('compares specs and files in one table, as JSON, markdown and a plot', async () => {
    const file = join(dir, 'band.json');
    expect((await runMain(['generate', 'banded', '--blocks', '64', '--bandwidth', '2', '--wrap', '-o', file])).code).toBe(0);
    const args = ['compare', 'watts-strogatz:k=4,p=0.2,seed=3', 'random:nnz=320', file, '--blocks', '64', '--metrics', 'path-length,clustering'];
    const json = JSON.parse((await runMain([...args, '--json'])).stdout);
    expect(json.map((r: { name: string }) => r.name)).toEqual(['watts-strogatz:k=4,p=0.2,seed=3', 'random:nnz=320', 'band.json']);
    expect(json[0].inBlocks).toBe(64);
    expect(json[1].nnz).toBe(320);
    expect(json[2].metrics.clustering.value).toBeCloseTo(0.5, 12); // with --wrap the band is the ring lattice with k = 4
    const markdown = await runMain([...args, '--markdown', '--png', join(dir, 'compare.png')]);
    expect(markdown.code, markdown.stderr).toBe(0);
    expect(markdown.stdout.split('\n')[1]).toMatch(/^\| --- \|/);
    expect(PNG.sync.read(readFileSync(join(dir, 'compare.png'))).width).toBeGreaterThan(400);
  });
});

describe('blocksparse sweep', () => {
  it('prints the issue\'s JSON shape and writes the plot', async () => {
    const result = await runMain(['sweep', 'watts-strogatz', '--blocks', '100', '--k', '6', '--param', 'p', '--values', '0,0.05,1', '--seeds', '2', '--json', '--svg', join(dir, 'sweep.svg')]);
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.param).toBe('p');
    expect(json.points).toHaveLength(3);
    const point = json.points[1];
    expect(Object.keys(point)).toEqual(expect.arrayContaining(['value', 'averagePathLength', 'averageClustering', 'normalized']));
    expect(Object.keys(point.averagePathLength).sort()).toEqual(['mean', 'n', 'sd']);
    expect(point.averagePathLength.n).toBe(2);
    expect(json.points[0].normalized).toEqual({ averagePathLength: 1, averageClustering: 1 });
    expect(readFileSync(join(dir, 'sweep.svg'), 'utf8')).toContain('<svg');
  });

  it('needs values, and names the parameter it cannot vary', async () => {
    const none = await runMain(['sweep', 'ws', '--blocks', '30', '--param', 'p']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--values');
    const bad = await runMain(['sweep', 'ws', '--blocks', '30', '--param', 'm', '--values', '1,2']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--param');
  });
});
