import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import { checkInteger } from '../check.js';
import { GenerationError, ParameterError } from '../errors.js';
import { resolveRng, shuffleInPlace, type RandomOptions, type Rng } from '../random.js';
import { csrFromEdges, type CSRGraph } from './csr.js';
import { EdgeSet } from './edge-set.js';
import { checkGraphClass } from './graph-class.js';
import { checkGraphMemory, edgeSetBytes, graphologyView } from './memory.js';

/** Options of `balancedBipartite`. */
export interface BalancedBipartiteOptions extends RandomOptions {
  /** Number of source nodes (0..sources-1). */
  sources: number;
  /** Number of target nodes (0..targets-1). */
  targets: number;
  /** Distinct sources of every target, in [0, sources] (sources - 1 with excludeDiagonal). */
  fanIn: number;
  /** Forbid the arcs i -> i (source i to target i). */
  excludeDiagonal: boolean;
}

/** Arcs `sources[k] -> targets[k]`, sorted by source then target. */
export interface ArcList {
  sources: Int32Array;
  targets: Int32Array;
}

/** Options of the fixed fan-in generator. */
export interface FixedFanInOptions extends RandomOptions {
  /** Number of nodes n. */
  order: number;
  /** In-degree (and out-degree) of every node, in [0, n-1]. */
  fanIn: number;
}

/** Fresh stub pairings tried before giving up. */
const MAX_TRIES = 50;

/**
 * Returns random arcs from `sources` source nodes to `targets` target nodes such that every target
 * has exactly `fanIn` distinct sources and the out-degrees are as even as possible: every source has
 * floor or ceil of fanIn*targets/sources arcs (which sources get the ceiling is random, among those
 * that can take it). With `excludeDiagonal` there is no arc i -> i. This is the "balanced random"
 * connectivity of OpenAI's blocksparse masks, for rectangular layouts as well as square ones.
 *
 * Built by stub pairing (each target's fanIn stubs matched to a shuffled list of source stubs), then
 * repeated arcs and diagonal hits are repaired by random degree-preserving swaps (arcs i -> j and
 * i' -> j' become i' -> j and i -> j' when both are new and allowed); a pairing that cannot be
 * repaired within a bounded number of swaps is drawn afresh. When the arcs fill more than half of
 * the allowed ones, the complement (with the complementary degrees) is drawn instead and inverted,
 * which keeps the repair fast for dense masks. Every degree sequence here is realisable; the
 * distribution is random but not exactly uniform over such graphs.
 *
 * Parameters
 * - sources, targets: node counts, integers >= 0.
 * - fanIn: in-degree of every target, an integer in [0, sources], or [0, sources-1] with
 *   excludeDiagonal; fanIn*targets must stay below 2^31.
 * - excludeDiagonal: a boolean.
 * - seed / rng: randomness (see RandomOptions).
 *
 * Raises ParameterError (naming `sources`, `targets`, `fanIn`, `excludeDiagonal`, `seed` or `rng`) for
 * values outside those ranges; ResourceError, before anything is generated, when the arcs would not
 * fit the memory budget (see setMemoryBudget); GenerationError if no valid arc set was found in 50
 * pairings (not seen in practice).
 *
 * Reference: S. Gray, A. Radford and D. P. Kingma, "GPU kernels for block-sparse weights", OpenAI,
 * 2017 (the balanced random masks); the repair is the degree-preserving arc swap used with the
 * configuration model.
 */
export function balancedBipartite(options: BalancedBipartiteOptions): ArcList {
  const context = 'balancedBipartite';
  const sourceCount = checkInteger('sources', options.sources, 0, 0x7fffffff, context);
  const targetCount = checkInteger('targets', options.targets, 0, 0x7fffffff, context);
  const excludeDiagonal = options.excludeDiagonal;
  if (typeof excludeDiagonal !== 'boolean') throw new ParameterError('excludeDiagonal', 'a boolean', excludeDiagonal, context);
  const maxFanIn = Math.max(0, excludeDiagonal ? sourceCount - 1 : sourceCount);
  const fanIn = checkInteger('fanIn', options.fanIn, 0, maxFanIn, context);
  if (fanIn * targetCount > 0x7fffffff) {
    throw new ParameterError('fanIn', `at most ${Math.floor(0x7fffffff / targetCount)} (fanIn * targets < 2^31)`, fanIn, context);
  }
  const rng = resolveRng(options, context);
  checkGraphMemory(context, sourceCount, fanIn * targetCount, balancedArcsExtraBytes(sourceCount, targetCount, fanIn, excludeDiagonal),
    `sources = ${sourceCount}, targets = ${targetCount}`);
  return balancedArcs(sourceCount, targetCount, fanIn, excludeDiagonal, rng, context);
}

