import { describe, expect } from 'vitest';
import { backendTests } from './suite.js';
import { ParameterError, ShapeError } from '../../src/errors.js';
import { TensorError } from '../../src/kernels/errors.js';
import { HARD_CONCRETE_DEFAULTS } from '../../src/kernels/training-ops.js';
import { referenceForward } from '../../src/kernels/reference.js';
import { convOutputSize } from '../../src/kernels/conv.js';
import { resolvePool2d, type Pool2dParams } from '../../src/kernels/pool.js';
import {
  referenceAvgPool2d, referenceAvgPool2dGrad, referenceGlobalAvgPool, referenceGlobalAvgPoolGrad, referenceMaxPool2d, referenceMaxPool2dGrad, type PoolShape,
} from '../../src/kernels/reference-pool.js';
import type { ActivationKind, AdamStepOptions, Backend, SgdStepOptions, Tensor } from '../../src/kernels/types.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { resolveRng, type Rng } from '../../src/random.js';
import { expectWithinBound } from './conformance.js';

/*
 * The training operations' conformance suite, run by every backend: each operation against a
 * float64 reference written here, on random shapes (N = 1, widths that are no multiple of 4 or of
 * a workgroup); every gradient reference checked first by central differences of the float64
 * forward; optimiser steps against a float64 transcription of PyTorch's update rules over 3 steps;
 * hard-concrete gates at closed values; ordering with the products; typed errors.
 *
 * Tolerances (U = 2^-24, float32's unit roundoff):
 * - one rounding of an exact result (addBias, scale): 2 U |value|; axpy: 3 U (|y| + |alpha x|)
 *   (two roundings and alpha's own as float32);
 *   copies, fills, gathers and block max norms are exact;
 * - sums of L terms (sumRows, the L0 value, l2 block norms): 2 L U sum |terms|, as conformance.ts;
 * - transcendental functions: WGSL's exp is accurate to 3 + 2|x| ULP and log to 3 ULP (2^-21
 *   absolute near 1). tanh is computed from t = exp(-2|x|) as (1 - t) / (1 + t): where t is near 1
 *   its error is a few ULP of 1, elsewhere t is small, so tanh is within about 2^-21 absolute,
 *   and gelu (times x / 2, |x| <= 4) and the gates (a log, a division, a sigmoid) within a few
 *   times that: activations, gates and their gradients allow 2^-19 max(1, |value|);
 * - softmax cross-entropy: a row's sum of K exponentials carries (K + 15) U relative error, hence
 *   dlogits (2 K + 64) U (|p| + 1) / N and the loss (2 K + 64) U + 2^-20 + 2 N U |loss|;
 * - layer norm: means and variances are sums of F terms and the parameter gradients sums of N,
 *   each term a few roundings: 16 (F + N + 8) U (|value| + 1);
 * - optimiser steps: a handful of roundings per element and step, 3 steps, values of order 1:
 *   2^-18 (|value| + 1) (2^-18 |value| + 2^-40 for Adam's v, a sum of positive terms).
 * - the LSTM cell: z = (recurrent + input) + bias is two roundings, 2 U S for S the sum of the
 *   three terms' magnitudes, and the gates' derivatives are at most 1, so each gate is within
 *   eg = 2^-19 + 2 U S of the float64 gate of the exact z (2^-19: the activations' bound above);
 *   c = f cPrev + i g within |cPrev| eg_f + eg_i + eg_g + 2 U (|cPrev| + 1), and h = o tanh(c)
 *   within eg_o + 2^-19 + (c's bound) + U;
 * - its gradient, from the forward's own gates and c: tanh(c) within 2^-19, so dct = dc + dh o
 *   (1 - tc^2) within |dh| (2^-18 + 6 U) + 2 U |dc|, and every output is that times a factor of at
 *   most 1 + |cPrev| (dz_o: |dh| 2^-21 for its own tanh) plus four roundings: in all
 *   2^-17 (|dh| + |dc|) (1 + |cPrev|) + 4 U |value|;
 * - row copies, slices and gathers are exact; scatterAddRows is exactly the float32 sum from 0 in
 *   increasing r (the same bytes on every backend); sumSquares, a sum of L non-negative terms:
 *   2 L U sum.
 * - pooling: max pooling is exact (and must pick the first maximum of tied windows: a wrong pick is
 *   off by a whole dy); sums of L terms (an average's window, an input position's L windows in a
 *   gradient) then a division: (2 L + 2) U sum |terms| / divisor, as expectWithinBound with L + 1.
 */

const U = 2 ** -24;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;
const KINDS: ActivationKind[] = ['relu', 'gelu', 'tanh', 'sigmoid'];
const ROW_SHAPES: [number, number][] = [[1, 1], [1, 7], [5, 67], [33, 10], [3, 130]];

function uniform(rng: Rng, size: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = lo + (hi - lo) * rng();
  return out;
}

/** Expects |actual - expected| <= bound(i, expected) everywhere, naming the worst element. */
function expectWithin(actual: Float32Array, expected: ArrayLike<number>, bound: (i: number, e: number) => number, what: string, skip?: (i: number) => boolean): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    if (skip?.(i)) continue;
    const ratio = Math.abs(actual[i] - expected[i]) / (bound(i, expected[i]) + 1e-300);
    if (!(ratio <= worst)) {
      worst = ratio;
      worstAt = i;
    }
  }
  expect(worst, `${what}: element ${worstAt} is ${actual[worstAt]}, reference ${expected[worstAt]}`).toBeLessThanOrEqual(1);
}

const relative = (tol: number, floor = 1) => (_: number, e: number) => tol * (Math.abs(e) + floor);

// ---- float64 references ----

function refActivation(kind: ActivationKind, v: number): number {
  if (kind === 'relu') return Math.max(v, 0);
  if (kind === 'tanh') return Math.tanh(v);
  if (kind === 'sigmoid') return 1 / (1 + Math.exp(-v));
  return 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + GELU_C * v ** 3)));
}

function refDerivative(kind: ActivationKind, v: number): number {
  if (kind === 'relu') return v > 0 ? 1 : 0;
  if (kind === 'tanh') return 1 - Math.tanh(v) ** 2;
  if (kind === 'sigmoid') return Math.exp(-v) / (1 + Math.exp(-v)) ** 2;
  const t = Math.tanh(SQRT_2_OVER_PI * (v + GELU_C * v ** 3));
  return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * v * v);
}

function refSoftmaxCrossEntropy(z: ArrayLike<number>, labels: ArrayLike<number>, n: number, k: number) {
  const dlogits = new Float64Array(n * k);
  let loss = 0;
  let correct = 0;
  for (let r = 0; r < n; r++) {
    let max = -Infinity;
    let argmax = -1;
    for (let j = 0; j < k; j++) if (z[r * k + j] > max) [max, argmax] = [z[r * k + j], j];
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(z[r * k + j] - max);
    loss += (Math.log(sum) + max - z[r * k + labels[r]]) / n;
    if (argmax === labels[r]) correct++;
    for (let j = 0; j < k; j++) dlogits[r * k + j] = (Math.exp(z[r * k + j] - max) / sum - (j === labels[r] ? 1 : 0)) / n;
  }
  return { loss, dlogits, correct };
}

function refLayerNorm(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number, n: number, f: number) {
  const y = new Float64Array(n * f);
  const mean = new Float64Array(n);
  const rstd = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let j = 0; j < f; j++) s += x[r * f + j];
    mean[r] = s / f;
    let v = 0;
    for (let j = 0; j < f; j++) v += (x[r * f + j] - mean[r]) ** 2;
    rstd[r] = 1 / Math.sqrt(v / f + eps);
    for (let j = 0; j < f; j++) y[r * f + j] = (x[r * f + j] - mean[r]) * rstd[r] * gamma[j] + beta[j];
  }
  return { y, mean, rstd };
}

function refLayerNormGrad(x: ArrayLike<number>, dy: ArrayLike<number>, gamma: ArrayLike<number>, eps: number, n: number, f: number) {
  const { mean, rstd } = refLayerNorm(x, gamma, new Float64Array(f), eps, n, f);
  const dx = new Float64Array(n * f);
  const dgamma = new Float64Array(f);
  const dbeta = new Float64Array(f);
  for (let r = 0; r < n; r++) {
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < f; j++) {
      const xhat = (x[r * f + j] - mean[r]) * rstd[r];
      const g = dy[r * f + j] * gamma[j];
      sg += g;
      sgx += g * xhat;
      dgamma[j] += dy[r * f + j] * xhat;
      dbeta[j] += dy[r * f + j];
    }
    for (let j = 0; j < f; j++) {
      const xhat = (x[r * f + j] - mean[r]) * rstd[r];
      dx[r * f + j] = rstd[r] * (dy[r * f + j] * gamma[j] - sg / f - xhat * sgx / f);
    }
  }
  return { dx, dgamma, dbeta };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const HC = HARD_CONCRETE_DEFAULTS;

function refGateLogit(logAlpha: number, u: number | null): number {
  return u === null ? logAlpha : (Math.log(u) - Math.log(1 - u) + logAlpha) / HC.beta;
}
const stretched = (logAlpha: number, u: number | null) => sigmoid(refGateLogit(logAlpha, u)) * (HC.zeta - HC.gamma) + HC.gamma;
const refGate = (logAlpha: number, u: number | null) => Math.min(1, Math.max(0, stretched(logAlpha, u)));
function refGateGrad(logAlpha: number, u: number | null, dg: number): number {
  const s = sigmoid(refGateLogit(logAlpha, u));
  const z = s * (HC.zeta - HC.gamma) + HC.gamma;
  return z < 0 || z > 1 ? 0 : dg * (HC.zeta - HC.gamma) * s * (1 - s) / (u === null ? 1 : HC.beta);
}
const L0_SHIFT = HC.beta * Math.log(-HC.gamma / HC.zeta);

/** The LSTM cell in float64 from its pre-activations z [N, 4H] (gate order i, f, g, o) and cPrev [N, H]. */
function refLstmFromZ(z: ArrayLike<number>, cPrev: ArrayLike<number>, n: number, hidden: number) {
  const gates = new Float64Array(4 * n * hidden);
  const c = new Float64Array(n * hidden);
  const h = new Float64Array(n * hidden);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < hidden; j++) {
      const at = (k: number) => r * 4 * hidden + k * hidden + j;
      const [i, f, g, o] = [sigmoid(z[at(0)]), sigmoid(z[at(1)]), Math.tanh(z[at(2)]), sigmoid(z[at(3)])];
      [gates[at(0)], gates[at(1)], gates[at(2)], gates[at(3)]] = [i, f, g, o];
      const s = r * hidden + j;
      c[s] = f * cPrev[s] + i * g;
      h[s] = o * Math.tanh(c[s]);
    }
  }
  return { gates, c, h };
}

