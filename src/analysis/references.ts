import { checkInteger } from '../check.js';
import { ParameterError } from '../errors.js';
import { type CSRGraph, assertSimple, sortRows } from '../graph/csr.js';
import { type RandomOptions, type Rng, resolveRng } from '../random.js';
import { checkAnalysisMemory } from './resources.js';
import { type AnalysisInput, analysisGraph } from './adapter.js';
import { UndirectedOnlyError } from './errors.js';

/** Options of `randomReference`. */
export interface RandomReferenceOptions extends RandomOptions {
  /** Each edge is rewired about `niter` times: niter * m swap rounds (an integer >= 0; default 1). */
  niter?: number;
  /** Reject swaps that disconnect the two endpoints of a removed edge (default true). */
  connectivity?: boolean;
}

/** Options of `latticeReference`. */
export interface LatticeReferenceOptions extends RandomOptions {
  /** Each edge is rewired about `niter` times: niter * m swap rounds (an integer >= 0; default 5). */
  niter?: number;
  /** Reject swaps that disconnect the two endpoints of a removed edge (default true). */
  connectivity?: boolean;
}

/**
 * A degree-preserving randomisation of an undirected graph by double-edge swaps (Maslov and
 * Sneppen 2002 [1]), with networkx's `random_reference` semantics.
 *
 * niter * m rounds (m edges); each round makes up to int(2m / (n - 1)) attempts (networkx's
 * `ntries`) and stops at the first swap done. An attempt picks two edges (a, b) and (c, d), each
 * a uniformly random oriented edge (networkx: a node with probability proportional to its degree,
 * then a uniform neighbour), and replaces them by (a, d) and (c, b). Draws with a = c, or with
 * b = c, d = a or b = d, are redrawn without counting as an attempt (as networkx). An attempt
 * that would create a repeated edge is rejected. With `connectivity`, a swap after which a can no
 * longer reach b is undone and counts as a failed attempt. networkx asks
 * `local_edge_connectivity(G, a, b) == 0` (a max-flow per swap); we ask the equivalent question
 * "is there still a path from a to b" with a bidirectional breadth-first search that expands the
 * smaller frontier and stops as soon as the two searches meet (usually after a few dozen nodes).
 * If the graph was connected, it stays connected (a, b, c, d end up in one component).
 *
 * Degrees are preserved exactly. Same seed, same graph; the random stream differs from
 * networkx's, so equal seeds do not give networkx's graph, only the same distribution.
 *
 * Parameters:
 * - `input`: an undirected simple graph (CSR, graphology, or a symmetric square layout) with at
 *   least 4 nodes and two disjoint edges.
 * - `niter`: an integer >= 0 (default 1).
 * - `connectivity`: boolean (default true).
 * - `seed` or `rng`: randomness.
 *
 * Raises UndirectedOnlyError for a directed graph (networkx: NetworkXNotImplemented);
 * ParameterError (parameter `graph`) for fewer than 4 nodes (networkx: NetworkXError) or when no
 * two edges are disjoint (a star or a triangle plus isolated nodes, where networkx loops forever,
 * or no edges, where it divides by zero); ParameterError for bad options.
 *
 * [1] S. Maslov and K. Sneppen, Specificity and stability in topology of protein networks,
 *     Science 296, 910-913 (2002).
 */
export function randomReference(input: AnalysisInput, options: RandomReferenceOptions = {}): CSRGraph {
  const context = 'randomReference';
  const niter = checkInteger('niter', options.niter ?? 1, 0, Number.MAX_SAFE_INTEGER, context);
  const connectivity = checkBoolean('connectivity', options.connectivity ?? true, context);
  const graph = checkSwappable(analysisGraph(input), context);
  const rng = resolveRng(options, context);
  const state = new SwapState(graph);
  state.run(rng, niter, connectivity, false);
  return state.toCSR();
}

