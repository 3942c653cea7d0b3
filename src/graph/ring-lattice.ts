import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import type { CSRGraph } from './csr.js';
import { checkGraphClass } from './graph-class.js';
import { checkRingParameters } from './lattice-params.js';
import { checkGraphMemory, graphologyView } from './memory.js';

/** Options of `ringLattice`: `order` nodes on a ring, each joined to its `k` nearest neighbours. */
export interface RingLatticeOptions {
  order: number;
  k: number;
}

/**
 * The ring lattice (circulant graph C_n(1..k/2)) as CSR: nodes 0..order-1 on a ring, each joined
 * to its k nearest ring neighbours, k/2 on each side, so that every node has degree k and there
 * are order*k/2 edges. This is the starting graph of the Watts-Strogatz model [1].
 *
 * Parameters:
 * - `order`: number of nodes, an integer >= 3.
 * - `k`: number of nearest neighbours, an even integer in [2, order - 1].
 *
 * Raises ParameterError for anything else, and ResourceError, before anything is generated, when
 * the graph would not fit the memory budget (see setMemoryBudget). networkx floors an odd k to
 * k - 1 and turns k == order into a complete graph; we raise instead of silently changing the input.
 *
 * [1] D. J. Watts and S. H. Strogatz, Collective dynamics of 'small-world' networks,
 *     Nature 393, 440-442 (1998).
 */
export function ringLatticeCSR(options: RingLatticeOptions): CSRGraph {
  const { order: n, k } = checkRingParameters(options.order, options.k, 'ringLattice');
  checkGraphMemory('ringLattice', n, n * k);
  const half = k / 2;
  const offsets = new Int32Array(n + 1);
  const targets = new Int32Array(n * k);
  let w = 0;
  for (let u = 0; u < n; u++) {
    offsets[u] = w;
    // Sorted row: neighbours that wrapped past n-1, then the unwrapped ones, then those that wrapped below 0.
    for (let d = n - u; d <= half; d++) targets[w++] = u + d - n;
    const lo = u - half < 0 ? -u : -half;
    const hi = u + half >= n ? n - 1 - u : half;
    for (let d = lo; d <= hi; d++) if (d !== 0) targets[w++] = u + d;
    for (let d = -half; d < -u; d++) targets[w++] = u + d + n;
  }
  offsets[n] = w;
  return { order: n, directed: false, offsets, targets };
}

/**
 * The ring lattice as a graphology graph (nodes "0".."order-1"); see `ringLatticeCSR` for the
 * model and parameters. `GraphClass` is the graphology class to build (default: undirected Graph).
 */
export function ringLattice(GraphClass: GraphConstructor | undefined, options: RingLatticeOptions): AbstractGraph {
  const Ctor = checkGraphClass(GraphClass, false, 'ringLattice');
  return graphologyView(Ctor, false, () => ringLatticeCSR(options));
}
