/**
 * Hostile and careless input to layouts, their files, generators, pattern specs and what the CLI
 * prints from files (issue 9): each case gives one typed error or works in bounded memory.
 * Nothing here allocates gigabytes: small budgets (withMemoryBudget, --max-memory) trigger the
 * refusals, and big files are sparse (truncateSync).
 */
import { chmodSync, mkdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withMemoryBudget } from '../../src/budget.js';
import { ResourceError } from '../../src/errors.js';
import { formatSummary, describeLayoutLine } from '../../src/cli/describe.js';
import { formatTable } from '../../src/cli/table.js';
import { loadLayout, saveLayout } from '../../src/patterns/files.js';
import { layoutToJSONChunks, layoutToJSONString, parseLayoutJSON } from '../../src/patterns/json-format.js';
import { BlockLayout } from '../../src/patterns/layout.js';
import { layoutToNpy, layoutToNpyChunks } from '../../src/patterns/npy.js';
import { transpose, union } from '../../src/patterns/layout-operations.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { buildPattern } from '../../src/patterns/registry.js';
import { parsePatternSpec } from '../../src/patterns/spec.js';
import { summarize } from '../../src/patterns/summary.js';
import { catchError, expectParameterError } from '../helpers/expect-error.js';
import { runCli, runMain } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const MiB = 2 ** 20;
const dir = tempDir('blocksparse-hostile-layouts-');

/** The 196-byte document of a valid 1 x 2147483646-block layout with one block. */
const WIDE_JSON = JSON.stringify({
  format: 'blocksparse-layout', version: 1, inBlocks: 1, outBlocks: 2147483646, blockSize: 32, nnz: 1,
  rowPtr: [0, 1], colIdx: [2147483645], provenance: { generator: 'x', params: {} },
});

/** A CLI failure: exit 2, exactly one line on stderr, nothing on stdout; returns that line. */
function expectOneLineError(result: { code: number; stdout: string; stderr: string }): string {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^blocksparse: error: /);
  return lines[0];
}