/**
 * A latticised version of an undirected graph by degree-preserving double-edge swaps that favour
 * edges near the diagonal of the adjacency matrix, i.e. short edges in the ring order of the node
 * indices (Sporns and Zwi 2004 [1], after Maslov and Sneppen 2002 [2]), with networkx's
 * `lattice_reference` semantics.
 *
 * As `randomReference` (niter * m rounds of up to int(2m / (n - 1)) attempts; same draws, same
 * rejections, same connectivity check), with one more rejection: with D(i, j) = min(|i - j|,
 * n - |i - j|) the ring distance of node indices, a swap of (a, b), (c, d) into (a, d), (c, b) is
 * done only if D(a, b) + D(c, d) >= D(a, c) + D(b, d). That is networkx 2.8.8's test, kept as is
 * so that results follow networkx's distribution; note that it compares the pairs (a, c), (b, d)
 * rather than the edges the swap creates (Sporns' latmio compares (a, d), (c, b)). It still drives
 * edges toward the diagonal (clustering rises) because swaps away from long edges are accepted
 * more often than swaps away from short ones.
 *
 * Parameters, errors and seeding: as `randomReference` (`niter` defaults to 5). networkx's
 * optional distance matrix `D` is not offered: the ring order of node indices is used.
 *
 * [1] O. Sporns and J. D. Zwi, The small world of the cerebral cortex, Neuroinformatics 2,
 *     145-162 (2004).
 * [2] S. Maslov and K. Sneppen, Specificity and stability in topology of protein networks,
 *     Science 296, 910-913 (2002).
 */
export function latticeReference(input: AnalysisInput, options: LatticeReferenceOptions = {}): CSRGraph {
  const context = 'latticeReference';
  const niter = checkInteger('niter', options.niter ?? 5, 0, Number.MAX_SAFE_INTEGER, context);
  const connectivity = checkBoolean('connectivity', options.connectivity ?? true, context);
  const graph = checkSwappable(analysisGraph(input), context);
  const rng = resolveRng(options, context);
  const state = new SwapState(graph);
  state.run(rng, niter, connectivity, true);
  return state.toCSR();
}

function checkBoolean(name: string, value: unknown, context: string): boolean {
  if (typeof value !== 'boolean') throw new ParameterError(name, 'a boolean', value, context);
  return value;
}

/** Rejects what networkx rejects (directed, < 4 nodes) and what would make it loop forever (no two disjoint edges). */
function checkSwappable(graph: CSRGraph, context: string): CSRGraph {
  if (graph.directed) throw new UndirectedOnlyError(context);
  if (graph.order < 4) throw new ParameterError('graph', 'a graph with at least 4 nodes (as networkx)', `${graph.order} nodes`, context);
  assertSimple(graph);
  if (!hasTwoDisjointEdges(graph)) {
    throw new ParameterError(
      'graph',
      'a graph with two disjoint edges (a double-edge swap needs four distinct nodes)',
      `${graph.targets.length / 2} edges, all sharing a node or forming a triangle`,
      context,
    );
  }
  return graph;
}

/** Whether some two edges have four distinct endpoints (false only for a star, a triangle, one edge or none, plus isolated nodes). */
function hasTwoDisjointEdges(graph: CSRGraph): boolean {
  const { order, offsets, targets } = graph;
  let u = 0;
  while (u < order && offsets[u + 1] === offsets[u]) u++;
  if (u === order) return false;
  const v = targets[offsets[u]];
  // An edge touching neither u nor v is disjoint from (u, v).
  for (let x = 0; x < order; x++) {
    if (x === u || x === v) continue;
    for (let i = offsets[x]; i < offsets[x + 1]; i++) if (targets[i] !== u && targets[i] !== v) return true;
  }
  // Every edge touches u or v: two disjoint ones are (u, x), (v, y) with x, y outside {u, v} and x != y.
  for (let i = offsets[u]; i < offsets[u + 1]; i++) {
    const x = targets[i];
    if (x === v) continue;
    for (let j = offsets[v]; j < offsets[v + 1]; j++) {
      const y = targets[j];
      if (y !== u && y !== x) return true;
    }
  }
  return false;
}

/** Largest order for which the O(1) adjacency bit matrix is kept (n^2 bits = 32 MiB). */
const MAX_BIT_MATRIX_ORDER = 16_384;

