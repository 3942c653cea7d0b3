import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CSRGraph, forEachEdge } from '../dist/graph/csr.js';

/** Writes the graph's edges as "u v" lines to `<dir>/edges-<order>.txt` (for igraph/networkx) and returns the path. */
export function writeEdgeList(graph: CSRGraph, dir: string): string {
  const file = join(dir, `edges-${graph.order}.txt`);
  const lines: string[] = [];
  forEachEdge(graph, (u, v) => lines.push(`${u} ${v}`));
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}
