/**
 * A hash map from integer pairs (a, b), both in [0, 2^31), to counts, on typed arrays: open
 * addressing with linear probing. Counts may go up and down (a multiset of edges while a generator
 * repairs repeats); keys whose count fell to 0 stay in the table until the next growth drops them.
 * Pairs are ordered: for undirected edges the caller passes (min, max).
 */
export class PairCounter {
  #first: Int32Array; // -1 = empty slot
  #second: Int32Array;
  #counts: Int32Array;
  #mask: number;
  #used = 0; // occupied slots, including those whose count is 0

  /** An empty counter with room for about `expected` pairs before it grows. */
  constructor(expected = 16) {
    const capacity = capacityFor(expected);
    this.#first = new Int32Array(capacity).fill(-1);
    this.#second = new Int32Array(capacity);
    this.#counts = new Int32Array(capacity);
    this.#mask = capacity - 1;
  }

  /** The count of (a, b): 0 if absent. */
  get(a: number, b: number): number {
    const first = this.#first;
    const second = this.#second;
    const mask = this.#mask;
    let slot = hashPair(a, b) & mask;
    for (;;) {
      const x = first[slot];
      if (x === -1) return 0;
      if (x === a && second[slot] === b) return this.#counts[slot];
      slot = (slot + 1) & mask;
    }
  }

  /** Whether (a, b) has a positive count. */
  has(a: number, b: number): boolean {
    return this.get(a, b) > 0;
  }

  /** Adds `delta` (default 1) to the count of (a, b) and returns the new count. */
  add(a: number, b: number, delta = 1): number {
    if (2 * (this.#used + 1) > this.#first.length) this.#rehash();
    const first = this.#first;
    const second = this.#second;
    const mask = this.#mask;
    let slot = hashPair(a, b) & mask;
    for (;;) {
      const x = first[slot];
      if (x === -1) break;
      if (x === a && second[slot] === b) return (this.#counts[slot] += delta);
      slot = (slot + 1) & mask;
    }
    first[slot] = a;
    second[slot] = b;
    this.#used++;
    return (this.#counts[slot] = delta);
  }

  /** Rebuilds the table without zero-count keys, at twice the size needed for the live ones. */
  #rehash(): void {
    const oldFirst = this.#first;
    const oldSecond = this.#second;
    const oldCounts = this.#counts;
    let live = 0;
    for (let s = 0; s < oldFirst.length; s++) if (oldFirst[s] !== -1 && oldCounts[s] !== 0) live++;
    const capacity = Math.max(oldFirst.length, capacityFor(2 * live + 2));
    const first = new Int32Array(capacity).fill(-1);
    const second = new Int32Array(capacity);
    const counts = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let s = 0; s < oldFirst.length; s++) {
      const a = oldFirst[s];
      if (a === -1 || oldCounts[s] === 0) continue;
      const b = oldSecond[s];
      let slot = hashPair(a, b) & mask;
      while (first[slot] !== -1) slot = (slot + 1) & mask;
      first[slot] = a;
      second[slot] = b;
      counts[slot] = oldCounts[s];
    }
    this.#first = first;
    this.#second = second;
    this.#counts = counts;
    this.#mask = mask;
    this.#used = live;
  }
}

/** Smallest power of two >= 16 that holds `expected` keys at load factor 1/2. */
function capacityFor(expected: number): number {
  let capacity = 16;
  while (capacity < 2 * expected) capacity *= 2;
  return capacity;
}

/** A 32-bit mix of two integers (murmur3-style finaliser). */
function hashPair(a: number, b: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39);
  h ^= h >>> 15;
  return h;
}