/**
 * The mutable state of a swap chain. Every undirected edge is two slots of the CSR target array
 * (one per direction); rows keep their lengths because swaps preserve degrees, so a slot's source
 * never changes (`source`), and `twin[s]` is the slot of the reverse direction. A swap rewrites
 * four slots in O(1). Adjacency is an n x n bit matrix (small graphs) or a scan of the shorter row.
 */
class SwapState {
  readonly order: number;
  readonly offsets: Int32Array;
  readonly targets: Int32Array;
  readonly source: Int32Array;
  readonly twin: Int32Array;
  readonly bits: Uint32Array | null;
  readonly rowWords: number;
  // Bidirectional BFS scratch: each check takes two fresh stamps, one per side, so marks never need clearing.
  readonly mark: Int32Array;
  readonly queueA: Int32Array;
  readonly queueB: Int32Array;
  stamp = 0;

  constructor(graph: CSRGraph) {
    const { order, offsets, targets } = graph;
    const bitWords = order <= MAX_BIT_MATRIX_ORDER ? order * ((order + 31) >>> 5) : 0;
    // Copies of the graph, source and twin per slot, the bit matrix (small graphs) and three node arrays.
    checkAnalysisMemory('reference graphs', graph, 4 * (order + 1) + 16 * targets.length + 4 * bitWords + 12 * order, targets.length);
    this.order = order;
    this.offsets = offsets.slice();
    this.targets = targets.slice();
    const slots = targets.length;
    this.source = new Int32Array(slots);
    this.twin = new Int32Array(slots);
    for (let u = 0; u < order; u++) {
      for (let s = offsets[u]; s < offsets[u + 1]; s++) {
        this.source[s] = u;
        const v = targets[s];
        if (v < u) continue;
        const t = findSorted(targets, offsets[v], offsets[v + 1], u);
        this.twin[s] = t;
        this.twin[t] = s;
      }
    }
    this.rowWords = (order + 31) >>> 5;
    this.bits = order <= MAX_BIT_MATRIX_ORDER ? new Uint32Array(order * this.rowWords) : null;
    if (this.bits) {
      for (let s = 0; s < slots; s++) this.setBit(this.source[s], targets[s]);
    }
    this.mark = new Int32Array(order);
    this.queueA = new Int32Array(order);
    this.queueB = new Int32Array(order);
  }

  /** niter * m rounds of the swap chain (see randomReference / latticeReference). */
  run(rng: Rng, niter: number, connectivity: boolean, lattice: boolean): number {
    const { order: n, targets, source } = this;
    const slots = targets.length;
    const edges = slots / 2;
    // networkx: int(nnodes * nedges / (nnodes * (nnodes - 1) / 2)), in the same float arithmetic.
    const maxAttempts = Math.trunc((n * edges) / ((n * (n - 1)) / 2));
    const rounds = niter * edges;
    let swaps = 0;
    for (let round = 0; round < rounds; round++) {
      let attempts = 0;
      while (attempts < maxAttempts) {
        const s1 = Math.floor(rng() * slots);
        const s2 = Math.floor(rng() * slots);
        const a = source[s1];
        const c = source[s2];
        if (a === c) continue;
        const b = targets[s1];
        const d = targets[s2];
        if (b === c || d === a || b === d) continue;
        attempts++;
        if (this.adjacent(a, d) || this.adjacent(c, b)) continue;
        if (lattice && ringDistance(a, b, n) + ringDistance(c, d, n) < ringDistance(a, c, n) + ringDistance(b, d, n)) continue;
        this.swap(s1, s2);
        if (connectivity && !this.connected(a, b)) {
          this.swap(s1, s2); // the same two slots again: (a, d), (c, b) back to (a, b), (c, d)
          continue;
        }
        swaps++;
        break;
      }
    }
    return swaps;
  }

