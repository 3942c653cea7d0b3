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
