import { type CSRGraph } from '../graph/csr.js';

/** Largest number of 32-bit words per node (so up to 256 sources per pass). */
export const MAX_WORDS = 8;

/**
 * Per-source outputs of a sweep, indexed by the source's position in the `sources` array given to
 * `MultiSourceBFS.run`; each is optional (leave out what is not needed: the per-source distance
 * sums and reached counts cost one step per (source, reached node) pair on top of the sweep).
 */
export interface SourceStats {
  /** Largest distance from the source to a node it reaches (0 if it reaches none). */
  eccentricity?: Int32Array;
  /** Sum of distances from the source to the nodes it reaches. */
  distanceSum?: Float64Array;
  /** Number of nodes the source reaches, itself not counted. */
  reached?: Int32Array;
}

/**
 * How a MultiSourceBFS searches: `'bit-parallel'` always; `'plain'`: one ordinary BFS per source;
 * `'adaptive'` (default): bit-parallel, switching to plain for the remaining batches once the
 * bit-parallel work so far exceeds what plain searches would have cost (graphs with long
 * shortest paths, e.g. rings and paths, where each level's frontier holds few bits per word).
 */
export type SearchStrategy = 'bit-parallel' | 'plain' | 'adaptive';

/** Totals of a sweep over all its sources: sum of d(s, v) and number of pairs (s, v), v != s reachable from s. */
export interface SweepTotals {
  distanceSum: number;
  reachedPairs: number;
}

/**
 * A level pushes when its frontier's out-arcs, times this, are fewer than the in-arcs of the nodes
 * still missing some source (what a pull would read). A pushed arc costs more than a pulled one
 * (a scattered read-modify-write, and the touched node must be collected and checked afterwards).
 */
const PUSH_FACTOR = 2;

/**
 * The adaptive strategy turns plain once the bit-parallel work (word-arcs) exceeds this many times
 * the arc steps plain searches from the same sources would have taken; measured, a word-arc costs
 * about half a plain BFS arc step.
 */
const PLAIN_RATIO = 2;

/**
 * Bit-parallel multi-source breadth-first search (MS-BFS: M. Then et al., "The More the Merrier:
 * Efficient Multi-Source Graph Traversal", PVLDB 8(4), 2014). Up to 32 * `words` sources are
 * searched at once: each node holds `words` 32-bit words, bit i standing for source i, in three
 * bitsets (seen, this level's frontier, next level's frontier). A level is one sweep: pull mode
 * visits every node v that some source has not yet reached and ORs the frontier words of its
 * in-neighbours (rows of `reverse`); when the frontier touches few arcs, push mode ORs each frontier
 * node's words into its out-neighbours (rows of `forward`) instead. New bits are counted by
 * popcount, so the distance sum of a level is level * popcount, with no per-source work.
 *
 * Bit-parallelism pays when the sources' searches overlap, as in small-world graphs (a few levels,
 * each touching most nodes). On graphs with long shortest paths (rings, paths, lattices) each
 * level touches a thin shell per source and the sweeps cost more than one plain BFS per source;
 * the default `'adaptive'` strategy measures this on the first batches and then switches to plain
 * BFS (see SearchStrategy). Results are identical either way.
 *
 * Distances run along arcs: d(s, v) for s -> ... -> v. For undirected graphs pass the same graph
 * twice. Memory: 3 * order * words * 4 bytes (and 2 * order * 4 more once plain).
 */
export class MultiSourceBFS {
  /** 32-bit words per node. */
  readonly words: number;
  /** Sources per pass: 32 * words. */
  readonly batchSize: number;
  private readonly order: number;
  private readonly forward: CSRGraph;
  private readonly reverse: CSRGraph;
  private seen: Int32Array;
  private visit: Int32Array;
  private next: Int32Array;
  private active: Int32Array;
  private nextActive: Int32Array;
  private readonly touched: Int32Array;
  private readonly stamp: Int32Array;
  private epoch = 0;
  private readonly full: Int32Array;
  private readonly levelBits: Int32Array;
  private strategy: SearchStrategy;
  private bitCost = 0;
  private plainCost = 0;
  private distances: Int32Array | undefined;
  private queue: Int32Array | undefined;