  /**
   * Replaces the edges at slots s1 = (a, b) and s2 = (c, d) by (a, d) and (c, b), rewriting the
   * four slots in place. Applied twice to the same slots it restores the graph.
   */
  swap(s1: number, s2: number): void {
    const { targets, twin, source } = this;
    const t1 = twin[s1]; // slot (b, a)
    const t2 = twin[s2]; // slot (d, c)
    const a = source[s1];
    const c = source[s2];
    const b = targets[s1];
    const d = targets[s2];
    if (this.bits) {
      this.clearBit(a, b);
      this.clearBit(b, a);
      this.clearBit(c, d);
      this.clearBit(d, c);
      this.setBit(a, d);
      this.setBit(d, a);
      this.setBit(c, b);
      this.setBit(b, c);
    }
    targets[s1] = d;
    targets[t2] = a;
    targets[s2] = b;
    targets[t1] = c;
    twin[s1] = t2;
    twin[t2] = s1;
    twin[s2] = t1;
    twin[t1] = s2;
  }

  adjacent(u: number, v: number): boolean {
    if (this.bits) return (this.bits[u * this.rowWords + (v >>> 5)] & (1 << (v & 31))) !== 0;
    const { offsets, targets } = this;
    // Rows are unsorted once swaps start: scan the shorter one.
    let x = u;
    let y = v;
    if (offsets[u + 1] - offsets[u] > offsets[v + 1] - offsets[v]) {
      x = v;
      y = u;
    }
    for (let i = offsets[x]; i < offsets[x + 1]; i++) if (targets[i] === y) return true;
    return false;
  }

  setBit(u: number, v: number): void {
    this.bits![u * this.rowWords + (v >>> 5)] |= 1 << (v & 31);
  }

  clearBit(u: number, v: number): void {
    this.bits![u * this.rowWords + (v >>> 5)] &= ~(1 << (v & 31));
  }

  /**
   * Whether a path joins a and b: two breadth-first searches, from a and from b, each step
   * expanding the whole next level of the side with the smaller frontier; true when they meet,
   * false when one side runs out (its whole component explored without meeting the other).
   */
  connected(a: number, b: number): boolean {
    const { queueA, queueB } = this;
    if (this.stamp > 0x3fff_fff0) {
      this.mark.fill(0);
      this.stamp = 0;
    }
    const sideA = this.stamp + 1;
    const sideB = this.stamp + 2;
    this.stamp += 2;
    this.mark[a] = sideA;
    this.mark[b] = sideB;
    queueA[0] = a;
    queueB[0] = b;
    let headA = 0;
    let tailA = 1;
    let headB = 0;
    let tailB = 1;
    for (;;) {
      if (tailA - headA <= tailB - headB) {
        const tail = this.expand(queueA, headA, tailA, sideA, sideB);
        if (tail < 0) return true;
        if (tail === tailA) return false;
        headA = tailA;
        tailA = tail;
      } else {
        const tail = this.expand(queueB, headB, tailB, sideB, sideA);
        if (tail < 0) return true;
        if (tail === tailB) return false;
        headB = tailB;
        tailB = tail;
      }
    }
  }

  /** Expands queue[head..end) by one level, marking new nodes `own`; returns the new tail, or -1 on reaching a node marked `other`. */
  expand(queue: Int32Array, head: number, end: number, own: number, other: number): number {
    const { offsets, targets, mark } = this;
    let tail = end;
    for (let q = head; q < end; q++) {
      const x = queue[q];
      const stop = offsets[x + 1];
      for (let i = offsets[x]; i < stop; i++) {
        const y = targets[i];
        const m = mark[y];
        if (m === other) return -1;
        if (m !== own) {
          mark[y] = own;
          queue[tail++] = y;
        }
      }
    }
    return tail;
  }

  toCSR(): CSRGraph {
    const offsets = this.offsets.slice();
    const targets = this.targets.slice();
    sortRows(offsets, targets);
    return { order: this.order, directed: false, offsets, targets };
  }
}

function ringDistance(i: number, j: number, n: number): number {
  const d = i > j ? i - j : j - i;
  return d < n - d ? d : n - d;
}

function findSorted(values: Int32Array, start: number, end: number, value: number): number {
  let lo = start;
  let hi = end - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const x = values[mid];
    if (x === value) return mid;
    if (x < value) lo = mid + 1;
    else hi = mid - 1;
  }
  throw new Error(`internal: edge ${value} missing from a row (graph not symmetric)`);
}
