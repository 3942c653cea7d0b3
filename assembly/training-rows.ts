// The CPU backend's row-wise training operations (grid 'rows': softmaxCrossEntropy, layerNorm,
// layerNormGrad, blockNorms, activationGradBias, scatterAddRows, sumSquares) and `sumColumns`, the sum stage of every training operation, in
// AssemblyScript compiled to WebAssembly SIMD.
//
// Each op is one exported function named after the op, `(args, lo, hi)`: it reads its operands
// and hyper-parameters from the argument block at `args` (assembly/training-args.ts) and
// processes rows [lo, hi) of `width` floats each. The JavaScript side
// (src/kernels/cpu/training-runner.ts) splits the rows into units of `per` rows and may run units
// on several threads at once. Ops with partial sums write one row of them per unit (unit = row /
// per), at the write slot after their outputs; sumColumns then adds those rows up. Units are
// fixed by the sizes alone, and each sums its own rows in a fixed order, so results do not depend
// on the number of threads.
//
// Loops run along a row four floats at a time (f32x4) with a scalar tail of the same formula;
// sums accumulate in float64 (f64x2 lanes: two accumulators for the low and high halves of each
// f32x4, added in a fixed order); sumColumns runs across columns, 8 or 4 at a time. No
// relaxed-SIMD instruction: both builds of the module give the same bytes.

import { expF32, expF32x4 } from './training-math';
import { argA, argB, argC, argD, argE, argF0, argFlag, argO0, argO1, argO2, argPer, argWidth } from './training-args';
import { binary1, binary4, GELU, RELU, SIGMOID, TANH } from './training-maps';

/** The byte address of float i of the array at `base`. */
@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

/** The byte address of float (row * width + j) of the matrix at `base`. */
@inline function cell(base: usize, row: i32, width: i32, j: i32): usize {
  return base + ((<usize>row * <usize>width + <usize>j) << 2);
}

/** The float64 sum of the lanes of two f64x2 accumulators, in a fixed order. */
@inline function lanesSum(a: v128, b: v128): f64 {
  return (f64x2.extract_lane(a, 0) + f64x2.extract_lane(b, 0)) + (f64x2.extract_lane(a, 1) + f64x2.extract_lane(b, 1));
}

/** The high two lanes of an f32x4 as float64 (its low two: f64x2.promote_low_f32x4). */
@inline function promoteHigh(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
}

/** Two f64x2 (lanes 0, 1 and 2, 3) rounded to one f32x4. */
@inline function demote2(lo: v128, hi: v128): v128 {
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** The float64 sum of the n floats at p, in a fixed order. */
@inline function rowSum(p: usize, n: i32): f64 {
  let acc0 = f64x2.splat(0), acc1 = f64x2.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const v = v128.load(p + (<usize>j << 2));
    acc0 = f64x2.add(acc0, f64x2.promote_low_f32x4(v));
    acc1 = f64x2.add(acc1, promoteHigh(v));
  }
  let sum = lanesSum(acc0, acc1);
  for (; j < n; j++) sum += <f64>load<f32>(at(p, j));
  return sum;
}

