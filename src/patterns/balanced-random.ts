import { checkInteger } from '../check.js';
import { checkLayoutMemory } from './memory.js';
import { GenerationError } from '../errors.js';
import { balancedBipartite } from '../graph/fixed-fan-in.js';
import { type RandomOptions, shuffleInPlace } from '../random.js';
import { checkCapacity, checkShape, csrFromDistinctPairs, layoutWithDiagonal, resolveSeed } from './build.js';
import { checkDiagonal } from './diagonal.js';
import type { BlockLayout, BlockSize } from './layout.js';

/** Options of `balancedRandomLayout`. */
export interface BalancedRandomLayoutOptions extends RandomOptions {
  inBlocks: number;
  /** Default inBlocks. */
  outBlocks?: number;
  /** Default DEFAULT_BLOCK_SIZE. */
  blockSize?: BlockSize;
  /** Exact number of input blocks of every output block, counting its diagonal block when `diagonal`. */
  fanIn: number;
  /** true (default): every block (i, i) present; false: none. */
  diagonal?: boolean;
}

/**
 * A balanced random layout, the "balanced random" masks of OpenAI's block-sparse LSTMs (Gray,
 * Radford and Kingma 2017): every output block has exactly `fanIn` distinct input blocks, and the
 * input blocks' fan-outs are as even as possible, floor or ceil of fanIn * outBlocks / inBlocks.
 *
 * The count includes the diagonal. With `diagonal` true every output block k < min(inBlocks,
 * outBlocks) has its own block (k, k) among its fanIn inputs; rectangular shapes follow this rule:
 * - square: (k, k) plus fanIn - 1 off-diagonal inputs drawn by `balancedBipartite` (so every fan-out
 *   is exactly fanIn);
 * - more outputs than inputs: outputs k < inBlocks as in the square case, outputs k >= inBlocks
 *   (which have no diagonal block) get fanIn inputs from a second balanced draw;
 * - more inputs than outputs: a balanced draw of fanIn inputs per output, then the input blocks
 *   are relabelled along a matching (output k <-> one of its inputs, which becomes input k; the
 *   rest are shuffled onto inputs outBlocks..inBlocks-1), so output k's inputs include k. A
 *   matching always exists because no input has more than fanIn outputs.
 * With `diagonal` false no output has its diagonal block (balancedBipartite with excludeDiagonal).
 * OpenAI's `br_<m>` preset is fanIn = 2m + 1 with the diagonal.
 *
 * Parameters: `inBlocks`, `outBlocks` (default inBlocks); `fanIn`, an integer in [1, inBlocks]
 * with the diagonal, [1, inBlocks - 1] without; `seed` or `rng`; `diagonal`; `blockSize`.
 * Raises ParameterError otherwise. Provenance: generator 'balanced-random' with the seed.
 */
export function balancedRandomLayout(options: BalancedRandomLayoutOptions): BlockLayout {
  const context = 'balancedRandomLayout';
  const { inBlocks, outBlocks, blockSize } = checkShape(options, context);
  const diagonal = checkDiagonal(options.diagonal, context);
  const fanIn = checkInteger('fanIn', options.fanIn, 1, diagonal ? inBlocks : inBlocks - 1, context);
  checkCapacity(fanIn * outBlocks, 'fanIn', context);
  // Arcs, pairs and the CSR built from them; per-row and per-column work arrays.
  checkLayoutMemory(context, inBlocks, outBlocks, fanIn * outBlocks + inBlocks, 4, 24 * (inBlocks + outBlocks));
  const { rng, seed } = resolveSeed(options, context);

  let rows: Int32Array;
  let cols: Int32Array;
  if (!diagonal) {
    const arcs = balancedBipartite({ sources: inBlocks, targets: outBlocks, fanIn, excludeDiagonal: true, rng });
    rows = arcs.sources;
    cols = arcs.targets;
  } else if (inBlocks <= outBlocks) {
    const square = balancedBipartite({ sources: inBlocks, targets: inBlocks, fanIn: fanIn - 1, excludeDiagonal: true, rng });
    const extra = outBlocks > inBlocks
      ? balancedBipartite({ sources: inBlocks, targets: outBlocks - inBlocks, fanIn, excludeDiagonal: false, rng })
      : { sources: new Int32Array(0), targets: new Int32Array(0) };
    const count = inBlocks + square.sources.length + extra.sources.length;
    rows = new Int32Array(count);
    cols = new Int32Array(count);
    let w = 0;
    for (let i = 0; i < inBlocks; i++, w++) rows[w] = cols[w] = i;
    rows.set(square.sources, w);
    cols.set(square.targets, w);
    w += square.sources.length;
    for (let b = 0; b < extra.sources.length; b++, w++) {
      rows[w] = extra.sources[b];
      cols[w] = inBlocks + extra.targets[b];
    }
  } else {
    const arcs = balancedBipartite({ sources: inBlocks, targets: outBlocks, fanIn, excludeDiagonal: false, rng });
    const label = diagonalRelabelling(inBlocks, outBlocks, arcs.sources, arcs.targets, rng);
    rows = new Int32Array(arcs.sources.length);
    for (let b = 0; b < rows.length; b++) rows[b] = label[arcs.sources[b]];
    cols = arcs.targets;
  }
  const csr = csrFromDistinctPairs(inBlocks, outBlocks, rows, cols, rows.length);
  const provenance = { generator: 'balanced-random', params: { inBlocks, outBlocks, blockSize, fanIn, diagonal }, seed };
  // The diagonal is already as asked; layoutWithDiagonal only checks that.
  return layoutWithDiagonal({ inBlocks, outBlocks, blockSize, ...csr, provenance }, diagonal);
}