  constructor(forward: CSRGraph, reverse: CSRGraph, words: number, strategy: SearchStrategy = 'adaptive') {
    if (words !== 1 && words !== 2 && words !== 4 && words !== 8) throw new RangeError(`words must be 1, 2, 4 or 8 (got ${words})`);
    if (forward.order !== reverse.order || forward.targets.length !== reverse.targets.length) {
      throw new RangeError('forward and reverse graphs differ in size');
    }
    this.words = words;
    this.strategy = strategy;
    this.batchSize = 32 * words;
    this.order = forward.order;
    this.forward = forward;
    this.reverse = reverse;
    const n = forward.order;
    this.seen = new Int32Array(n * words);
    this.visit = new Int32Array(n * words);
    this.next = new Int32Array(n * words);
    this.active = new Int32Array(n);
    this.nextActive = new Int32Array(n);
    this.touched = new Int32Array(n);
    this.stamp = new Int32Array(n);
    this.full = new Int32Array(words);
    this.levelBits = new Int32Array(words);
  }

  /**
   * Searches from `sources[start .. start + count)` (distinct nodes, count <= batchSize) at once,
   * writes the per-source outputs asked for in `stats` (at positions start..start+count-1) and
   * returns the totals.
   */
  run(sources: Int32Array, start: number, count: number, stats: SourceStats = {}): SweepTotals {
    if (count < 1 || count > this.batchSize) throw new RangeError(`count must be in [1, ${this.batchSize}]`);
    const { eccentricity, distanceSum: sums, reached } = stats;
    if (eccentricity) eccentricity.fill(0, start, start + count);
    if (sums) sums.fill(0, start, start + count);
    if (reached) reached.fill(0, start, start + count);
    if (this.strategy === 'plain') return this.runPlain(sources, start, count, stats);
    const totals = this.runBitParallel(sources, start, count, stats);
    // A plain BFS reads each arc of the part it reaches once; the whole graph is the estimate.
    this.plainCost += count * this.forward.targets.length;
    if (this.strategy === 'adaptive' && this.bitCost > PLAIN_RATIO * this.plainCost) this.strategy = 'plain';
    return totals;
  }

  /** One plain BFS per source (cheaper when the sources' frontiers hardly overlap: long paths, many levels). */
  private runPlain(sources: Int32Array, start: number, count: number, stats: SourceStats): SweepTotals {
    const n = this.order;
    this.distances ??= new Int32Array(n);
    this.queue ??= new Int32Array(n);
    const { distances, queue } = this;
    const { offsets, targets } = this.forward;
    let distanceSum = 0;
    let reachedPairs = 0;
    for (let i = 0; i < count; i++) {
      const source = sources[start + i];
      distances.fill(-1);
      distances[source] = 0;
      queue[0] = source;
      let head = 0;
      let tail = 1;
      let sum = 0;
      while (head < tail) {
        const u = queue[head++];
        const d = distances[u] + 1;
        for (let e = offsets[u]; e < offsets[u + 1]; e++) {
          const v = targets[e];
          if (distances[v] < 0) {
            distances[v] = d;
            queue[tail++] = v;
            sum += d;
          }
        }
      }
      const p = start + i;
      if (stats.eccentricity) stats.eccentricity[p] = distances[queue[tail - 1]];
      if (stats.distanceSum) stats.distanceSum[p] = sum;
      if (stats.reached) stats.reached[p] = tail - 1;
      distanceSum += sum;
      reachedPairs += tail - 1;
    }
    return { distanceSum, reachedPairs };
  }

