// The transcendental functions of the CPU backend's training operations (assembly/training-*.ts):
// exp, log, tanh and sigmoid of float32, each in two forms that run the same algorithm, operation
// for operation, so that they give the same bits: on four lanes (f32x4, the kernels' vector loops)
// and on one float (their scalar tails). A value's result therefore does not depend on where it
// falls in a loop. Nothing here branches on a value: lanes take both paths and select.
//
// Range reduction and polynomials are Cephes' expf and logf (Stephen L. Moshier, public domain);
// sigmoid is built on exp's reduction, tanh on a rational function of our own (no exp). Only plain SIMD: no relaxed-SIMD instruction (no
// fused multiply-add), so both builds of the module (assembly/asconfig.json) give the same bytes.
// Clamps use f32x4.pmin / pmax (b < a ? b : a, a < b ? b : a: single instructions, NaN kept when
// it is the first operand), the scalar forms the same comparisons with select.
//
// The error bounds below hold for every float32 argument: they were measured exhaustively (each
// function on all float32 inputs of its non-trivial range, against float64 Math.exp / Math.log /
// Math.tanh and a float64 sigmoid), and test/kernels/cpu-math.test.ts holds the module's
// `mathKernel` export to them on dense sweeps, random and special values. ulp(y) is the spacing
// of float32 numbers at |y| (2^(e - 23) for 2^e <= |y| < 2^(e + 1)), for y of normal magnitude.

// ---------------------------------------------------------------------------------------------
// Constants

/** log2(e). */
@inline const LOG2E: f32 = 1.44269504088896341;
/** ln 2 in two parts (Cody and Waite): LN2_HI has 9 significant bits, so n * LN2_HI is exact for |n| < 2^15. */
@inline const LN2_HI: f32 = 0.693359375;
@inline const LN2_LO: f32 = -2.12194440e-4;
/** 1.5 * 2^23: adding it rounds a float32 of magnitude below 2^22 to an integer (to nearest, ties to even), held in the sum's low bits. */
@inline const ROUNDER: f32 = 12582912.0;
/** Bits of ROUNDER. */
@inline const ROUNDER_BITS: i32 = 0x4b400000;
/** exp's argument is clamped to [EXP_LO, EXP_HI]: exp(89) overflows float32 to +Inf, exp(-104) rounds to 0. */
@inline const EXP_HI: f32 = 89.0;
@inline const EXP_LO: f32 = -104.0;

// Cephes expf: e^r = 1 + r + r^2 P(r) for |r| <= ln(2) / 2.
@inline const EP0: f32 = 1.9875691500e-4;
@inline const EP1: f32 = 1.3981999507e-3;
@inline const EP2: f32 = 8.3334519073e-3;
@inline const EP3: f32 = 4.1665795894e-2;
@inline const EP4: f32 = 1.6666665459e-1;
@inline const EP5: f32 = 5.0000001201e-1;

// Cephes logf: log(1 + m) = m - m^2 / 2 + m^3 P(m) for sqrt(1/2) - 1 <= m < sqrt(2) - 1.
@inline const LP0: f32 = 7.0376836292e-2;
@inline const LP1: f32 = -1.1514610310e-1;
@inline const LP2: f32 = 1.1676998740e-1;
@inline const LP3: f32 = -1.2420140846e-1;
@inline const LP4: f32 = 1.4249322787e-1;
@inline const LP5: f32 = -1.6668057665e-1;
@inline const LP6: f32 = 2.0000714765e-1;
@inline const LP7: f32 = -2.4999993993e-1;
@inline const LP8: f32 = 3.3333331174e-1;
/** sqrt(1/2): mantissas below it are doubled (and the exponent decremented). */
@inline const SQRT_HALF: f32 = 0.707106781186547524;
/** The smallest normal float32, 2^-126: smaller (subnormal) arguments are scaled by 2^23 first. */
@inline const MIN_NORMAL: f32 = 1.17549435e-38;
@inline const TWO_23: f32 = 8388608.0;

@inline const SIGN_MASK: i32 = 0x80000000;

// ---------------------------------------------------------------------------------------------
// exp
//
// x = n ln 2 + r with n = round(x / ln 2) and |r| <= ln(2) / 2 (a hair more): n is found by adding
// 1.5 * 2^23 to x / ln 2 (the sum t holds n in its low mantissa bits, read back as an integer:
// no float-to-int conversion), r = x - n ln 2 with ln 2 in two parts (Cody and Waite), and
// e^r - 1 = r + r^2 P(r) by Cephes' degree-5 polynomial. Then e^x = 2^n (1 + (e^r - 1)).

/** t = c log2(e) + 1.5 * 2^23 (|c| < 2^21): n = round(c / ln 2) is t - 1.5 * 2^23, and bits(t) - bits(1.5 * 2^23). */
@inline function expRoundF32x4(c: v128): v128 {
  return f32x4.add(f32x4.mul(c, f32x4.splat(LOG2E)), f32x4.splat(ROUNDER));
}

