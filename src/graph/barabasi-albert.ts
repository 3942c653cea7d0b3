import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import { checkInteger } from '../check.js';
import { ParameterError } from '../errors.js';
import { resolveRng, type RandomOptions } from '../random.js';
import { csrFromEdges, hasEdge, type CSRGraph } from './csr.js';
import { checkGraphClass } from './graph-class.js';
import { checkGraphMemory, graphologyView } from './memory.js';
import { PreferentialSampler } from './preferential-sampler.js';

/** Options of the Barabási-Albert generator. */
export interface BarabasiAlbertOptions extends RandomOptions {
  /** Number of nodes n. */
  order: number;
  /** Edges each new node attaches with, m in [1, n-1]. */
  m: number;
  /** Graph to grow from (undirected, simple, between m and n nodes); default a star on m+1 nodes. */
  initialGraph?: CSRGraph;
}

const CONTEXT = 'barabasiAlbert';

/**
 * Returns a random graph grown by the Barabási-Albert preferential attachment model, as CSR.
 *
 * Starting from a star on m+1 nodes (node 0 the centre, joined to 1..m; networkx's
 * `star_graph(m)`), or from `initialGraph` if given, nodes are added one at a time, each joined to
 * m distinct existing nodes chosen with probability proportional to their degree: draws from the
 * list in which every node appears once per incident edge, repeated until m distinct nodes are
 * drawn. This is networkx's `barabasi_albert_graph(n, m, initial_graph=...)`. Without an initial
 * graph the result has m*(n-m) edges and its degree distribution tends to
 * p_k = 2m(m+1)/(k(k+1)(k+2)) for k >= m.
 *
 * Parameters
 * - order: number of nodes n, an integer >= 2.
 * - m: edges from each new node to existing nodes, an integer in [1, n-1].
 * - initialGraph: an undirected simple CSRGraph on n0 nodes, m <= n0 <= n, with at least m nodes of
 *   positive degree; its nodes become 0..n0-1 and its edges are kept. (networkx would loop forever
 *   with fewer than m non-isolated nodes; we raise.)
 * - seed / rng: randomness (see RandomOptions).
 *
 * Raises ParameterError (naming `order`, `m`, `initialGraph`, `seed` or `rng`) for values outside
 * those ranges, and ResourceError, before anything is generated, when the graph would not fit the
 * memory budget (see setMemoryBudget).
 *
 * Reference: A.-L. Barabási and R. Albert, "Emergence of scaling in random networks",
 * Science 286, 509-512, 1999.
 */
export function barabasiAlbertCSR(options: BarabasiAlbertOptions): CSRGraph {
  const order = checkInteger('order', options.order, 2, 0x7fffffff, CONTEXT);
  const m = checkInteger('m', options.m, 1, order - 1, CONTEXT);
  const initial = options.initialGraph ?? null;
  if (initial !== null) checkInitialGraph(initial, order, m);
  const rng = resolveRng(options, CONTEXT);

  const initialOrder = initial ? initial.order : m + 1;
  const initialEdges = initial ? initial.targets.length / 2 : m;
  const size = initialEdges + m * (order - initialOrder);
  // The edge list, the sampler and the CSR (under 16 bytes per arc), plus the node-sized marks and cursors.
  checkGraphMemory(CONTEXT, order, 2 * size, 8 * order);
  const sources = new Int32Array(size);
  const targets = new Int32Array(size);
  const sampler = new PreferentialSampler(2 * size);
  let count = 0;

  if (initial) {
    const { offsets, targets: adjacency } = initial;
    for (let u = 0; u < initial.order; u++) {
      for (let i = offsets[u]; i < offsets[u + 1]; i++) {
        const v = adjacency[i];
        if (u < v) {
          sources[count] = u;
          targets[count++] = v;
        }
      }
      sampler.push(u, offsets[u + 1] - offsets[u]);
    }
  } else {
    sampler.push(0, m);
    for (let v = 1; v <= m; v++) {
      sources[count] = 0;
      targets[count++] = v;
      sampler.push(v);
    }
  }

  // lastChosenBy[v] === source marks v as already drawn for this source (distinct targets).
  const lastChosenBy = new Int32Array(order).fill(-1);
  const chosen = new Int32Array(m);
  for (let source = initialOrder; source < order; source++) {
    let k = 0;
    while (k < m) {
      const v = sampler.draw(rng);
      if (lastChosenBy[v] === source) continue;
      lastChosenBy[v] = source;
      chosen[k++] = v;
    }
    for (let i = 0; i < m; i++) {
      sources[count] = source;
      targets[count++] = chosen[i];
      sampler.push(chosen[i]);
    }
    sampler.push(source, m);
  }
  return csrFromEdges(order, sources, targets, false, count);
}

/**
 * Returns a Barabási-Albert preferential attachment graph as a graphology graph (nodes "0".."n-1";
 * `GraphClass` defaults to an undirected Graph). See `barabasiAlbertCSR` for the model, the
 * parameters and what is raised.
 */
export function barabasiAlbert(GraphClass: GraphConstructor | undefined, options: BarabasiAlbertOptions): AbstractGraph {
  const Ctor = checkGraphClass(GraphClass, false, CONTEXT);
  return graphologyView(Ctor, false, () => barabasiAlbertCSR(options));
}

/** Checks that the initial graph is an undirected simple CSRGraph the model can grow from. */
function checkInitialGraph(graph: CSRGraph, order: number, m: number): void {
  const allowed = `an undirected simple CSRGraph with between m = ${m} and order = ${order} nodes, at least m of them not isolated`;
  if (typeof graph !== 'object' || !(graph.offsets instanceof Int32Array) || !(graph.targets instanceof Int32Array)) {
    throw new ParameterError('initialGraph', allowed, graph, CONTEXT);
  }
  if (graph.directed) throw new ParameterError('initialGraph', allowed, 'a directed graph', CONTEXT);
  const n0 = graph.order;
  if (!Number.isInteger(n0) || n0 < m || n0 > order || graph.offsets.length !== n0 + 1) {
    throw new ParameterError('initialGraph', allowed, `a graph on ${n0} nodes`, CONTEXT);
  }
  const { offsets, targets } = graph;
  if (offsets[0] !== 0 || offsets[n0] !== targets.length) {
    throw new ParameterError('initialGraph', allowed, 'a graph whose offsets do not span its targets', CONTEXT);
  }
  let nonIsolated = 0;
  for (let u = 0; u < n0; u++) {
    if (offsets[u + 1] < offsets[u]) throw new ParameterError('initialGraph', allowed, 'a graph with decreasing offsets', CONTEXT);
    if (offsets[u + 1] > offsets[u]) nonIsolated++;
    for (let i = offsets[u]; i < offsets[u + 1]; i++) {
      const v = targets[i];
      if (v === u || v < 0 || v >= n0 || (i > offsets[u] && v <= targets[i - 1])) {
        throw new ParameterError('initialGraph', allowed, `a graph with row ${u} not simple and sorted`, CONTEXT);
      }
      if (!hasEdge(graph, v, u)) throw new ParameterError('initialGraph', allowed, `a graph with ${u}-${v} stored one way only`, CONTEXT);
    }
  }
  if (nonIsolated < m) throw new ParameterError('initialGraph', allowed, `a graph with ${nonIsolated} non-isolated nodes`, CONTEXT);
}
