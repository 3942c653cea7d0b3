import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import { checkInteger, checkProbability } from '../check.js';
import { resolveRng, type RandomOptions } from '../random.js';
import { csrFromEdges, type CSRGraph } from './csr.js';
import { checkGraphClass } from './graph-class.js';
import { checkGraphMemory, graphologyView } from './memory.js';

/** Options of the Erdős-Rényi G(n, p) generator. */
export interface ErdosRenyiOptions extends RandomOptions {
  /** Number of nodes n. */
  order: number;
  /** Probability of each of the n(n-1)/2 possible edges, in [0, 1]. */
  probability: number;
}

const CONTEXT = 'erdosRenyi';
/** Largest order whose n(n-1)/2 pair indices are exact in double arithmetic (below 2^53). */
const MAX_ORDER = 2 ** 27;

/**
 * Returns an Erdős-Rényi (Gilbert) random graph G(n, p), as CSR: each of the n(n-1)/2 unordered
 * pairs of distinct nodes is an edge independently with probability p. No self-loops, no repeated
 * edges.
 *
 * Built in O(n + m) time by Batagelj and Brandes' geometric skipping: the gap to the next present
 * pair, in the order (1,0), (2,0), (2,1), (3,0), ..., is geometric, 1 + floor(log(1-r)/log(1-p)).
 * This is the algorithm of networkx's `fast_gnp_random_graph` and of graphology-generators'
 * `erdosRenyi.sparse`, and for the same rng it consumes the stream exactly as the latter's undirected
 * branch does (same graph). We do not call graphology-generators' function itself because (1) it
 * truncates each gap with `| 0`, which wraps gaps beyond 2^31 (p below about 1e-9 with large n) into
 * backward jumps that fail on graph insertion; (2) given a directed or mixed Graph class it draws a
 * directed graph instead, skipping self-loops by moving onto the next node, so arc v -> v+1 gets
 * probability 2p - p^2; (3) it refuses order 0. Here the graph is always the undirected G(n, p) (a
 * directed `GraphClass` receives each edge as two arcs, as in `toGraphology`), and the graphology
 * graph is a view of the CSR. The gap uses log1p(-p), exact for tiny p. With seedrandom's Alea (32-bit
 * outputs) log(1-r) >= -22.2, so single gaps are capped at about 22/p: a truncation of the geometric
 * tail of probability 2^-32.
 *
 * Parameters
 * - order: number of nodes n, an integer in [0, 2^27] (pair indices stay exact below 2^53).
 * - probability: edge probability p, a number in [0, 1] (0: empty graph; 1: complete graph).
 * - seed / rng: randomness (see RandomOptions).
 *
 * Raises ParameterError (naming `order`, `probability`, `seed` or `rng`) for values outside those
 * ranges, and ResourceError, before anything is generated, when the graph (its expected n(n-1)p
 * arcs plus four standard deviations) would not fit the memory budget (see setMemoryBudget).
 *
 * References: P. Erdős and A. Rényi, "On random graphs I", Publ. Math. Debrecen 6, 290-297, 1959;
 * E. N. Gilbert, "Random graphs", Ann. Math. Stat. 30, 1141-1144, 1959; V. Batagelj and U. Brandes,
 * "Efficient generation of large random networks", Phys. Rev. E 71, 036113, 2005.
 */
export function erdosRenyiCSR(options: ErdosRenyiOptions): CSRGraph {
  const order = checkInteger('order', options.order, 0, MAX_ORDER, CONTEXT);
  const probability = checkProbability('probability', options.probability, CONTEXT);
  const rng = resolveRng(options, CONTEXT);

  const pairs = (order * (order - 1)) / 2;
  const expected = pairs * probability;
  // Room for the expected number of edges plus four standard deviations (and more than that, since
  // sqrt(expected) >= the binomial's sd); past it the lists double, rarely.
  let capacity = Math.max(16, Math.min(pairs, Math.ceil(expected + 4 * Math.sqrt(expected) + 16)));
  checkGraphMemory(CONTEXT, order, 2 * capacity, 4 * order);
  let sources = new Int32Array(capacity);
  let targets = new Int32Array(capacity);
  let count = 0;

  if (probability > 0 && order > 1) {
    const logQ = Math.log1p(-probability); // -Infinity for p = 1: every gap is 1
    // Pair index t = v(v-1)/2 + w for w < v; rowStart = v(v-1)/2.
    let t = -1;
    let v = 1;
    let rowStart = 0;
    for (;;) {
      t += 1 + Math.floor(Math.log(1 - rng()) / logQ);
      if (!(t < pairs)) break;
      while (t >= rowStart + v) {
        rowStart += v;
        v++;
      }
      if (count === capacity) {
        capacity = Math.min(pairs, 2 * capacity);
        const s = new Int32Array(capacity);
        s.set(sources);
        sources = s;
        const d = new Int32Array(capacity);
        d.set(targets);
        targets = d;
      }
      sources[count] = v;
      targets[count++] = t - rowStart;
    }
  }
  return csrFromEdges(order, sources, targets, false, count);
}

/**
 * Returns an Erdős-Rényi random graph G(n, p) as a graphology graph (nodes "0".."n-1";
 * `GraphClass` defaults to an undirected Graph). The same seed gives the same graph as
 * `erdosRenyiCSR`. See there for the model, the parameters and what is raised.
 */
export function erdosRenyi(GraphClass: GraphConstructor | undefined, options: ErdosRenyiOptions): AbstractGraph {
  const Ctor = checkGraphClass(GraphClass, false, CONTEXT);
  return graphologyView(Ctor, false, () => erdosRenyiCSR(options));
}