/** The float64 sum of the squares of the n floats at p: squares in float64 (exact), two vectors a step into four accumulators, added in a fixed order. */
@inline function sumOfSquares(p: usize, n: i32): f64 {
  let j = 0;
  let a0 = f64x2.splat(0), a1 = f64x2.splat(0), b0 = f64x2.splat(0), b1 = f64x2.splat(0);
  for (; j + 8 <= n; j += 8) {
    const o = p + (<usize>j << 2);
    const v = v128.load(o), w = v128.load(o, 16);
    const v0 = f64x2.promote_low_f32x4(v), v1 = promoteHigh(v), w0 = f64x2.promote_low_f32x4(w), w1 = promoteHigh(w);
    a0 = f64x2.add(a0, f64x2.mul(v0, v0));
    a1 = f64x2.add(a1, f64x2.mul(v1, v1));
    b0 = f64x2.add(b0, f64x2.mul(w0, w0));
    b1 = f64x2.add(b1, f64x2.mul(w1, w1));
  }
  if (j + 4 <= n) {
    const v = v128.load(p + (<usize>j << 2));
    const v0 = f64x2.promote_low_f32x4(v), v1 = promoteHigh(v);
    a0 = f64x2.add(a0, f64x2.mul(v0, v0));
    a1 = f64x2.add(a1, f64x2.mul(v1, v1));
    j += 4;
  }
  let sum = lanesSum(a0, a1) + lanesSum(b0, b1);
  for (; j < n; j++) {
    const v = <f64>load<f32>(at(p, j));
    sum += v * v;
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// softmaxCrossEntropy

/**
 * softmaxCrossEntropy: a = logits [N, K = width], b = labels [N] (float class indices); o0 =
 * dlogits = (softmax - onehot(label)) f0 (f0 = 1 / N). Partial sums (2 per unit) at o1: [the sum
 * of the unit's row losses, the count of its rows whose first argmax is the label]. A row's loss
 * is log(sum_j exp(l_j - max)) + max - l[label] (sum and log in float64), NaN when the label is
 * not an integer in [0, K) (then no hit, and the dlogits row is softmax f0 without the onehot).
 * exp(l_j - max) goes to o0 on a first pass (with the sum), then is divided by the sum in place.
 */
export function softmaxCrossEntropy(args: usize, lo: i32, hi: i32): void {
  const logits = argA(args), labels = argB(args), out = argO0(args), partials = argO1(args);
  const k = argWidth(args);
  const invN = argF0(args);
  const per = argPer(args);
  const invNv = f32x4.splat(invN);
  let start = lo;
  while (start < hi) {
    const unit = start / per;
    const end = min(hi, (unit + 1) * per);
    let loss: f64 = 0;
    let hits = 0;
    for (let r = start; r < end; r++) {
      const row = cell(logits, r, k, 0);
      const orow = cell(out, r, k, 0);
      // The largest logit: NaNs never win (unless the first logit is NaN, as a scan with > from l[0]);
      // pmax(m, v) = m < v ? v : m, two accumulators.
      let mx: f32 = k > 0 ? load<f32>(row) : NaN;
      let mv0 = f32x4.splat(mx), mv1 = mv0;
      let j = 0;
      for (; j + 8 <= k; j += 8) {
        const o = <usize>j << 2;
        mv0 = f32x4.pmax(mv0, v128.load(row + o));
        mv1 = f32x4.pmax(mv1, v128.load(row + o, 16));
      }
      if (j + 4 <= k) {
        mv0 = f32x4.pmax(mv0, v128.load(row + (<usize>j << 2)));
        j += 4;
      }
      const mv = f32x4.pmax(mv0, mv1);
      const m0 = f32x4.extract_lane(mv, 0), m1 = f32x4.extract_lane(mv, 1), m2 = f32x4.extract_lane(mv, 2), m3 = f32x4.extract_lane(mv, 3);
      if (m0 > mx) mx = m0;
      if (m1 > mx) mx = m1;
      if (m2 > mx) mx = m2;
      if (m3 > mx) mx = m3;
      for (; j < k; j++) {
        const v = load<f32>(at(row, j));
        if (v > mx) mx = v;
      }
      // Its first position (0 when the maximum is NaN): the first group of 4 holding it, then its lane.
      let argmax = -1;
      const mxv = f32x4.splat(mx);
      for (j = 0; j + 4 <= k; j += 4) {
        const lanes = i32x4.bitmask(f32x4.eq(v128.load(row + (<usize>j << 2)), mxv));
        if (lanes != 0) {
          argmax = j + ctz(lanes);
          break;
        }
      }
      if (argmax < 0) {
        argmax = 0;
        for (; j < k; j++) {
          if (load<f32>(at(row, j)) == mx) {
            argmax = j;
            break;
          }
        }
      }
      const label = load<f32>(at(labels, r));
      const valid = label >= 0 && label < <f32>k && Mathf.floor(label) == label;
      const li = valid ? <i32>label : -1;
      const ll: f32 = valid ? load<f32>(at(row, li)) : 0;
      // exp(l - max) to the output row, and its float64 sum (two vectors a step, four accumulators).
      let a0 = f64x2.splat(0), a1 = f64x2.splat(0), b0 = f64x2.splat(0), b1 = f64x2.splat(0);
      for (j = 0; j + 8 <= k; j += 8) {
        const o = <usize>j << 2;
        const e0 = expF32x4(f32x4.sub(v128.load(row + o), mxv));
        const e1 = expF32x4(f32x4.sub(v128.load(row + o, 16), mxv));
        v128.store(orow + o, e0);
        v128.store(orow + o, e1, 16);
        a0 = f64x2.add(a0, f64x2.promote_low_f32x4(e0));
        a1 = f64x2.add(a1, promoteHigh(e0));
        b0 = f64x2.add(b0, f64x2.promote_low_f32x4(e1));
        b1 = f64x2.add(b1, promoteHigh(e1));
      }
      if (j + 4 <= k) {
        const o = <usize>j << 2;
        const e = expF32x4(f32x4.sub(v128.load(row + o), mxv));
        v128.store(orow + o, e);
        a0 = f64x2.add(a0, f64x2.promote_low_f32x4(e));
        a1 = f64x2.add(a1, promoteHigh(e));
        j += 4;
      }
      let sum = lanesSum(a0, a1) + lanesSum(b0, b1);
      for (; j < k; j++) {
        const e = expF32(load<f32>(at(row, j)) - mx);
        store<f32>(at(orow, j), e);
        sum += <f64>e;
      }
      // dlogits = e / sum * f0, the label's (e / sum - 1) * f0.
      const sumf = <f32>sum;
      const sumv = f32x4.splat(sumf);
      for (j = 0; j + 4 <= k; j += 4) {
        const o = <usize>j << 2;
        v128.store(orow + o, f32x4.mul(f32x4.div(v128.load(orow + o), sumv), invNv));
      }
      for (; j < k; j++) store<f32>(at(orow, j), (load<f32>(at(orow, j)) / sumf) * invN);
      if (valid) {
        store<f32>(at(orow, li), (expF32(ll - mx) / sumf - <f32>1) * invN);
        // log(sum) as log1p(sum - 1) (sum >= 1, and sum - 1 exact below 2): Math.log would bring its
        // lookup table, a data segment, into the module.
        loss += Math.log1p(sum - 1) + <f64>mx - <f64>ll;
        if (argmax == li) hits++;
      } else {
        loss = NaN;
      }
    }
    const p = partials + (<usize>unit << 3);
    store<f32>(p, <f32>loss);
    store<f32>(p, <f32>hits, 4);
    start = end;
  }
}

// ---------------------------------------------------------------------------------------------
// layerNorm

/**
 * layerNorm: a = x [N, F = width], b = gamma [F], c = beta [F], f0 = eps; o0 = y = (x - mean) rstd
 * gamma + beta, o1 = mean [N], o2 = rstd [N] = 1 / sqrt(var + eps) with the biased variance. Mean
 * and variance (two passes, the second about the float64 mean) in float64; y in float32 from the
 * mean split into two float32s (so x - mean loses nothing to the mean's rounding).
 */
export function layerNorm(args: usize, lo: i32, hi: i32): void {
  const x = argA(args), gamma = argB(args), beta = argC(args), y = argO0(args), mean = argO1(args), rstd = argO2(args);
  const width = argWidth(args);
  const eps = <f64>argF0(args);
  const fw = <f64>width;
  for (let r = lo; r < hi; r++) {
    const row = cell(x, r, width, 0);
    const yrow = cell(y, r, width, 0);
    const mu = rowSum(row, width) / fw;
    const muv = f64x2.splat(mu);
    let acc0 = f64x2.splat(0), acc1 = f64x2.splat(0);
    let j = 0;
    for (; j + 4 <= width; j += 4) {
      const v = v128.load(row + (<usize>j << 2));
      const d0 = f64x2.sub(f64x2.promote_low_f32x4(v), muv);
      const d1 = f64x2.sub(promoteHigh(v), muv);
      acc0 = f64x2.add(acc0, f64x2.mul(d0, d0));
      acc1 = f64x2.add(acc1, f64x2.mul(d1, d1));
    }
    let squares = lanesSum(acc0, acc1);
    for (; j < width; j++) {
      const d = <f64>load<f32>(at(row, j)) - mu;
      squares += d * d;
    }
    const rs = 1 / Math.sqrt(squares / fw + eps);
    const muHi = <f32>mu;
    const muLo = <f32>(mu - <f64>muHi);
    const rsf = <f32>rs;
    store<f32>(at(mean, r), muHi);
    store<f32>(at(rstd, r), rsf);
    const hiv = f32x4.splat(muHi), lov = f32x4.splat(muLo), rsv = f32x4.splat(rsf);
    for (j = 0; j + 4 <= width; j += 4) {
      const o = <usize>j << 2;
      const c = f32x4.sub(f32x4.sub(v128.load(row + o), hiv), lov);
      v128.store(yrow + o, f32x4.add(f32x4.mul(f32x4.mul(c, rsv), v128.load(gamma + o)), v128.load(beta + o)));
    }
    for (; j < width; j++) {
      const c = (load<f32>(at(row, j)) - muHi) - muLo;
      store<f32>(at(yrow, j), (c * rsf) * load<f32>(at(gamma, j)) + load<f32>(at(beta, j)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// layerNormGrad

/**
 * layerNormGrad: a = x [N, F = width], b = dy [N, F], c = gamma [F], d = mean [N], e = rstd [N];
 * o0 = dx = rstd (dy gamma - mean_j(dy gamma) - xhat mean_j(dy gamma xhat)), xhat = (x - mean)
 * rstd (the row means in float64). Partial sums (2F per unit) at o1: [sum over the unit's rows of
 * dy xhat (F floats), of dy (F floats)], accumulated in float64 by a pass over the unit's rows
 * per group of 8 (then 4, then 1) columns.
 */
export function layerNormGrad(args: usize, lo: i32, hi: i32): void {
  const x = argA(args), dy = argB(args), gamma = argC(args), mean = argD(args), rstd = argE(args);
  const dx = argO0(args), partials = argO1(args);
  const width = argWidth(args);
  const per = argPer(args);
  const fw = <f64>width;
  let start = lo;
  while (start < hi) {
    const unit = start / per;
    const end = min(hi, (unit + 1) * per);
    // dx, row by row.
    for (let r = start; r < end; r++) {
      const xrow = cell(x, r, width, 0), dyrow = cell(dy, r, width, 0), dxrow = cell(dx, r, width, 0);
      const mu = load<f32>(at(mean, r)), rs = load<f32>(at(rstd, r));
      const muv = f32x4.splat(mu), rsv = f32x4.splat(rs);
      let g0 = f64x2.splat(0), g1 = f64x2.splat(0), gx0 = f64x2.splat(0), gx1 = f64x2.splat(0);
      let j = 0;
      for (; j + 4 <= width; j += 4) {
        const o = <usize>j << 2;
        const xhat = f32x4.mul(f32x4.sub(v128.load(xrow + o), muv), rsv);
        const g = f32x4.mul(v128.load(dyrow + o), v128.load(gamma + o));
        const gx = f32x4.mul(g, xhat);
        g0 = f64x2.add(g0, f64x2.promote_low_f32x4(g));
        g1 = f64x2.add(g1, promoteHigh(g));
        gx0 = f64x2.add(gx0, f64x2.promote_low_f32x4(gx));
        gx1 = f64x2.add(gx1, promoteHigh(gx));
      }
      let sumG = lanesSum(g0, g1), sumGX = lanesSum(gx0, gx1);
      for (; j < width; j++) {
        const xhat = (load<f32>(at(xrow, j)) - mu) * rs;
        const g = load<f32>(at(dyrow, j)) * load<f32>(at(gamma, j));
        sumG += <f64>g;
        sumGX += <f64>(g * xhat);
      }
      const meanG = <f32>(sumG / fw), meanGX = <f32>(sumGX / fw);
      const mgv = f32x4.splat(meanG), mgxv = f32x4.splat(meanGX);
      for (j = 0; j + 4 <= width; j += 4) {
        const o = <usize>j << 2;
        const xhat = f32x4.mul(f32x4.sub(v128.load(xrow + o), muv), rsv);
        const g = f32x4.mul(v128.load(dyrow + o), v128.load(gamma + o));
        v128.store(dxrow + o, f32x4.mul(rsv, f32x4.sub(f32x4.sub(g, mgv), f32x4.mul(xhat, mgxv))));
      }
      for (; j < width; j++) {
        const xhat = (load<f32>(at(xrow, j)) - mu) * rs;
        const g = load<f32>(at(dyrow, j)) * load<f32>(at(gamma, j));
        store<f32>(at(dxrow, j), rs * ((g - meanG) - xhat * meanGX));
      }
    }
    // The unit's partial sums, column group by column group.
    const dg = partials + ((<usize>unit * <usize>width) << 3);
    const db = dg + (<usize>width << 2);
    let j = 0;
    for (; j + 8 <= width; j += 8) {
      let a0 = f64x2.splat(0), a1 = f64x2.splat(0), a2 = f64x2.splat(0), a3 = f64x2.splat(0);
      let b0 = f64x2.splat(0), b1 = f64x2.splat(0), b2 = f64x2.splat(0), b3 = f64x2.splat(0);
      for (let r = start; r < end; r++) {
        const xp = cell(x, r, width, j), dp = cell(dy, r, width, j);
        const muv = f32x4.splat(load<f32>(at(mean, r))), rsv = f32x4.splat(load<f32>(at(rstd, r)));
        const d0 = v128.load(dp), d1 = v128.load(dp, 16);
        const p0 = f32x4.mul(d0, f32x4.mul(f32x4.sub(v128.load(xp), muv), rsv));
        const p1 = f32x4.mul(d1, f32x4.mul(f32x4.sub(v128.load(xp, 16), muv), rsv));
        a0 = f64x2.add(a0, f64x2.promote_low_f32x4(p0));
        a1 = f64x2.add(a1, promoteHigh(p0));
        a2 = f64x2.add(a2, f64x2.promote_low_f32x4(p1));
        a3 = f64x2.add(a3, promoteHigh(p1));
        b0 = f64x2.add(b0, f64x2.promote_low_f32x4(d0));
        b1 = f64x2.add(b1, promoteHigh(d0));
        b2 = f64x2.add(b2, f64x2.promote_low_f32x4(d1));
        b3 = f64x2.add(b3, promoteHigh(d1));
      }
      const o = <usize>j << 2;
      v128.store(dg + o, demote2(a0, a1));
      v128.store(dg + o, demote2(a2, a3), 16);
      v128.store(db + o, demote2(b0, b1));
      v128.store(db + o, demote2(b2, b3), 16);
    }
    for (; j + 4 <= width; j += 4) {
      let a0 = f64x2.splat(0), a1 = f64x2.splat(0), b0 = f64x2.splat(0), b1 = f64x2.splat(0);
      for (let r = start; r < end; r++) {
        const xp = cell(x, r, width, j), dp = cell(dy, r, width, j);
        const muv = f32x4.splat(load<f32>(at(mean, r))), rsv = f32x4.splat(load<f32>(at(rstd, r)));
        const d = v128.load(dp);
        const p = f32x4.mul(d, f32x4.mul(f32x4.sub(v128.load(xp), muv), rsv));
        a0 = f64x2.add(a0, f64x2.promote_low_f32x4(p));
        a1 = f64x2.add(a1, promoteHigh(p));
        b0 = f64x2.add(b0, f64x2.promote_low_f32x4(d));
        b1 = f64x2.add(b1, promoteHigh(d));
      }
      const o = <usize>j << 2;
      v128.store(dg + o, demote2(a0, a1));
      v128.store(db + o, demote2(b0, b1));
    }
    for (; j < width; j++) {
      let a: f64 = 0, b: f64 = 0;
      for (let r = start; r < end; r++) {
        const d = load<f32>(cell(dy, r, width, j));
        const xhat = (load<f32>(cell(x, r, width, j)) - load<f32>(at(mean, r))) * load<f32>(at(rstd, r));
        a += <f64>(d * xhat);
        b += <f64>d;
      }
      store<f32>(at(dg, j), <f32>a);
      store<f32>(at(db, j), <f32>b);
    }
    start = end;
  }
}

// ---------------------------------------------------------------------------------------------
// blockNorms

/**
 * blockNorms: a = w [nnz, width]; o0[row] = flag 0: sqrt(sum w^2) (squares and sum in float64),
 * flag 1: max |w| (NaN if any w is NaN).
 */
export function blockNorms(args: usize, lo: i32, hi: i32): void {
  const w = argA(args), out = argO0(args);
  const width = argWidth(args);
  const maxNorm = argFlag(args) != 0;
  for (let r = lo; r < hi; r++) {
    const row = cell(w, r, width, 0);
    let j = 0;
    if (maxNorm) {
      // f32x4.max keeps NaN, and the largest value does not depend on the order: four accumulators.
      let m0 = f32x4.splat(0), m1 = m0, m2 = m0, m3 = m0;
      for (; j + 16 <= width; j += 16) {
        const o = row + (<usize>j << 2);
        m0 = f32x4.max(m0, f32x4.abs(v128.load(o)));
        m1 = f32x4.max(m1, f32x4.abs(v128.load(o, 16)));
        m2 = f32x4.max(m2, f32x4.abs(v128.load(o, 32)));
        m3 = f32x4.max(m3, f32x4.abs(v128.load(o, 48)));
      }
      for (; j + 4 <= width; j += 4) m0 = f32x4.max(m0, f32x4.abs(v128.load(row + (<usize>j << 2))));
      const mv = f32x4.max(f32x4.max(m0, m1), f32x4.max(m2, m3));
      let m = Mathf.max(Mathf.max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), Mathf.max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
      for (; j < width; j++) m = Mathf.max(m, Mathf.abs(load<f32>(at(row, j))));
      store<f32>(at(out, r), m);
    } else {
      const sum = sumOfSquares(row, width);
      store<f32>(at(out, r), <f32>Math.sqrt(sum));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// activationGradBias

/**
 * dz = dy * f'(z) over rows [lo, hi) of `width` and their column sums into the unit's partial row
 * (float32 sums over the unit's rows), for activation code `op` (inlined per code).
 */
@inline function gradBiasRows(op: i32, z: usize, dy: usize, dz: usize, partial: usize, width: i32, lo: i32, hi: i32): void {
  for (let j = 0; j < width; j++) store<f32>(at(partial, j), 0);
  for (let r = lo; r < hi; r++) {
    const base = <usize>r * <usize>width;
    const zs = z + (base << 2), ds = dy + (base << 2), os = dz + (base << 2);
    let j = 0;
    for (; j + 8 <= width; j += 8) {
      const p = <usize>j << 2;
      const g0 = binary4(op, v128.load(zs + p), v128.load(ds + p));
      const g1 = binary4(op, v128.load(zs + p, 16), v128.load(ds + p, 16));
      v128.store(os + p, g0);
      v128.store(os + p, g1, 16);
      v128.store(partial + p, f32x4.add(v128.load(partial + p), g0));
      v128.store(partial + p, f32x4.add(v128.load(partial + p, 16), g1), 16);
    }
    for (; j + 4 <= width; j += 4) {
      const p = <usize>j << 2;
      const g = binary4(op, v128.load(zs + p), v128.load(ds + p));
      v128.store(os + p, g);
      v128.store(partial + p, f32x4.add(v128.load(partial + p), g));
    }
    for (; j < width; j++) {
      const g = binary1(op, load<f32>(at(zs, j)), load<f32>(at(ds, j)));
      store<f32>(at(os, j), g);
      store<f32>(at(partial, j), load<f32>(at(partial, j)) + g);
    }
  }
}

/**
 * activationGradBias (rows): o0 = dz = b * f'(a) (a = z, b = dy, flag the activation code), and at
 * o1 the unit's partial row of `width` column sums of dz (the bias gradient, summed by the sum stage):
 * activationGrad then sumRows in one pass.
 */
export function activationGradBias(args: usize, lo: i32, hi: i32): void {
  const z = argA(args), dy = argB(args), dz = argO0(args), partials = argO1(args);
  const width = argWidth(args);
  const per = argPer(args);
  const partial = partials + <usize>(lo / per) * (<usize>width << 2);
  const kind = argFlag(args);
  if (kind == RELU) gradBiasRows(RELU, z, dy, dz, partial, width, lo, hi);
  else if (kind == GELU) gradBiasRows(GELU, z, dy, dz, partial, width, lo, hi);
  else if (kind == TANH) gradBiasRows(TANH, z, dy, dz, partial, width, lo, hi);
  else if (kind == SIGMOID) gradBiasRows(SIGMOID, z, dy, dz, partial, width, lo, hi);
}

// ---------------------------------------------------------------------------------------------
// scatterAddRows

/** dst[j] += src[j] for j < n, float32: 16 floats a step, then 4, then 1. */
@inline function addRow(dst: usize, src: usize, n: i32): void {
  let j = 0;
  for (; j + 16 <= n; j += 16) {
    const p = <usize>j << 2;
    const d = dst + p, s = src + p;
    v128.store(d, f32x4.add(v128.load(d), v128.load(s)));
    v128.store(d, f32x4.add(v128.load(d, 16), v128.load(s, 16)), 16);
    v128.store(d, f32x4.add(v128.load(d, 32), v128.load(s, 32)), 32);
    v128.store(d, f32x4.add(v128.load(d, 48), v128.load(s, 48)), 48);
  }
  for (; j + 4 <= n; j += 4) {
    const p = <usize>j << 2;
    v128.store(dst + p, f32x4.add(v128.load(dst + p), v128.load(src + p)));
  }
  for (; j < n; j++) store<f32>(at(dst, j), load<f32>(at(dst, j)) + load<f32>(at(src, j)));
}

/**
 * scatterAddRows: a = dy [R, E = width], b = dy's rows in output-row order (R floats), c = each
 * output row's first position in b ([rows + 1] floats; a counting sort built by the spec); o0 row
 * v = 0 + dy[b[c[v]]] + dy[b[c[v] + 1]] + ... + dy[b[c[v + 1] - 1]], float32, left to right (b
 * lists each output row's sources in increasing r): zero where c[v] = c[v + 1].
 */
export function scatterAddRows(args: usize, lo: i32, hi: i32): void {
  const dy = argA(args), order = argB(args), offsets = argC(args), out = argO0(args);
  const width = argWidth(args);
  const rowBytes = <usize>width << 2;
  for (let v = lo; v < hi; v++) {
    const orow = cell(out, v, width, 0);
    memory.fill(orow, 0, rowBytes);
    const k1 = <i32>load<f32>(at(offsets, v + 1));
    for (let k = <i32>load<f32>(at(offsets, v)); k < k1; k++) addRow(orow, cell(dy, <i32>load<f32>(at(order, k)), width, 0), width);
  }
}

// ---------------------------------------------------------------------------------------------
// sumSquares

/**
 * sumSquares: a = x, its first `flag` floats seen as rows of `width` (the last one short); partial
 * sums (1 per unit) at o0: float `unit` = the sum of the squares of the unit's elements (squares
 * and sum in float64).
 */
export function sumSquares(args: usize, lo: i32, hi: i32): void {
  const x = argA(args), partials = argO0(args);
  const width = argWidth(args);
  const size = argFlag(args);
  const per = argPer(args);
  let start = lo;
  while (start < hi) {
    const unit = start / per;
    const end = min(hi, (unit + 1) * per);
    const first = <i64>start * <i64>width;
    const last = min(<i64>size, <i64>end * <i64>width);
    store<f32>(at(partials, unit), <f32>sumOfSquares(x + (<usize>first << 2), <i32>(last - first)));
    start = end;
  }
}

// ---------------------------------------------------------------------------------------------
// sumColumns

/** Rows per float32 chunk of sumColumns' 16-column loop. */
@inline const SUM_CHUNK_ROWS = 32;

/**
 * The sum stage: dst[j] = f32(scale * sum_{r < rows} src[r * stride + from + j]) for j in [c0, c1),
 * scale the float32 bits of the factor; rows ascending; 0 when rows is 0. Runs across columns:
 * 16 at a time (float32 chunks of rows added in float64), then 4 and 1 at a time in float64; the
 * product with scale in float64, one rounding at the end.
 */
export function sumColumns(src: usize, rows: i32, stride: i32, from: i32, dst: usize, scale: u32, c0: i32, c1: i32): void {
  if (rows <= 0) {
    for (let j = c0; j < c1; j++) store<f32>(at(dst, j), 0);
    return;
  }
  const sc = <f64>reinterpret<f32>(scale);
  const scv = f64x2.splat(sc);
  const rs = <usize>stride << 2;
  const base = at(src, from);
  let j = c0;
  // 16 columns at a time: float32 sums over chunks of SUM_CHUNK_ROWS rows (four vectors a row),
  // each chunk's sums then added in float64. A chunk's float32 sum is within (SUM_CHUNK_ROWS - 1) U
  // of its terms' absolute sum, so the whole is within (rows + SUM_CHUNK_ROWS) U sum |terms|.
  for (; j + 16 <= c1; j += 16) {
    let d0 = f64x2.splat(0), d1 = f64x2.splat(0), d2 = f64x2.splat(0), d3 = f64x2.splat(0);
    let d4 = f64x2.splat(0), d5 = f64x2.splat(0), d6 = f64x2.splat(0), d7 = f64x2.splat(0);
    let p = at(base, j);
    for (let r0 = 0; r0 < rows; r0 += SUM_CHUNK_ROWS) {
      const r1 = min(rows, r0 + SUM_CHUNK_ROWS);
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      for (let r = r0; r < r1; r++) {
        s0 = f32x4.add(s0, v128.load(p));
        s1 = f32x4.add(s1, v128.load(p, 16));
        s2 = f32x4.add(s2, v128.load(p, 32));
        s3 = f32x4.add(s3, v128.load(p, 48));
        p += rs;
      }
      d0 = f64x2.add(d0, f64x2.promote_low_f32x4(s0)); d1 = f64x2.add(d1, promoteHigh(s0));
      d2 = f64x2.add(d2, f64x2.promote_low_f32x4(s1)); d3 = f64x2.add(d3, promoteHigh(s1));
      d4 = f64x2.add(d4, f64x2.promote_low_f32x4(s2)); d5 = f64x2.add(d5, promoteHigh(s2));
      d6 = f64x2.add(d6, f64x2.promote_low_f32x4(s3)); d7 = f64x2.add(d7, promoteHigh(s3));
    }
    const o = at(dst, j);
    v128.store(o, demote2(f64x2.mul(scv, d0), f64x2.mul(scv, d1)));
    v128.store(o, demote2(f64x2.mul(scv, d2), f64x2.mul(scv, d3)), 16);
    v128.store(o, demote2(f64x2.mul(scv, d4), f64x2.mul(scv, d5)), 32);
    v128.store(o, demote2(f64x2.mul(scv, d6), f64x2.mul(scv, d7)), 48);
  }
  for (; j + 4 <= c1; j += 4) {
    let a0 = f64x2.splat(0), a1 = f64x2.splat(0);
    let p = at(base, j);
    for (let r = 0; r < rows; r++) {
      const v = v128.load(p);
      a0 = f64x2.add(a0, f64x2.promote_low_f32x4(v));
      a1 = f64x2.add(a1, promoteHigh(v));
      p += rs;
    }
    v128.store(at(dst, j), demote2(f64x2.mul(scv, a0), f64x2.mul(scv, a1)));
  }
  for (; j < c1; j++) {
    let s: f64 = 0;
    let p = at(base, j);
    for (let r = 0; r < rows; r++) {
      s += <f64>load<f32>(p);
      p += rs;
    }
    store<f32>(at(dst, j), <f32>(sc * s));
  }
}
