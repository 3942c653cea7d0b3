import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// notebooks/executed/ holds each notebook as executed (outputs and pictures), so that it reads on a
// repository page; `npm run notebooks:execute` rewrites them. This checks that every notebook has
// its executed copy and that the copy's cells are the notebook's (notebooks.test.ts executes the
// notebooks themselves).
const root = fileURLToPath(new URL('../..', import.meta.url));
const notebooks = readdirSync(join(root, 'notebooks')).filter((name) => name.endsWith('.ipynb'));

interface Notebook {
  cells: { cell_type: string; source: string | string[]; outputs?: { output_type: string }[] }[];
}

const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Notebook;
const source = (cell: Notebook['cells'][number]) => (Array.isArray(cell.source) ? cell.source.join('') : cell.source);

describe.each(notebooks)('executed copy of notebook %s', (name) => {
  it('has the notebook\'s cells, each code cell executed without errors', () => {
    const original = read(join(root, 'notebooks', name));
    const executed = read(join(root, 'notebooks', 'executed', name));
    expect(executed.cells.map(source), 'notebooks/executed is stale: run npm run notebooks:execute').toEqual(original.cells.map(source));
    const code = executed.cells.filter((c) => c.cell_type === 'code');
    expect(code.some((c) => (c.outputs ?? []).length > 0)).toBe(true);
    expect(code.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === 'error')).toEqual([]);
  });
});