/**
 * Returns a random directed graph, as CSR, in which every node has exactly `fanIn` in-arcs from
 * distinct other nodes and also exactly `fanIn` out-arcs: a random fanIn-regular digraph without
 * self-loops (the square, diagonal-free case of `balancedBipartite`, which describes the
 * construction). Arc u -> v is stored in row u.
 *
 * Parameters
 * - order: number of nodes n, an integer >= 0.
 * - fanIn: in- and out-degree of every node, an integer in [0, n-1].
 * - seed / rng: randomness (see RandomOptions).
 *
 * Raises ParameterError (naming `order`, `fanIn`, `seed` or `rng`) for values outside those ranges;
 * ResourceError and GenerationError as `balancedBipartite`.
 *
 * Reference: S. Gray, A. Radford and D. P. Kingma, "GPU kernels for block-sparse weights", OpenAI,
 * 2017 (balanced random masks of the block-sparse LSTMs).
 */
export function fixedFanInCSR(options: FixedFanInOptions): CSRGraph {
  const context = 'fixedFanIn';
  const order = checkInteger('order', options.order, 0, 0x7fffffff, context);
  const fanIn = checkInteger('fanIn', options.fanIn, 0, Math.max(0, order - 1), context);
  if (fanIn * order > 0x7fffffff) {
    throw new ParameterError('fanIn', `at most ${Math.floor(0x7fffffff / order)} (fanIn * order < 2^31)`, fanIn, context);
  }
  const rng = resolveRng(options, context);
  checkGraphMemory(context, order, fanIn * order, balancedArcsExtraBytes(order, order, fanIn, true));
  const arcs = balancedArcs(order, order, fanIn, true, rng, context);
  return csrFromEdges(order, arcs.sources, arcs.targets, true);
}

/**
 * Returns a random directed graph with every in- and out-degree equal to `fanIn` and no self-loops
 * as a graphology graph (nodes "0".."n-1"; `GraphClass` defaults to a directed Graph and must accept
 * directed edges). See `fixedFanInCSR` for the model, the parameters and what is raised.
 */
export function fixedFanIn(GraphClass: GraphConstructor | undefined, options: FixedFanInOptions): AbstractGraph {
  const Ctor = checkGraphClass(GraphClass, true, 'fixedFanIn');
  return graphologyView(Ctor, true, () => fixedFanInCSR(options));
}

/**
 * Memory of balancedArcs beyond the 16 bytes per arc of `checkGraphMemory`: the multiset of the
 * pairing (of the arcs, or of the absent ones when drawing the complement), the stubs of a drawn
 * complement, and the degree and cursor arrays.
 */
function balancedArcsExtraBytes(sourceCount: number, targetCount: number, fanIn: number, excludeDiagonal: boolean): number {
  const arcCount = fanIn * targetCount;
  const allowed = sourceCount * targetCount - (excludeDiagonal ? Math.min(sourceCount, targetCount) : 0);
  const paired = Math.min(arcCount, allowed - arcCount);
  return edgeSetBytes(paired) + 16 * paired + 20 * sourceCount + 12 * targetCount;
}

