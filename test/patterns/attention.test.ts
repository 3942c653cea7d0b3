import { describe, expect, it } from 'vitest';
import { ParameterError } from '../../src/errors.js';
import { bigBirdLayout, fixedLayout, slidingWindowLayout, stridedLayout } from '../../src/patterns/attention.js';
import type { BlockLayout } from '../../src/patterns/layout.js';
import { maskFrom, maskRows, picture, transposeRows } from './mask-helpers.js';

// Orientation: input blocks (rows) are KEY blocks, output blocks (columns) are QUERY blocks, so
// query q attends key j iff layout.has(j, q). The papers draw [query, key] masks; `byQuery` turns
// a layout into that picture so that the expected masks below read like the papers' figures.
const byQuery = (layout: BlockLayout): number[][] => transposeRows(maskRows(layout));

/** Every block (j, q) has key j <= query q. */
function isCausal(layout: BlockLayout): boolean {
  const { rows, cols } = layout.pairs();
  for (let b = 0; b < layout.nnz; b++) if (rows[b] > cols[b]) return false;
  return true;
}

// Reference predicates, straight from the definitions (query q, key j).
const sliding = (w: number, causal: boolean) => (q: number, j: number): boolean => Math.abs(q - j) <= w && (!causal || j <= q);
const fixed = (l: number, c: number, causal: boolean) => (q: number, j: number): boolean =>
  (Math.floor(j / l) === Math.floor(q / l) || j % l >= l - c) && (!causal || j <= q);
const strided = (l: number, causal: boolean) => (q: number, j: number): boolean =>
  causal ? j <= q && (q - j < l || (q - j) % l === 0) : Math.abs(q - j) < l || Math.abs(q - j) % l === 0;

describe('orientation', () => {
  it('puts keys on rows and queries on columns', () => {
    const layout = slidingWindowLayout({ blocks: 4, window: 1, causal: true });
    expect(layout.has(0, 1)).toBe(true); // query 1 sees key 0
    expect(layout.has(1, 0)).toBe(false); // query 0 does not see key 1
    expect(layout.inDegrees()[1]).toBe(2); // a column lists the keys its query sees
  });
});

describe('slidingWindowLayout', () => {
  it('matches hand-written masks', () => {
    expect(byQuery(slidingWindowLayout({ blocks: 5, window: 1, causal: true }))).toEqual(picture(
      '10000',
      '11000',
      '01100',
      '00110',
      '00011',
    ));
    expect(byQuery(slidingWindowLayout({ blocks: 5, window: 2 }))).toEqual(picture(
      '11100',
      '11110',
      '11111',
      '01111',
      '00111',
    ));
  });

  it('matches the definition for many sizes', () => {
    for (let n = 1; n <= 12; n++) {
      for (let w = 0; w < n; w++) {
        for (const causal of [false, true]) {
          const layout = slidingWindowLayout({ blocks: n, window: w, causal });
          expect(byQuery(layout)).toEqual(maskFrom(n, n, sliding(w, causal)));
          if (causal) expect(isCausal(layout)).toBe(true);
        }
      }
    }
  });

  it('records its parameters and raises for bad ones', () => {
    expect(slidingWindowLayout({ blocks: 8, window: 2, blockSize: 16 }).provenance).toEqual({
      generator: 'sliding-window',
      params: { blocks: 8, blockSize: 16, window: 2, causal: false, diagonal: true },
      seed: null,
    });
    expect(() => slidingWindowLayout({ blocks: 4, window: 4 })).toThrow(ParameterError);
    expect(() => slidingWindowLayout({ blocks: 0, window: 0 })).toThrow(/blocks/);
    expect(() => slidingWindowLayout({ blocks: 4, window: 1, causal: 1 as never })).toThrow(/causal/);
  });

  it('drops the diagonal when asked', () => {
    expect(byQuery(slidingWindowLayout({ blocks: 3, window: 1, diagonal: false }))).toEqual(picture('010', '101', '010'));
  });
});

describe('fixedLayout (Sparse Transformer)', () => {
  it('matches hand-written masks', () => {
    // Chunks [0 1 2] [3 4 5]; the summary block of each chunk is its last: keys 2 and 5.
    expect(byQuery(fixedLayout({ blocks: 6, stride: 3 }))).toEqual(picture(
      '100000',
      '110000',
      '111000',
      '001100',
      '001110',
      '001111',
    ));
    expect(byQuery(fixedLayout({ blocks: 6, stride: 3, causal: false }))).toEqual(picture(
      '111001',
      '111001',
      '111001',
      '001111',
      '001111',
      '001111',
    ));
    // Short last chunk [6]: its summary position (8) is past the end, so it has none.
    expect(byQuery(fixedLayout({ blocks: 7, stride: 3, causal: false }))).toEqual(picture(
      '1110010',
      '1110010',
      '1110010',
      '0011110',
      '0011110',
      '0011110',
      '0010011',
    ));
    // Two summary blocks per chunk of 4.
    expect(byQuery(fixedLayout({ blocks: 8, stride: 4, summary: 2 }))).toEqual(picture(
      '10000000',
      '11000000',
      '11100000',
      '11110000',
      '00111000',
      '00111100',
      '00111110',
      '00111111',
    ));
  });

  it('matches the definition for many sizes', () => {
    for (let n = 1; n <= 14; n++) {
      for (let l = 1; l <= n; l++) {
        for (let c = 0; c <= l; c++) {
          for (const causal of [true, false]) {
            const layout = fixedLayout({ blocks: n, stride: l, summary: c, causal });
            expect(byQuery(layout)).toEqual(maskFrom(n, n, fixed(l, c, causal)));
            if (causal) expect(isCausal(layout)).toBe(true);
          }
        }
      }
    }
  });

  it('raises for bad strides and summaries', () => {
    expect(() => fixedLayout({ blocks: 6, stride: 0 })).toThrow(/stride/);
    expect(() => fixedLayout({ blocks: 6, stride: 7 })).toThrow(/stride/);
    expect(() => fixedLayout({ blocks: 6, stride: 3, summary: 4 })).toThrow(/summary/);
  });
});

