import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const notebooks = readdirSync(join(root, 'notebooks')).filter((name) => name.endsWith('.ipynb'));
const NBCONVERT = process.env.BLOCKSPARSE_NBCONVERT ?? '/usr/bin/jupyter-nbconvert';

interface Output {
  output_type: string;
  name?: string;
  text?: string[];
  data?: Record<string, unknown>;
}

// Notebooks run on the tslab kernel against the built package (dist/, made by `npm run build`,
// which `npm ci` and `npm test` run first). .ci/run installs jupyter-nbconvert and registers tslab.
describe.each(notebooks)('notebook %s', (name) => {
  it('executes from top to bottom without errors and shows its figures', () => {
    expect(existsSync(NBCONVERT), `${NBCONVERT} is missing: apt-get install jupyter-nbconvert python3-ipykernel (see .ci/run)`).toBe(true);
    const out = join(mkdtempSync(join(tmpdir(), 'blocksparse-nb-')), name);
    const result = spawnSync(NBCONVERT, ['--to', 'notebook', '--execute', '--ExecutePreprocessor.timeout=600', join(root, 'notebooks', name), '--output', out], {
      cwd: join(root, 'notebooks'),
      encoding: 'utf8',
      env: { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}${delimiter}${process.env.PATH}` },
    });
    expect(result.status, result.stderr.slice(-3000)).toBe(0);
    const executed = JSON.parse(readFileSync(out, 'utf8')) as { cells: { cell_type: string; outputs?: Output[] }[] };
    const outputs = executed.cells.filter((c) => c.cell_type === 'code').flatMap((c) => c.outputs ?? []);
    expect(outputs.filter((o) => o.output_type === 'error' || o.name === 'stderr')).toEqual([]);
    expect(outputs.some((o) => o.data && 'image/png' in o.data)).toBe(true);
  }, 900_000);
});
