import type { CSRGraph } from '../graph/csr.js';
import { undirectedViewWithArcs } from './adapter.js';

/**
 * The degree-ordered orientation of an undirected graph: each edge {u, v} kept once, as an arc
 * from the endpoint of lower rank to the one of higher rank, rank = (degree, id). Every node then
 * has out-degree O(sqrt(m)), so enumerating triangles costs O(m^1.5) in the worst case (the
 * "forward" algorithm of Schank and Wagner 2005, as refined by Latapy 2008). Rows stay sorted by
 * id. `bits`, when given for the input entries, is carried along for the kept entries.
 */
export interface OrientedGraph {
  readonly order: number;
  readonly offsets: Int32Array;
  readonly targets: Int32Array;
  /** Per kept entry, the input's `bits` for that entry (only when `bits` was passed). */
  readonly bits: Uint8Array | null;
}

/** The degree-ordered orientation (see OrientedGraph) of an undirected CSR graph, with optional per-entry bits. */
export function orientByDegree(graph: CSRGraph, bits: Uint8Array | null = null): OrientedGraph {
  const { order, offsets, targets } = graph;
  const rank = degreeRank(offsets, order);
  const outOffsets = new Int32Array(order + 1);
  // One spare slot: every entry is written, and the write position advances only for kept ones.
  const outTargets = new Int32Array((targets.length >>> 1) + 1);
  const outBits = bits ? new Uint8Array(outTargets.length) : null;
  let w = 0;
  if (outBits) {
    for (let u = 0; u < order; u++) {
      const ru = rank[u];
      for (let i = offsets[u]; i < offsets[u + 1]; i++) {
        const v = targets[i];
        outTargets[w] = v;
        outBits[w] = bits![i];
        w += (ru - rank[v]) >>> 31; // 1 when rank[u] < rank[v], without a branch
      }
      outOffsets[u + 1] = w;
    }
  } else {
    for (let u = 0; u < order; u++) {
      const ru = rank[u];
      const end = offsets[u + 1];
      for (let i = offsets[u]; i < end; i++) {
        const v = targets[i];
        outTargets[w] = v;
        w += (ru - rank[v]) >>> 31;
      }
      outOffsets[u + 1] = w;
    }
  }
  return { order, offsets: outOffsets, targets: outTargets.subarray(0, w), bits: outBits ? outBits.subarray(0, w) : null };
}

/** Rank of each node in the order (degree, id), by a counting sort on degree. */
export function degreeRank(offsets: Int32Array, order: number): Int32Array {
  let maxDegree = 0;
  for (let u = 0; u < order; u++) {
    const d = offsets[u + 1] - offsets[u];
    if (d > maxDegree) maxDegree = d;
  }
  const next = new Int32Array(maxDegree + 2);
  for (let u = 0; u < order; u++) next[offsets[u + 1] - offsets[u] + 1]++;
  for (let d = 0; d <= maxDegree; d++) next[d + 1] += next[d];
  const rank = new Int32Array(order);
  for (let u = 0; u < order; u++) rank[u] = next[offsets[u + 1] - offsets[u]]++;
  return rank;
}

/**
 * Triangles through each node of an undirected CSR graph (simple, sorted rows): T(u) = number of
 * edges among u's neighbours. Each triangle is found once, at its lowest-rank node u, by marking
 * u's out-neighbours and scanning the out-rows of those out-neighbours. Counts fit Int32 because
 * T(u) <= edges < 2^31.
 */
export function trianglesPerNode(graph: CSRGraph): Int32Array {
  const { order } = graph;
  const { offsets, targets } = orientByDegree(graph);
  const count = new Int32Array(order);
  const mark = new Int32Array(order); // mark[w] = u + 1 while w is an out-neighbour of u
  for (let u = 0; u < order; u++) {
    const start = offsets[u];
    const end = offsets[u + 1];
    if (end - start < 2) continue; // u is the lowest node of a triangle only with two out-neighbours
    const stamp = u + 1;
    for (let i = start; i < end; i++) mark[targets[i]] = stamp;
    const last = targets[end - 1]; // rows are sorted by id: nothing past u's largest out-neighbour can be marked
    let atU = 0;
    for (let i = start; i < end; i++) {
      const v = targets[i];
      const vEnd = offsets[v + 1];
      let atV = 0;
      for (let j = offsets[v]; j < vEnd; j++) {
        const x = targets[j];
        if (x > last) break;
        const hit = ((mark[x] ^ stamp) - 1) >>> 31; // 1 when marked, without a branch
        count[x] += hit;
        atV += hit;
      }
      count[v] += atV;
      atU += atV;
    }
    count[u] += atU;
  }
  return count;
}

