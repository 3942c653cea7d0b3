import type { Rng } from '../random.js';
import type { EdgeSet } from './edge-set.js';
import { geometricGap, uniformNode } from './lattice-sampling.js';

/**
 * The room to reserve for the rewired edges of a lattice of `slots` edges: 10% over the expected
 * number, plus a little (the set grows if ever needed), and never more than every slot.
 */
export function rewiredCapacity(slots: number, rewireProb: number): number {
  return Math.min(slots, rewireProb * slots * 1.1 + 64);
}

/** A lattice whose edges sit in slots, as the Watts-Strogatz generators lay it out for `rewireLattice`. */
export interface RewirableLattice {
  /** Number of nodes. */
  order: number;
  /** Slot e -> the target of its edge; starts as the lattice target, rewiring overwrites it. */
  targets: Int32Array;
  /** Slot e -> the source of its edge, or null when it is e mod order. */
  sources: Int32Array | null;
  /** Whether u and w are joined now (the arc u -> w for a directed lattice). */
  joined: (u: number, w: number) => boolean;
  /** Receives every rewired edge: as (min, max) when undirected, as (u, w) when directed. */
  rewired: EdgeSet;
  /**
   * Undirected: each node's degree, kept up to date; a node joined to every other node keeps its
   * edges. Null for a directed lattice, where rewiring never changes the out-degree (the caller
   * skips rewiring when it is order - 1).
   */
  degree: Int32Array | null;
}

/**
 * The rewiring step of Watts and Strogatz, in slot order: each slot e is picked with probability
 * `rewireProb` (by geometric skipping, one random number per picked slot) and its edge (u, v) is
 * replaced by (u, w), w uniform among the nodes that are not u and not joined to u. Updates the
 * lattice's `targets`, `rewired` and `degree` in place.
 */
export function rewireLattice(rng: Rng, rewireProb: number, lattice: RewirableLattice): void {
  const { order: n, targets, sources, joined, rewired, degree } = lattice;
  const m = targets.length;
  const p = rewireProb;
  for (let e = geometricGap(rng, p); e < m; e += 1 + geometricGap(rng, p)) {
    const u = sources === null ? e % n : sources[e];
    if (degree !== null && degree[u] >= n - 1) continue;
    let w: number;
    do w = uniformNode(rng, n);
    while (w === u || joined(u, w));
    if (degree === null) rewired.add(u, w);
    else {
      degree[targets[e]]--;
      degree[w]++;
      rewired.add(u < w ? u : w, u < w ? w : u);
    }
    targets[e] = w;
  }
}
