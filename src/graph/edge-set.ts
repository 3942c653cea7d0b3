/**
 * A growable hash multiset of integer pairs (a, b) on typed arrays: open addressing with linear
 * probing, the pairs themselves kept densely in insertion order (`sourceAt`, `targetAt`), each with
 * a count. Used as a set (`add`, `has`) by the lattice generators for the few edges that are not
 * lattice edges, and as a counter (`count`, `addCount`) by generators that repair repeated edges.
 * Pairs are ordered: for undirected edges the caller passes (min, max). Both members must be
 * integers in [0, 2^31).
 */
export class EdgeSet {
  #table: Int32Array; // slot -> index + 1 into the dense arrays, 0 = empty
  #mask: number;
  #sources: Int32Array;
  #targets: Int32Array;
  #counts: Int32Array;
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
    this.#counts = new Int32Array(dense);
  }

  /** Number of pairs stored (a pair whose count fell to 0 stays stored). */
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

  /** Whether (a, b) is in the set (its count is positive). */
  has(a: number, b: number): boolean {
    const entry = this.#table[this.#slotOf(a, b)];
    return entry !== 0 && this.#counts[entry - 1] > 0;
  }

  /** The count of (a, b): 0 if absent. */
  count(a: number, b: number): number {
    const entry = this.#table[this.#slotOf(a, b)];
    return entry === 0 ? 0 : this.#counts[entry - 1];
  }

  /** Adds (a, b) with count 1 unless it is in the set; returns false if it was already there. */
  add(a: number, b: number): boolean {
    const index = this.#indexOf(a, b);
    if (this.#counts[index] > 0) return false;
    this.#counts[index] = 1;
    return true;
  }

  /** Adds `delta` (default 1, may be negative) to the count of (a, b) and returns the new count. */
  addCount(a: number, b: number, delta = 1): number {
    const index = this.#indexOf(a, b); // first: it may replace the arrays
    return (this.#counts[index] += delta);
  }

  /** The table slot holding (a, b), or the empty slot where it would go. */
  #slotOf(a: number, b: number): number {
    const table = this.#table;
    const mask = this.#mask;
    let slot = hashPair(a, b) & mask;
    for (;;) {
      const entry = table[slot];
      if (entry === 0 || (this.#sources[entry - 1] === a && this.#targets[entry - 1] === b)) return slot;
      slot = (slot + 1) & mask;
    }
  }

  /** The dense index of (a, b), storing it with count 0 first if it is new. */
  #indexOf(a: number, b: number): number {
    if (2 * (this.#size + 1) > this.#table.length) this.#grow();
    const slot = this.#slotOf(a, b);
    if (this.#table[slot] !== 0) return this.#table[slot] - 1;
    if (this.#size === this.#sources.length) {
      this.#sources = doubled(this.#sources, this.#size);
      this.#targets = doubled(this.#targets, this.#size);
      this.#counts = doubled(this.#counts, this.#size);
    }
    const index = this.#size++;
    this.#sources[index] = a;
    this.#targets[index] = b;
    this.#table[slot] = index + 1;
    return index;
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

/** A copy of the first `length` values of `values` in an array twice that long. */
function doubled(values: Int32Array, length: number): Int32Array {
  const copy = new Int32Array(length * 2);
  copy.set(values.subarray(0, length));
  return copy;
}

/** A 32-bit mix of two integers (multiply-xorshift), good enough for linear probing. */
function hashPair(a: number, b: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b ^ 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 13;
  return h >>> 0;
}