describe('hostile layouts and layout files', () => {
  it('case 1: a layout file over 2 GiB gives a ResourceError naming the file, before reading', () => {
    for (const name of ['huge.json', 'huge.npy']) {
      const path = join(dir, name);
      writeFileSync(path, '');
      truncateSync(path, 3 * 2 ** 30); // sparse: no disk used
      const error = withMemoryBudget(64 * MiB, () => catchError(() => loadLayout(path)));
      expect(error).toBeInstanceOf(ResourceError);
      expect((error as Error).message).toContain(`layout file ${path}`);
      expect((error as Error).message).toMatch(/3\.0 GiB/);
    }
  });

  it('case 2: a 196-byte 1 x 2147483646 layout loads and summarises in a 64 MiB budget; O(outBlocks) views are refused', () => {
    const path = join(dir, 'wide.json');
    writeFileSync(path, WIDE_JSON);
    withMemoryBudget(64 * MiB, () => {
      const layout = loadLayout(path);
      expect([layout.inBlocks, layout.outBlocks, layout.nnz]).toEqual([1, 2147483646, 1]);
      const summary = summarize(layout);
      expect(summary.inDegree).toEqual({ min: 0, mean: 1 / 2147483646, max: 1 });
      expect(summary.emptyColumns).toBe(2147483645);
      expect(summary.emptyRows).toBe(0);
      expect(formatSummary(summary, path)).toContain('2147483645 output blocks are fed by nothing');
      // Views and operations of size outBlocks check the budget first.
      for (const run of [() => layout.columns(), () => layout.inDegrees(), () => transpose(layout), () => layout.toMask()]) {
        const error = catchError(run);
        expect(error).toBeInstanceOf(ResourceError);
        expect((error as Error).message).toMatch(/1 x 2147483646 blocks|2147483646 x 1 blocks/);
      }
      // Constructors from shapes check before allocating rowPtr.
      const pairs = catchError(() => BlockLayout.fromPairs({ inBlocks: 2 ** 31 - 2, outBlocks: 1 }, [0], [0]));
      expect(pairs).toBeInstanceOf(ResourceError);
      expect((pairs as Error).message).toMatch(/BlockLayout\.fromPairs \(2147483646 x 1 blocks, 1 present\) needs about/);
      // Small operations still work.
      expect(union(layout, layout).nnz).toBe(1);
    });
  });

  it('case 3a: an .npy of 2^31 cells is refused up front naming the file and the size, or streamed within the budget', () => {
    const layout = withMemoryBudget(64 * MiB, () => buildPattern('random', { inBlocks: 2, outBlocks: 1073741823, seed: 1, params: { nnz: 2 } }));
    expect(layout.nnz).toBe(2);
    const path = join(dir, 'r.npy');
    const error = withMemoryBudget(64 * MiB, () => catchError(() => saveLayout(path, layout)));
    expect(error).toBeInstanceOf(ResourceError);
    expect((error as Error).message).toMatch(/r\.npy: the \.npy of a 2 x 1073741823-block layout is a dense matrix of 2\.0 GiB, over the 64 MiB/);
    expect(() => readFileSync(path)).toThrow(/ENOENT/);
    // The writer streams: chunks of at most 1 MiB, the same bytes as the one-buffer writer.
    const small = randomLayout({ inBlocks: 1100, outBlocks: 1000, nnz: 5000, seed: 3 });
    const chunks = [...layoutToNpyChunks(small)];
    expect(Math.max(...chunks.map((chunk) => chunk.length))).toBeLessThanOrEqual(MiB);
    expect(Buffer.concat(chunks).equals(Buffer.from(layoutToNpy(small)))).toBe(true);
  });

  it('case 3b: generate ws --blocks 100000000 is refused at once naming blocks and --max-memory; the JSON writer streams', () => {
    const started = Date.now();
    const error = withMemoryBudget(64 * MiB, () => catchError(() => buildPattern('ws', { blocks: 100_000_000, seed: 1 })));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(ResourceError);
    expect((error as Error).message).toMatch(/^watts-strogatz with blocks 100000000 \(a graph of about 400000000 arcs and a layout of about 500000000 blocks\) needs about .* GiB of memory, over the budget of 64 MiB \(raise it with --max-memory/);
    // Streamed JSON: the same text as the one-string writer, in bounded chunks.
    const layout = buildPattern('ws', { blocks: 20_000, seed: 2 });
    const chunks = [...layoutToJSONChunks(layout)];
    expect(chunks.length).toBeGreaterThan(3);
    expect(Math.max(...chunks.map((chunk) => chunk.length))).toBeLessThan(2 ** 17);
    expect(chunks.join('')).toBe(layoutToJSONString(layout));
    expect(parseLayoutJSON(chunks.join('')).equals(layout)).toBe(true);
  });

  it('case 3c: the CLI refuses the .npy of 2^31 cells and the huge ws layout with one line, writing nothing', () => {
    const npy = expectOneLineError(runCli(['generate', 'random', '--in-blocks', '2', '--out-blocks', '1073741823', '--nnz', '2', '-o', 'r.npy', '--max-memory', '64M'], dir));
    expect(npy).toMatch(/r\.npy: .* 2\.0 GiB/);
    const ws = expectOneLineError(runCli(['generate', 'ws', '--blocks', '100000000', '-o', 'x.json', '--max-memory', '64M'], dir));
    expect(ws).toMatch(/blocks 100000000 .*--max-memory/);
    expect(() => readFileSync(join(dir, 'x.json'))).toThrow(/ENOENT/);
  });

  it('case 4: demo --out on a file, or on a folder of other files, is refused before any work', async () => {
    const file = join(dir, 'f');
    writeFileSync(file, 'keep');
    expect(expectOneLineError(await runMain(['demo', '--out', file, '--blocks', '16']))).toContain(`${file}: cannot create the output folder: a file is in the way`);
    expect(readFileSync(file, 'utf8')).toBe('keep');
    const folder = join(dir, 'photos');
    mkdirSync(folder);
    writeFileSync(join(folder, 'holiday.jpg'), 'jpeg');
    const line = expectOneLineError(await runMain(['demo', '--out', folder, '--blocks', '16']));
    expect(line).toContain('refusing to write the demo into a folder that holds other files ("holiday.jpg"); choose another --out, or pass --force');
    expect(readFileSync(join(folder, 'holiday.jpg'), 'utf8')).toBe('jpeg');
  });

  it('case 5: pattern specs refuse a key given twice and unknown keys (no prototype pollution)', () => {
    const twice = expectParameterError(() => parsePatternSpec('ws:k=4,k=6'), 'k');
    expect(twice.message).toMatch(/given once \(it is given twice\)/);
    for (const key of ['__proto__', 'constructor', 'prototype', 'kk', 'toString']) {
      const error = expectParameterError(() => parsePatternSpec(`ws:${key}=1`), key);
      expect(error.message).toContain('one of blocks, in-blocks, out-blocks, block-size, seed, diagonal, k, p');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(parsePatternSpec('ws:k=4').options.params)).toBeNull();
    expectParameterError(() => parsePatternSpec('ws_4_10:k=4'), 'k');
  });

  it('case 6: control characters from files are printed escaped, one line per field', async () => {
    const evil = '\u001b]0;pwned\u0007\nFAKE LINE';
    const layout = BlockLayout.fromCSR({
      inBlocks: 2, outBlocks: 2, rowPtr: Int32Array.of(0, 1, 2), colIdx: Int32Array.of(0, 1),
      provenance: { generator: `gen${evil}`, params: { note: evil }, seed: evil },
    });
    const text = formatSummary(summarize(layout), `file${evil}.json`);
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(text.split('\n')).toHaveLength(10); // title, 8 fields, final newline
    expect(text).toContain('note=\\x1b]0;pwned\\x07\\nFAKE LINE');
    expect(describeLayoutLine(layout)).not.toContain('\n');
    expect(formatTable(['name'], [[evil]])).toBe('name\n\\x1b]0;pwned\\x07\\nFAKE LINE\n');

    const path = join(dir, 'evil.json');
    saveLayout(path, layout);
    const result = await runMain(['inspect', path, '--metrics', 'none']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // eslint-disable-next-line no-control-regex
    expect(result.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(result.stdout).toContain('provenance  gen\\x1b]0;pwned\\x07\\nFAKE LINE note=\\x1b]0;pwned\\x07\\nFAKE LINE');
    expect(result.stdout.split('\n').filter((line) => line.includes('FAKE LINE'))).toHaveLength(1);
  });

  it('case 7: -o on a read-only file or a symbolic link is refused; neither file changes', async () => {
    const readOnly = join(dir, 'ro.json');
    writeFileSync(readOnly, 'original');
    chmodSync(readOnly, 0o444);
    const line = expectOneLineError(await runMain(['generate', 'banded', '--blocks', '4', '-o', readOnly]));
    expect(line).toContain(`${readOnly}: refusing to write: the file is read-only`);
    expect(readFileSync(readOnly, 'utf8')).toBe('original');

    const target = join(dir, 'target.json');
    const link = join(dir, 'link.json');
    writeFileSync(target, 'target');
    symlinkSync(target, link);
    expect(expectOneLineError(await runMain(['generate', 'banded', '--blocks', '4', '-o', link]))).toContain(`${link}: refusing to write: it is a symbolic link`);
    expect(readFileSync(target, 'utf8')).toBe('target');
  });

  it('case 2 (API): every shape-driven constructor checks the budget before allocating', () => {
    withMemoryBudget(64 * MiB, () => {
      for (const build of [
        () => randomLayout({ inBlocks: 2 ** 31 - 2, outBlocks: 1, nnz: 3, seed: 1 }),
        () => buildPattern('banded', { inBlocks: 2 ** 30, outBlocks: 2, params: { bandwidth: 0 } }),
        () => buildPattern('sliding-window', { blocks: 2 ** 28, params: { window: 1 } }),
        () => buildPattern('ws', { blocks: 10_000_000, seed: 1 }),
      ]) {
        const error = catchError(build);
        expect(error).toBeInstanceOf(ResourceError);
        expect((error as Error).message).toMatch(/over the budget of 64 MiB/);
      }
    });
  });
});
