import type { AbstractGraph } from 'graphology-types';
import { ShapeError } from '../errors.js';
import { type CSRGraph, fromGraphology } from '../graph/csr.js';
import { BlockLayout } from '../patterns/layout.js';
import { isSymmetric } from '../patterns/summary.js';
import { checkAnalysisMemory, csrBytes } from './resources.js';

/** What every metric accepts: a CSR graph, a graphology graph, or a square layout. */
export type AnalysisInput = CSRGraph | AbstractGraph | BlockLayout;

const cache = new WeakMap<object, CSRGraph>();

/**
 * The graph the metrics read, as CSR. A square layout is a directed graph on blocks (edge c -> k
 * for block (c, k)) with the diagonal ignored; a symmetric layout gives the equal undirected graph.
 * graphology graphs are converted (node i = the i-th key of graph.nodes()); CSR graphs pass through.
 * Results are cached per input object (layouts and CSR graphs are immutable).
 */
export function analysisGraph(input: AnalysisInput): CSRGraph {
  if (isCSRGraph(input)) return input;
  const cached = cache.get(input);
  if (cached) return cached;
  const graph = input instanceof BlockLayout ? layoutGraph(input) : fromGraphology(input).csr;
  cache.set(input, graph);
  return graph;
}

function isCSRGraph(input: AnalysisInput): input is CSRGraph {
  return (input as CSRGraph).offsets instanceof Int32Array && (input as CSRGraph).targets instanceof Int32Array;
}

function layoutGraph(layout: BlockLayout): CSRGraph {
  if (!layout.isSquare) {
    throw new ShapeError(`graph metrics need a square layout (blocks are nodes); got ${layout.inBlocks} x ${layout.outBlocks}`);
  }
  const n = layout.inBlocks;
  // The graph, and the column view that the symmetry test builds on the layout.
  checkAnalysisMemory('graph metrics', layout, 2 * csrBytes(n, layout.nnz), layout.nnz);
  const offsets = new Int32Array(n + 1);
  const targets = new Int32Array(layout.nnz);
  let w = 0;
  for (let c = 0; c < n; c++) {
    for (let b = layout.rowPtr[c]; b < layout.rowPtr[c + 1]; b++) {
      const k = layout.colIdx[b];
      if (k !== c) targets[w++] = k;
    }
    offsets[c + 1] = w;
  }
  return { order: n, directed: !isSymmetric(layout), offsets, targets: w === targets.length ? targets : targets.slice(0, w) };
}

/** The reverse graph (in-neighbours as rows) of a directed CSR graph; an undirected graph is its own reverse. */
export function reverseGraph(graph: CSRGraph): CSRGraph {
  if (!graph.directed) return graph;
  const { order, offsets, targets } = graph;
  checkAnalysisMemory('the reverse graph', graph, csrBytes(order, targets.length) + 4 * order, targets.length);
  const revOffsets = new Int32Array(order + 1);
  for (let i = 0; i < targets.length; i++) revOffsets[targets[i] + 1]++;
  for (let v = 0; v < order; v++) revOffsets[v + 1] += revOffsets[v];
  const fill = revOffsets.slice(0, order);
  const revTargets = new Int32Array(targets.length);
  // Sources are visited in increasing order, so each reversed row comes out sorted.
  for (let u = 0; u < order; u++) for (let i = offsets[u]; i < offsets[u + 1]; i++) revTargets[fill[targets[i]]++] = u;
  return { order, directed: true, offsets: revOffsets, targets: revTargets };
}

/** The undirected graph underlying a directed one (u ~ v when u -> v or v -> u); undirected graphs pass through. */
export function undirectedView(graph: CSRGraph): CSRGraph {
  return graph.directed ? undirectedViewWithArcs(graph).view : graph;
}

/**
 * The underlying undirected graph of a directed one, with per entry (u, v) the arcs present:
 * bit 0 for u -> v, bit 1 for v -> u.
 */
export function undirectedViewWithArcs(graph: CSRGraph): { view: CSRGraph; bits: Uint8Array } {
  checkAnalysisMemory('the undirected view', graph, csrBytes(graph.order, graph.targets.length) + 10 * graph.targets.length, 2 * graph.targets.length);
  const reverse = reverseGraph(graph);
  const { order } = graph;
  const offsets = new Int32Array(order + 1);
  const merged = new Int32Array(graph.targets.length * 2);
  const bits = new Uint8Array(merged.length);
  const out = graph.targets;
  const into = reverse.targets;
  let w = 0;
  for (let u = 0; u < order; u++) {
    let i = graph.offsets[u];
    let j = reverse.offsets[u];
    const iEnd = graph.offsets[u + 1];
    const jEnd = reverse.offsets[u + 1];
    while (i < iEnd && j < jEnd) {
      const a = out[i];
      const b = into[j];
      if (a === b) {
        merged[w] = a;
        bits[w++] = 3;
        i++;
        j++;
      } else if (a < b) {
        merged[w] = a;
        bits[w++] = 1;
        i++;
      } else {
        merged[w] = b;
        bits[w++] = 2;
        j++;
      }
    }
    for (; i < iEnd; i++) {
      merged[w] = out[i];
      bits[w++] = 1;
    }
    for (; j < jEnd; j++) {
      merged[w] = into[j];
      bits[w++] = 2;
    }
    offsets[u + 1] = w;
  }
  return { view: { order, directed: false, offsets, targets: merged.subarray(0, w) }, bits: bits.subarray(0, w) };
}