/**
 * What directed clustering and transitivity need from a directed graph, from one pass over the
 * triangles of its underlying undirected graph.
 */
export interface DirectedTriangleCounts {
  /** Fagiolo's t(i) = ((A + A^T)^3)_ii: directed triangles through i, networkx's `directed_triangles`. */
  readonly cycles: Float64Array;
  /** Total degree in + out of each node. */
  readonly totalDegree: Int32Array;
  /** Reciprocated neighbours of each node (j with both i -> j and j -> i). */
  readonly reciprocalDegree: Int32Array;
  /** Ordered triples (v, w, x) with v -> w, w -> x and v -> x (numerator of networkx's transitivity on a DiGraph). */
  readonly transitiveTriples: number;
  /** Sum over nodes of out-degree * (out-degree - 1) (its denominator). */
  readonly outWedges: number;
}

// For a triangle (u, v, w) the arcs are coded in 6 bits: (u,v) bits 0-1, (u,w) bits 2-3, (v,w)
// bits 4-5, where in each pair the low bit is the arc from the first node and the high bit the
// reverse arc. The tables give, per code, the product of the (A + A^T) weights and the number of
// transitive orderings.
const WEIGHT_PRODUCT = new Uint8Array(64);
const TRANSITIVE = new Uint8Array(64);
for (let code = 0; code < 64; code++) {
  const arc = (from: number, to: number): number => {
    // nodes 0 = u, 1 = v, 2 = w; pair index and direction within the pair
    const [a, b, flip] = from < to ? [from, to, 0] : [to, from, 1];
    const pair = a === 0 ? (b === 1 ? 0 : 1) : 2;
    return (code >> (pair * 2 + flip)) & 1;
  };
  const weight = (a: number, b: number): number => arc(a, b) + arc(b, a);
  WEIGHT_PRODUCT[code] = weight(0, 1) * weight(0, 2) * weight(1, 2);
  let transitive = 0;
  for (const [x, y, z] of [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]) {
    transitive += arc(x, y) & arc(y, z) & arc(x, z);
  }
  TRANSITIVE[code] = transitive;
}

/**
 * Directed triangle counts of a directed CSR graph (Fagiolo 2007, as networkx's directed
 * clustering): enumerates the triangles of the underlying undirected graph by degree ordering,
 * each edge carrying which of its two arcs exist. t(i) = sum over triangles {i, j, k} of
 * 2 * w_ij * w_jk * w_ki with w = A + A^T (each triangle is met in both orders of j, k).
 */
export function directedTriangleCounts(graph: CSRGraph): DirectedTriangleCounts {
  const { order } = graph;
  const { view, bits } = undirectedViewWithArcs(graph);
  const totalDegree = new Int32Array(order);
  const reciprocalDegree = new Int32Array(order);
  let outWedges = 0;
  for (let u = 0; u < order; u++) {
    const dOut = graph.offsets[u + 1] - graph.offsets[u];
    outWedges += dOut * (dOut - 1);
    let total = 0;
    let reciprocal = 0;
    for (let i = view.offsets[u]; i < view.offsets[u + 1]; i++) {
      const b = bits[i];
      total += (b & 1) + (b >> 1);
      if (b === 3) reciprocal++;
    }
    totalDegree[u] = total;
    reciprocalDegree[u] = reciprocal;
  }

  const { offsets, targets, bits: arcs } = orientByDegree(view, bits);
  const cycles = new Float64Array(order);
  const mark = new Int32Array(order);
  const markArcs = new Uint8Array(order); // arcs of (u, w) for the marked w
  let transitiveTriples = 0;
  for (let u = 0; u < order; u++) {
    const start = offsets[u];
    const end = offsets[u + 1];
    if (end - start < 2) continue;
    const stamp = u + 1;
    for (let i = start; i < end; i++) {
      mark[targets[i]] = stamp;
      markArcs[targets[i]] = arcs![i];
    }
    const last = targets[end - 1];
    for (let i = start; i < end; i++) {
      const v = targets[i];
      const uv = arcs![i];
      for (let j = offsets[v]; j < offsets[v + 1]; j++) {
        const w = targets[j];
        if (w > last) break;
        if (mark[w] !== stamp) continue;
        const code = uv | (markArcs[w] << 2) | (arcs![j] << 4);
        const t = 2 * WEIGHT_PRODUCT[code];
        cycles[u] += t;
        cycles[v] += t;
        cycles[w] += t;
        transitiveTriples += TRANSITIVE[code];
      }
    }
  }
  return { cycles, totalDegree, reciprocalDegree, transitiveTriples, outWedges };
}