/** e^r - 1 for r = c - n ln 2, n from t = expRoundF32x4(c): r + r^2 P(r). */
@inline function expm1ReducedF32x4(c: v128, t: v128): v128 {
  const n = f32x4.sub(t, f32x4.splat(ROUNDER));
  let r = f32x4.sub(c, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  const z = f32x4.mul(r, r);
  let p = f32x4.add(f32x4.mul(f32x4.splat(EP0), r), f32x4.splat(EP1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(EP2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(EP3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(EP4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(EP5));
  return f32x4.add(f32x4.mul(p, z), r);
}

/** expRoundF32x4 of one float. */
@inline function expRoundF32(c: f32): f32 {
  return c * LOG2E + ROUNDER;
}

/** expm1ReducedF32x4 of one float. */
@inline function expm1ReducedF32(c: f32, t: f32): f32 {
  const n = t - ROUNDER;
  let r = c - n * LN2_HI;
  r = r - n * LN2_LO;
  const z = r * r;
  let p = EP0 * r + EP1;
  p = p * r + EP2;
  p = p * r + EP3;
  p = p * r + EP4;
  p = p * r + EP5;
  return p * z + r;
}

/**
 * 1 + q (q = e^r - 1) times 2^n for n from t, as 2^(n >> 1) 2^(n - (n >> 1)): two powers of two
 * that are normal floats, so a result rounds once, also into the subnormal range, and overflows
 * to +Inf.
 */
@inline function expScaleF32x4(q: v128, t: v128): v128 {
  // (A NaN lane's t gives some scale; NaN times it is NaN.)
  const ni = i32x4.sub(t, i32x4.splat(ROUNDER_BITS));
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(f32x4.add(q, f32x4.splat(1)), s1), s2);
}

/** expScaleF32x4 of one float. */
@inline function expScaleF32(q: f32, t: f32): f32 {
  const ni = reinterpret<i32>(t) - ROUNDER_BITS;
  const n1 = ni >> 1;
  const n2 = ni - n1;
  return ((q + <f32>1) * reinterpret<f32>((n1 + 127) << 23)) * reinterpret<f32>((n2 + 127) << 23);
}

/**
 * e^x on four lanes: x clamped to [-104, 89] (pmin / pmax: single instructions that keep NaN),
 * reduced, Cephes' polynomial, scaled by 2^n in two steps. Error bound: 1 ulp where the result
 * is a normal float32 (x in [-87.33, 88.72]; worst 0.991 ulp, at x = 70.403); a subnormal result
 * within 1 unit of 2^-149 (worst 0.75); x > 88.7228 gives +Inf, x < -103.98 (and -Inf) 0, NaN
 * gives NaN. No lane branches.
 */
@inline export function expF32x4(x: v128): v128 {
  const c = f32x4.pmax(f32x4.pmin(x, f32x4.splat(EXP_HI)), f32x4.splat(EXP_LO));
  const t = expRoundF32x4(c);
  return expScaleF32x4(expm1ReducedF32x4(c, t), t);
}

/** e^x on one float: expF32x4's algorithm, operation for operation (same bits, same bound). */
@inline export function expF32(x: f32): f32 {
  const h = select<f32>(EXP_HI, x, EXP_HI < x);
  const c = select<f32>(EXP_LO, h, h < EXP_LO);
  const t = expRoundF32(c);
  return expScaleF32(expm1ReducedF32(c, t), t);
}

// ---------------------------------------------------------------------------------------------
// log

/**
 * Natural log on four lanes. x = 2^e m with m in [sqrt(1/2), sqrt(2)) (subnormal x scaled by 2^23
 * first), log(m) = f - f^2 / 2 + f^3 P(f) for f = m - 1 (exact) by Cephes' degree-8 polynomial,
 * plus e ln 2 in two parts. Error bound: 1 ulp over all positive finite x,
 * subnormals included (worst 0.83 ulp, at x = 0.69998); log(+-0) = -Inf, log(x < 0) = NaN,
 * log(+Inf) = +Inf, log(NaN) = NaN. No lane branches.
 */
@inline export function logF32x4(x: v128): v128 {
  const tiny = f32x4.lt(x, f32x4.splat(MIN_NORMAL));
  const xs = v128.bitselect(f32x4.mul(x, f32x4.splat(TWO_23)), x, tiny);
  let e = i32x4.sub(i32x4.shr_s(xs, 23), i32x4.splat(126));
  e = i32x4.sub(e, v128.and(tiny, i32x4.splat(23)));
  const m = v128.or(v128.and(xs, i32x4.splat(0x007fffff)), i32x4.splat(0x3f000000));
  const small = f32x4.lt(m, f32x4.splat(SQRT_HALF));
  e = i32x4.add(e, small); // -1 where small
  const f = f32x4.sub(v128.bitselect(f32x4.add(m, m), m, small), f32x4.splat(1));
  const fe = f32x4.convert_i32x4_s(e);
  const z = f32x4.mul(f, f);
  let p = f32x4.add(f32x4.mul(f32x4.splat(LP0), f), f32x4.splat(LP1));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(LP2));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(LP3));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(LP4));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(LP5));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(LP6));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(LP7));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(LP8));
  let y = f32x4.mul(f32x4.mul(p, f), z);
  y = f32x4.add(y, f32x4.mul(fe, f32x4.splat(LN2_LO)));
  y = f32x4.add(y, f32x4.mul(z, f32x4.splat(-0.5)));
  let r = f32x4.add(f, y);
  r = f32x4.add(r, f32x4.mul(fe, f32x4.splat(LN2_HI)));
  // x > 0 keeps r (false for NaN); otherwise -Inf at +-0, NaN below 0 or for NaN; +Inf at +Inf.
  const special = v128.bitselect(f32x4.splat(-Infinity), f32x4.splat(NaN), f32x4.eq(x, f32x4.splat(0)));
  r = v128.bitselect(r, special, f32x4.gt(x, f32x4.splat(0)));
  return v128.bitselect(x, r, f32x4.eq(x, f32x4.splat(Infinity)));
}

