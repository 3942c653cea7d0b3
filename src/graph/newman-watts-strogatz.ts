import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import { checkProbability } from '../check.js';
import { type RandomOptions, resolveRng } from '../random.js';
import type { CSRGraph } from './csr.js';
import { EdgeSet } from './edge-set.js';
import { checkGraphClass } from './graph-class.js';
import { checkRingParameters } from './lattice-params.js';
import { ringLatticeCSRFrom } from './lattice-ring-csr.js';
import { rewiredCapacity } from './lattice-rewiring.js';
import { geometricGap, uniformNode } from './lattice-sampling.js';
import { checkGraphMemory, edgeSetBytes, graphologyView } from './memory.js';

/** Options of `newmanWattsStrogatz`: a ring lattice of `order` nodes and degree `k`, plus shortcuts with `shortcutProb` per edge. */
export interface NewmanWattsStrogatzOptions extends RandomOptions {
  order: number;
  k: number;
  shortcutProb: number;
}

/**
 * A Newman-Watts-Strogatz small-world graph [1] as CSR, with networkx's
 * `newman_watts_strogatz_graph` semantics.
 *
 * Start from the ring lattice (each node joined to its k nearest ring neighbours, k/2 on each
 * side). Then for each lattice edge (u, v) with u < v, with probability `shortcutProb` add a
 * shortcut (u, w), with w uniform among the nodes that are not u and not already neighbours of u
 * (skipped if u is already joined to every other node). No edge is removed, so the graph has
 * order*k/2 lattice edges plus the shortcuts, and it is connected.
 *
 * The lattice edges are visited in networkx's order (node by node, then by ring distance), so the
 * shortcuts are distributed exactly as in networkx's; the random stream differs (geometric
 * skipping: one random number per shortcut instead of one per edge), so the same seed does not
 * give networkx's graph.
 *
 * Parameters:
 * - `order`: number of nodes, an integer >= 3.
 * - `k`: number of nearest neighbours in the ring, an even integer in [2, order - 1].
 * - `shortcutProb`: probability of adding a shortcut for each lattice edge, a number in [0, 1].
 * - `seed` or `rng`: randomness (see RandomOptions); the same seed gives the same graph.
 *
 * Raises ParameterError for anything else (networkx floors an odd k and returns a complete graph
 * for k == order; we raise instead), and ResourceError, before anything is generated, when the
 * graph would not fit the memory budget (see setMemoryBudget).
 *
 * [1] M. E. J. Newman and D. J. Watts, Renormalization group analysis of the small-world network
 *     model, Physics Letters A 263, 341-346 (1999).
 */
export function newmanWattsStrogatzCSR(options: NewmanWattsStrogatzOptions): CSRGraph {
  const context = 'newmanWattsStrogatz';
  // Up to one shortcut per lattice edge: the CSR may hold 2*order*k entries.
  const { order: n, k } = checkRingParameters(options.order, options.k, context, 2);
  const p = checkProbability('shortcutProb', options.shortcutProb, context);
  const rng = resolveRng(options, context);
  const half = k / 2;
  // About n*k*p/2 shortcuts, each two arcs; the set of shortcuts, degrees and bucketed extras.
  checkGraphMemory(context, n, n * k * (1 + p), edgeSetBytes(rewiredCapacity(n * half, p)) + 12 * n);
  const degree = new Int32Array(n).fill(k);
  const shortcuts = new EdgeSet(rewiredCapacity(n * half, p)); // as (min, max)

  const tryShortcut = (u: number): void => {
    if (degree[u] >= n - 1) return;
    let w: number;
    for (;;) {
      w = uniformNode(rng, n);
      if (w === u) continue;
      let d = w - u;
      if (d < 0) d += n;
      if (d <= half || n - d <= half) continue; // a lattice neighbour
      if (!shortcuts.add(u < w ? u : w, u < w ? w : u)) continue; // already a shortcut
      break;
    }
    degree[u]++;
    degree[w]++;
  };

  if (p > 0) {
    // networkx's edge order: for u = 0..n-1, u's neighbours v > u in insertion order, that is for
    // j = 1..k/2: u+j (when it does not wrap), then u-j+n (when it wraps).
    let gap = geometricGap(rng, p);
    for (let u = 0; u < n; u++) {
      for (let j = 1; j <= half; j++) {
        if (u + j < n) {
          if (gap === 0) {
            tryShortcut(u);
            gap = geometricGap(rng, p);
          } else gap--;
        }
        if (u < j) {
          if (gap === 0) {
            tryShortcut(u);
            gap = geometricGap(rng, p);
          } else gap--;
        }
      }
    }
  }
  return ringLatticeCSRFrom(n, half, null, shortcuts, degree);
}

/**
 * A Newman-Watts-Strogatz small-world graph as a graphology graph (nodes "0".."order-1"); see
 * `newmanWattsStrogatzCSR` for the model, parameters and errors. `GraphClass` is the graphology
 * class to build (default: undirected Graph).
 */
export function newmanWattsStrogatz(GraphClass: GraphConstructor | undefined, options: NewmanWattsStrogatzOptions): AbstractGraph {
  const Ctor = checkGraphClass(GraphClass, false, 'newmanWattsStrogatz');
  return graphologyView(Ctor, false, () => newmanWattsStrogatzCSR(options));
}