/** lstmCellGrad in float64 from the gates [N, 4H], cPrev, c, dh and dc (null: zero) [N, H]. */
function refLstmGrad(gates: ArrayLike<number>, cPrev: ArrayLike<number>, c: ArrayLike<number>, dh: ArrayLike<number>, dc: ArrayLike<number> | null, n: number, hidden: number) {
  const dz = new Float64Array(4 * n * hidden);
  const dcPrev = new Float64Array(n * hidden);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < hidden; j++) {
      const at = (k: number) => r * 4 * hidden + k * hidden + j;
      const s = r * hidden + j;
      const [i, f, g, o] = [gates[at(0)], gates[at(1)], gates[at(2)], gates[at(3)]];
      const tc = Math.tanh(c[s]);
      const dct = (dc ? dc[s] : 0) + dh[s] * o * (1 - tc * tc);
      dz[at(0)] = dct * g * i * (1 - i);
      dz[at(1)] = dct * cPrev[s] * f * (1 - f);
      dz[at(2)] = dct * i * (1 - g * g);
      dz[at(3)] = dh[s] * tc * o * (1 - o);
      dcPrev[s] = dct * f;
    }
  }
  return { dz, dcPrev };
}

/** scatterAddRows' contract: each output element the float32 sum from 0 of its terms in increasing r. */
function float32ScatterAdd(dy: Float32Array, index: Int32Array, rows: number, width: number): Float32Array {
  const out = new Float32Array(rows * width);
  for (let r = 0; r < index.length; r++) {
    for (let j = 0; j < width; j++) out[index[r] * width + j] = Math.fround(out[index[r] * width + j] + dy[r * width + j]);
  }
  return out;
}

/** torch.optim.SGD's step (dampening 0), transcribed in float64; buf is undefined before the first step. */
function refSgd(p: Float64Array, g: ArrayLike<number>, state: { buf?: Float64Array }, o: Required<SgdStepOptions>): void {
  const d = Float64Array.from(g, (v, i) => v + o.weightDecay * p[i]);
  if (o.momentum !== 0) {
    if (!state.buf) state.buf = d.slice();
    else for (let i = 0; i < d.length; i++) state.buf[i] = o.momentum * state.buf[i] + d[i];
    for (let i = 0; i < d.length; i++) d[i] = o.nesterov ? d[i] + o.momentum * state.buf[i] : state.buf[i];
  }
  for (let i = 0; i < p.length; i++) p[i] -= o.lr * d[i];
}

/** torch.optim.Adam / AdamW's step (amsgrad off), transcribed in float64. */
function refAdam(p: Float64Array, g: ArrayLike<number>, m: Float64Array, v: Float64Array, o: Required<AdamStepOptions>): void {
  for (let i = 0; i < p.length; i++) {
    let grad = g[i];
    if (o.decoupled) p[i] *= 1 - o.lr * o.weightDecay;
    else grad += o.weightDecay * p[i];
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * grad;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * grad * grad;
    const bc1 = 1 - o.beta1 ** o.step;
    const bc2 = 1 - o.beta2 ** o.step;
    p[i] -= (o.lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps);
  }
}

/** Central difference of a float64 function of x at element i. */
function numericGrad(f: (x: Float64Array) => number, x: ArrayLike<number>, i: number, h = 1e-6): number {
  const plus = Float64Array.from(x);
  const minus = Float64Array.from(x);
  plus[i] += h;
  minus[i] -= h;
  return (f(plus) - f(minus)) / (2 * h);
}

function expectGradient(f: (x: Float64Array) => number, x: ArrayLike<number>, analytic: ArrayLike<number>, what: string, indices: number[]): void {
  for (const i of indices) {
    const numeric = numericGrad(f, x, i);
    expect(Math.abs(numeric - analytic[i]), `${what}[${i}]: numeric ${numeric}, analytic ${analytic[i]}`).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(analytic[i])));
  }
}

const pick = (rng: Rng, size: number, count: number) => Array.from({ length: Math.min(count, size) }, () => Math.floor(rng() * size));

/** Pooling cases: input [N, H, W, C] (odd sizes, channels that are no multiple of 4) and a window (kernels 2 and 3, strides 1 and 2, padding 0 and 1). */
const POOL_CASES: { shape: [number, number, number, number]; params: Pool2dParams }[] = [
  { shape: [2, 5, 7, 3], params: { kernel: 2 } },
  { shape: [1, 6, 5, 6], params: { kernel: 3, stride: 1, padding: 1 } },
  { shape: [2, 7, 7, 5], params: { kernel: 3, stride: 2, padding: 1 } },
  { shape: [1, 4, 3, 9], params: { kernel: 2, stride: 1 } },
  { shape: [1, 9, 8, 1], params: { kernel: 3, stride: 2 } },
  { shape: [2, 5, 6, 4], params: { kernel: [2, 3], stride: [1, 2], padding: [1, 1] } },
];

/** The sizes of pooling `shape` with `params`. */
function poolShape(shape: readonly number[], params: Pool2dParams): PoolShape {
  const g = resolvePool2d(params);
  return { n: shape[0], inputSize: [shape[1], shape[2]], outputSize: convOutputSize(g, [shape[1], shape[2]]), channels: shape[3] };
}

/** Small integers: windows full of ties. */
const tied = (rng: Rng, size: number): Float32Array => Float32Array.from({ length: size }, () => Math.floor(rng() * 3) - 1);

/** sum(f(x) * r) for a float64 function f of x, the loss whose gradient is f's gradient applied to r. */
const dot = (a: ArrayLike<number>, r: ArrayLike<number>): number => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * r[i];
  return sum;
};

/**
 * Runs the training-operation suite on the backend `make` returns; `make` returns null when the
 * backend cannot run here (the suite is then skipped, or fails when `required`).
 */
