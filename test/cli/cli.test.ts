import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { runMain } from '../helpers/cli.js';
import { runPythonJSON } from '../helpers/python.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blocksparse-cli-'));
});

const inspectJSON = async (file: string, ...extra: string[]) => {
  const result = await runMain(['inspect', file, '--json', ...extra]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
};

describe('blocksparse generate', () => {
  it('writes the layout, its .npy and both pictures', async () => {
    const out = join(dir, 'ws');
    const result = await runMain(['generate', 'watts-strogatz', '--blocks', '64', '--k', '6', '--p', '0.2', '--seed', '3',
      '-o', `${out}.json`, '--npy', `${out}.npy`, '--png', `${out}.png`, '--svg', `${out}.svg`]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('64 x 64 blocks');
    const summary = await inspectJSON(`${out}.json`);
    expect(summary.nnz).toBe(64 * 6 + 64); // k neighbours both ways plus the diagonal, for any p
    expect(summary.symmetric).toBe(true);
    expect(summary.provenance).toMatchObject({ generator: 'watts-strogatz', seed: 3, params: { k: 6, rewireProb: 0.2 } });
    // the .npy holds the same blocks, as numpy reads them
    const fromNumpy = runPythonJSON<{ sum: number; shape: number[]; dtype: string }>(
      `import numpy as np, json; a = np.load(${JSON.stringify(`${out}.npy`)}); print(json.dumps({"sum": int(a.sum()), "shape": list(a.shape), "dtype": str(a.dtype)}))`);
    expect(fromNumpy).toEqual({ sum: 64 * 7, shape: [64, 64], dtype: 'uint8' });
    const png = PNG.sync.read(readFileSync(`${out}.png`));
    expect(png.width).toBeGreaterThan(200);
    expect(readFileSync(`${out}.svg`, 'utf8')).toMatch(/^<svg|^<\?xml/);
  });

  it('gives byte-identical files for the same seed and different ones for another seed', async () => {
    const run = async (name: string, seed: string) => {
      const result = await runMain(['generate', 'barabasi-albert', '--blocks', '100', '--m', '3', '--seed', seed, '-o', join(dir, name)]);
      expect(result.code, result.stderr).toBe(0);
      return readFileSync(join(dir, name), 'utf8');
    };
    const a = await run('ba-a.json', '11');
    expect(await run('ba-b.json', '11')).toBe(a);
    expect(await run('ba-c.json', '12')).not.toBe(a);
  });

  it('accepts OpenAI preset names and rectangular shapes', async () => {
    expect((await runMain(['generate', 'br_2', '--blocks', '24', '-o', join(dir, 'br.json')])).code).toBe(0);
    const br = await inspectJSON(join(dir, 'br.json'));
    expect(br.inDegree).toEqual({ min: 5, mean: 5, max: 5 });
    expect((await runMain(['generate', 'ws', '--in-blocks', '20', '--out-blocks', '30', '-o', join(dir, 'cut.json')])).code).toBe(0);
    const cut = await inspectJSON(join(dir, 'cut.json'));
    expect([cut.inBlocks, cut.outBlocks]).toEqual([20, 30]);
    expect(cut.provenance.params.cutFrom).toBe(30);
  });

  it('shows every option of a pattern with its default', async () => {
    const result = await runMain(['generate', 'bigbird', '--help']);
    expect(result.code).toBe(0);
    for (const text of ['--window <int>', '--global <int>', '--random <int>', '--causal', '--seed <seed>', '--block-size', '--no-diagonal', 'default: 1'])
      expect(result.stdout).toContain(text);
  });
});

describe('blocksparse errors', () => {
  const expectUsageError = async (args: string[], ...mentions: string[]) => {
    const result = await runMain(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    for (const text of mentions) expect(result.stderr).toContain(text);
  };

  it('exits with 2 and one line naming the option', async () => {
    const out = join(dir, 'never.json');
    await expectUsageError(['generate', 'ws', '--blocks', '64', '--k', '3', '-o', out], '--k', 'even integer');
    await expectUsageError(['generate', 'ws', '--blocks', '64', '--p', '2', '-o', out], '--p', '[0, 1]');
    await expectUsageError(['generate', 'ws', '--blocks', 'many', '-o', out], '--blocks', 'integer');
    await expectUsageError(['generate', 'ws', '--blocks', '64', '--m', '2', '-o', out], "'--m'");
    await expectUsageError(['generate', 'ws', '--blocks', '64'], '--output');
    await expectUsageError(['generate', 'ws', '-o', out], '--blocks');
    await expectUsageError(['generate', 'ws', '--blocks', '64', '--block-size', '12', '-o', out], '--block-size');
    await expectUsageError(['generate', 'ws', '--blocks', '64', '-o', join(dir, 'x.txt')], 'path', '.json');
    await expectUsageError(['inspect', join(dir, 'missing.json')], 'missing.json');
    expect(existsSync(out)).toBe(false);
  });

  it('reports a malformed file by name and field', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"format": "blocksparse-layout", "version": 9}');
    await expectUsageError(['inspect', bad], 'bad.json', 'version');
  });
});

describe('blocksparse convert and inspect', () => {
  it('round-trips JSON -> npy -> JSON with the same blocks', async () => {
    const json = join(dir, 'band.json');
    expect((await runMain(['generate', 'banded', '--in-blocks', '10', '--out-blocks', '14', '--bandwidth', '2', '--block-size', '16', '-o', json])).code).toBe(0);
    expect((await runMain(['convert', json, join(dir, 'band.npy')])).code).toBe(0);
    expect((await runMain(['convert', join(dir, 'band.npy'), join(dir, 'band2.json'), '--block-size', '16'])).code).toBe(0);
    const a = JSON.parse(readFileSync(json, 'utf8'));
    const b = JSON.parse(readFileSync(join(dir, 'band2.json'), 'utf8'));
    expect(b.rowPtr).toEqual(a.rowPtr);
    expect(b.colIdx).toEqual(a.colIdx);
    expect(b.blockSize).toBe(16);
  });

  it('prints a readable summary', async () => {
    const json = join(dir, 'dense.json');
    expect((await runMain(['generate', 'dense', '--in-blocks', '3', '--out-blocks', '5', '-o', json])).code).toBe(0);
    const text = (await runMain(['inspect', json])).stdout;
    expect(text).toContain('3 x 5 blocks of 32 x 32 (96 -> 160 features)');
    expect(text).toContain('15 of 15 (100%)');
  });
});

describe('blocksparse demo and patterns', () => {
  it('runs the demo: four layouts at equal density, saved with pictures', async () => {
    const out = join(dir, 'demo');
    const result = await runMain(['demo', '--blocks', '32', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    for (const name of ['ws', 'ba', 'random', 'banded']) expect(result.stdout).toContain(name);
    expect(readdirSync(out).sort()).toEqual(['ba', 'banded', 'random', 'ws'].flatMap((n) => [`${n}.json`, `${n}.npy`, `${n}.png`]).sort());
  });

  it('lists every pattern', async () => {
    const result = await runMain(['patterns', '--json']);
    const names = JSON.parse(result.stdout).map((d: { name: string }) => d.name);
    expect(names).toContain('watts-strogatz');
    expect(names).toContain('bigbird');
  });
});
