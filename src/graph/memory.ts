import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import { checkMemory } from '../budget.js';
import { type CSRGraph, toGraphology } from './csr.js';

/*
 * Memory estimates of the graph generators, checked against the process-wide budget (src/budget.ts)
 * at the top of each generator, right after its argument checks, before anything whose size comes
 * from the parameters is allocated. A CSR graph is offsets (order + 1 Int32) and targets (one Int32
 * per arc: two per undirected edge); the generators' edge lists, samplers and slot arrays come to
 * about as much again or less, so 16 bytes per arc covers the CSR and its temporaries (the allowance
 * of src/patterns/registry.ts, measured there against peaks). Hash sets of edges (EdgeSet) are
 * estimated separately with `edgeSetBytes`, since they can outweigh the rest.
 */

/** Bytes per arc for a generator's CSR and its temporaries (edge lists, samplers, slots). */
export const CSR_BYTES_PER_ARC = 16;

/**
 * Bytes per node of a graphology graph (its node entry, key string and adjacency objects). Measured
 * with graphology 0.26 on Node 20 as the heap growth of `toGraphology` on Watts-Strogatz graphs of
 * 100k to 1M nodes (k = 2 to 40): about 320 bytes per node and 280 to 300 per edge; rounded up,
 * since the resident size grows 10-20% more than the heap.
 */
export const GRAPHOLOGY_NODE_BYTES = 400;
/** Bytes per edge of a graphology graph (see GRAPHOLOGY_NODE_BYTES for the measurement). */
export const GRAPHOLOGY_EDGE_BYTES = 400;

/**
 * Edges of the graphology graph being built per CSR arc, while a graphology form runs its CSR core
 * (see `graphologyView`); 0 when a CSR form was called directly.
 */
let viewEdgesPerArc = 0;

/** Bytes of an `EdgeSet` created for `expected` pairs: its hash table and its three dense arrays. */
export function edgeSetBytes(expected: number): number {
  if (!Number.isFinite(expected)) return Infinity;
  let capacity = 16;
  while (capacity < 2 * expected) capacity *= 2;
  return 4 * capacity + 12 * Math.max(8, Math.ceil(expected));
}

/**
 * Checks, before generating, that `generator` (the name its errors use, e.g. "wattsStrogatz") with
 * `order` nodes and about `arcs` CSR arcs fits the memory budget: 4 * (order + 1) + 16 * arcs bytes
 * plus `extraBytes` (hash sets, node-sized temporaries), plus the graphology graph when called from
 * a graphology form. ResourceError naming the generator, its size (`size`, default "order = N") and
 * the estimate otherwise.
 */
export function checkGraphMemory(generator: string, order: number, arcs: number, extraBytes = 0, size = `order = ${order}`): void {
  const arcCount = Math.ceil(arcs);
  let bytes = 4 * (order + 1) + CSR_BYTES_PER_ARC * arcCount + extraBytes;
  let parts = `a graph of about ${arcCount} arcs`;
  if (viewEdgesPerArc > 0) {
    const edges = Math.ceil(arcCount * viewEdgesPerArc);
    bytes += GRAPHOLOGY_NODE_BYTES * order + GRAPHOLOGY_EDGE_BYTES * edges;
    parts += ` and its graphology graph of about ${edges} edges`;
  }
  checkMemory(`${generator} with ${size} (${parts})`, bytes, { elements: Math.max(order + 1, arcCount) });
}

/**
 * Runs a generator's CSR core `build` for its graphology form and returns the graphology graph
 * (`toGraphology(csr, GraphClass)`); while `build` runs, the generator's `checkGraphMemory` also
 * counts the graphology graph (about GRAPHOLOGY_NODE_BYTES per node and GRAPHOLOGY_EDGE_BYTES per
 * edge), so an oversized graph is refused before anything is generated. `directed`: the model is
 * directed (one graphology edge per arc); an undirected model has one edge per two arcs, except in
 * a directed class, which receives each edge as two arcs.
 */
export function graphologyView(GraphClass: GraphConstructor | undefined, directed: boolean, build: () => CSRGraph): AbstractGraph {
  const edgesPerArc = directed || (GraphClass !== undefined && new GraphClass().type === 'directed') ? 1 : 0.5;
  const previous = viewEdgesPerArc;
  viewEdgesPerArc = edgesPerArc;
  let graph: CSRGraph;
  try {
    graph = build();
  } finally {
    viewEdgesPerArc = previous;
  }
  return toGraphology(graph, GraphClass);
}
