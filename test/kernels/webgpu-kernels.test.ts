import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockLayout, type BlockSize } from '../../src/patterns/layout.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { resolveRng } from '../../src/random.js';
import { referenceBackwardData, referenceForward, referenceWeightGrad } from '../../src/kernels/reference.js';
import { packLayoutTables } from '../../src/kernels/webgpu/layout-tables.js';
import type { WebGPUBackend, WebGPUBackendOptions } from '../../src/kernels/webgpu/webgpu-backend.js';
import { expectWithinBound } from './conformance.js';
import { makeWebGPU } from '../helpers/webgpu.js';

/*
 * Every tile variant of the block products on lavapipe (the conformance suite runs the variant
 * the grid picks, which for its small shapes is the narrow one), with long columns split into
 * segments whose partial sums the segment-sum pass adds: against the float64 reference, gated and
 * not, with the weights split into several windows (later windows accumulate), and bit-identical
 * from run to run.
 */

const rng = resolveRng({ seed: 'webgpu-kernels' });
const random = (size: number) => Float32Array.from({ length: size }, () => rng() * 2 - 1);
const abs = (a: ArrayLike<number>) => Float64Array.from(a as ArrayLike<number>, Math.abs);

/** A layout whose output column 1 and input row 0 are long (a hub), others short or empty. */
function hubLayout(bs: BlockSize): BlockLayout {
  const rows: number[] = [];
  const cols: number[] = [];
  for (let c = 0; c < 9; c++) {
    rows.push(c);
    cols.push(1);
  }
  for (let k = 0; k < 6; k++) {
    if (k === 1) continue;
    rows.push(0);
    cols.push(k);
  }
  rows.push(4, 7);
  cols.push(3, 5);
  return BlockLayout.fromPairs({ inBlocks: 9, outBlocks: 6, blockSize: bs }, rows, cols);
}