  /** The bit-parallel search from one batch of sources. */
  private runBitParallel(sources: Int32Array, start: number, count: number, stats: SourceStats): SweepTotals {
    const W = this.words;
    const used = (count + 31) >>> 5;
    const { seen, full } = this;
    seen.fill(0);
    this.visit.fill(0);
    this.next.fill(0);
    full.fill(0);
    for (let w = 0; w < used; w++) full[w] = w < used - 1 || count % 32 === 0 ? -1 : (1 << count % 32) - 1;
    const forwardOffsets = this.forward.offsets;
    let activeCount = 0;
    let activeArcs = 0;
    for (let i = 0; i < count; i++) {
      const s = sources[start + i];
      const at = s * W + (i >>> 5);
      const bit = 1 << (i & 31);
      this.active[activeCount++] = s;
      activeArcs += forwardOffsets[s + 1] - forwardOffsets[s];
      seen[at] |= bit;
      this.visit[at] |= bit;
    }
    const { eccentricity, distanceSum: sums, reached } = stats;
    const perSource = sums !== undefined || reached !== undefined;
    // In-arcs of the nodes some source has not reached yet (the arcs a pull reads).
    const reverseOffsets = this.reverse.offsets;
    let unsaturatedArcs = this.reverse.targets.length;
    if (count === 1) {
      const s = sources[start];
      unsaturatedArcs -= reverseOffsets[s + 1] - reverseOffsets[s];
    }

    let distanceSum = 0;
    let reachedPairs = 0;
    for (let level = 1; activeCount > 0; level++) {
      const levelBits = this.levelBits;
      for (let w = 0; w < used; w++) levelBits[w] = 0;
      let found: number;
      if (activeArcs * PUSH_FACTOR < unsaturatedArcs) {
        found = this.push(activeCount, used);
        this.bitCost += activeArcs * used;
      } else {
        found = this.pull(used);
        this.bitCost += unsaturatedArcs * used + (this.order >>> 2);
      }
      // Clear this level's frontier (only the active nodes hold bits) and make the next one current.
      const visit = this.visit;
      for (let j = 0; j < activeCount; j++) {
        const base = this.active[j] * W;
        for (let w = 0; w < used; w++) visit[base + w] = 0;
      }
      const v = this.visit;
      this.visit = this.next;
      this.next = v;
      const a = this.active;
      this.active = this.nextActive;
      this.nextActive = a;
      activeCount = found;
      activeArcs = 0;
      let newPairs = 0;
      for (let j = 0; j < activeCount; j++) {
        const u = this.active[j];
        activeArcs += forwardOffsets[u + 1] - forwardOffsets[u];
        const base = u * W;
        let saturated = true;
        for (let w = 0; w < used; w++) {
          if (seen[base + w] !== full[w]) saturated = false;
          let x = this.visit[base + w];
          if (x === 0) continue;
          newPairs += popcount(x);
          if (perSource) {
            const offset = start + w * 32;
            while (x !== 0) {
              const low = x & -x;
              const p = offset + 31 - Math.clz32(low);
              if (sums) sums[p] += level;
              if (reached) reached[p]++;
              x ^= low;
            }
          }
        }
        if (saturated) unsaturatedArcs -= reverseOffsets[u + 1] - reverseOffsets[u];
      }
      distanceSum += level * newPairs;
      reachedPairs += newPairs;
      if (eccentricity) {
        for (let w = 0; w < used; w++) {
          let x = this.levelBits[w];
          while (x !== 0) {
            const low = x & -x;
            eccentricity[start + w * 32 + 31 - Math.clz32(low)] = level;
            x ^= low;
          }
        }
      }
    }
    return { distanceSum, reachedPairs };
  }

  /** Pull level: every node not yet reached by all sources ORs its in-neighbours' frontier words. Returns the new frontier size. */
  private pull(used: number): number {
    switch (this.words) {
      case 1:
        return this.pull1();
      case 2:
        return this.pull2();
      case 4:
        return this.pull4();
      default:
        return this.pull8(used);
    }
  }

  // The pulls below are one loop written out per word count: with the words held in locals the
  // inner loop is loads and ORs only, about twice as fast as a loop over words.

  private pull1(): number {
    const { seen, visit, next, full, nextActive, levelBits } = this;
    const { offsets, targets } = this.reverse;
    const n = this.order;
    const f0 = full[0];
    let found = 0;
    let bits = 0;
    for (let v = 0; v < n; v++) {
      const s0 = seen[v];
      if (s0 === f0) continue;
      const end = offsets[v + 1];
      let a0 = 0;
      for (let i = offsets[v]; i < end; i++) a0 |= visit[targets[i]];
      a0 &= ~s0;
      if (a0 !== 0) {
        next[v] = a0;
        seen[v] = s0 | a0;
        bits |= a0;
        nextActive[found++] = v;
      }
    }
    levelBits[0] = bits;
    return found;
  }

