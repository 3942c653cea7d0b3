import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import { checkInteger } from '../check.js';
import { resolveRng, type RandomOptions, type Rng } from '../random.js';
import { csrFromEdges, type CSRGraph } from './csr.js';
import { EdgeSet } from './edge-set.js';
import { checkGraphClass } from './graph-class.js';
import { checkGraphMemory, edgeSetBytes, graphologyView } from './memory.js';

/** Options of the Erdős-Rényi G(n, m) generator. */
export interface GnmOptions extends RandomOptions {
  /** Number of nodes n. */
  order: number;
  /** Exact number of edges m, in [0, n(n-1)/2]. */
  size: number;
}

const CONTEXT = 'gnm';

/**
 * Returns a uniformly random graph with n nodes and exactly m edges, G(n, m), as CSR: every simple
 * undirected graph on nodes 0..n-1 with m edges is equally likely. As networkx's
 * `gnm_random_graph(n, m)` (which draws random node pairs and rejects self-loops and repeats), except
 * that m above n(n-1)/2 raises instead of returning the complete graph.
 *
 * Sparse case (m <= half of the N = n(n-1)/2 pairs): draw uniform pairs and reject repeats, expected
 * at most 2 ln 2 * m draws. Dense case: draw the N - m absent pairs the same way and return the
 * complement, so the work is O(m + n) in the sparse case and O(N) (the size of the output) in the
 * dense one. Both give the uniform distribution: a uniform (N-m)-subset's complement is a uniform
 * m-subset.
 *
 * Parameters
 * - order: number of nodes n, an integer >= 0.
 * - size: number of edges m, an integer in [0, n(n-1)/2].
 * - seed / rng: randomness (see RandomOptions).
 *
 * Raises ParameterError (naming `order`, `size`, `seed` or `rng`) for values outside those ranges,
 * and ResourceError, before anything is generated, when the graph would not fit the memory budget
 * (see setMemoryBudget).
 *
 * References: P. Erdős and A. Rényi, "On random graphs I", Publ. Math. Debrecen 6, 290-297, 1959;
 * networkx's gnm_random_graph.
 */
export function gnmCSR(options: GnmOptions): CSRGraph {
  const order = checkInteger('order', options.order, 0, 0x7fffffff, CONTEXT);
  const pairs = (order * (order - 1)) / 2;
  const size = checkInteger('size', options.size, 0, pairs, CONTEXT);
  const rng = resolveRng(options, CONTEXT);
  // The pair lists and CSRs, the set of drawn pairs (present or absent ones), the node-sized cursors.
  checkGraphMemory(CONTEXT, order, 2 * size, edgeSetBytes(Math.min(size, pairs - size)) + 8 * order);

  if (size <= pairs / 2) {
    const { sources, targets } = distinctPairs(order, size, rng);
    return csrFromEdges(order, sources, targets, false, size);
  }
  const absent = distinctPairs(order, pairs - size, rng);
  const excluded = csrFromEdges(order, absent.sources, absent.targets, true, pairs - size);
  const sources = new Int32Array(size);
  const targets = new Int32Array(size);
  let count = 0;
  for (let u = 0; u < order; u++) {
    // excluded's row u holds its absent partners v > u, sorted: walk it alongside v.
    let i = excluded.offsets[u];
    const end = excluded.offsets[u + 1];
    for (let v = u + 1; v < order; v++) {
      if (i < end && excluded.targets[i] === v) {
        i++;
        continue;
      }
      sources[count] = u;
      targets[count++] = v;
    }
  }
  return csrFromEdges(order, sources, targets, false, count);
}

/**
 * Returns a uniformly random graph with exactly m edges, G(n, m), as a graphology graph (nodes
 * "0".."n-1"; `GraphClass` defaults to an undirected Graph). See `gnmCSR` for the model, the
 * parameters and what is raised.
 */
export function gnm(GraphClass: GraphConstructor | undefined, options: GnmOptions): AbstractGraph {
  const Ctor = checkGraphClass(GraphClass, false, CONTEXT);
  return graphologyView(Ctor, false, () => gnmCSR(options));
}

/** `count` distinct uniform pairs (u, v), u < v, of nodes 0..order-1, by rejection. */
function distinctPairs(order: number, count: number, rng: Rng): { sources: Int32Array; targets: Int32Array } {
  const sources = new Int32Array(count);
  const targets = new Int32Array(count);
  const seen = new EdgeSet(count);
  let k = 0;
  while (k < count) {
    let u = Math.floor(rng() * order);
    let v = Math.floor(rng() * order);
    if (u === v) continue;
    if (u > v) {
      const t = u;
      u = v;
      v = t;
    }
    if (!seen.add(u, v)) continue;
    sources[k] = u;
    targets[k++] = v;
  }
  return { sources, targets };
}
