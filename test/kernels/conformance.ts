import ndarray from 'ndarray';
import { describe, expect } from 'vitest';
import { ShapeError } from '../../src/errors.js';
import { BlockLayout, type BlockSize } from '../../src/patterns/layout.js';
import { bandedLayout } from '../../src/patterns/banded.js';
import { denseLayout } from '../../src/patterns/dense.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { resolveRng, type Rng } from '../../src/random.js';
import { TensorError } from '../../src/kernels/errors.js';
import { referenceBackwardData, referenceForward, referenceMatmul, referenceWeightGrad } from '../../src/kernels/reference.js';
import { backendTests } from './suite.js';
import type { Backend, Tensor } from '../../src/kernels/types.js';

/*
 * The conformance suite every kernel backend runs: each product against the float64 reference on
 * random shapes and layouts (rectangular, empty rows and columns, one block, no block, batch 1 and
 * batches that are not multiples of any tile), gated and not, the dense matmul with transposes,
 * caching, errors, and a finite-difference check of a layer built from the three products.
 *
 * Tolerance: a float32 sum of L products has error at most about L * 2^-24 * sum |terms|
 * (Higham, Accuracy and Stability of Numerical Algorithms, 3.1); we allow 2 L 2^-24 sum |terms|
 * per element (plus 2^-24 |value| for the final rounding), with sum |terms| computed by the
 * reference on absolute values.
 */

const U = 2 ** -24;

function randomData(rng: Rng, size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng() * 2 - 1;
  return out;
}

const abs = (a: ArrayLike<number>): Float64Array => Float64Array.from(a as ArrayLike<number>, Math.abs);

/** Expects every element within the float32 accumulation bound of `terms` summands. */
export function expectWithinBound(actual: Float32Array, expected: Float64Array, absSum: Float64Array, terms: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const bound = 2 * Math.max(terms, 1) * U * absSum[i] + U * Math.abs(expected[i]) + 1e-30;
    const ratio = Math.abs(actual[i] - expected[i]) / bound;
    if (!(ratio <= worst)) {
      worst = ratio;
      worstAt = i;
    }
  }
  expect(worst, `${what}: element ${worstAt} is ${actual[worstAt]}, reference ${expected[worstAt]}`).toBeLessThanOrEqual(1);
}

interface Case {
  name: string;
  layout: BlockLayout;
  n: number;
}

function cases(): Case[] {
  const out: Case[] = [];
  const sizes: BlockSize[] = [8, 16, 32];
  for (const bs of sizes) {
    out.push({ name: `random 5x7 bs${bs} N=17`, layout: randomLayout({ inBlocks: 5, outBlocks: 7, density: 0.4, blockSize: bs, seed: bs }), n: 17 });
    out.push({ name: `banded 6x6 bs${bs} N=1`, layout: bandedLayout({ inBlocks: 6, bandwidth: 1, blockSize: bs }), n: 1 });
  }
  // Empty rows and columns: input block 1 feeds nothing, output blocks 0 and 3 are fed by nothing.
  out.push({ name: 'empty rows and columns bs16 N=65', layout: BlockLayout.fromPairs({ inBlocks: 4, outBlocks: 5, blockSize: 16 }, [0, 0, 2, 3, 3], [1, 2, 4, 1, 4]), n: 65 });
  out.push({ name: 'one block bs32 N=3', layout: denseLayout({ inBlocks: 1, blockSize: 32 }), n: 3 });
  out.push({ name: 'dense 3x2 bs8 N=130', layout: denseLayout({ inBlocks: 3, outBlocks: 2, blockSize: 8 }), n: 130 });
  out.push({ name: 'no blocks 2x3 bs8 N=5', layout: BlockLayout.fromPairs({ inBlocks: 2, outBlocks: 3, blockSize: 8 }, [], []), n: 5 });
  return out;
}

/**
 * Runs the conformance suite on the backend `make` returns; `make` returns null when the backend
 * cannot run here (the suite is then skipped, or fails when `required`).
 */