describe('stridedLayout (Sparse Transformer)', () => {
  it('matches hand-written masks', () => {
    // Previous 3 keys, plus every key a multiple of 3 back.
    expect(byQuery(stridedLayout({ blocks: 7, stride: 3 }))).toEqual(picture(
      '1000000',
      '1100000',
      '1110000',
      '1111000',
      '0111100',
      '0011110',
      '1001111',
    ));
    expect(byQuery(stridedLayout({ blocks: 7, stride: 3, causal: false }))[0]).toEqual([1, 1, 1, 1, 0, 0, 1]);
  });

  it('matches the definition for many sizes', () => {
    for (let n = 1; n <= 16; n++) {
      for (let l = 1; l <= n; l++) {
        for (const causal of [true, false]) {
          const layout = stridedLayout({ blocks: n, stride: l, causal });
          expect(byQuery(layout)).toEqual(maskFrom(n, n, strided(l, causal)));
          if (causal) expect(isCausal(layout)).toBe(true);
        }
      }
    }
  });
});

describe('bigBirdLayout', () => {
  const windowGlobal = (n: number, w: number, g: number, causal: boolean) => (q: number, j: number): boolean =>
    (Math.abs(q - j) <= w || j < g || q < g) && (!causal || j <= q);

  it('is window + global exactly when there are no random blocks', () => {
    expect(byQuery(bigBirdLayout({ blocks: 6, window: 1, globalBlocks: 1, randomBlocks: 0, seed: 0 }))).toEqual(picture(
      '111111',
      '111000',
      '111100',
      '101110',
      '100111',
      '100011',
    ));
    for (const causal of [false, true]) {
      for (const [n, w, g] of [[9, 1, 2], [10, 0, 0], [7, 2, 7], [12, 3, 1]]) {
        const layout = bigBirdLayout({ blocks: n, window: w, globalBlocks: g, randomBlocks: 0, causal, seed: 1 });
        expect(byQuery(layout)).toEqual(maskFrom(n, n, windowGlobal(n, w, g, causal)));
      }
    }
  });

  it('adds exactly min(randomBlocks, keys left) distinct random keys per query', () => {
    for (const causal of [false, true]) {
      for (const [n, w, g, r] of [[16, 1, 1, 2], [16, 2, 2, 3], [10, 1, 0, 9], [40, 3, 2, 5], [5, 0, 1, 4]]) {
        const layout = bigBirdLayout({ blocks: n, window: w, globalBlocks: g, randomBlocks: r, causal, seed: `${n}:${r}` });
        const rows = byQuery(layout);
        const base = maskFrom(n, n, windowGlobal(n, w, g, causal));
        for (let q = 0; q < n; q++) {
          let left = 0;
          let extra = 0;
          for (let j = 0; j < n; j++) {
            if (base[q][j] === 1) expect(rows[q][j]).toBe(1); // window and global always there
            else if (!causal || j <= q) {
              left++;
              extra += rows[q][j];
            }
          }
          expect(extra).toBe(Math.min(r, left));
        }
        if (causal) expect(isCausal(layout)).toBe(true);
      }
    }
  });

  it('is reproducible from its seed and spreads the random keys', () => {
    const options = { blocks: 64, window: 1, globalBlocks: 1, randomBlocks: 2 };
    const a = bigBirdLayout({ ...options, seed: 5 });
    expect(bigBirdLayout({ ...options, seed: 5 }).equals(a)).toBe(true);
    expect(bigBirdLayout({ ...options, seed: 6 }).equals(a)).toBe(false);
    expect(a.provenance).toEqual({
      generator: 'bigbird',
      params: { blocks: 64, blockSize: 32, window: 1, globalBlocks: 1, randomBlocks: 2, causal: false, diagonal: true },
      seed: 5,
    });
    // Random keys land both before and after the window.
    const rows = byQuery(a);
    let before = 0;
    let after = 0;
    for (let q = 1; q < 64; q++) {
      for (let j = 1; j < 64; j++) {
        if (rows[q][j] && Math.abs(q - j) > 1) {
          if (j < q) before++;
          else after++;
        }
      }
    }
    expect(before).toBeGreaterThan(20);
    expect(after).toBeGreaterThan(20);
  });

  it('raises for bad parameters', () => {
    expect(() => bigBirdLayout({ blocks: 8, window: 1, globalBlocks: 9, randomBlocks: 1, seed: 0 })).toThrow(/globalBlocks/);
    expect(() => bigBirdLayout({ blocks: 8, window: 1, globalBlocks: 1, randomBlocks: 8, seed: 0 })).toThrow(/randomBlocks/);
    expect(() => bigBirdLayout({ blocks: 8, window: -1, globalBlocks: 1, randomBlocks: 1, seed: 0 })).toThrow(/window/);
  });
});