export function opsConformance(name: string, make: () => Promise<Backend | null>, required = false): void {
  describe(`${name} backend training operations`, () => {
    const rng = resolveRng({ seed: `ops-conformance-${name}` });
    const run = backendTests(name, make, required);

    run('addBias and sumRows (the bias gradient) match the reference', async (b) => {
      for (const [n, f] of ROW_SHAPES) {
        const x = uniform(rng, n * f);
        const bias = uniform(rng, f);
        const X = b.tensor(x, [n, f]);
        const y = await b.addBias(X, b.tensor(bias, [f]));
        expect(y.shape).toEqual([n, f]);
        expectWithin(await b.read(y), Float64Array.from(x, (v, i) => v + bias[i % f]), relative(2 * U, 0), `addBias [${n}, ${f}]`);
        const s = await b.sumRows(X);
        expect(s.shape).toEqual([f]);
        const ref = new Float64Array(f);
        const absRef = new Float64Array(f);
        x.forEach((v, i) => {
          ref[i % f] += v;
          absRef[i % f] += Math.abs(v);
        });
        expectWithinBound(await b.read(s), ref, absRef, n, `sumRows [${n}, ${f}]`);
      }
    });

    run('activations and their gradients match the reference (gradients checked by finite differences first)', async (b) => {
      for (const shape of [[1], [3, 5], [2, 300]]) {
        const size = shape.reduce((a, c) => a * c, 1);
        const x = uniform(rng, size, -4, 4);
        const dy = uniform(rng, size);
        for (const kind of KINDS) {
          const analytic = Float64Array.from(x, (v) => refDerivative(kind, v));
          for (const i of pick(rng, size, 4)) {
            expectGradient((xs) => refActivation(kind, xs[0]), [x[i]], [analytic[i]], `${kind}'`, [0]);
          }
          const X = b.tensor(x, shape);
          const y = await b.activation(kind, X);
          expect(y.shape).toEqual(shape);
          expectWithin(await b.read(y), Float64Array.from(x, (v) => refActivation(kind, v)), relative(2 ** -19), `${kind} ${shape}`);
          const dx = await b.activationGrad(kind, X, b.tensor(dy, shape));
          expectWithin(await b.read(dx), Float64Array.from(x, (v, i) => dy[i] * analytic[i]), relative(2 ** -19), `${kind} gradient ${shape}`);
        }
      }
      // Large inputs neither overflow nor give NaN; relu'(0) = 0 as PyTorch.
      const big = Float32Array.from([-100, -30, 0, 30, 100]);
      const B = b.tensor(big, [5]);
      const plain = (a: Float32Array) => Array.from(a, (v) => v + 0); // -0 as 0
      expect(plain(await b.read(await b.activation('tanh', B)))).toEqual([-1, -1, 0, 1, 1]);
      expect(plain(await b.read(await b.activation('gelu', B)))).toEqual([0, 0, 0, 30, 100]);
      const sig = await b.read(await b.activation('sigmoid', B));
      expect([sig[0], sig[2], sig[4]]).toEqual([0 + sig[0], 0.5, 1]);
      expect(sig[0]).toBeLessThanOrEqual(2 ** -100);
      expect(Math.abs(sig[1] - Math.exp(-30))).toBeLessThanOrEqual(2 ** -19 * Math.exp(-30) + 2 ** -19);
      expect(Array.from(await b.read(await b.activationGrad('relu', B, b.tensor(new Float32Array(5).fill(1), [5]))))).toEqual([0, 0, 0, 1, 1]);
    });

    run('fused addBiasActivation and activationGradBias match addBias + activation and activationGrad + sumRows', async (b) => {
      const bindingBytes = (b as { limits?: { maxBindingBytes: number } }).limits?.maxBindingBytes ?? Infinity;
      for (const [n, f] of [[1, 1], [3, 7], [33, 130], [300, 67]] as [number, number][]) {
        if (4 * n * f > bindingBytes) continue; // the WebGPU test backend cut to a few KB of binding
        const x = uniform(rng, n * f, -4, 4);
        const bias = uniform(rng, f);
        const dy = uniform(rng, n * f);
        const [X, B] = [b.tensor(x, [n, f]), b.tensor(bias, [f])];
        const z64 = Float64Array.from(x, (v, i) => Math.fround(v + bias[i % f]));
        for (const kind of KINDS) {
          const { z, y } = await b.addBiasActivation(kind, X, B);
          expect([z.shape, y.shape]).toEqual([[n, f], [n, f]]);
          expect(await b.read(z)).toEqual(Float32Array.from(z64));
          expectWithin(await b.read(y), Float64Array.from(z64, (v) => refActivation(kind, v)), relative(2 ** -19), `addBiasActivation ${kind} [${n}, ${f}]`);
          const { dz, dbias } = await b.activationGradBias(kind, z, b.tensor(dy, [n, f]));
          expect([dz.shape, dbias.shape]).toEqual([[n, f], [f]]);
          const dz64 = Float64Array.from(z64, (v, i) => dy[i] * refDerivative(kind, v));
          expectWithin(await b.read(dz), dz64, relative(2 ** -19), `activationGradBias ${kind} dz [${n}, ${f}]`);
          const sums = new Float64Array(f);
          const abs = new Float64Array(f);
          dz64.forEach((v, i) => {
            sums[i % f] += v;
            abs[i % f] += Math.abs(v);
          });
          // each term carries the derivative's own error (2^-19 relative) on top of the sum's roundings
          const got = await b.read(dbias);
          for (let j = 0; j < f; j++) {
            const bound = 2 * n * U * abs[j] + 2 ** -19 * (abs[j] + n) + 1e-30;
            expect(Math.abs(got[j] - sums[j]), `activationGradBias ${kind} dbias[${j}] [${n}, ${f}]`).toBeLessThanOrEqual(bound);
          }
        }
      }
      await expect(b.addBiasActivation('relu', b.zeros([2, 3]), b.zeros([2]))).rejects.toThrow(ShapeError);
      await expect(b.activationGradBias('softplus' as ActivationKind, b.zeros([2, 3]), b.zeros([2, 3]))).rejects.toThrow(ParameterError);
    });

    run('row-wise operations take NHWC activations [N, H, W, C] as the matrix [N H W, C], outputs of the input\'s shape; copy reshapes', async (b) => {
      for (const shape of [[2, 3, 5, 7], [2, 15, 7], [1, 1, 1, 3]]) {
        const c = shape[shape.length - 1];
        const rows = shape.reduce((a, d) => a * d, 1) / c;
        const x = uniform(rng, rows * c, -2, 2);
        const dy = uniform(rng, rows * c);
        const bias = uniform(rng, c);
        const gamma = uniform(rng, c, 0.5, 1.5);
        const beta = uniform(rng, c);
        const [X, M, DY, DM] = [b.tensor(x, shape), b.tensor(x, [rows, c]), b.tensor(dy, shape), b.tensor(dy, [rows, c])];
        const [B, G, Be] = [b.tensor(bias, [c]), b.tensor(gamma, [c]), b.tensor(beta, [c])];
        const what = `[${shape.join(', ')}]`;
        // A bias per channel, against the reference (one rounding), and the matrix's own bytes.
        const y = await b.addBias(X, B);
        expect(y.shape, `addBias ${what}`).toEqual(shape);
        expectWithin(await b.read(y), Float64Array.from(x, (v, i) => v + bias[i % c]), relative(2 * U, 0), `addBias ${what}`);
        const sums = await b.sumRows(DY);
        expect(sums.shape).toEqual([c]);
        const ref = new Float64Array(c);
        const abs = new Float64Array(c);
        dy.forEach((v, i) => {
          ref[i % c] += v;
          abs[i % c] += Math.abs(v);
        });
        expectWithinBound(await b.read(sums), ref, abs, rows, `sumRows ${what}`);
        expect(await b.read(sums)).toEqual(await b.read(await b.sumRows(DM)));
        // Each position's channels normalised, and the gradients, as the matrix's.
        const norm = await b.layerNorm(X, G, Be);
        expect([norm.y.shape, norm.mean.shape, norm.rstd.shape], `layerNorm ${what}`).toEqual([shape, [rows], [rows]]);
        const refNorm = refLayerNorm(x, gamma, beta, 1e-5, rows, c);
        expectWithin(await b.read(norm.y), refNorm.y, relative(16 * (c + rows + 8) * U), `layerNorm ${what}`);
        const flat = await b.layerNorm(M, G, Be);
        expect(await b.read(norm.y)).toEqual(await b.read(flat.y));
        const grad = await b.layerNormGrad(X, DY, G, norm.mean, norm.rstd);
        expect([grad.dx.shape, grad.dgamma.shape, grad.dbeta.shape]).toEqual([shape, [c], [c]]);
        const refGrad = refLayerNormGrad(x, dy, gamma, 1e-5, rows, c);
        const tol = relative(16 * (c + rows + 8) * U);
        expectWithin(await b.read(grad.dx), refGrad.dx, tol, `layerNormGrad dx ${what}`);
        expectWithin(await b.read(grad.dgamma), refGrad.dgamma, tol, `layerNormGrad dgamma ${what}`);
        expectWithin(await b.read(grad.dbeta), refGrad.dbeta, tol, `layerNormGrad dbeta ${what}`);
        // The fused pair, and the activations (elementwise: any shape).
        const { z, y: fused } = await b.addBiasActivation('relu', X, B);
        expect([z.shape, fused.shape]).toEqual([shape, shape]);
        expect(await b.read(fused)).toEqual(Float32Array.from(await b.read(z), (v) => Math.max(v, 0)));
        const back = await b.activationGradBias('relu', z, DY);
        expect([back.dz.shape, back.dbias.shape]).toEqual([shape, [c]]);
        const flatBack = await b.activationGradBias('relu', await b.copy(z, [rows, c]), DM);
        expect(await b.read(back.dz)).toEqual(await b.read(flatBack.dz));
        expect(await b.read(back.dbias)).toEqual(await b.read(flatBack.dbias));
        const relu = await b.activationGrad('relu', z, DY);
        expect(relu.shape).toEqual(shape);
        expect(await b.read(relu)).toEqual(await b.read(back.dz));
        // copy with a shape: the same values in another shape.
        const reshaped = await b.copy(X, [rows, c]);
        expect(reshaped.shape).toEqual([rows, c]);
        expect(await b.read(reshaped)).toEqual(Float32Array.from(x));
        expect((await b.copy(M, shape)).shape).toEqual(shape);
        await expect(b.copy(X, [rows + 1, c])).rejects.toThrow(/holds .* elements but x .* has/);
        await expect(b.copy(X, [-1])).rejects.toThrow(ShapeError);
      }
      // Rank 1 and empty sizes are refused, naming the shape; the bias must be the last dimension's.
      await expect(b.addBias(b.zeros([6]), b.zeros([6]))).rejects.toThrow(/addBias: x has shape \[6\] but must be a matrix \[N, F\] or a tensor \[\.\.\., F\]/);
      await expect(b.layerNorm(b.zeros([2, 0, 3]), b.zeros([3]), b.zeros([3]))).rejects.toThrow(ShapeError);
      await expect(b.addBias(b.zeros([2, 3, 4]), b.zeros([3]))).rejects.toThrow(/bias has shape \[3\] but x \[2, 3, 4\] needs \[4\]/);
      await expect(b.sumRows(b.zeros([5]))).rejects.toThrow(ShapeError);
    });

    run('batch runs an operation over many argument lists in one pass, with the results of the single calls', async (b) => {
      const shapes = [[5], [3, 7], [67], [2, 2, 3]];
      const init = shapes.map((shape) => uniform(rng, shape.reduce((a, c) => a * c, 1)));
      const grads = init.map((v) => uniform(rng, v.length));
      const run = async (batched: boolean) => {
        const params = shapes.map((shape, i) => b.tensor(init[i], shape));
        const states = shapes.map((shape) => [b.zeros(shape), b.zeros(shape)]);
        for (let step = 1; step <= 2; step++) {
          const calls = params.map((p, i) => [p, b.tensor(grads[i], shapes[i]), states[i][0], states[i][1], { lr: 0.01 * (i + 1), step }] as [Tensor, Tensor, Tensor, Tensor, AdamStepOptions]);
          if (batched) expect(await b.batch('adamStep', calls)).toEqual(calls.map(() => undefined));
          else for (const call of calls) await b.adamStep(...call);
        }
        return Promise.all([...params, ...states.flat()].map((t) => b.read(t)));
      };
      expect(await run(true)).toEqual(await run(false));
      // results in call order, each of its own shape
      const xs = shapes.map((shape, i) => b.tensor(init[i], shape));
      const ys = await b.batch('activation', xs.map((x) => ['tanh', x] as ['tanh', Tensor]));
      for (let i = 0; i < xs.length; i++) {
        expect(ys[i].shape).toEqual(shapes[i]);
        expect(await b.read(ys[i])).toEqual(await b.read(await b.activation('tanh', xs[i])));
      }
      expect(await b.batch('scale', [])).toEqual([]);
      // calls that sum (sum stages) batch too
      const sums = await b.batch('sumRows', [[b.tensor(init[1], [3, 7])], [b.tensor(init[3], [4, 3])]]);
      expect(await b.read(sums[1])).toEqual(await b.read(await b.sumRows(b.tensor(init[3], [4, 3]))));
      // one call may not write what another reads or writes
      const p = b.zeros([4]);
      await expect(b.batch('axpy', [[1, b.zeros([4]), p], [1, p, b.zeros([4])]])).rejects.toThrow(ParameterError);
      await expect(b.batch('fill', [[p, 1], [p, 2]])).rejects.toThrow(ParameterError);
      await expect(b.batch('nope' as 'fill', [])).rejects.toThrow(ParameterError);
      await expect(b.batch('fill', [p, 1] as unknown as [Tensor, number][])).rejects.toThrow(ParameterError);
      // each call is checked by its operation's own checks
      await expect(b.batch('add', [[b.zeros([2]), b.zeros([3])]])).rejects.toThrow(ShapeError);
    });

    run('add and multiply, elementwise, match the exact result rounded once', async (b) => {
      for (const shape of [[1], [3, 5], [2, 301]]) {
        const size = shape.reduce((a, c) => a * c, 1);
        const x = uniform(rng, size, -4, 4);
        const y = uniform(rng, size, -4, 4);
        const [X, Y] = [b.tensor(x, shape), b.tensor(y, shape)];
        const sum = await b.add(X, Y);
        expect(sum.shape).toEqual(shape);
        expect(await b.read(sum)).toEqual(Float32Array.from(x, (v, i) => v + y[i]));
        expect(await b.read(await b.multiply(X, Y))).toEqual(Float32Array.from(x, (v, i) => v * y[i]));
      }
      await expect(b.add(b.zeros([2, 3]), b.zeros([3, 2]))).rejects.toThrow(ShapeError);
    });

    run('large shapes, split into many units on the CPU, keep the bounds of their sums', async (b) => {
      // Rows ops and sums over enough rows that the CPU splits them into units whose partial sums
      // are added by the sum stage.
      const [n, k] = [700, 67];
      // (not on the WebGPU test backend whose bindings are cut to a few KB to split the products)
      const bindingBytes = (b as { limits?: { maxBindingBytes: number } }).limits?.maxBindingBytes ?? Infinity;
      if (bindingBytes < 8 * n * k) return;
      const z = uniform(rng, n * k, -3, 3);
      const labels = Float32Array.from({ length: n }, () => Math.floor(rng() * k));
      const ref = refSoftmaxCrossEntropy(z, labels, n, k);
      const out = await b.softmaxCrossEntropy(b.tensor(z, [n, k]), b.tensor(labels, [n]));
      const loss = (await b.read(out.loss))[0];
      expect(Math.abs(loss - ref.loss), `loss [${n}, ${k}]`).toBeLessThanOrEqual((2 * k + 64) * U + 2 ** -20 + 2 * n * U * Math.abs(ref.loss));
      expect((await b.read(out.correct))[0]).toBe(ref.correct);
      const x = uniform(rng, n * k);
      const dy = uniform(rng, n * k);
      const gamma = uniform(rng, k, 0.5, 1.5);
      const X = b.tensor(x, [n, k]);
      const G = b.tensor(gamma, [k]);
      const fwd = await b.layerNorm(X, G, b.zeros([k]));
      const grads = refLayerNormGrad(x, dy, gamma, 1e-5, n, k);
      const back = await b.layerNormGrad(X, b.tensor(dy, [n, k]), G, fwd.mean, fwd.rstd);
      const tol = relative(16 * (k + n + 8) * U);
      expectWithin(await b.read(back.dgamma), grads.dgamma, tol, `layer norm dgamma [${n}, ${k}]`);
      expectWithin(await b.read(back.dbeta), grads.dbeta, tol, `layer norm dbeta [${n}, ${k}]`);
      const sums = new Float64Array(k);
      const abs = new Float64Array(k);
      x.forEach((v, i) => {
        sums[i % k] += v;
        abs[i % k] += Math.abs(v);
      });
      expectWithinBound(await b.read(await b.sumRows(X)), sums, abs, n, `sumRows [${n}, ${k}]`);
      const logAlpha = uniform(rng, 30000, -3, 3);
      const l0 = await b.l0Penalty(b.tensor(logAlpha, [30000]));
      const probabilities = Float64Array.from(logAlpha, (v) => sigmoid(v - L0_SHIFT));
      const expected = probabilities.reduce((a, v) => a + v, 0);
      expectWithinBound(await b.read(l0.value), Float64Array.of(expected), Float64Array.of(expected), 30000, 'L0 penalty of 30000 gates');
    });

    run('read fills a caller\'s array (reused across reads) and refuses one of the wrong size', async (b) => {
      const into = new Float32Array(6).fill(NaN);
      const t = b.tensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
      expect(await b.read(t, into)).toBe(into);
      expect(Array.from(into)).toEqual([1, 2, 3, 4, 5, 6]);
      await b.fill(t, 7);
      const nd = await b.readNdarray(t, into);
      expect(nd.data).toBe(into);
      expect(nd.shape).toEqual([2, 3]);
      expect(Array.from(into)).toEqual([7, 7, 7, 7, 7, 7]);
      await expect(b.read(t, new Float32Array(5))).rejects.toThrow(ShapeError);
      await expect(b.read(t, [0, 0, 0, 0, 0, 0] as unknown as Float32Array)).rejects.toThrow(ParameterError);
    });

    run('softmax cross-entropy: mean loss, gradient and correct count match the reference', async (b) => {
      for (const [n, k] of [...ROW_SHAPES.filter(([, k]) => k > 1), [4, 2] as [number, number]]) {
        const z = uniform(rng, n * k, -3, 3);
        const labels = Float32Array.from({ length: n }, () => Math.floor(rng() * k));
        const ref = refSoftmaxCrossEntropy(z, labels, n, k);
        const lossOf = (zs: Float64Array) => refSoftmaxCrossEntropy(zs, labels, n, k).loss;
        expectGradient(lossOf, z, ref.dlogits, `dlogits [${n}, ${k}]`, pick(rng, n * k, 6));
        // shift the logits far up: stability needs the row max subtracted
        const shifted = Float32Array.from(z, (v) => v + 80);
        for (const logits of [z, shifted]) {
          const out = await b.softmaxCrossEntropy(b.tensor(logits, [n, k]), b.tensor(labels, [n]));
          expect(out.loss.shape).toEqual([1]);
          expect(out.correct.shape).toEqual([1]);
          expect(out.dlogits.shape).toEqual([n, k]);
          const loss = (await b.read(out.loss))[0];
          const lossBound = (2 * k + 64) * U + 2 ** -20 + 2 * n * U * Math.abs(ref.loss) + (logits === shifted ? 2 ** -17 : 0);
          expect(Math.abs(loss - ref.loss), `loss [${n}, ${k}]: ${loss} vs ${ref.loss}`).toBeLessThanOrEqual(lossBound);
          expect((await b.read(out.correct))[0]).toBe(ref.correct);
          const slack = logits === shifted ? 2 ** -17 : 0;
          expectWithin(await b.read(out.dlogits), ref.dlogits, (_, e) => ((2 * k + 64) * U + slack) * (Math.abs(e) * n + 1) / n, `dlogits [${n}, ${k}]`);
        }
      }
      // The first maximum counts: row 0 ties at 0 and 2 (label 0 correct), row 1's label is wrong.
      const out = await b.softmaxCrossEntropy(b.tensor(Float32Array.from([1, 0, 1, 5, 2, 2]), [2, 3]), b.tensor(Float32Array.from([0, 1]), [2]));
      expect((await b.read(out.correct))[0]).toBe(1);
      // A label outside [0, K) makes the loss NaN, so that training stops on it.
      const bad = await b.softmaxCrossEntropy(b.tensor(Float32Array.from([1, 2, 3, 4]), [2, 2]), b.tensor(Float32Array.from([0, 2]), [2]));
      expect((await b.read(bad.loss))[0]).toBeNaN();
    });

    run('layer norm and its gradients match the reference (gradients checked by finite differences first)', async (b) => {
      const eps = 1e-5;
      for (const [n, f] of ROW_SHAPES.filter(([, f]) => f > 1)) {
        const x = uniform(rng, n * f);
        const gamma = uniform(rng, f, 0.5, 1.5);
        const beta = uniform(rng, f);
        const dy = uniform(rng, n * f);
        const ref = refLayerNorm(x, gamma, beta, eps, n, f);
        const grads = refLayerNormGrad(x, dy, gamma, eps, n, f);
        const dot = (y: Float64Array) => y.reduce((s, v, i) => s + v * dy[i], 0);
        expectGradient((xs) => dot(refLayerNorm(xs, gamma, beta, eps, n, f).y), x, grads.dx, 'layer norm dx', pick(rng, n * f, 4));
        expectGradient((gs) => dot(refLayerNorm(x, gs, beta, eps, n, f).y), gamma, grads.dgamma, 'layer norm dgamma', pick(rng, f, 3));
        expectGradient((bs) => dot(refLayerNorm(x, gamma, bs, eps, n, f).y), beta, grads.dbeta, 'layer norm dbeta', pick(rng, f, 3));

        const X = b.tensor(x, [n, f]);
        const G = b.tensor(gamma, [f]);
        const out = await b.layerNorm(X, G, b.tensor(beta, [f]), eps);
        const tol = relative(16 * (f + n + 8) * U);
        expectWithin(await b.read(out.y), ref.y, tol, `layer norm y [${n}, ${f}]`);
        expectWithin(await b.read(out.mean), ref.mean, tol, `layer norm mean [${n}, ${f}]`);
        expectWithin(await b.read(out.rstd), ref.rstd, tol, `layer norm rstd [${n}, ${f}]`);
        const back = await b.layerNormGrad(X, b.tensor(dy, [n, f]), G, out.mean, out.rstd);
        expectWithin(await b.read(back.dx), grads.dx, tol, `layer norm dx [${n}, ${f}]`);
        expectWithin(await b.read(back.dgamma), grads.dgamma, tol, `layer norm dgamma [${n}, ${f}]`);
        expectWithin(await b.read(back.dbeta), grads.dbeta, tol, `layer norm dbeta [${n}, ${f}]`);
      }
    });

    run('SGD steps follow PyTorch (momentum, Nesterov, weight decay) over 3 steps', async (b) => {
      const cases: Required<SgdStepOptions>[] = [
        { lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0 },
        { lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0.01 },
        { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.001 },
      ];
      for (const options of cases) {
        const size = 67;
        const p0 = uniform(rng, size);
        const param = b.tensor(p0, [size]);
        const velocity = options.momentum > 0 ? b.zeros([size]) : null;
        const ref = Float64Array.from(p0);
        const state: { buf?: Float64Array } = {};
        for (let step = 1; step <= 3; step++) {
          const g = uniform(rng, size);
          await b.sgdStep(param, b.tensor(g, [size]), velocity, options);
          refSgd(ref, g, state, options);
        }
        const what = `SGD ${JSON.stringify(options)}`;
        expectWithin(await b.read(param), ref, relative(2 ** -18), `${what}: param`);
        if (velocity) expectWithin(await b.read(velocity), state.buf!, relative(2 ** -18), `${what}: velocity`);
      }
    });

    run('Adam and AdamW steps follow PyTorch (bias correction, L2 or decoupled decay) over 3 steps', async (b) => {
      const base = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 0 };
      for (const overrides of [{}, { weightDecay: 0.1 }, { weightDecay: 0.1, decoupled: true }, { lr: 0.1, beta1: 0.5, beta2: 0.9 }]) {
        const options = { ...base, ...overrides };
        const size = 300;
        const p0 = uniform(rng, size);
        const [param, m, v] = [b.tensor(p0, [size]), b.zeros([size]), b.zeros([size])];
        const [ref, refM, refV] = [Float64Array.from(p0), new Float64Array(size), new Float64Array(size)];
        for (let step = 1; step <= 3; step++) {
          const g = uniform(rng, size);
          await b.adamStep(param, b.tensor(g, [size]), m, v, { ...options, step });
          refAdam(ref, g, refM, refV, { ...options, step });
        }
        const what = `Adam ${JSON.stringify(overrides)}`;
        expectWithin(await b.read(param), ref, relative(2 ** -18), `${what}: param`);
        expectWithin(await b.read(m), refM, relative(2 ** -18), `${what}: m`);
        expectWithin(await b.read(v), refV, relative(2 ** -18, 2 ** -22), `${what}: v`);
      }
    });

    run('scale, axpy, copy and fill', async (b) => {
      for (const shape of [[1], [67], [2, 300], [0, 3]]) {
        const size = shape.reduce((a, c) => a * c, 1);
        const x = uniform(rng, size);
        const y = uniform(rng, size);
        const X = b.tensor(x, shape);
        const scaled = await b.scale(X, -0.75);
        expect(scaled.shape).toEqual(shape);
        expectWithin(await b.read(scaled), Float64Array.from(x, (v) => -0.75 * v), relative(2 * U, 0), `scale ${shape}`);
        const Y = b.tensor(y, shape);
        await b.axpy(0.3, X, Y);
        expectWithin(await b.read(Y), Float64Array.from(y, (v, i) => v + 0.3 * x[i]), (i) => 3 * U * (Math.abs(y[i]) + Math.abs(0.3 * x[i])), `axpy ${shape}`);
        const copied = await b.copy(X);
        expect(copied.shape).toEqual(shape);
        expect(Array.from(await b.read(copied))).toEqual(Array.from(x));
        await b.fill(copied, 2.5);
        expect(Array.from(await b.read(copied))).toEqual(new Array(size).fill(2.5));
        expect(Array.from(await b.read(X))).toEqual(Array.from(x));
      }
    });

    run('block norms (l2 and max) match the reference', async (b) => {
      for (const shape of [[7, 8, 8], [3, 5, 5], [1, 32, 32], [0, 8, 8]]) {
        const [nnz, r, c] = shape;
        const per = r * c;
        const w = uniform(rng, nnz * per);
        const W = b.tensor(w, shape);
        const l2 = new Float64Array(nnz);
        const squares = new Float64Array(nnz);
        const max = new Float64Array(nnz);
        for (let i = 0; i < w.length; i++) {
          const blk = Math.floor(i / per);
          squares[blk] += w[i] * w[i];
          max[blk] = Math.max(max[blk], Math.abs(w[i]));
        }
        squares.forEach((s, i) => (l2[i] = Math.sqrt(s)));
        const norms = await b.blockNorms(W, 'l2');
        expect(norms.shape).toEqual([nnz]);
        expectWithin(await b.read(norms), l2, relative(2 * (per + 4) * U, 0), `l2 norms ${shape}`);
        expect(Array.from(await b.read(await b.blockNorms(W, 'max')))).toEqual(Array.from(max));
      }
    });

    run('gatherBlocks and scatterBlocks move whole blocks, and round-trip', async (b) => {
      const [nnz, bs] = [5, 3];
      const w = uniform(rng, nnz * bs * bs);
      const W = b.tensor(w, [nnz, bs, bs]);
      const ids = Int32Array.from([4, 0, 2]);
      const kept = await b.gatherBlocks(W, ids);
      expect(kept.shape).toEqual([3, bs, bs]);
      const expected = Array.from(ids).flatMap((id) => Array.from(w.subarray(id * bs * bs, (id + 1) * bs * bs)));
      expect(Array.from(await b.read(kept))).toEqual(expected);
      const regrown = await b.scatterBlocks(kept, Int32Array.from([1, 5, 3]), 6);
      expect(regrown.shape).toEqual([6, bs, bs]);
      const scattered = await b.read(regrown);
      const block = (arr: Float32Array, i: number) => Array.from(arr.subarray(i * bs * bs, (i + 1) * bs * bs));
      for (const [j, id] of [1, 5, 3].entries()) expect(block(scattered, id)).toEqual(expected.slice(j * bs * bs, (j + 1) * bs * bs));
      for (const id of [0, 2, 4]) expect(block(scattered, id)).toEqual(new Array(bs * bs).fill(0));
      expect(Array.from(await b.read(await b.gatherBlocks(regrown, Int32Array.from([1, 5, 3]))))).toEqual(expected);
      // per-block state of one value (log alpha) and no blocks at all
      const logAlpha = b.tensor(Float32Array.from([10, 11, 12, 13, 14]), [5]);
      expect(Array.from(await b.read(await b.gatherBlocks(logAlpha, Int32Array.from([3, 3, 1]))))).toEqual([13, 13, 11]);
      expect((await b.gatherBlocks(W, new Int32Array(0))).shape).toEqual([0, bs, bs]);
      expect(Array.from(await b.read(await b.scatterBlocks(b.zeros([0]), new Int32Array(0), 2)))).toEqual([0, 0]);
    });

    run('hard-concrete gates, their gradient and the L0 penalty: closed values and the reference', async (b) => {
      const one = (v: number) => b.tensor(Float32Array.from([v]), [1]);
      // logAlpha = 0, u = 0.5: sigmoid(0) (zeta - gamma) + gamma = 0.5 * 1.2 - 0.1 = 0.5, with or without noise.
      expect((await b.read(await b.hardConcreteGates(one(0), one(0.5))))[0]).toBeCloseTo(0.5, 6);
      expect((await b.read(await b.hardConcreteGates(one(0), null)))[0]).toBeCloseTo(0.5, 6);
      // d gate / d logAlpha there: 1.2 * 1/4 / beta = 0.45 with noise, 1.2 / 4 = 0.3 without.
      expect((await b.read(await b.hardConcreteGrad(one(0), one(0.5), one(1))))[0]).toBeCloseTo(0.45, 6);
      expect((await b.read(await b.hardConcreteGrad(one(0), null, one(2))))[0]).toBeCloseTo(0.6, 6);
      // Clamped: gates exactly 1 and 0, zero gradient.
      const ends = b.tensor(Float32Array.from([10, -10]), [2]);
      expect(Array.from(await b.read(await b.hardConcreteGates(ends, null)))).toEqual([1, 0]);
      expect(Array.from(await b.read(await b.hardConcreteGrad(ends, null, b.tensor(Float32Array.from([1, 1]), [2]))))).toEqual([0, 0]);
      // P(gate != 0) = 1/2 where logAlpha = beta log(-gamma / zeta); its derivative is 1/4.
      const half = await b.l0Penalty(one(L0_SHIFT));
      expect(half.value.shape).toEqual([1]);
      expect((await b.read(half.value))[0]).toBeCloseTo(0.5, 6);
      expect((await b.read(half.grad))[0]).toBeCloseTo(0.25, 6);
      // A fuller gate temperature, and the defaults spelled out, agree.
      expect((await b.read(await b.hardConcreteGates(one(0), one(0.5), { beta: 0.5, gamma: -0.2, zeta: 1.2 })))[0]).toBeCloseTo(0.5, 6);

      const nnz = 300;
      const logAlpha = uniform(rng, nnz, -3, 3);
      const u = uniform(rng, nnz, 0.05, 0.95);
      const dg = uniform(rng, nnz);
      const LA = b.tensor(logAlpha, [nnz]);
      for (const noise of [u, null]) {
        const ui = (i: number) => (noise ? noise[i] : null);
        const gates = Float64Array.from(logAlpha, (la, i) => refGate(la, ui(i)));
        const grad = Float64Array.from(logAlpha, (la, i) => refGateGrad(la, ui(i), dg[i]));
        const nearKink = (i: number) => Math.min(Math.abs(stretched(logAlpha[i], ui(i))), Math.abs(stretched(logAlpha[i], ui(i)) - 1)) < 1e-4;
        const smooth = pick(rng, nnz, 8).filter((i) => !nearKink(i));
        expectGradient((las) => las.reduce((s, la, i) => s + dg[i] * refGate(la, ui(i)), 0), logAlpha, grad, 'hard-concrete gradient', smooth);
        const U_ = noise ? b.tensor(noise, [nnz]) : null;
        expectWithin(await b.read(await b.hardConcreteGates(LA, U_)), gates, relative(2 ** -19), `gates, noise ${!!noise}`);
        expectWithin(await b.read(await b.hardConcreteGrad(LA, U_, b.tensor(dg, [nnz]))), grad, relative(2 ** -19), `gate gradient, noise ${!!noise}`, nearKink);
      }
      const probability = Float64Array.from(logAlpha, (la) => sigmoid(la - L0_SHIFT));
      const value = probability.reduce((s, p) => s + p, 0);
      const l0Grad = Float64Array.from(probability, (p) => p * (1 - p));
      expectGradient((las) => las.reduce((s, la) => s + sigmoid(la - L0_SHIFT), 0), logAlpha, l0Grad, 'L0 gradient', pick(rng, nnz, 6));
      const l0 = await b.l0Penalty(LA);
      // a sum of nnz positive terms, each within 2^-18 relative (exp and one division)
      expectWithin(await b.read(l0.value), [value], relative(2 * nnz * U + 2 ** -18, 0), 'L0 value');
      expectWithin(await b.read(l0.grad), l0Grad, relative(2 ** -19, 0.25), 'L0 gradient');
      expect(Array.from(await b.read((await b.l0Penalty(b.zeros([0]))).value))).toEqual([0]);
    });

    run('the LSTM cell and its gradient match the reference (gradients checked by finite differences first), H no multiple of 4 included', async (b) => {
      // The reference gradient against central differences of the float64 cell: the loss
      // sum(dh h) + sum(dc c) as a function of z and cPrev.
      {
        const [n, hidden] = [2, 3];
        const z = uniform(rng, 4 * n * hidden, -2, 2);
        const cp = uniform(rng, n * hidden);
        const [dh, dc] = [uniform(rng, n * hidden), uniform(rng, n * hidden)];
        const loss = (zs: ArrayLike<number>, cps: ArrayLike<number>) => {
          const out = refLstmFromZ(zs, cps, n, hidden);
          return out.h.reduce((acc, v, i) => acc + dh[i] * v + dc[i] * out.c[i], 0);
        };
        const fwd = refLstmFromZ(z, cp, n, hidden);
        const grads = refLstmGrad(fwd.gates, cp, fwd.c, dh, dc, n, hidden);
        expectGradient((zs) => loss(zs, cp), z, grads.dz, 'LSTM dz', Array.from({ length: 4 * n * hidden }, (_, i) => i));
        expectGradient((cps) => loss(z, cps), cp, grads.dcPrev, 'LSTM dcPrev', Array.from({ length: n * hidden }, (_, i) => i));
      }
      const bindingBytes = (b as { limits?: { maxBindingBytes: number } }).limits?.maxBindingBytes ?? Infinity;
      // [70, 131]: two CPU units of 8192 items, split inside a row.
      for (const [n, hidden] of [[1, 1], [1, 3], [3, 5], [4, 8], [2, 13], [70, 131]] as [number, number][]) {
        if (16 * n * hidden > bindingBytes) continue; // the WebGPU test backend cut to a few KB of binding
        const size = n * hidden;
        const rec = uniform(rng, 4 * size, -4, 4);
        const inp = uniform(rng, 4 * size, -4, 4);
        const bias = uniform(rng, 4 * hidden);
        const cp = uniform(rng, size, -2, 2);
        const z = Float64Array.from(rec, (v, i) => v + inp[i] + bias[i % (4 * hidden)]);
        const ref = refLstmFromZ(z, cp, n, hidden);
        const Cp = b.tensor(cp, [n, hidden]);
        const out = await b.lstmCell(b.tensor(rec, [n, 4 * hidden]), b.tensor(inp, [n, 4 * hidden]), b.tensor(bias, [4 * hidden]), Cp);
        expect([out.h.shape, out.c.shape, out.gates.shape]).toEqual([[n, hidden], [n, hidden], [n, 4 * hidden]]);
        // each gate's bound (the item's magnitudes S), then c's and h's
        const gateBound = (k: number) => 2 ** -19 + 2 * U * (Math.abs(rec[k]) + Math.abs(inp[k]) + Math.abs(bias[k % (4 * hidden)]));
        const gateAt = (s: number, k: number) => Math.floor(s / hidden) * 4 * hidden + k * hidden + (s % hidden);
        const cBound = (s: number) => Math.abs(cp[s]) * gateBound(gateAt(s, 1)) + gateBound(gateAt(s, 0)) + gateBound(gateAt(s, 2)) + 2 * U * (Math.abs(cp[s]) + 1);
        const what = `lstmCell [${n}, ${hidden}]`;
        const gates = await b.read(out.gates);
        const c = await b.read(out.c);
        expectWithin(gates, ref.gates, (k) => gateBound(k), `${what} gates`);
        expectWithin(c, ref.c, (s) => cBound(s), `${what} c`);
        expectWithin(await b.read(out.h), ref.h, (s) => gateBound(gateAt(s, 3)) + 2 ** -19 + cBound(s) + U, `${what} h`);
        // The same step read from rows [2, 2 + n) of a longer input: the same bytes.
        if (16 * (n + 3) * hidden <= bindingBytes) {
          const longer = new Float32Array(4 * hidden * (n + 3)).fill(Number.NaN);
          longer.set(inp, 2 * 4 * hidden);
          const offset = await b.lstmCell(b.tensor(rec, [n, 4 * hidden]), b.tensor(longer, [n + 3, 4 * hidden]), b.tensor(bias, [4 * hidden]), Cp, 2);
          for (const [x, y] of [[offset.h, out.h], [offset.c, out.c], [offset.gates, out.gates]] as const) {
            expect(Array.from(await b.read(x)), `${what} from row 2 of a longer input`).toEqual(Array.from(await b.read(y)));
          }
        }

        const dh = uniform(rng, size);
        const dc = uniform(rng, size);
        const args = [out.gates, Cp, out.c, b.tensor(dh, [n, hidden])] as const;
        for (const withDc of [true, false]) {
          const grad = await b.lstmCellGrad(...args, withDc ? b.tensor(dc, [n, hidden]) : null);
          expect([grad.dz.shape, grad.dcPrev.shape]).toEqual([[n, 4 * hidden], [n, hidden]]);
          const refGrad = refLstmGrad(gates, cp, c, dh, withDc ? dc : null, n, hidden);
          const bound = (s: number) => 2 ** -17 * (Math.abs(dh[s]) + (withDc ? Math.abs(dc[s]) : 0)) * (1 + Math.abs(cp[s]));
          const item = (k: number) => Math.floor(k / (4 * hidden)) * hidden + (k % hidden);
          expectWithin(await b.read(grad.dz), refGrad.dz, (k, e) => bound(item(k)) + 4 * U * Math.abs(e), `${what} dz, dc ${withDc}`);
          expectWithin(await b.read(grad.dcPrev), refGrad.dcPrev, (s, e) => bound(s) + 4 * U * Math.abs(e), `${what} dcPrev, dc ${withDc}`);
        }
        // dc null is dc = 0, to the bit
        const none = await b.lstmCellGrad(...args, null);
        const zeros = await b.lstmCellGrad(...args, b.zeros([n, hidden]));
        expect(await b.read(none.dz)).toEqual(await b.read(zeros.dz));
        expect(await b.read(none.dcPrev)).toEqual(await b.read(zeros.dcPrev));
      }
    });

    run('the LSTM cell saturates without NaN for large |z|', async (b) => {
      const [n, hidden] = [2, 5];
      const big = [1e4, -1e4, 100, -100, 30, -30, 3e38, -3e38, 0, 1];
      const rec = Float32Array.from({ length: 4 * n * hidden }, (_, k) => big[(k * 7) % big.length]);
      const cp = Float32Array.from({ length: n * hidden }, (_, s) => (s % 2 ? 50 : -1e4));
      const out = await b.lstmCell(b.tensor(rec, [n, 4 * hidden]), b.zeros([n, 4 * hidden]), b.zeros([4 * hidden]), b.tensor(cp, [n, hidden]));
      const ref = refLstmFromZ(rec, cp, n, hidden);
      const [gates, c, h] = [await b.read(out.gates), await b.read(out.c), await b.read(out.h)];
      for (const [got, name] of [[gates, 'gates'], [c, 'c'], [h, 'h']] as [Float32Array, string][]) expect(got.every(Number.isFinite), name).toBe(true);
      // Saturated gates are exactly 0, 1 or -1 (the g block: tanh); the rest within 2^-19.
      for (let k = 0; k < gates.length; k++) {
        const tanhGate = Math.floor(k / hidden) % 4 === 2;
        if (Math.abs(rec[k]) >= 1e4) expect(gates[k], `gate ${k} of z = ${rec[k]}`).toBe(tanhGate ? Math.sign(rec[k]) : rec[k] > 0 ? 1 : 0);
      }
      expectWithin(gates, ref.gates, () => 2 ** -19, 'saturated gates');
      expectWithin(c, ref.c, (s) => (Math.abs(cp[s]) + 2) * 2 ** -19, 'saturated c');
      expectWithin(h, ref.h, (s) => (Math.abs(cp[s]) + 4) * 2 ** -19, 'saturated h');
      const grad = await b.lstmCellGrad(out.gates, out.c, out.c, b.tensor(new Float32Array(n * hidden).fill(1), [n, hidden]), null);
      expect((await b.read(grad.dz)).every(Number.isFinite)).toBe(true);
      expect((await b.read(grad.dcPrev)).every(Number.isFinite)).toBe(true);

      // Shapes: 4H columns, matching operands, named.
      await expect(b.lstmCell(b.zeros([2, 6]), b.zeros([2, 6]), b.zeros([6]), b.zeros([2, 1]))).rejects.toThrow(/recurrent has shape \[2, 6\] but must be \[N, 4H\]/);
      await expect(b.lstmCell(b.zeros([2, 8]), b.zeros([3, 8]), b.zeros([8]), b.zeros([2, 2]))).rejects.toThrow(ShapeError);
      await expect(b.lstmCell(b.zeros([2, 8]), b.zeros([3, 8]), b.zeros([8]), b.zeros([2, 2]), 2)).rejects.toThrow(/inputRow must be an integer in \[0, 1\] \(got 2\)/);
      await expect(b.lstmCell(b.zeros([2, 8]), b.zeros([3, 12]), b.zeros([8]), b.zeros([2, 2]), 0)).rejects.toThrow(/input has shape \[3, 12\] but recurrent \[2, 8\] needs \[R, 8\]/);
      await expect(b.lstmCell(b.zeros([2, 8]), b.zeros([2, 8]), b.zeros([4]), b.zeros([2, 2]))).rejects.toThrow(/bias has shape \[4\]/);
      await expect(b.lstmCell(b.zeros([2, 8]), b.zeros([2, 8]), b.zeros([8]), b.zeros([2, 3]))).rejects.toThrow(/cPrev has shape \[2, 3\] but recurrent \[2, 8\] needs \[2, 2\]/);
      await expect(b.lstmCellGrad(b.zeros([2, 8]), b.zeros([2, 2]), b.zeros([2, 2]), b.zeros([2, 2]), b.zeros([1, 2]))).rejects.toThrow(/dc has shape \[1, 2\]/);
    });

    run('copyRows, sliceRows and gatherRows move rows exactly; out-of-range rows and indices are named', async (b) => {
      const [m, w] = [6, 5];
      const d = uniform(rng, m * w);
      const s = uniform(rng, 2 * w);
      const rowsOf = (a: Float32Array, from: number, count: number) => Array.from(a.subarray(from * w, (from + count) * w));
      for (const row of [0, 3, 4]) {
        const dst = b.tensor(d, [m, w]);
        expect(await b.copyRows(b.tensor(s, [2, w]), dst, row)).toBeUndefined();
        const expected = Array.from(d);
        expected.splice(row * w, 2 * w, ...Array.from(s));
        expect(Array.from(await b.read(dst)), `copyRows at row ${row}`).toEqual(expected);
      }
      const all = b.tensor(d, [m, w]);
      const whole = b.zeros([m, w]);
      await b.copyRows(all, whole, 0);
      expect(await b.read(whole)).toEqual(d);
      for (const [row, count] of [[0, 1], [4, 2], [0, 6], [2, 0]]) {
        const slice = await b.sliceRows(all, row, count);
        expect(slice.shape).toEqual([count, w]);
        expect(Array.from(await b.read(slice)), `sliceRows(${row}, ${count})`).toEqual(rowsOf(d, row, count));
      }
      const index = Int32Array.from([5, 0, 5, 5, 2]);
      const gathered = await b.gatherRows(all, index);
      expect(gathered.shape).toEqual([5, w]);
      expect(Array.from(await b.read(gathered))).toEqual(Array.from(index).flatMap((v) => rowsOf(d, v, 1)));
      expect(Array.from(await b.read(await b.gatherRows(b.tensor(Float32Array.from([7, 8, 9]), [3, 1]), Int32Array.from([2, 2, 0]))))).toEqual([9, 9, 7]);

      // The CPU splits these into units of 8192 elements.
      const bindingBytes = (b as { limits?: { maxBindingBytes: number } }).limits?.maxBindingBytes ?? Infinity;
      if (4 * 40 * 301 <= bindingBytes) {
        const big = uniform(rng, 40 * 301);
        const B = b.tensor(big, [40, 301]);
        const seq = b.zeros([80, 301]);
        await b.copyRows(B, seq, 40);
        expect(await b.read(await b.sliceRows(seq, 40, 40))).toEqual(big);
        expect(Array.from((await b.read(seq)).subarray(0, 40 * 301))).toEqual(new Array(40 * 301).fill(0));
        const order = Int32Array.from({ length: 40 }, (_, r) => 39 - r);
        const reversed = await b.read(await b.gatherRows(B, order));
        for (const r of [0, 17, 39]) expect(Array.from(reversed.subarray(r * 301, (r + 1) * 301))).toEqual(Array.from(big.subarray((39 - r) * 301, (40 - r) * 301)));
      }

      const two = b.tensor(s, [2, w]);
      await expect(b.copyRows(two, all, 5)).rejects.toThrow(/row must be an integer in \[0, 4\]/);
      await expect(b.copyRows(two, all, -1)).rejects.toThrow(ParameterError);
      await expect(b.copyRows(two, all, 1.5)).rejects.toThrow(/row/);
      await expect(b.copyRows(two, b.zeros([6, 4]), 0)).rejects.toThrow(/src has shape \[2, 5\] and dst has shape \[6, 4\]/);
      await expect(b.copyRows(all, b.zeros([1, w]), 0)).rejects.toThrow(ShapeError);
      await expect(b.copyRows(all, all, 0)).rejects.toThrow(ParameterError);
      await expect(b.sliceRows(all, 5, 2)).rejects.toThrow(/row must be an integer in \[0, 4\]/);
      await expect(b.sliceRows(all, 0, 7)).rejects.toThrow(/count/);
      await expect(b.gatherRows(all, Int32Array.from([0, 6]))).rejects.toThrow(/index\[1\] must be a row of table in \[0, 6\)/);
      await expect(b.gatherRows(all, Int32Array.from([-1]))).rejects.toThrow(/index\[0\]/);
      await expect(b.gatherRows(all, new Int32Array(0))).rejects.toThrow(/index must be an Int32Array of at least one/);
      await expect(b.gatherRows(all, [0, 1] as unknown as Int32Array)).rejects.toThrow(ParameterError);
    });

    run('scatterAddRows sums in increasing r (the same bytes as a float32 loop), zero for rows that receive nothing', async (b) => {
      const cases: [number, number, Int32Array, number][] = [
        [5, 4, Int32Array.from([3, 3, 0, 8, 3]), 9], // rows 1, 2, 4 .. 7 receive nothing
        [1, 3, Int32Array.from([0]), 1],
        [150, 7, Int32Array.from({ length: 150 }, (_, r) => (r * r) % 3), 5], // many repeats; rows 3, 4 empty
        [6, 1, Int32Array.from([2, 0, 2, 2, 0, 2]), 3],
        [3000, 67, Int32Array.from({ length: 3000 }, (_, r) => (r * 7919) % 450), 500], // CPU: 5 units of 122 rows; rows 450 .. 499 empty
      ];
      const bindingBytes = (b as { limits?: { maxBindingBytes: number } }).limits?.maxBindingBytes ?? Infinity;
      for (const [count, width, index, rows] of cases) {
        if (4 * count * width > bindingBytes) continue;
        // values of mixed magnitudes, so that the order of the additions shows in the bits
        const dy = Float32Array.from(uniform(rng, count * width), (v, i) => v * 2 ** ((i * 5) % 17 - 8));
        const out = await b.scatterAddRows(b.tensor(dy, [count, width]), index, rows);
        expect(out.shape).toEqual([rows, width]);
        const got = await b.read(out);
        expect(got, `scatterAddRows [${count}, ${width}] into ${rows}`).toEqual(float32ScatterAdd(dy, index, rows, width));
        // and within the float64 sum's bound
        const sums = new Float64Array(rows * width);
        const abs = new Float64Array(rows * width);
        index.forEach((v, r) => {
          for (let j = 0; j < width; j++) {
            sums[v * width + j] += dy[r * width + j];
            abs[v * width + j] += Math.abs(dy[r * width + j]);
          }
        });
        expectWithinBound(got, sums, abs, count, `scatterAddRows [${count}, ${width}] against float64`);
      }
      // the adjoint of gatherRows: <gatherRows(T, idx), dy> = <T, scatterAddRows(dy, idx, V)>
      const index = Int32Array.from([1, 3, 1, 0]);
      const table = uniform(rng, 4 * 3);
      const dy = uniform(rng, 4 * 3);
      const gathered = await b.read(await b.gatherRows(b.tensor(table, [4, 3]), index));
      const scattered = await b.read(await b.scatterAddRows(b.tensor(dy, [4, 3]), index, 4));
      const dot = (x: Float32Array, y: Float32Array) => x.reduce((acc, v, i) => acc + v * y[i], 0);
      expect(Math.abs(dot(gathered, dy) - dot(table, scattered))).toBeLessThanOrEqual(1e-5);

      const two = b.zeros([2, 3]);
      await expect(b.scatterAddRows(two, Int32Array.from([0]), 2)).rejects.toThrow(/index has 1 entries but dy \[2, 3\] has 2 rows/);
      await expect(b.scatterAddRows(two, Int32Array.from([0, 2]), 2)).rejects.toThrow(/index\[1\] must be an output row in \[0, 2\)/);
      await expect(b.scatterAddRows(two, Int32Array.from([0, 0]), 0)).rejects.toThrow(/rows/);
    });

    run('sumSquares is the sum of the squared elements, within the bound of a sum, and batches (a global norm)', async (b) => {
      const bindingBytes = (b as { limits?: { maxBindingBytes: number } }).limits?.maxBindingBytes ?? Infinity;
      for (const shape of [[1], [3, 5], [1, 1025], [2, 3, 67], [30000], [40, 1500]]) {
        const size = shape.reduce((a, c) => a * c, 1);
        if (4 * size > bindingBytes) continue;
        const x = uniform(rng, size, -3, 3);
        const out = await b.sumSquares(b.tensor(x, shape));
        expect(out.shape).toEqual([1]);
        const ref = x.reduce((acc, v) => acc + v * v, 0);
        expectWithinBound(await b.read(out), Float64Array.of(ref), Float64Array.of(ref), size, `sumSquares ${shape}`);
      }
      expect(Array.from(await b.read(await b.sumSquares(b.tensor(Float32Array.from([3]), [1]))))).toEqual([9]);
      expect(Array.from(await b.read(await b.sumSquares(b.zeros([0, 3]))))).toEqual([0]);
      const parts = [uniform(rng, 67), uniform(rng, 5 * 7)];
      const tensors = [b.tensor(parts[0], [67]), b.tensor(parts[1], [5, 7])];
      const batched = await b.batch('sumSquares', tensors.map((t) => [t] as [Tensor]));
      for (let i = 0; i < 2; i++) expect(await b.read(batched[i])).toEqual(await b.read(await b.sumSquares(tensors[i])));
    });

    run('maxPool2d, avgPool2d and their gradients match the reference (kernels 2, 3, strides 1, 2, padding 0, 1, ties; gradients checked by finite differences first)', async (b) => {
      for (const { shape, params } of POOL_CASES) {
        const g = resolvePool2d(params);
        const s = poolShape(shape, params);
        const what = `${JSON.stringify(params)} on [${shape.join(', ')}]`;
        const outShape = [s.n, ...s.outputSize, s.channels];
        const size = shape.reduce((a, c) => a * c, 1);
        const dy = uniform(rng, outShape.reduce((a, c) => a * c, 1));
        const DY = b.tensor(dy, outShape);
        // Most windows an input position is in (for the gradients' sums).
        const windows = Math.ceil(g.kernel[0] / g.stride[0]) * Math.ceil(g.kernel[1] / g.stride[1]);
        const taps = g.kernel[0] * g.kernel[1];
        for (const [kind, x] of [['random', uniform(rng, size)], ['tied', tied(rng, size)]] as const) {
          if (kind === 'random') {
            // The references' gradients against central differences of their forwards (no ties here: differentiable).
            const coords = pick(rng, size, 6);
            expectGradient((xs) => dot(referenceMaxPool2d(g, s, xs), dy), x, referenceMaxPool2dGrad(g, s, x, dy), `max pooling's gradient ${what}`, coords);
            expectGradient((xs) => dot(referenceAvgPool2d(g, s, xs), dy), x, referenceAvgPool2dGrad(g, s, dy), `average pooling's gradient ${what}`, coords);
          }
          const X = b.tensor(x, shape);
          const y = await b.maxPool2d(X, params);
          expect(y.shape, what).toEqual(outShape);
          expect(Array.from(await b.read(y)), `maxPool2d ${kind} ${what}`).toEqual(Array.from(referenceMaxPool2d(g, s, x)));
          const dx = await b.maxPool2dGrad(X, DY, params);
          expect(dx.shape).toEqual(shape);
          const absDy = Float64Array.from(dy, Math.abs);
          expectWithinBound(await b.read(dx), referenceMaxPool2dGrad(g, s, x, dy), referenceMaxPool2dGrad(g, s, x, absDy), windows + 1, `maxPool2dGrad ${kind} ${what}`);
          const avg = await b.avgPool2d(X, params);
          expect(avg.shape).toEqual(outShape);
          expectWithinBound(await b.read(avg), referenceAvgPool2d(g, s, x), referenceAvgPool2d(g, s, Float64Array.from(x, Math.abs)), taps + 1, `avgPool2d ${kind} ${what}`);
          if (kind === 'random') {
            const avgDx = await b.avgPool2dGrad(DY, { ...params, inputSize: [shape[1], shape[2]] });
            expect(avgDx.shape).toEqual(shape);
            expectWithinBound(await b.read(avgDx), referenceAvgPool2dGrad(g, s, dy), referenceAvgPool2dGrad(g, s, absDy), windows + 1, `avgPool2dGrad ${what}`);
          }
        }
      }
      // A window in a corner, with padding, whose values are all -1: the padding is -infinity, not 0.
      const corner = await b.maxPool2d(b.tensor(new Float32Array(9).fill(-1), [1, 3, 3, 1]), { kernel: 3, stride: 2, padding: 1 });
      expect(Array.from(await b.read(corner))).toEqual([-1, -1, -1, -1]);
      // Ties go to the first maximum in row-major window order (PyTorch's choice), summed over windows.
      const ones = b.tensor(new Float32Array(9).fill(1), [1, 3, 3, 1]);
      const firsts = await b.maxPool2dGrad(ones, b.tensor(new Float32Array(4).fill(1), [1, 2, 2, 1]), { kernel: 2, stride: 1 });
      expect(Array.from(await b.read(firsts))).toEqual([1, 1, 0, 1, 1, 0, 0, 0, 0]);
      const hills = b.tensor(Float32Array.from([0, 2, 2, 2, 2, 0, 2, 0, 2]), [1, 3, 3, 1]);
      const shared = await b.maxPool2dGrad(hills, b.tensor(new Float32Array(4).fill(1), [1, 2, 2, 1]), { kernel: 2, stride: 1 });
      expect(Array.from(await b.read(shared))).toEqual([0, 2, 0, 1, 1, 0, 0, 0, 0]);
      // One pass over several calls.
      const [p, q] = [POOL_CASES[0], POOL_CASES[2]];
      const inputs = [uniform(rng, p.shape.reduce((a, c) => a * c, 1)), uniform(rng, q.shape.reduce((a, c) => a * c, 1))];
      const batched = await b.batch('avgPool2d', [[b.tensor(inputs[0], p.shape), p.params], [b.tensor(inputs[1], q.shape), q.params]]);
      for (const [i, c] of [p, q].entries()) {
        const g = resolvePool2d(c.params);
        const s = poolShape(c.shape, c.params);
        expectWithinBound(await b.read(batched[i]), referenceAvgPool2d(g, s, inputs[i]), referenceAvgPool2d(g, s, Float64Array.from(inputs[i], Math.abs)), 10, 'batched avgPool2d');
      }
    });

    run('globalAvgPool and its gradient match the reference (gradient checked by finite differences first)', async (b) => {
      // At most 1088 floats a tensor: the split WebGPU backend binds at most 4352 bytes.
      for (const [n, h, w, c] of [[1, 1, 1, 1], [2, 3, 5, 6], [3, 5, 7, 9], [1, 2, 3, 130]] as [number, number, number, number][]) {
        const size = n * h * w * c;
        const x = uniform(rng, size);
        const dy = uniform(rng, n * c);
        const ref = referenceGlobalAvgPool(n, [h, w], c, x);
        const refGrad = referenceGlobalAvgPoolGrad(n, [h, w], c, dy);
        expectGradient((xs) => dot(referenceGlobalAvgPool(n, [h, w], c, xs), dy), x, refGrad, `global average pooling's gradient [${n}, ${h}, ${w}, ${c}]`, pick(rng, size, 4));
        const y = await b.globalAvgPool(b.tensor(x, [n, h, w, c]));
        expect(y.shape).toEqual([n, c]);
        expectWithinBound(await b.read(y), ref, referenceGlobalAvgPool(n, [h, w], c, Float64Array.from(x, Math.abs)), h * w + 1, `globalAvgPool [${n}, ${h}, ${w}, ${c}]`);
        const dx = await b.globalAvgPoolGrad(b.tensor(dy, [n, c]), [h, w]);
        expect(dx.shape).toEqual([n, h, w, c]);
        expectWithinBound(await b.read(dx), refGrad, referenceGlobalAvgPoolGrad(n, [h, w], c, Float64Array.from(dy, Math.abs)), 2, `globalAvgPoolGrad [${n}, ${h}, ${w}, ${c}]`);
      }
    });

    run('pooling raises ParameterError for a bad window and ShapeError for shapes that do not fit', async (b) => {
      const x = b.zeros([1, 4, 4, 2]);
      await expect(b.maxPool2d(x, { kernel: 2, padding: 2 })).rejects.toThrow(/padding must be at most half the kernel/);
      await expect(b.avgPool2d(x, { kernel: 0 })).rejects.toThrow(ParameterError);
      await expect(b.maxPool2d(x, { kernel: 2, stride: 1.5 })).rejects.toThrow(ParameterError);
      await expect(b.maxPool2d(x, { kernel: 5 })).rejects.toThrow(ShapeError);
      await expect(b.maxPool2d(b.zeros([4, 4, 2]), { kernel: 2 })).rejects.toThrow(/\[N, H, W, C\]/);
      await expect(b.maxPool2dGrad(x, b.zeros([1, 3, 3, 2]), { kernel: 2 })).rejects.toThrow(/dy has shape \[1, 3, 3, 2\].*\[1, 2, 2, 2\]/);
      await expect(b.avgPool2dGrad(b.zeros([1, 2, 2, 2]), { kernel: 2, inputSize: [6, 6] })).rejects.toThrow(/\[N, 3, 3, C\]/);
      await expect(b.avgPool2dGrad(b.zeros([1, 2, 2, 2]), { kernel: 2 } as unknown as { kernel: number; inputSize: [number, number] })).rejects.toThrow(/inputSize/);
      await expect(b.globalAvgPool(b.zeros([2, 3]))).rejects.toThrow(ShapeError);
      await expect(b.globalAvgPoolGrad(b.zeros([2, 3]), [0, 2])).rejects.toThrow(/inputSize\[0\]/);
    });

    run('operations keep call order with the products: an in-place step never overtakes a product reading its tensor', async (b) => {
      const layout = randomLayout({ inBlocks: 2, outBlocks: 3, density: 0.7, blockSize: 8, seed: 3 });
      const n = 5;
      const x = uniform(rng, n * layout.inFeatures);
      const w = uniform(rng, layout.nnz * 64);
      const X = b.tensor(x, [n, layout.inFeatures]);
      const W = b.tensor(w, [layout.nnz, 8, 8]);
      const y = b.forward(layout, X, W);
      const steps = [b.fill(X, 0), b.sgdStep(W, b.tensor(new Float32Array(w.length).fill(1), [layout.nnz, 8, 8]), null, { lr: 0.5 })];
      const read = b.read(W); // waits for the step
      expectWithinBound(await b.read(await y), referenceForward(layout, x, n, w), referenceForward(layout, Float64Array.from(x, Math.abs), n, Float64Array.from(w, Math.abs)), layout.inFeatures, 'forward before the in-place steps');
      await Promise.all(steps);
      expect(Array.from(await read)).toEqual(Array.from(w, (v) => Math.fround(v - 0.5)));
      expect(Array.from(await b.read(X))).toEqual(new Array(x.length).fill(0));
    });

    run('raises ShapeError naming both shapes, TensorError for dead tensors, ParameterError for bad options', async (b) => {
      const x = b.tensor(new Float32Array(15), [3, 5]);
      await expect(b.addBias(x, b.tensor(new Float32Array(4), [4]))).rejects.toThrow(ShapeError);
      await expect(b.addBias(x, b.tensor(new Float32Array(4), [4]))).rejects.toThrow(/\[4\].*\[3, 5\]/);
      await expect(b.activationGrad('relu', x, b.tensor(new Float32Array(15), [5, 3]))).rejects.toThrow(/\[3, 5\].*\[5, 3\]/);
      await expect(b.softmaxCrossEntropy(x, b.tensor(new Float32Array(4), [4]))).rejects.toThrow(/labels has shape \[4\] but logits \[3, 5\]/);
      await expect(b.layerNorm(x, b.tensor(new Float32Array(3), [3]), b.tensor(new Float32Array(5), [5]))).rejects.toThrow(/gamma has shape \[3\].*\[3, 5\]/);
      await expect(b.sgdStep(x, b.tensor(new Float32Array(15), [15]), null, { lr: 0.1 })).rejects.toThrow(/\[3, 5\].*\[15\]/);
      await expect(b.sumRows(b.tensor(new Float32Array(15), [15]))).rejects.toThrow(ShapeError);
      await expect(b.scatterBlocks(x, Int32Array.from([0, 1]), 4)).rejects.toThrow(ShapeError);

      const dead = b.tensor(new Float32Array(15), [3, 5]);
      dead.dispose();
      await expect(b.addBias(dead, b.tensor(new Float32Array(5), [5]))).rejects.toThrow(TensorError);
      await expect(b.sgdStep(dead, x, null, { lr: 0.1 })).rejects.toThrow(TensorError);
      await expect(b.hardConcreteGates(dead, null)).rejects.toThrow(TensorError);
      await expect(b.copy(dead)).rejects.toThrow(TensorError);

      const g = b.tensor(new Float32Array(15), [3, 5]);
      await expect(b.sgdStep(x, g, null, { lr: 0.1, momentum: 0.9 })).rejects.toThrow(ParameterError);
      await expect(b.sgdStep(x, g, null, { lr: -1 })).rejects.toThrow(/lr/);
      await expect(b.adamStep(x, g, b.zeros([3, 5]), b.zeros([3, 5]), { lr: 0.1, step: 0 })).rejects.toThrow(/step/);
      await expect(b.adamStep(x, g, x, b.zeros([3, 5]), { lr: 0.1, step: 1 })).rejects.toThrow(ParameterError);
      await expect(b.axpy(1, x, x)).rejects.toThrow(ParameterError);
      await expect(b.activation('softplus' as ActivationKind, x)).rejects.toThrow(/kind/);
      await expect(b.blockNorms(x, 'l1' as 'l2')).rejects.toThrow(ParameterError);
      await expect(b.gatherBlocks(x, Int32Array.from([3]))).rejects.toThrow(/ids\[0\]/);
      await expect(b.scatterBlocks(x, Int32Array.from([0, 2, 0]), 4)).rejects.toThrow(/distinct/);
      const la = b.tensor(new Float32Array(3), [3]);
      await expect(b.hardConcreteGates(la, null, { gamma: 0.1 })).rejects.toThrow(/gamma/);
      await expect(b.hardConcreteGrad(la, null, b.tensor(new Float32Array(4), [4]))).rejects.toThrow(/dgates has shape \[4\]/);
      const foreign = { ...x, backend: { name: 'other' } } as unknown as Tensor;
      await expect(b.scale(foreign, 2)).rejects.toThrow(TensorError);
    });
  });
}
