import { type CSRGraph, csrFromEdges, forEachEdge } from '../../src/graph/csr.js';

/** A graph from arcs (directed) or pairs given once (undirected). */
export function graphOf(order: number, edges: [number, number][], directed: boolean): CSRGraph {
  return csrFromEdges(order, edges.map((e) => e[0]), edges.map((e) => e[1]), directed);
}

/** 0, 1, ..., n - 1. */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
/** The path 0 - 1 - ... - (n-1). */
export const pathGraph = (n: number): CSRGraph => graphOf(n, range(n - 1).map((i) => [i, i + 1]), false);
/** The cycle on n nodes (arcs i -> i+1 when directed). */
export const cycleGraph = (n: number, directed = false): CSRGraph => graphOf(n, range(n).map((i) => [i, (i + 1) % n]), directed);
/** The star with centre 0 and n - 1 leaves. */
export const starGraph = (n: number): CSRGraph => graphOf(n, range(n - 1).map((i) => [0, i + 1]), false);
/** The complete graph K_n. */
export const completeGraph = (n: number): CSRGraph =>
  graphOf(n, range(n).flatMap((u) => range(n).filter((v) => v > u).map((v): [number, number] => [u, v])), false);

/** The edge list as text, "u v" per line (arcs for a directed graph), for networkx/igraph. */
export function edgeListText(graph: CSRGraph): string {
  const lines: string[] = [];
  forEachEdge(graph, (u, v) => lines.push(`${u} ${v}`));
  return lines.join('\n');
}