  private pull2(): number {
    const { seen, visit, next, full, nextActive, levelBits } = this;
    const { offsets, targets } = this.reverse;
    const n = this.order;
    const f0 = full[0];
    const f1 = full[1];
    let found = 0;
    let b0 = 0;
    let b1 = 0;
    for (let v = 0; v < n; v++) {
      const base = v << 1;
      const s0 = seen[base];
      const s1 = seen[base + 1];
      if (s0 === f0 && s1 === f1) continue;
      const end = offsets[v + 1];
      let a0 = 0;
      let a1 = 0;
      for (let i = offsets[v]; i < end; i++) {
        const u = targets[i] << 1;
        a0 |= visit[u];
        a1 |= visit[u + 1];
      }
      a0 &= ~s0;
      a1 &= ~s1;
      if ((a0 | a1) !== 0) {
        next[base] = a0;
        next[base + 1] = a1;
        seen[base] = s0 | a0;
        seen[base + 1] = s1 | a1;
        b0 |= a0;
        b1 |= a1;
        nextActive[found++] = v;
      }
    }
    levelBits[0] = b0;
    levelBits[1] = b1;
    return found;
  }

  private pull4(): number {
    const { seen, visit, next, full, nextActive, levelBits } = this;
    const { offsets, targets } = this.reverse;
    const n = this.order;
    const f0 = full[0];
    const f1 = full[1];
    const f2 = full[2];
    const f3 = full[3];
    let found = 0;
    let b0 = 0;
    let b1 = 0;
    let b2 = 0;
    let b3 = 0;
    for (let v = 0; v < n; v++) {
      const base = v << 2;
      const s0 = seen[base];
      const s1 = seen[base + 1];
      const s2 = seen[base + 2];
      const s3 = seen[base + 3];
      if (s0 === f0 && s1 === f1 && s2 === f2 && s3 === f3) continue;
      const end = offsets[v + 1];
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let i = offsets[v]; i < end; i++) {
        const u = targets[i] << 2;
        a0 |= visit[u];
        a1 |= visit[u + 1];
        a2 |= visit[u + 2];
        a3 |= visit[u + 3];
      }
      a0 &= ~s0;
      a1 &= ~s1;
      a2 &= ~s2;
      a3 &= ~s3;
      if ((a0 | a1 | a2 | a3) !== 0) {
        next[base] = a0;
        next[base + 1] = a1;
        next[base + 2] = a2;
        next[base + 3] = a3;
        seen[base] = s0 | a0;
        seen[base + 1] = s1 | a1;
        seen[base + 2] = s2 | a2;
        seen[base + 3] = s3 | a3;
        b0 |= a0;
        b1 |= a1;
        b2 |= a2;
        b3 |= a3;
        nextActive[found++] = v;
      }
    }
    levelBits[0] = b0;
    levelBits[1] = b1;
    levelBits[2] = b2;
    levelBits[3] = b3;
    return found;
  }

  private pull8(used: number): number {
    const { seen, visit, next, full, nextActive, levelBits } = this;
    const { offsets, targets } = this.reverse;
    const n = this.order;
    let found = 0;
    for (let v = 0; v < n; v++) {
      const base = v << 3;
      let saturated = true;
      for (let w = 0; w < used; w++) {
        if (seen[base + w] !== full[w]) {
          saturated = false;
          break;
        }
      }
      if (saturated) continue;
      const end = offsets[v + 1];
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      let a4 = 0;
      let a5 = 0;
      let a6 = 0;
      let a7 = 0;
      for (let i = offsets[v]; i < end; i++) {
        const u = targets[i] << 3;
        a0 |= visit[u];
        a1 |= visit[u + 1];
        a2 |= visit[u + 2];
        a3 |= visit[u + 3];
        a4 |= visit[u + 4];
        a5 |= visit[u + 5];
        a6 |= visit[u + 6];
        a7 |= visit[u + 7];
      }
      a0 &= ~seen[base];
      a1 &= ~seen[base + 1];
      a2 &= ~seen[base + 2];
      a3 &= ~seen[base + 3];
      a4 &= ~seen[base + 4];
      a5 &= ~seen[base + 5];
      a6 &= ~seen[base + 6];
      a7 &= ~seen[base + 7];
      if ((a0 | a1 | a2 | a3 | a4 | a5 | a6 | a7) !== 0) {
        next[base] = a0;
        next[base + 1] = a1;
        next[base + 2] = a2;
        next[base + 3] = a3;
        next[base + 4] = a4;
        next[base + 5] = a5;
        next[base + 6] = a6;
        next[base + 7] = a7;
        seen[base] |= a0;
        seen[base + 1] |= a1;
        seen[base + 2] |= a2;
        seen[base + 3] |= a3;
        seen[base + 4] |= a4;
        seen[base + 5] |= a5;
        seen[base + 6] |= a6;
        seen[base + 7] |= a7;
        levelBits[0] |= a0;
        levelBits[1] |= a1;
        levelBits[2] |= a2;
        levelBits[3] |= a3;
        levelBits[4] |= a4;
        levelBits[5] |= a5;
        levelBits[6] |= a6;
        levelBits[7] |= a7;
        nextActive[found++] = v;
      }
    }
    return found;
  }

  /** Push level: each frontier node ORs its words into its out-neighbours. Returns the new frontier size. */
  private push(activeCount: number, used: number): number {
    const W = this.words;
    const { seen, visit, next, active, nextActive, touched, stamp, levelBits } = this;
    const { offsets, targets } = this.forward;
    const epoch = ++this.epoch;
    let touchedCount = 0;
    for (let j = 0; j < activeCount; j++) {
      const u = active[j];
      const ub = u * W;
      for (let i = offsets[u]; i < offsets[u + 1]; i++) {
        const v = targets[i];
        if (stamp[v] !== epoch) {
          stamp[v] = epoch;
          touched[touchedCount++] = v;
        }
        const vb = v * W;
        for (let w = 0; w < used; w++) next[vb + w] |= visit[ub + w];
      }
    }
    let found = 0;
    for (let j = 0; j < touchedCount; j++) {
      const v = touched[j];
      const base = v * W;
      let any = 0;
      for (let w = 0; w < used; w++) {
        const x = next[base + w] & ~seen[base + w];
        next[base + w] = x;
        if (x !== 0) {
          seen[base + w] |= x;
          levelBits[w] |= x;
          any = 1;
        }
      }
      if (any) nextActive[found++] = v;
    }
    return found;
  }
}

