import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import { checkProbability } from '../check.js';
import { type RandomOptions, resolveRng } from '../random.js';
import type { CSRGraph } from './csr.js';
import { EdgeSet } from './edge-set.js';
import { checkGraphClass } from './graph-class.js';
import { checkRingParameters } from './lattice-params.js';
import { rewireLattice, rewiredCapacity } from './lattice-rewiring.js';
import { ringLatticeCSRFrom } from './lattice-ring-csr.js';
import { checkGraphMemory, edgeSetBytes, graphologyView } from './memory.js';

/** Options of `wattsStrogatz`: a ring lattice of `order` nodes and degree `k`, each edge rewired with `rewireProb`. */
export interface WattsStrogatzOptions extends RandomOptions {
  order: number;
  k: number;
  rewireProb: number;
}

/**
 * A Watts-Strogatz small-world graph [1] as CSR, with networkx's `watts_strogatz_graph` semantics.
 *
 * Start from the ring lattice (each node joined to its k nearest ring neighbours, k/2 on each
 * side). Then for j = 1..k/2 in turn, and for each node u = 0..order-1 in turn, with probability
 * `rewireProb` replace the edge (u, u+j mod order) by (u, w), with w uniform among the nodes that
 * are not u and not already neighbours of u; the rewiring is skipped if u is already joined to
 * every other node. The graph keeps exactly order*k/2 edges, stays simple, and is the ring lattice
 * for rewireProb = 0. It need not be connected (see `connectedWattsStrogatz`).
 *
 * Which edges rewire, and where to, are distributed exactly as in networkx, but the random stream
 * differs: the rewired edges are found by geometric skipping (one random number per rewired edge
 * instead of one per edge), so the same seed does not give networkx's graph.
 *
 * Parameters:
 * - `order`: number of nodes, an integer >= 3.
 * - `k`: number of nearest neighbours in the ring, an even integer in [2, order - 1].
 * - `rewireProb`: probability of rewiring each edge, a number in [0, 1].
 * - `seed` or `rng`: randomness (see RandomOptions); the same seed gives the same graph.
 *
 * Raises ParameterError for anything else, and ResourceError, before anything is generated, when
 * the graph would not fit the memory budget (see setMemoryBudget). networkx floors an odd k and
 * returns a complete graph for k == order; we raise instead.
 *
 * [1] D. J. Watts and S. H. Strogatz, Collective dynamics of 'small-world' networks,
 *     Nature 393, 440-442 (1998).
 */
export function wattsStrogatzCSR(options: WattsStrogatzOptions): CSRGraph {
  const context = 'wattsStrogatz';
  const { order: n, k } = checkRingParameters(options.order, options.k, context);
  const p = checkProbability('rewireProb', options.rewireProb, context);
  const rng = resolveRng(options, context);
  const half = k / 2;
  const m = n * half;
  // The CSR and slots, the set of rewired edges, and the degrees and bucketed extras (node-sized).
  checkGraphMemory(context, n, n * k, edgeSetBytes(rewiredCapacity(m, p)) + 12 * n);

  // Edge slot e = (j-1)*n + u holds the lattice edge (u, u+j mod n) until it is rewired, when its
  // target is overwritten by w. A lattice pair is present iff its slot still holds its target.
  const targets = new Int32Array(m);
  for (let j = 1, e = 0; j <= half; j++) {
    for (let u = 0; u < n; u++, e++) targets[e] = u + j < n ? u + j : u + j - n;
  }
  const degree = new Int32Array(n).fill(k);
  const rewired = new EdgeSet(rewiredCapacity(m, p)); // non-lattice edges as (min, max)
  const joined = (u: number, w: number): boolean => {
    let d = w - u;
    if (d < 0) d += n;
    if (d <= half) return targets[(d - 1) * n + u] === w || rewired.has(u < w ? u : w, u < w ? w : u);
    if (n - d <= half) return targets[(n - d - 1) * n + w] === u || rewired.has(u < w ? u : w, u < w ? w : u);
    return rewired.has(u < w ? u : w, u < w ? w : u);
  };
  rewireLattice(rng, p, { order: n, targets, sources: null, joined, rewired, degree });
  return ringLatticeCSRFrom(n, half, targets, rewired, degree);
}

/**
 * A Watts-Strogatz small-world graph as a graphology graph (nodes "0".."order-1"); see
 * `wattsStrogatzCSR` for the model, parameters and errors. `GraphClass` is the graphology class to
 * build (default: undirected Graph).
 */
export function wattsStrogatz(GraphClass: GraphConstructor | undefined, options: WattsStrogatzOptions): AbstractGraph {
  const Ctor = checkGraphClass(GraphClass, false, 'wattsStrogatz');
  return graphologyView(Ctor, false, () => wattsStrogatzCSR(options));
}