/** Natural log on one float: logF32x4's algorithm, operation for operation (same bits, same bound). */
@inline export function logF32(x: f32): f32 {
  const tiny = x < MIN_NORMAL;
  const xs = select<f32>(x * TWO_23, x, tiny);
  const bits = reinterpret<i32>(xs);
  let e = (bits >> 23) - 126;
  e = e - select<i32>(23, 0, tiny);
  const m = reinterpret<f32>((bits & 0x007fffff) | 0x3f000000);
  const small = m < SQRT_HALF;
  e = e - select<i32>(1, 0, small);
  const f = select<f32>(m + m, m, small) - <f32>1;
  const fe = <f32>e;
  const z = f * f;
  let p = LP0 * f + LP1;
  p = p * f + LP2;
  p = p * f + LP3;
  p = p * f + LP4;
  p = p * f + LP5;
  p = p * f + LP6;
  p = p * f + LP7;
  p = p * f + LP8;
  let y = (p * f) * z;
  y = y + fe * LN2_LO;
  y = y + z * <f32>-0.5;
  let r = f + y;
  r = r + fe * LN2_HI;
  const special = select<f32>(-Infinity, NaN, x == 0);
  r = select<f32>(r, special, x > 0);
  return select<f32>(x, r, x == Infinity);
}

// ---------------------------------------------------------------------------------------------
// tanh
//
// No exp: a rational function and the double-angle formula. u = x P(x^2) / Q(x^2) approximates
// tanh(x / 2) (P of degree 3 with P(0) = 1, Q of degree 3 with Q(0) = 2: an odd degree-7
// numerator N = x P over an even degree-6 denominator D = Q), and
// tanh(x) = 2 u / (1 + u^2) = 2 N D / (N^2 + D^2): one division. The double angle is what makes
// this accurate in float32 without fused multiply-adds: near tanh = 1 the map u -> 2u / (1 + u^2)
// is flat, so the rounding errors of N and D (and the fit's error) hardly reach the result, and
// the polynomials only run over x^2 <= 80 with few terms. The coefficients are our own: a
// minimax fit (iterated linear programming in float64, each point's error weighted by
// (1 - u^2) / (1 + u^2), how much of it reaches tanh(x)) of tanh(x / 2) on [0, 9], rounded to
// float32 (the float64 fit's weighted error is 2^-32; the bounds below are float32 rounding).
// x is clamped to [-TANH_CLAMP, TANH_CLAMP] first: TANH_CLAMP is a float32 at which the formula
// gives exactly 1, with nothing above 1 for any |x| below it (both checked exhaustively), so no
// clamp of the result is needed. Every step is odd or even in x, so tanh(-x) = -tanh(x) exactly.

/** tanh's argument is clamped to [-TANH_CLAMP, TANH_CLAMP]: 2 N D / (N^2 + D^2) is exactly 1 there (1 - tanh(8.926884) = 2^-24.76). */
@inline const TANH_CLAMP: f32 = 8.926884;
/** P(s) = TP0 + TP1 s + TP2 s^2 + TP3 s^3, Q(s) = TQ0 + TQ1 s + TQ2 s^2 + TQ3 s^3: x P(x^2) / Q(x^2) ~ tanh(x / 2). P(0) = 1 (not 1/2, Q(0) = 2 instead) keeps N = x exact for tiny and subnormal x. */
@inline const TP0: f32 = 1.0;
@inline const TP1: f32 = 3.169501945e-2;
@inline const TP2: f32 = 1.651331550e-4;
@inline const TP3: f32 = 9.496039155e-8;
@inline const TQ0: f32 = 2.0;
@inline const TQ1: f32 = 2.300567031e-1;
@inline const TQ2: f32 = 2.834994113e-3;
@inline const TQ3: f32 = 5.807295565e-6;