/**
 * For arcs source -> target with inBlocks > outBlocks sources, a relabelling of the sources
 * (label[old] = new) under which every target k < outBlocks has an arc from source k: a maximum
 * matching of targets to sources (Hopcroft-Karp), matched source of k -> k, the other sources
 * shuffled onto outBlocks..inBlocks-1.
 */
function diagonalRelabelling(
  inBlocks: number,
  outBlocks: number,
  sources: Int32Array,
  targets: Int32Array,
  rng: () => number,
): Int32Array {
  const adjacency = csrFromDistinctPairs(outBlocks, inBlocks, targets, sources, sources.length);
  const matchOf = hopcroftKarp(outBlocks, inBlocks, adjacency.rowPtr, adjacency.colIdx);
  const label = new Int32Array(inBlocks).fill(-1);
  for (let k = 0; k < outBlocks; k++) {
    if (matchOf[k] < 0) throw new GenerationError('balancedRandomLayout: no matching of outputs to inputs (should not happen)');
    label[matchOf[k]] = k;
  }
  const rest = new Int32Array(inBlocks - outBlocks);
  for (let c = 0, w = 0; c < inBlocks; c++) if (label[c] < 0) rest[w++] = c;
  shuffleInPlace(rng, rest);
  for (let i = 0; i < rest.length; i++) label[rest[i]] = outBlocks + i;
  return label;
}

/**
 * A maximum matching of a bipartite graph (left vertices 0..left-1 with neighbour lists
 * colIdx[rowPtr[u]..rowPtr[u+1]) among right vertices 0..right-1), by Hopcroft-Karp with an
 * iterative depth-first search. Returns each left vertex's partner, or -1.
 */
function hopcroftKarp(left: number, right: number, rowPtr: Int32Array, colIdx: Int32Array): Int32Array {
  const matchLeft = new Int32Array(left).fill(-1);
  const matchRight = new Int32Array(right).fill(-1);
  // Greedy start: most vertices match at once.
  for (let u = 0; u < left; u++) {
    for (let e = rowPtr[u]; e < rowPtr[u + 1]; e++) {
      const v = colIdx[e];
      if (matchRight[v] < 0) {
        matchLeft[u] = v;
        matchRight[v] = u;
        break;
      }
    }
  }
  const INF = 0x7fffffff;
  const dist = new Int32Array(left);
  const queue = new Int32Array(left);
  const next = new Int32Array(left);
  const stack = new Int32Array(left);
  for (;;) {
    // Breadth-first layers from the free left vertices.
    let head = 0;
    let tail = 0;
    for (let u = 0; u < left; u++) {
      if (matchLeft[u] < 0) {
        dist[u] = 0;
        queue[tail++] = u;
      } else dist[u] = INF;
    }
    let found = false;
    while (head < tail) {
      const u = queue[head++];
      for (let e = rowPtr[u]; e < rowPtr[u + 1]; e++) {
        const w = matchRight[colIdx[e]];
        if (w < 0) found = true;
        else if (dist[w] === INF) {
          dist[w] = dist[u] + 1;
          queue[tail++] = w;
        }
      }
    }
    if (!found) return matchLeft;
    // Depth-first augmenting paths along the layers.
    for (let u = 0; u < left; u++) next[u] = rowPtr[u];
    for (let root = 0; root < left; root++) {
      if (matchLeft[root] >= 0) continue;
      let top = 0;
      stack[0] = root;
      while (top >= 0) {
        const u = stack[top];
        if (next[u] === rowPtr[u + 1]) {
          dist[u] = INF; // dead end for this phase
          top--;
          if (top >= 0) next[stack[top]]++;
          continue;
        }
        const v = colIdx[next[u]];
        const w = matchRight[v];
        if (w < 0) {
          // Augment along the stack: each stacked vertex takes the edge it is looking at.
          for (let i = 0; i <= top; i++) {
            const x = stack[i];
            const y = colIdx[next[x]];
            matchLeft[x] = y;
            matchRight[y] = x;
          }
          break;
        }
        if (dist[w] === dist[u] + 1) stack[++top] = w;
        else next[u]++;
      }
    }
  }
}