/** The data a sweep thread gets: the sweep of worker-pool.ts, shared by the calling thread and the workers (arrays backed by SharedArrayBuffers). */
export interface SweepWorkerData {
  order: number;
  directed: boolean;
  offsets: Int32Array;
  targets: Int32Array;
  reverseOffsets: Int32Array | null;
  reverseTargets: Int32Array | null;
  sources: Int32Array;
  words: number;
  /** [0]: start of the next batch to take; [1]: sources done. */
  counter: Int32Array;
  /** Per thread [distance sum, reached pairs] so far, at 2 * slot; written before counter[1] counts the batch. */
  totals: Float64Array;
  /** This thread's slot in `totals` (0: the calling thread). */
  slot: number;
  eccentricity: Int32Array | null;
  distanceSums: Float64Array | null;
  reached: Int32Array | null;
}

/** What a sweep worker posts after each batch (the counts themselves are in shared memory). */
export type SweepWorkerMessage = { kind: 'progress' };

/**
 * Takes the next batch of sources from the shared counter and searches it, adding its totals to
 * this thread's slot and then counting its sources as done; false when no batch was left.
 */
export function searchOneBatch(bfs: MultiSourceBFS, data: SweepWorkerData): boolean {
  const total = data.sources.length;
  const start = Atomics.add(data.counter, 0, bfs.batchSize);
  if (start >= total) return false;
  const count = Math.min(bfs.batchSize, total - start);
  const stats: SourceStats = {
    eccentricity: data.eccentricity ?? undefined,
    distanceSum: data.distanceSums ?? undefined,
    reached: data.reached ?? undefined,
  };
  const totals = bfs.run(data.sources, start, count, stats);
  data.totals[2 * data.slot] += totals.distanceSum;
  data.totals[2 * data.slot + 1] += totals.reachedPairs;
  // Publishes the writes above: whoever reads this count also sees this batch's totals and outputs.
  Atomics.add(data.counter, 1, count);
  return true;
}

/** Number of set bits of a 32-bit word. */
export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
