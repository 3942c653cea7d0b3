import { type CSRGraph, forEachEdge } from '../../src/graph/csr.js';

/** Number of edges whose ring distance exceeds k/2: those that are not pairs of the ring lattice with k neighbours. */
export function nonLatticeEdges(graph: CSRGraph, k: number): number {
  let count = 0;
  forEachEdge(graph, (u, v) => {
    const d = Math.abs(u - v);
    if (Math.min(d, graph.order - d) > k / 2) count++;
  });
  return count;
}
