import type { Rng } from '../random.js';

/**
 * The "repeated nodes" list of preferential attachment (as networkx's barabasi_albert_graph and
 * powerlaw_cluster_graph): each node appears once per unit of weight (its degree), so a uniform
 * draw from the list picks a node with probability proportional to its weight. Fixed capacity.
 */
export class PreferentialSampler {
  readonly #nodes: Int32Array;
  #length = 0;

  /** An empty list with room for `capacity` entries. */
  constructor(capacity: number) {
    this.#nodes = new Int32Array(capacity);
  }

  /** Number of entries (total weight). */
  get length(): number {
    return this.#length;
  }

  /** Adds `times` units of weight to `node`. */
  push(node: number, times = 1): void {
    for (let i = 0; i < times; i++) this.#nodes[this.#length++] = node;
  }

  /** A node drawn with probability proportional to its weight (the list must not be empty). */
  draw(rng: Rng): number {
    return this.#nodes[Math.floor(rng() * this.#length)];
  }
}
