import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import { checkInteger } from '../check.js';
import { GenerationError, ParameterError } from '../errors.js';
import { resolveRng, shuffleInPlace, type RandomOptions, type Rng } from '../random.js';
import { csrFromEdges, type CSRGraph } from './csr.js';
import { EdgeSet } from './edge-set.js';
import { checkGraphClass } from './graph-class.js';
import { checkGraphMemory, edgeSetBytes, graphologyView } from './memory.js';

/** Options of the random regular graph generator. */
export interface RandomRegularOptions extends RandomOptions {
  /** Number of nodes n. */
  order: number;
  /** Degree d of every node, in [0, n-1], with n*d even. */
  degree: number;
}

const CONTEXT = 'randomRegular';
/** Fresh pairings tried before giving up. */
const MAX_TRIES = 200;
/** Re-pairing rounds of the leftover points within one try. */
const MAX_ROUNDS = 1000;

/**
 * Returns a random d-regular simple graph on n nodes, as CSR, by the pairing algorithm of networkx's
 * `random_regular_graph(d, n)` (after Steger and Wormald): n*d points, d per node, are shuffled and
 * paired; pairs that would give a self-loop or a repeated edge are put back, and the leftover points
 * are reshuffled and paired again, until none is left; a try fails, and a fresh one starts, when no
 * two leftover points could still form an edge. The distribution is asymptotically uniform for
 * d = O(n^(1/3 - eps)) (Kim and Vu) and close to uniform beyond.
 *
 * Differences from networkx: for d > (n-1)/2 we draw an (n-1-d)-regular graph the same way and
 * return its complement. The pairing fails more and more often as d grows (measured without this:
 * n = 200, d = 150 needs about 60 tries, d = 190 none in 200; networkx would try for ever), while a
 * sparse pairing is nearly uniform and complementing is a bijection between d- and
 * (n-1-d)-regular graphs. So dense graphs come out quickly and close to uniform, but not with
 * networkx's distribution: on tiny graphs, where the pairing is far from uniform, the two differ
 * (n = 6: networkx gives the 2-regular "two triangles" 31% of the time, uniform is 1/7; for d = 3
 * networkx gives its complement K(3,3) 14% of the time, we 31%). And instead of trying for ever we
 * give up after a bounded number of tries and rounds.
 *
 * Parameters
 * - order: number of nodes n, an integer >= 0.
 * - degree: degree d of every node, an integer in [0, n-1] with n*d even (d = 0: no edges).
 * - seed / rng: randomness (see RandomOptions).
 *
 * Raises ParameterError (naming `order`, `degree`, `seed` or `rng`) for values outside those ranges
 * or n*d odd; ResourceError, before anything is generated, when the graph would not fit the memory
 * budget (see setMemoryBudget); GenerationError if no graph was found within 200 tries of at most
 * 1000 rounds each (not seen in practice).
 *
 * References: A. Steger and N. C. Wormald, "Generating random regular graphs quickly",
 * Combinatorics, Probability and Computing 8, 377-396, 1999; J. H. Kim and V. H. Vu, "Generating
 * random regular graphs", STOC 2003, 213-222.
 */
export function randomRegularCSR(options: RandomRegularOptions): CSRGraph {
  const order = checkInteger('order', options.order, 0, 0x7fffffff, CONTEXT);
  const degree = checkInteger('degree', options.degree, 0, Math.max(0, order - 1), CONTEXT);
  if ((order * degree) % 2 !== 0) {
    throw new ParameterError('degree', `an integer with order * degree even (order = ${order} is odd)`, degree, CONTEXT);
  }
  const rng = resolveRng(options, CONTEXT);

  const complement = degree > (order - 1) / 2;
  const drawn = complement ? order - 1 - degree : degree;
  // Points, pairs and CSRs (the drawn graph and its complement), the set of pairs, the node-sized buffers.
  checkGraphMemory(CONTEXT, order, order * degree, edgeSetBytes((order * drawn) / 2) + 16 * order);
  let edges: { sources: Int32Array; targets: Int32Array } | null = { sources: new Int32Array(0), targets: new Int32Array(0) };
  if (drawn > 0) {
    edges = null;
    for (let tries = 0; tries < MAX_TRIES && edges === null; tries++) edges = tryPairing(order, drawn, rng);
    if (edges === null) {
      throw new GenerationError(`${CONTEXT}: no ${drawn}-regular graph on ${order} nodes found in ${MAX_TRIES} tries`);
    }
  }
  const graph = csrFromEdges(order, edges.sources, edges.targets, false);
  return complement ? complementOf(graph) : graph;
}