/**
 * tanh on four lanes: c = x clamped to [-8.926884, 8.926884] (pmin / pmax, NaN kept), s = c^2,
 * N = c P(s), D = Q(s) (Horner), tanh = (2 N D) / (N^2 + D^2). Error bound (measured on every
 * float32 in [0, 10]): 2^-22.25 absolute (worst 2^-22.28, at |x| = 5.4397), 2^-21.3 relative
 * (worst 2^-21.34, at |x| = 0.12971) and 5.6 ulp (worst 5.55 ulp, at |x| = 0.12535, where tanh(x)
 * falls just below 2^-3 and x above it); never above 1 in magnitude; tanh(x) = x exactly for
 * |x| < 2^-12 (subnormals included); tanh(+-0) = +-0, tanh(-x) = -tanh(x) exactly, |x| >= 8.926884
 * (and +-Inf) gives +-1 exactly, tanh(NaN) = NaN. No lane branches.
 */
@inline export function tanhF32x4(x: v128): v128 {
  const c = f32x4.pmax(f32x4.pmin(x, f32x4.splat(TANH_CLAMP)), f32x4.splat(-TANH_CLAMP));
  const s = f32x4.mul(c, c);
  let p = f32x4.add(f32x4.mul(f32x4.splat(TP3), s), f32x4.splat(TP2));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(TP1));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(TP0));
  const n = f32x4.mul(c, p);
  let d = f32x4.add(f32x4.mul(f32x4.splat(TQ3), s), f32x4.splat(TQ2));
  d = f32x4.add(f32x4.mul(d, s), f32x4.splat(TQ1));
  d = f32x4.add(f32x4.mul(d, s), f32x4.splat(TQ0));
  const num = f32x4.mul(f32x4.mul(n, d), f32x4.splat(2));
  const den = f32x4.add(f32x4.mul(n, n), f32x4.mul(d, d));
  return f32x4.div(num, den);
}

/** tanh on one float: tanhF32x4's algorithm, operation for operation (same bits, same bound). */
@inline export function tanhF32(x: f32): f32 {
  const h = select<f32>(TANH_CLAMP, x, TANH_CLAMP < x);
  const c = select<f32>(-TANH_CLAMP, h, h < -TANH_CLAMP);
  const s = c * c;
  let p = TP3 * s + TP2;
  p = p * s + TP1;
  p = p * s + TP0;
  const n = c * p;
  let d = TQ3 * s + TQ2;
  d = d * s + TQ1;
  d = d * s + TQ0;
  const num = (n * d) * <f32>2;
  const den = n * n + d * d;
  return num / den;
}

// ---------------------------------------------------------------------------------------------
// sigmoid

/**
 * The logistic function 1 / (1 + e^-x) on four lanes, in the form that never overflows: with
 * e = exp(-|x|) (exp's algorithm; the argument is never positive), 1 / (1 + e) for x >= 0 and
 * e / (1 + e) below. Error bound: 2^-23 absolute (worst 2^-23.42, at x = 7.8592), and 3 ulp
 * where the result is a normal float32, x >= -87.33 (worst 2.40 ulp, at x = -4.1573); a subnormal
 * result within 1 unit of 2^-149 (worst 0.75); sigmoid(+Inf) = 1, sigmoid(-Inf) = 0, sigmoid(NaN)
 * = NaN. No lane branches.
 */
@inline export function sigmoidF32x4(x: v128): v128 {
  const c = f32x4.pmax(v128.or(x, i32x4.splat(SIGN_MASK)), f32x4.splat(EXP_LO));
  const t = expRoundF32x4(c);
  const e = expScaleF32x4(expm1ReducedF32x4(c, t), t);
  const num = v128.bitselect(f32x4.splat(1), e, f32x4.ge(x, f32x4.splat(0)));
  return f32x4.div(num, f32x4.add(f32x4.splat(1), e));
}

/** The logistic function on one float: sigmoidF32x4's algorithm, operation for operation (same bits, same bound). */
@inline export function sigmoidF32(x: f32): f32 {
  const nx = reinterpret<f32>(reinterpret<i32>(x) | SIGN_MASK);
  const c = select<f32>(EXP_LO, nx, nx < EXP_LO);
  const t = expRoundF32(c);
  const e = expScaleF32(expm1ReducedF32(c, t), t);
  const num = select<f32>(1, e, x >= 0);
  return num / (<f32>1 + e);
}
