import type { CSRGraph } from '../../src/graph/csr.js';

/**
 * networkx's average_clustering, for checking generators: the mean over all nodes of local
 * clustering (linked pairs of neighbours / all pairs of neighbours), nodes of degree < 2 counting 0.
 */
export function averageClustering(graph: CSRGraph): number {
  const { order, offsets, targets } = graph;
  const mark = new Int32Array(order).fill(-1);
  let sum = 0;
  for (let u = 0; u < order; u++) {
    const degree = offsets[u + 1] - offsets[u];
    if (degree < 2) continue;
    for (let i = offsets[u]; i < offsets[u + 1]; i++) mark[targets[i]] = u;
    let links = 0; // each link between two neighbours is seen twice
    for (let i = offsets[u]; i < offsets[u + 1]; i++) {
      const v = targets[i];
      for (let j = offsets[v]; j < offsets[v + 1]; j++) if (mark[targets[j]] === u) links++;
    }
    sum += links / (degree * (degree - 1));
  }
  return order === 0 ? 0 : sum / order;
}