/** The checked core of balancedBipartite. */
function balancedArcs(sourceCount: number, targetCount: number, fanIn: number, excludeDiagonal: boolean, rng: Rng, context: string): ArcList {
  const arcCount = fanIn * targetCount;
  const diagonal = excludeDiagonal ? Math.min(sourceCount, targetCount) : 0;
  // Most arcs source i / target j can have: everything but its diagonal partner.
  const sourceCap = (i: number): number => targetCount - (i < diagonal ? 1 : 0);
  const targetCap = (j: number): number => sourceCount - (j < diagonal ? 1 : 0);

  const sourceDegrees = new Int32Array(sourceCount);
  if (arcCount > 0) {
    const base = Math.floor(arcCount / sourceCount);
    const extra = arcCount - base * sourceCount;
    sourceDegrees.fill(base);
    // The `extra` sources with one more arc: a random subset of those with room for it (when
    // base + 1 = targets only the diagonal-free sources have; there are always enough).
    const eligible = new Int32Array(sourceCount);
    let eligibleCount = 0;
    for (let i = 0; i < sourceCount; i++) if (sourceCap(i) >= base + 1) eligible[eligibleCount++] = i;
    if (eligibleCount < extra) throw new GenerationError(`${context}: cannot spread ${arcCount} arcs over ${sourceCount} sources`);
    for (let k = 0; k < extra; k++) {
      const pick = k + Math.floor(rng() * (eligibleCount - k));
      const chosen = eligible[pick];
      eligible[pick] = eligible[k];
      eligible[k] = chosen;
      sourceDegrees[chosen]++;
    }
  }
  const targetDegrees = new Int32Array(targetCount).fill(fanIn);

  const allowed = sourceCount * targetCount - diagonal;
  let arcs: ArcList;
  if (2 * arcCount <= allowed) {
    arcs = pairWithDegrees(sourceDegrees, targetDegrees, excludeDiagonal, rng, context);
  } else {
    const sourceRest = new Int32Array(sourceCount);
    for (let i = 0; i < sourceCount; i++) sourceRest[i] = sourceCap(i) - sourceDegrees[i];
    const targetRest = new Int32Array(targetCount);
    for (let j = 0; j < targetCount; j++) targetRest[j] = targetCap(j) - fanIn;
    const missing = pairWithDegrees(sourceRest, targetRest, excludeDiagonal, rng, context);
    const absent = csrFromEdges(sourceCount, missing.sources, missing.targets, true);
    arcs = { sources: new Int32Array(arcCount), targets: new Int32Array(arcCount) };
    let k = 0;
    for (let i = 0; i < sourceCount; i++) {
      let a = absent.offsets[i];
      const end = absent.offsets[i + 1];
      for (let j = 0; j < targetCount; j++) {
        if (a < end && absent.targets[a] === j) {
          a++;
          continue;
        }
        if (i === j && i < diagonal) continue;
        arcs.sources[k] = i;
        arcs.targets[k++] = j;
      }
    }
  }
  const sorted = csrFromEdges(sourceCount, arcs.sources, arcs.targets, true);
  const sources = new Int32Array(arcCount);
  for (let i = 0; i < sourceCount; i++) sources.fill(i, sorted.offsets[i], sorted.offsets[i + 1]);
  return { sources, targets: sorted.targets };
}

/**
 * Random simple bipartite arcs with the given source and target degrees (equal sums), optionally
 * without arcs i -> i: stub pairing, then repair by degree-preserving swaps.
 */
function pairWithDegrees(sourceDegrees: Int32Array, targetDegrees: Int32Array, excludeDiagonal: boolean, rng: Rng, context: string): ArcList {
  let arcCount = 0;
  for (let i = 0; i < sourceDegrees.length; i++) arcCount += sourceDegrees[i];
  const src = new Int32Array(arcCount);
  const tgt = new Int32Array(arcCount);
  for (let j = 0, k = 0; j < targetDegrees.length; j++) for (let d = 0; d < targetDegrees[j]; d++) tgt[k++] = j;
  const bad = new Int32Array(arcCount);
  const maxSwapTries = 100 * arcCount + 1000;

  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    for (let i = 0, k = 0; i < sourceDegrees.length; i++) for (let d = 0; d < sourceDegrees[i]; d++) src[k++] = i;
    shuffleInPlace(rng, src);
    const counts = new EdgeSet(arcCount); // the arcs as a multiset
    let badCount = 0;
    for (let k = 0; k < arcCount; k++) {
      const c = counts.addCount(src[k], tgt[k]);
      if (c > 1 || (excludeDiagonal && src[k] === tgt[k])) bad[badCount++] = k;
    }
    let swapTries = 0;
    while (badCount > 0 && swapTries < maxSwapTries) {
      const k = bad[badCount - 1];
      const i = src[k];
      const j = tgt[k];
      if (!(excludeDiagonal && i === j) && counts.count(i, j) === 1) {
        badCount--; // fixed by an earlier swap
        continue;
      }
      swapTries++;
      const b = Math.floor(rng() * arcCount);
      const i2 = src[b];
      const j2 = tgt[b];
      if (i2 === i || j2 === j) continue;
      if (excludeDiagonal && (i2 === j || i === j2)) continue;
      if (counts.has(i2, j) || counts.has(i, j2)) continue;
      counts.addCount(i, j, -1);
      counts.addCount(i2, j2, -1);
      counts.addCount(i2, j);
      counts.addCount(i, j2);
      src[k] = i2;
      src[b] = i;
      badCount--;
    }
    if (badCount === 0) return { sources: src, targets: tgt };
  }
  const what = excludeDiagonal ? 'repeated or diagonal arcs' : 'repeated arcs';
  throw new GenerationError(`${context}: could not pair ${arcCount} arcs without ${what} in ${MAX_TRIES} tries`);
}
