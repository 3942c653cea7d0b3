import { describe, expect, it } from 'vitest';
import { EdgeSet } from '../../src/graph/edge-set.js';

describe('EdgeSet', () => {
  it('keeps pairs ordered: (a, b) is not (b, a)', () => {
    const set = new EdgeSet();
    set.add(3, 9);
    expect(set.has(3, 9)).toBe(true);
    expect(set.has(9, 3)).toBe(false);
    expect(set.add(3, 9)).toBe(false);
    expect(set.size).toBe(1);
  });

  it('stores pairs, grows, and lists them in insertion order', () => {
    const set = new EdgeSet(2);
    const reference = new Set<string>();
    let state = 7;
    const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 1) % 300;
    for (let i = 0; i < 5000; i++) {
      const a = next();
      const b = next();
      expect(set.add(a, b)).toBe(!reference.has(`${a},${b}`));
      reference.add(`${a},${b}`);
    }
    expect(set.size).toBe(reference.size);
    expect(Array.from({ length: set.size }, (_, i) => `${set.sourceAt(i)},${set.targetAt(i)}`)).toEqual([...reference]);
    for (let a = 0; a < 300; a += 7) for (let b = 0; b < 300; b += 3) expect(set.has(a, b)).toBe(reference.has(`${a},${b}`));
  });
});

describe('EdgeSet as a counter', () => {
  it('counts pairs up and down; a pair counted down to 0 is absent but stays listed', () => {
    const counts = new EdgeSet();
    expect(counts.count(1, 2)).toBe(0);
    expect(counts.addCount(1, 2)).toBe(1);
    expect(counts.addCount(1, 2)).toBe(2);
    expect(counts.addCount(2, 1, 5)).toBe(5);
    expect(counts.count(1, 2)).toBe(2);
    expect(counts.addCount(1, 2, -2)).toBe(0);
    expect(counts.has(1, 2)).toBe(false);
    expect(counts.has(2, 1)).toBe(true);
    expect(counts.size).toBe(2);
    expect(counts.add(1, 2)).toBe(true); // back to count 1, not listed twice
    expect(counts.count(1, 2)).toBe(1);
    expect(counts.size).toBe(2);
  });

  it('keeps every count through growth (against a Map)', () => {
    const counts = new EdgeSet(1);
    const reference = new Map<string, number>();
    let state = 11;
    const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 1) % 200;
    for (let i = 0; i < 20000; i++) {
      const a = next();
      const b = next();
      const key = `${a},${b}`;
      const delta = (reference.get(key) ?? 0) > 0 && i % 3 === 0 ? -1 : 1;
      reference.set(key, (reference.get(key) ?? 0) + delta);
      expect(counts.addCount(a, b, delta)).toBe(reference.get(key));
    }
    expect(counts.size).toBe(reference.size);
    for (const [key, count] of reference) {
      const [a, b] = key.split(',').map(Number);
      expect(counts.count(a, b)).toBe(count);
      expect(counts.has(a, b)).toBe(count > 0);
    }
  });
});