/**
 * Returns a random d-regular simple graph as a graphology graph (nodes "0".."n-1"; `GraphClass`
 * defaults to an undirected Graph). See `randomRegularCSR` for the model, the parameters and what is
 * raised.
 */
export function randomRegular(GraphClass: GraphConstructor | undefined, options: RandomRegularOptions): AbstractGraph {
  const Ctor = checkGraphClass(GraphClass, false, CONTEXT);
  return graphologyView(Ctor, false, () => randomRegularCSR(options));
}

/** One try of the pairing algorithm: the edges (u < v) of a d-regular graph, or null if it got stuck. */
function tryPairing(order: number, degree: number, rng: Rng): { sources: Int32Array; targets: Int32Array } | null {
  const size = (order * degree) / 2;
  const sources = new Int32Array(size);
  const targets = new Int32Array(size);
  const present = new EdgeSet(size);
  let count = 0;
  const points = new Int32Array(order * degree);
  for (let u = 0, i = 0; u < order; u++) for (let k = 0; k < degree; k++) points[i++] = u;
  let length = points.length;
  const leftover = new Int32Array(order); // points of each node put back this round
  const touched = new Int32Array(order); // nodes with leftover points, in first-seen order
  for (let round = 0; length > 0; round++) {
    if (round === MAX_ROUNDS) return null;
    shuffleInPlace(rng, points.subarray(0, length));
    let touchedCount = 0;
    for (let i = 0; i < length; i += 2) {
      let a = points[i];
      let b = points[i + 1];
      if (a > b) {
        const t = a;
        a = b;
        b = t;
      }
      if (a !== b && present.add(a, b)) {
        sources[count] = a;
        targets[count++] = b;
      } else {
        if (leftover[a]++ === 0) touched[touchedCount++] = a;
        if (leftover[b]++ === 0) touched[touchedCount++] = b;
      }
    }
    if (!anyPairFree(touched, touchedCount, present)) return null;
    length = 0;
    for (let j = 0; j < touchedCount; j++) {
      const u = touched[j];
      for (let k = leftover[u]; k > 0; k--) points[length++] = u;
      leftover[u] = 0;
    }
  }
  return { sources, targets };
}

/** Whether two of the `count` distinct nodes in `nodes` are not yet adjacent (true when none is left). */
function anyPairFree(nodes: Int32Array, count: number, present: EdgeSet): boolean {
  if (count === 0) return true;
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < i; j++) {
      const a = Math.min(nodes[i], nodes[j]);
      const b = Math.max(nodes[i], nodes[j]);
      if (!present.has(a, b)) return true;
    }
  }
  return false;
}

/** The complement of a simple undirected CSR graph (rows sorted). */
function complementOf(graph: CSRGraph): CSRGraph {
  const { order, offsets, targets } = graph;
  const size = (order * (order - 1)) / 2 - targets.length / 2;
  const sources = new Int32Array(size);
  const others = new Int32Array(size);
  let count = 0;
  for (let u = 0; u < order; u++) {
    let i = offsets[u];
    const end = offsets[u + 1];
    while (i < end && targets[i] <= u) i++;
    for (let v = u + 1; v < order; v++) {
      if (i < end && targets[i] === v) {
        i++;
        continue;
      }
      sources[count] = u;
      others[count++] = v;
    }
  }
  return csrFromEdges(order, sources, others, false, count);
}