export function backendConformance(name: string, make: () => Promise<Backend | null>, required = false): void {
  describe(`${name} backend conformance`, () => {
    const rng = resolveRng({ seed: `conformance-${name}` });
    const run = backendTests(name, make, required);

    run('round-trips tensors, from Float32Array and strided ndarray', async (b) => {
      const data = randomData(rng, 12);
      expect(Array.from(await b.read(b.tensor(data, [3, 4])))).toEqual(Array.from(data));
      const transposed = ndarray(data, [3, 4]).transpose(1, 0); // [4, 3], strides [1, 4]
      const t = b.tensor(transposed);
      expect(t.shape).toEqual([4, 3]);
      const back = await b.readNdarray(t);
      for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) expect(back.get(i, j)).toBe(data[j * 4 + i]);
      expect(Array.from(await b.read(b.zeros([2, 5])))).toEqual(new Array(10).fill(0));
      // empty: the shape, and the values written into every row.
      const e = b.empty([3, 4]);
      expect(e.shape).toEqual([3, 4]);
      for (let r = 0; r < 3; r++) await b.copyRows(b.tensor(data.subarray(4 * r, 4 * r + 4), [1, 4]), e, r);
      expect(Array.from(await b.read(e))).toEqual(Array.from(data));
    });

    for (const { name: caseName, layout, n } of cases()) {
      for (const gated of [false, true]) {
        run(`${caseName}${gated ? ', gated' : ''}: forward, backward-data, weight-gradient and gate gradient match the reference`, async (b) => {
          const bs = layout.blockSize;
          const C = layout.inFeatures;
          const K = layout.outFeatures;
          const x = randomData(rng, n * C);
          const w = randomData(rng, layout.nnz * bs * bs);
          const dy = randomData(rng, n * K);
          const g = gated ? randomData(rng, layout.nnz) : undefined;
          const X = b.tensor(x, [n, C]);
          const W = b.tensor(w, [layout.nnz, bs, bs]);
          const DY = b.tensor(dy, [n, K]);
          const G = g ? b.tensor(g, [layout.nnz]) : undefined;

          const y = await b.forward(layout, X, W, { gates: G });
          expect(y.shape).toEqual([n, K]);
          expectWithinBound(await b.read(y), referenceForward(layout, x, n, w, g), referenceForward(layout, abs(x), n, abs(w), g && abs(g)), C, 'forward');

          const dx = await b.backwardData(layout, DY, W, { gates: G });
          expect(dx.shape).toEqual([n, C]);
          expectWithinBound(await b.read(dx), referenceBackwardData(layout, dy, n, w, g), referenceBackwardData(layout, abs(dy), n, abs(w), g && abs(g)), K, 'backward-data');

          const grad = await b.weightGrad(layout, X, DY, { gates: G, weights: W });
          expect(grad.dw.shape).toEqual([layout.nnz, bs, bs]);
          const ref = referenceWeightGrad(layout, x, dy, n, g, w);
          const refAbs = referenceWeightGrad(layout, abs(x), abs(dy), n, g && abs(g), abs(w));
          expectWithinBound(await b.read(grad.dw), ref.dw, refAbs.dw, n, 'weight-gradient');
          expect(grad.dgates!.shape).toEqual([layout.nnz]);
          expectWithinBound(await b.read(grad.dgates!), ref.dgates!, refAbs.dgates!, n + bs * bs, 'gate gradient');
          const plain = await b.weightGrad(layout, X, DY);
          expect(plain.dgates).toBeUndefined();
          expectWithinBound(await b.read(plain.dw), referenceWeightGrad(layout, x, dy, n).dw, referenceWeightGrad(layout, abs(x), abs(dy), n).dw, n, 'weight-gradient, no options');
          for (const t of [X, W, DY, G, y, dx, grad.dw, grad.dgates, plain.dw]) t?.dispose();
        });
      }
    }

    run('dense matmul matches the reference with every transpose, on shapes that are no tile multiple', async (b) => {
      for (const [m, k, n] of [[1, 1, 1], [37, 53, 29], [64, 32, 96], [5, 130, 3]]) {
        for (const transposeA of [false, true]) {
          for (const transposeB of [false, true]) {
            const aShape: [number, number] = transposeA ? [k, m] : [m, k];
            const bShape: [number, number] = transposeB ? [n, k] : [k, n];
            const a = randomData(rng, m * k);
            const bb = randomData(rng, k * n);
            const out = await b.matmul(b.tensor(a, aShape), b.tensor(bb, bShape), { transposeA, transposeB });
            expect(out.shape).toEqual([m, n]);
            expectWithinBound(await b.read(out), referenceMatmul(a, aShape, bb, bShape, transposeA, transposeB),
              referenceMatmul(abs(a), aShape, abs(bb), bShape, transposeA, transposeB), k, `matmul ${m}x${k}x${n} tA=${transposeA} tB=${transposeB}`);
          }
        }
      }
    });

    run('uploads a layout once, however often it is used', async (b) => {
      const layout = randomLayout({ inBlocks: 4, density: 0.5, blockSize: 8, seed: 99 });
      const X = b.tensor(randomData(rng, 2 * 32), [2, 32]);
      const W = b.tensor(randomData(rng, layout.nnz * 64), [layout.nnz, 8, 8]);
      const before = b.stats.layoutUploads;
      await b.forward(layout, X, W);
      const once = b.stats.layoutUploads;
      expect(once - before).toBeLessThanOrEqual(1);
      await b.forward(layout, X, W);
      await b.backwardData(layout, await b.forward(layout, X, W), W);
      await b.weightGrad(layout, X, await b.forward(layout, X, W));
      expect(b.stats.layoutUploads).toBe(once);
      const compilations = b.stats.compilations;
      await b.forward(layout, X, W);
      expect(b.stats.compilations).toBe(compilations);
    });

    run('raises typed errors naming both shapes, and for dead or foreign tensors', async (b) => {
      const layout = denseLayout({ inBlocks: 2, outBlocks: 3, blockSize: 8 });
      const X = b.tensor(new Float32Array(4 * 16), [4, 16]);
      const W = b.tensor(new Float32Array(6 * 64), [6, 8, 8]);
      const wrongX = b.tensor(new Float32Array(4 * 24), [4, 24]);
      await expect(b.forward(layout, wrongX, W)).rejects.toThrow(ShapeError);
      await expect(b.forward(layout, wrongX, W)).rejects.toThrow(/\[4, 24\].*C = 16/);
      const wrongW = b.tensor(new Float32Array(5 * 64), [5, 8, 8]);
      await expect(b.forward(layout, X, wrongW)).rejects.toThrow(/\[5, 8, 8\].*\[6, 8, 8\]/);
      await expect(b.matmul(b.tensor(new Float32Array(6), [2, 3]), b.tensor(new Float32Array(8), [4, 2]))).rejects.toThrow(ShapeError);
      const dead = b.tensor(new Float32Array(4 * 16), [4, 16]);
      dead.dispose();
      await expect(b.forward(layout, dead, W)).rejects.toThrow(TensorError);
      const foreign = { ...X, backend: { name: 'other' } } as unknown as Tensor;
      await expect(b.forward(layout, foreign, W)).rejects.toThrow(TensorError);
    });

    run('a layer built from the three products passes a finite-difference gradient check', async (b) => {
      // loss = 1/2 sum (X . (g W) - T)^2: quadratic in each of X, W, g, so central differences are
      // exact up to float32 rounding of the loss.
      const layout = randomLayout({ inBlocks: 3, outBlocks: 4, density: 0.5, blockSize: 8, seed: 5 });
      const n = 4;
      const bs = 8;
      const x = randomData(rng, n * layout.inFeatures);
      const w = randomData(rng, layout.nnz * bs * bs);
      const g = Float32Array.from(randomData(rng, layout.nnz), (v) => 0.5 + Math.abs(v));
      const t = randomData(rng, n * layout.outFeatures);
      const loss = async (xs: Float32Array, ws: Float32Array, gs: Float32Array) => {
        const y = await b.read(await b.forward(layout, b.tensor(xs, [n, layout.inFeatures]), b.tensor(ws, [layout.nnz, bs, bs]), { gates: b.tensor(gs, [layout.nnz]) }));
        let sum = 0;
        for (let i = 0; i < y.length; i++) sum += 0.5 * (y[i] - t[i]) ** 2;
        return sum;
      };
      const X = b.tensor(x, [n, layout.inFeatures]);
      const W = b.tensor(w, [layout.nnz, bs, bs]);
      const G = b.tensor(g, [layout.nnz]);
      const y = await b.read(await b.forward(layout, X, W, { gates: G }));
      const dy = b.tensor(Float32Array.from(y, (v, i) => v - t[i]), [n, layout.outFeatures]);
      const dx = await b.read(await b.backwardData(layout, dy, W, { gates: G }));
      const grads = await b.weightGrad(layout, X, dy, { gates: G, weights: W });
      const dw = await b.read(grads.dw);
      const dg = await b.read(grads.dgates!);
      const eps = 1e-2;
      const check = async (which: 'x' | 'w' | 'g', index: number, analytic: number) => {
        const bump = (arr: Float32Array, delta: number) => Float32Array.from(arr, (v, i) => (i === index ? v + delta : v));
        const at = (delta: number) => loss(which === 'x' ? bump(x, delta) : x, which === 'w' ? bump(w, delta) : w, which === 'g' ? bump(g, delta) : g);
        const numeric = ((await at(eps)) - (await at(-eps))) / (2 * eps);
        expect(Math.abs(numeric - analytic), `d loss / d ${which}[${index}]: numeric ${numeric}, analytic ${analytic}`).toBeLessThanOrEqual(2e-2 * Math.max(1, Math.abs(analytic)));
      };
      for (let s = 0; s < 6; s++) {
        const i = Math.floor(rng() * x.length);
        await check('x', i, dx[i]);
        const j = Math.floor(rng() * w.length);
        await check('w', j, dw[j]);
        const k = Math.floor(rng() * g.length);
        await check('g', k, dg[k]);
      }
    });
  });
}
