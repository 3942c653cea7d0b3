/**
 * A growable hash set of integer pairs (a, b) on typed arrays: open addressing with linear probing,
 * the pairs themselves kept densely in insertion order (`sourceAt`, `targetAt`). Used by the lattice
 * generators for the few edges that are not lattice edges. Pairs are ordered: for undirected edges
 * the caller passes (min, max). Both members must be integers in [0, 2^31).
 */
export class EdgeSet {
  #table: Int32Array; // slot -> index + 1 into the dense arrays, 0 = empty
  #mask: number;
  #sources: Int32Array;
  #targets: Int32Array;
  #size = 0;

  /** An empty set with room for about `expected` pairs before it grows. */
  constructor(expected = 16) {
    let capacity = 16;
    while (capacity < 2 * expected) capacity *= 2;
    this.#table = new Int32Array(capacity);
    this.#mask = capacity - 1;
    const dense = Math.max(8, Math.ceil(expected));
    this.#sources = new Int32Array(dense);
    this.#targets = new Int32Array(dense);
  }

  /** Number of pairs in the set. */
  get size(): number {
    return this.#size;
  }

  /** First member of the i-th pair added (0 <= i < size). */
  sourceAt(i: number): number {
    return this.#sources[i];
  }

  /** Second member of the i-th pair added (0 <= i < size). */
  targetAt(i: number): number {
    return this.#targets[i];
  }

  /** Whether (a, b) is in the set. */
  has(a: number, b: number): boolean {
    const table = this.#table;
    const mask = this.#mask;
    let slot = hashPair(a, b) & mask;
    for (;;) {
      const entry = table[slot];
      if (entry === 0) return false;
      if (this.#sources[entry - 1] === a && this.#targets[entry - 1] === b) return true;
      slot = (slot + 1) & mask;
    }
  }

  /** Adds (a, b); returns false if it was already there. */
  add(a: number, b: number): boolean {
    if (2 * (this.#size + 1) > this.#table.length) this.#grow();
    const table = this.#table;
    const mask = this.#mask;
    let slot = hashPair(a, b) & mask;
    for (;;) {
      const entry = table[slot];
      if (entry === 0) break;
      if (this.#sources[entry - 1] === a && this.#targets[entry - 1] === b) return false;
      slot = (slot + 1) & mask;
    }
    if (this.#size === this.#sources.length) {
      const sources = new Int32Array(this.#size * 2);
      sources.set(this.#sources);
      this.#sources = sources;
      const targets = new Int32Array(this.#size * 2);
      targets.set(this.#targets);
      this.#targets = targets;
    }
    this.#sources[this.#size] = a;
    this.#targets[this.#size] = b;
    table[slot] = ++this.#size;
    return true;
  }

  /** Doubles the table and re-inserts every pair (the dense arrays keep their order). */
  #grow(): void {
    const capacity = this.#table.length * 2;
    const table = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let i = 0; i < this.#size; i++) {
      let slot = hashPair(this.#sources[i], this.#targets[i]) & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = i + 1;
    }
    this.#table = table;
    this.#mask = mask;
  }
}

/** A 32-bit mix of two integers (multiply-xorshift), good enough for linear probing. */
function hashPair(a: number, b: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b ^ 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 13;
  return h >>> 0;
}
