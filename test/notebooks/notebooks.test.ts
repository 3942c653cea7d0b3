import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { convWeights, defaultCnnStudy } from '../../src/runs/cnn-study.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const notebooks = readdirSync(join(root, 'notebooks')).filter((name) => name.endsWith('.ipynb'));
const NBCONVERT = process.env.BLOCKSPARSE_NBCONVERT ?? '/usr/bin/jupyter-nbconvert';

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
}

/** A notebook's printed text: its streams and its markdown and plain-text displays, in order. */
const printed = (outputs: Output[]): string =>
  outputs.flatMap((o) => [o.text, o.data?.['text/markdown'], o.data?.['text/plain']])
    .filter((t): t is string | string[] => t !== undefined)
    .map((t) => (Array.isArray(t) ? t.join('') : t))
    .join('\n');

/** The cells of the markdown table rows that start with `first`. */
const tableRow = (text: string, first: string): string[] | undefined =>
  text.split('\n').map((line) => line.split('|').slice(1, -1).map((c) => c.trim())).find((cells) => cells[0] === first);

/**
 * What a notebook must print beyond running cleanly, checked as values. small-world-cnn: the
 * impulse through a convolution whose layout lacks (1, 0) spreads over the 3 x 3 window and skips
 * output block 0; the study's five models trained above chance at (about) the dense model's
 * convolution weights; one picture per block-sparse model.
 */
const outputChecks: Record<string, (outputs: Output[]) => void> = {
  'small-world-cnn.ipynb': (outputs) => {
    const text = printed(outputs);
    expect(text).toMatch(/impulse in input channel 3 \(channel block 0\) at \(3, 3\): reaches 9 positions, \(2, 2\) .* \(4, 4\), in output channel blocks 0, 1\n/);
    expect(text).toMatch(/impulse in input channel 11 \(channel block 1\) at \(3, 3\): reaches 9 positions, \(2, 2\) .* \(4, 4\), in output channel blocks 1\n/);
    const models = defaultCnnStudy().models;
    const denseWeights = convWeights(models[0].channels, models[0].depth);
    for (const model of models) {
      const row = tableRow(text, model.name);
      expect(row, `no summary row for ${model.name}`).toBeDefined();
      const [, accuracy, weights, conv, seconds, seeds] = row!;
      const percent = Number(/^([\d.]+) ± /.exec(accuracy)?.[1]);
      expect(percent, `${model.name}: ${accuracy}`).toBeGreaterThan(15);
      expect(percent).toBeLessThanOrEqual(100);
      expect(Number(weights)).toBeGreaterThan(Number(conv));
      expect(Math.abs(Number(conv) / denseWeights - 1), `${model.name}: ${conv} convolution weights against ${denseWeights}`).toBeLessThan(0.1);
      expect(Number(seconds)).toBeGreaterThan(0);
      expect(seeds).toBe('1');
    }
    expect(Number(tableRow(text, models[0].name)![3])).toBe(denseWeights);
    expect(outputs.filter((o) => o.data && 'image/png' in o.data)).toHaveLength(models.filter((m) => m.pattern !== null).length);
  },
};

/** A cell's time limit: every notebook runs in well under a minute (about 110 s for all four on CI). */
const CELL_TIMEOUT_S = 240;

// Notebooks run on the tslab kernel against the built package (dist/, made by `npm run build`,
// which `npm ci` and `npm test` run first). .ci/run installs jupyter-nbconvert and registers tslab.
describe.each(notebooks)('notebook %s', (name) => {
  it('executes from top to bottom without errors and shows its figures', () => {
    expect(existsSync(NBCONVERT), `${NBCONVERT} is missing: apt-get install jupyter-nbconvert python3-ipykernel (see .ci/run)`).toBe(true);
    const out = join(mkdtempSync(join(tmpdir(), 'blocksparse-nb-')), name);
    const execute = () =>
      spawnSync(NBCONVERT, ['--to', 'notebook', '--execute', `--ExecutePreprocessor.timeout=${CELL_TIMEOUT_S}`, join(root, 'notebooks', name), '--output', out], {
        cwd: join(root, 'notebooks'),
        encoding: 'utf8',
        env: { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}${delimiter}${process.env.PATH}` },
        timeout: (CELL_TIMEOUT_S + 120) * 1000,
      });
    let result = execute();
    // Jupyter's messaging between nbconvert and the tslab kernel has been seen to stall (both
    // parked, the kernel idle, no cell running): that is the harness, not the notebook, so a
    // timed-out run is run once more; a notebook's own error fails at once.
    if (result.status !== 0 && (result.error !== undefined || /Timeout|timed out/i.test(result.stderr))) result = execute();
    expect(result.status, `${result.error ?? ''}${result.stderr.slice(-3000)}`).toBe(0);
    const executed = JSON.parse(readFileSync(out, 'utf8')) as { cells: { cell_type: string; outputs?: Output[] }[] };
    const outputs = executed.cells.filter((c) => c.cell_type === 'code').flatMap((c) => c.outputs ?? []);
    expect(outputs.filter((o) => o.output_type === 'error' || o.name === 'stderr')).toEqual([]);
    expect(outputs.some((o) => o.data && 'image/png' in o.data)).toBe(true);
    outputChecks[name]?.(outputs);
  }, 2 * (CELL_TIMEOUT_S + 150) * 1000);
});
