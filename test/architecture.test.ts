import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The rooms of src/ and which rooms each may import (see docs/architecture.md): the code flows one
// way, graph <- patterns <- (analysis | kernels) <- train <- runs <- cli, with render beside analysis.
// The top-level modules (src/*.ts: errors, check, budget, ...) are the floor: anyone may import
// them, and they import only each other. src/index.ts, the public API, may import anything.

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

/** Room -> the rooms its files may import (a room may always import itself and the top level). */
const ALLOWED: Record<string, readonly string[]> = {
  graph: [],
  patterns: ['graph'],
  analysis: ['graph', 'patterns'],
  kernels: ['graph', 'patterns'],
  render: ['graph', 'patterns', 'analysis'],
  train: ['graph', 'patterns', 'kernels'],
  runs: ['graph', 'patterns', 'analysis', 'kernels', 'train'],
  cli: ['graph', 'patterns', 'analysis', 'kernels', 'render', 'train', 'runs'],
};

/**
 * Edges that break the rule today, each with the reason and where it is going. The test fails on
 * any edge not listed here, and on a listed edge that no longer exists (so the list only shrinks).
 */
const KNOWN_VIOLATIONS: ReadonlyArray<{ from: string; to: string; why: string }> = [];

/** Every .ts file under `dir`, as paths relative to src/ with '/' separators. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(SRC, path).split('\\').join('/')] : [];
  });
}

// `import ... from './x.js'`, `export ... from './x.js'`, `import './x.js'` and `import('./x.js')`;
// only relative specifiers (packages and node: builtins are not part of the graph).
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

/** The import graph of src/: file -> the src files it imports (type-only imports included). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const targets = [...text.matchAll(IMPORT)].map((m) => {
      const target = relative(SRC, resolve(SRC, dirname(file), m[1])).split('\\').join('/');
      return target.replace(/\.js$/, '.ts');
    });
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The room of a file: its first folder under src/, or 'top' for src/*.ts. */
function roomOf(file: string): string {
  return file.includes('/') ? file.slice(0, file.indexOf('/')) : 'top';
}

/**
 * The import circles of the graph: its strongly connected components of more than one file
 * (Tarjan's algorithm), each sorted, as 'a <-> b <-> c'.
 */
function importCircles(graph: Map<string, string[]>): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[] = [];
  const visit = (file: string): void => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file)!, index.get(next)!));
      }
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== file);
      if (component.length > 1) circles.push(component.sort().join(' <-> '));
    }
  };
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) visit(file);
  return circles.sort();
}

/** Edges from one room to a room it may not import, as 'from -> to'. */
function layerViolations(graph: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const [file, targets] of graph) {
    if (file === 'index.ts') continue;
    const room = roomOf(file);
    for (const target of targets) {
      const to = roomOf(target);
      const allowed = to === room || (to === 'top' ? true : room !== 'top' && ALLOWED[room]?.includes(to));
      if (!allowed) out.push(`${file} -> ${target}`);
    }
  }
  return out.sort();
}

describe('the import graph of src/', () => {
  const graph = importGraph();

  it('finds the files and their imports', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('index.ts')).toContain('patterns/index.ts');
    // Every import resolves to a file of src/.
    const missing = [...graph].flatMap(([file, targets]) => targets.filter((t) => !graph.has(t)).map((t) => `${file} -> ${t}`));
    expect(missing).toEqual([]);
    // Every room has its rule.
    const rooms = new Set([...graph.keys()].map(roomOf));
    rooms.delete('top');
    expect([...rooms].sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it('has no import circles (type-only imports included)', () => {
    expect(importCircles(graph)).toEqual([]);
  });

  it('imports only downwards: each room imports only the rooms below it', () => {
    const known = KNOWN_VIOLATIONS.map((v) => `${v.from} -> ${v.to}`).sort();
    expect(layerViolations(graph)).toEqual(known);
  });
});