describe('block products on WebGPU: every tile variant, split columns; weight gradients over several batch chunks', () => {
  const backends: Record<string, WebGPUBackend | null> = {};
  const variants: [string, WebGPUBackendOptions][] = [
    ['wide', { blockProductVariant: 'wide', segmentLimit: 3 }],
    // Tiny bindings and grids too: weight windows, row chunks, segment and split chunks.
    ['narrow, split bindings and grids', { blockProductVariant: 'narrow', segmentLimit: 2, maxBindingBytes: 4352, maxWorkgroups: 2 }],
  ];
  beforeAll(async () => {
    for (const [name, options] of variants) backends[name] = await makeWebGPU(options, 'kernel variants');
  });
  afterAll(async () => {
    for (const b of Object.values(backends)) await b?.dispose();
  });

  it('splits long columns into near-equal segments with scratch slots, and only those', () => {
    const layout = hubLayout(8);
    const { data, offsets } = packLayoutTables(layout, 3);
    const fw = offsets.forward;
    // Column 1 has 9 entries: three segments of 3, slots 0..2; the other columns are one segment each.
    expect(fw.limit).toBe(3);
    expect(fw.splits).toBe(1);
    expect(Array.from(data.subarray(fw.splitsAt, fw.splitsAt + 3))).toEqual([1, 0, 3]);
    const segments = Array.from({ length: fw.segments }, (_, s) => Array.from(data.subarray(fw.segmentsAt + 4 * s, fw.segmentsAt + 4 * s + 4)));
    expect(segments.filter((s) => s[0] === 1).map((s) => [s[2] - s[1], s[3]])).toEqual([[3, 0], [3, 1], [3, 2]]);
    expect(segments.filter((s) => s[0] !== 1).every((s) => s[3] === -1)).toBe(true);
    expect(segments.length).toBe(layout.outBlocks + 2);
    // Input row 0 feeds 6 blocks: two segments in the backward table.
    expect(offsets.backward.splits).toBe(1);
    expect(offsets.backward.slots).toBe(2);
    // Without an override the limit is twice the mean non-empty column length (16 / 6), at least 8:
    // only the 9-entry column is split, in two.
    const auto = packLayoutTables(layout).offsets;
    expect([auto.forward.limit, auto.forward.slots, auto.backward.slots]).toEqual([8, 2, 0]);
  });

  for (const [name] of variants) {
    for (const bs of [8, 16, 32] as BlockSize[]) {
      it(`${name}, bs${bs}: forward and backward-data match the reference, gated and not, the same bytes every run`, async (context) => {
        const b = backends[name];
        if (!b) return context.skip('no WebGPU adapter here');
        for (const [layout, n] of [
          [hubLayout(bs), 37],
          [randomLayout({ inBlocks: 6, outBlocks: 5, density: 0.7, blockSize: bs, seed: bs }), 130],
        ] as [BlockLayout, number][]) {
          const C = layout.inFeatures;
          const K = layout.outFeatures;
          const x = random(n * C);
          const dy = random(n * K);
          const w = random(layout.nnz * bs * bs);
          // A zero gate drops its block (it is skipped when the look-up table is staged).
          const g = random(layout.nnz).map((v, i) => (i % 5 === 2 ? 0 : v));
          const X = b.tensor(x, [n, C]);
          const DY = b.tensor(dy, [n, K]);
          const W = b.tensor(w, [layout.nnz, bs, bs]);
          const G = b.tensor(g, [layout.nnz]);
          for (const gates of [undefined, G]) {
            const gv = gates ? g : undefined;
            const y = await b.read(await b.forward(layout, X, W, { gates }));
            expectWithinBound(y, referenceForward(layout, x, n, w, gv), referenceForward(layout, abs(x), n, abs(w), gv && abs(gv)), C, `forward${gates ? ', gated' : ''}`);
            const again = await b.read(await b.forward(layout, X, W, { gates }));
            expect(Buffer.from(again.buffer).equals(Buffer.from(y.buffer)), 'forward: the same bytes twice').toBe(true);
            const dx = await b.read(await b.backwardData(layout, DY, W, { gates }));
            expectWithinBound(dx, referenceBackwardData(layout, dy, n, w, gv), referenceBackwardData(layout, abs(dy), n, abs(w), gv && abs(gv)), K, `backward-data${gates ? ', gated' : ''}`);
          }
          for (const t of [X, DY, W, G]) t.dispose();
        }
      });
    }
  }

  it('weight gradients (gated, with the gate gradient) over batches of several staged chunks match the reference', async (context) => {
    const b = backends.wide;
    if (!b) return context.skip('no WebGPU adapter here');
    for (const bs of [8, 16, 32] as BlockSize[]) {
      // Chunks of 128, 64 and 32 rows: 300 rows is 3, 5 and 10 chunks, the last one partial.
      const layout = randomLayout({ inBlocks: 3, outBlocks: 4, density: 0.5, blockSize: bs, seed: 7 * bs });
      const n = 300;
      const x = random(n * layout.inFeatures);
      const dy = random(n * layout.outFeatures);
      const w = random(layout.nnz * bs * bs);
      const g = random(layout.nnz);
      const X = b.tensor(x, [n, layout.inFeatures]);
      const DY = b.tensor(dy, [n, layout.outFeatures]);
      const W = b.tensor(w, [layout.nnz, bs, bs]);
      const G = b.tensor(g, [layout.nnz]);
      const { dw, dgates } = await b.weightGrad(layout, X, DY, { gates: G, weights: W });
      const ref = referenceWeightGrad(layout, x, dy, n, g, w);
      const refAbs = referenceWeightGrad(layout, abs(x), abs(dy), n, abs(g), abs(w));
      expectWithinBound(await b.read(dw), ref.dw, refAbs.dw, n, `bs${bs} weight gradient`);
      expectWithinBound(await b.read(dgates!), ref.dgates!, refAbs.dgates!, n + bs * bs, `bs${bs} gate gradient`);
      for (const t of [X, DY, W, G, dw, dgates!]) t.dispose();
    }
  });
});
