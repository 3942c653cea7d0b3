import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import { checkProbability } from '../check.js';
import { type RandomOptions, resolveRng } from '../random.js';
import { type CSRGraph, sortRows } from './csr.js';
import { EdgeSet } from './edge-set.js';
import { checkGraphClass } from './graph-class.js';
import { checkRingParameters } from './lattice-params.js';
import { rewireLattice, rewiredCapacity } from './lattice-rewiring.js';
import { checkGraphMemory, edgeSetBytes, graphologyView } from './memory.js';

/** Options of `directedWattsStrogatz`: a directed ring lattice of `order` nodes and out-degree `k`, arc targets rewired with `rewireProb`. */
export interface DirectedWattsStrogatzOptions extends RandomOptions {
  order: number;
  k: number;
  rewireProb: number;
}

/**
 * A directed Watts-Strogatz small-world graph as CSR (directed: true): the rewiring of Watts and
 * Strogatz [1] applied to the targets of arcs.
 *
 * Start from the directed ring lattice, where node u has arcs to its k nearest ring neighbours
 * (u-k/2 .. u-1 and u+1 .. u+k/2, mod order). Then, for each arc u -> v in turn (by ring distance
 * j = 1..k/2, the +j arc then the -j arc, node by node), with probability `rewireProb` its target is
 * replaced by w, uniform among the nodes that are not u and not already targets of u (skipped when
 * u already targets every other node, that is when k = order - 1). Every node keeps out-degree
 * exactly k; in-degrees vary. No self-loops or repeated arcs. The rewired arcs are found by
 * geometric skipping (one random number per rewired arc). networkx has no directed variant.
 *
 * Parameters:
 * - `order`: number of nodes, an integer >= 3.
 * - `k`: out-degree, an even integer in [2, order - 1].
 * - `rewireProb`: probability of rewiring each arc, a number in [0, 1].
 * - `seed` or `rng`: randomness (see RandomOptions); the same seed gives the same graph.
 *
 * Raises ParameterError for anything else, and ResourceError, before anything is generated, when
 * the graph would not fit the memory budget (see setMemoryBudget).
 *
 * [1] D. J. Watts and S. H. Strogatz, Collective dynamics of 'small-world' networks,
 *     Nature 393, 440-442 (1998).
 */
export function directedWattsStrogatzCSR(options: DirectedWattsStrogatzOptions): CSRGraph {
  const context = 'directedWattsStrogatz';
  const { order: n, k } = checkRingParameters(options.order, options.k, context);
  const p = checkProbability('rewireProb', options.rewireProb, context);
  const rng = resolveRng(options, context);
  const half = k / 2;
  const m = n * k;
  const rewiring = p > 0 && k < n - 1;
  // The slots and the CSR, and the set of rewired arcs.
  checkGraphMemory(context, n, m, rewiring ? edgeSetBytes(rewiredCapacity(m, p)) : 0);

  // Slot ((j-1)*2 + s)*n + u holds the arc u -> u+j (s = 0) or u -> u-j (s = 1), mod n, until its
  // target is rewired. A lattice arc is present iff its slot still holds its lattice target.
  const slots = new Int32Array(m);
  for (let j = 1, e = 0; j <= half; j++) {
    for (let u = 0; u < n; u++, e++) slots[e] = u + j < n ? u + j : u + j - n;
    for (let u = 0; u < n; u++, e++) slots[e] = u - j >= 0 ? u - j : u - j + n;
  }

  if (rewiring) {
    const rewired = new EdgeSet(rewiredCapacity(m, p)); // non-lattice arcs (u, w)
    const joined = (u: number, w: number): boolean => {
      let d = w - u;
      if (d < 0) d += n;
      if (d <= half && slots[2 * (d - 1) * n + u] === w) return true;
      if (n - d <= half && slots[(2 * (n - d - 1) + 1) * n + u] === w) return true;
      return rewired.has(u, w);
    };
    rewireLattice(rng, p, { order: n, targets: slots, sources: null, joined, rewired, degree: null });
  }

  // Row u gathers its k slots in the ring lattice's ascending order; only rewired targets move in the sort.
  const offsets = new Int32Array(n + 1);
  const targets = new Int32Array(m);
  for (let u = 0, w = 0; u < n; u++) {
    offsets[u] = w;
    for (let d = n - u; d <= half; d++) targets[w++] = slots[2 * (d - 1) * n + u];
    for (let d = u < half ? u : half; d >= 1; d--) targets[w++] = slots[(2 * (d - 1) + 1) * n + u];
    for (let d = 1, hi = u + half >= n ? n - 1 - u : half; d <= hi; d++) targets[w++] = slots[2 * (d - 1) * n + u];
    for (let d = half; d > u; d--) targets[w++] = slots[(2 * (d - 1) + 1) * n + u];
  }
  offsets[n] = m;
  sortRows(offsets, targets);
  return { order: n, directed: true, offsets, targets };
}

/**
 * A directed Watts-Strogatz graph as a graphology graph (nodes "0".."order-1"); see
 * `directedWattsStrogatzCSR` for the model, parameters and errors. `GraphClass` is the graphology
 * class to build: directed or mixed (default: directed Graph); an undirected class raises.
 */
export function directedWattsStrogatz(GraphClass: GraphConstructor | undefined, options: DirectedWattsStrogatzOptions): AbstractGraph {
  const Ctor = checkGraphClass(GraphClass, true, 'directedWattsStrogatz');
  return graphologyView(Ctor, true, () => directedWattsStrogatzCSR(options));
}
