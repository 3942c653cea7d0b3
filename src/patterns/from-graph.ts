import type { AbstractGraph } from 'graphology-types';
import { checkLayoutMemory } from './memory.js';
import { ParameterError } from '../errors.js';
import { type CSRGraph, fromGraphology } from '../graph/csr.js';
import { checkBlockSize, checkCapacity } from './build.js';
import { checkDiagonal, setDiagonal } from './diagonal.js';
import { BlockLayout, type BlockSize, type Provenance } from './layout.js';

/** Options of `layoutFromGraph`. */
export interface LayoutFromGraphOptions {
  /** Block size (default DEFAULT_BLOCK_SIZE). */
  blockSize?: BlockSize;
  /** true (default): every block (i, i) present; false: none (whatever self-loops the graph has). */
  diagonal?: boolean;
  /**
   * The provenance to record, as given (typically the graph generator's name, parameters and
   * seed). Default: {generator: 'from-graph', params: {order, directed, blockSize, diagonal}, seed: null}.
   */
  provenance?: Provenance;
}

/** Whether `graph` looks like a CSRGraph (as opposed to a graphology graph). */
function isCSRGraph(graph: unknown): graph is CSRGraph {
  const g = graph as Partial<CSRGraph> | null;
  return typeof g === 'object' && g !== null && g.offsets instanceof Int32Array && g.targets instanceof Int32Array;
}

/**
 * The square layout of a graph on `order` nodes: inBlocks = outBlocks = order, node i = block i.
 * An undirected edge {u, v} gives blocks (u, v) and (v, u), so the layout is symmetric; a directed
 * arc u -> v gives block (u, v) only (input block u feeds output block v). graphology graphs are
 * read through `fromGraphology`, node i being the i-th key of `graph.nodes()`; a mixed graph with
 * directed edges is read as directed, its undirected edges both ways.
 *
 * Raises ParameterError for an empty graph, a bad blockSize or diagonal, or (from the CSR checks)
 * a malformed CSRGraph.
 */
export function layoutFromGraph(graph: CSRGraph | AbstractGraph, options: LayoutFromGraphOptions = {}): BlockLayout {
  const context = 'layoutFromGraph';
  const blockSize = checkBlockSize(options.blockSize, context);
  const diagonal = checkDiagonal(options.diagonal, context);
  let csr: CSRGraph;
  if (isCSRGraph(graph)) csr = graph;
  else if (typeof graph === 'object' && graph !== null && typeof (graph as AbstractGraph).forEachEdge === 'function') {
    csr = fromGraphology(graph as AbstractGraph).csr;
  } else {
    throw new ParameterError('graph', 'a CSRGraph or a graphology graph', graph, context);
  }
  const order = csr.order;
  if (!Number.isInteger(order) || order < 1) throw new ParameterError('graph', 'a graph with at least one node', order, context);
  if (csr.offsets.length !== order + 1) {
    throw new ParameterError('graph', `a CSRGraph with offsets of length order + 1 = ${order + 1}`, csr.offsets.length, context);
  }
  checkCapacity(csr.targets.length + order, 'graph', context);
  checkLayoutMemory(context, order, order, csr.targets.length + order, 1);
  const given = { rowPtr: csr.offsets, colIdx: csr.targets };
  const parts = setDiagonal(order, order, given, diagonal);
  // Copy when the graph's own arrays would otherwise be shared with the (immutable) layout.
  const rowPtr = parts === given ? csr.offsets.slice() : parts.rowPtr;
  const colIdx = parts === given ? csr.targets.slice() : parts.colIdx;
  const provenance = options.provenance ?? {
    generator: 'from-graph',
    params: { order, directed: csr.directed, blockSize, diagonal },
    seed: null,
  };
  return BlockLayout.fromCSR({ inBlocks: order, outBlocks: order, blockSize, rowPtr, colIdx, provenance });
}
