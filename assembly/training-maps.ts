// The elementwise maps of the CPU backend's training operations: the activations and their
// derivatives, exp, log, scale, add and multiply, each on four lanes and on one float with the same
// formula (operation for operation, as training-math.ts's functions), and loops over ranges.
// A map is chosen by a constant code, so the inlined `if` chains fold away. Imported by
// training-elementwise.ts and training-rows.ts.

import { expF32, expF32x4, logF32, logF32x4, sigmoidF32, sigmoidF32x4, tanhF32, tanhF32x4 } from './training-math';

/** The byte address of float i of the array at `base`. */
@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

// ---------------------------------------------------------------------------------------------
// Unary and binary maps: one loop, specialised per operation by a constant code (the inlined
// `if` chains fold away).

// Activation codes (the `flag` of activation and activationGrad), then the other maps.
@inline export const RELU = 0;
@inline export const GELU = 1;
@inline export const TANH = 2;
@inline export const SIGMOID = 3;
@inline export const EXP = 4;
@inline export const LOG = 5;
@inline export const SCALE = 6;
@inline export const ADD = 7;
@inline export const MULTIPLY = 8;

/** sqrt(2 / pi) and the cubic coefficient of gelu's tanh approximation, and 3 times it. */
@inline export const GELU_K: f32 = 0.7978845608028654;
@inline export const GELU_C: f32 = 0.044715;
@inline export const GELU_C3: f32 = 0.134145;

/** Unary map `op` of four lanes (s: the scale factor of SCALE). */
@inline export function unary4(op: i32, x: v128, s: v128): v128 {
  if (op == RELU) return f32x4.pmax(f32x4.splat(0), x); // 0 < x ? x : 0
  if (op == TANH) return tanhF32x4(x);
  if (op == SIGMOID) return sigmoidF32x4(x);
  if (op == EXP) return expF32x4(x);
  if (op == LOG) return logF32x4(x);
  if (op == SCALE) return f32x4.mul(s, x);
  // gelu: 0.5 x (1 + tanh(k (x + c x^3)))
  const cube = f32x4.mul(f32x4.mul(f32x4.mul(f32x4.splat(GELU_C), x), x), x);
  const t = tanhF32x4(f32x4.mul(f32x4.splat(GELU_K), f32x4.add(x, cube)));
  return f32x4.mul(f32x4.mul(f32x4.splat(0.5), x), f32x4.add(f32x4.splat(1), t));
}

/** Unary map `op` of one float: unary4's formula. */
@inline export function unary1(op: i32, x: f32, s: f32): f32 {
  if (op == RELU) return select<f32>(x, 0, <f32>0 < x);
  if (op == TANH) return tanhF32(x);
  if (op == SIGMOID) return sigmoidF32(x);
  if (op == EXP) return expF32(x);
  if (op == LOG) return logF32(x);
  if (op == SCALE) return s * x;
  const cube = ((GELU_C * x) * x) * x;
  const t = tanhF32(GELU_K * (x + cube));
  return (<f32>0.5 * x) * (<f32>1 + t);
}

/** dst[i] = op(src[i]) for i in [lo, hi) (dst may be src). */
@inline export function unaryLoop(op: i32, src: usize, dst: usize, lo: i32, hi: i32, s: f32): void {
  const sv = f32x4.splat(s);
  let i = lo;
  for (; i + 16 <= hi; i += 16) {
    const p = <usize>i << 2;
    const x0 = v128.load(src + p), x1 = v128.load(src + p, 16), x2 = v128.load(src + p, 32), x3 = v128.load(src + p, 48);
    v128.store(dst + p, unary4(op, x0, sv));
    v128.store(dst + p, unary4(op, x1, sv), 16);
    v128.store(dst + p, unary4(op, x2, sv), 32);
    v128.store(dst + p, unary4(op, x3, sv), 48);
  }
  for (; i + 4 <= hi; i += 4) {
    const p = <usize>i << 2;
    v128.store(dst + p, unary4(op, v128.load(src + p), sv));
  }
  for (; i < hi; i++) store<f32>(at(dst, i), unary1(op, load<f32>(at(src, i)), s));
}

/** Binary map `op` of four lanes: a + b, a * b, or b * f'(a) for an activation code (a = x, b = dy). */
@inline export function binary4(op: i32, a: v128, b: v128): v128 {
  if (op == ADD) return f32x4.add(a, b);
  if (op == MULTIPLY) return f32x4.mul(a, b);
  if (op == RELU) return f32x4.mul(b, v128.and(f32x4.splat(1), f32x4.lt(f32x4.splat(0), a)));
  if (op == TANH) {
    const t = tanhF32x4(a);
    return f32x4.mul(b, f32x4.sub(f32x4.splat(1), f32x4.mul(t, t)));
  }
  if (op == SIGMOID) {
    const s = sigmoidF32x4(a);
    return f32x4.mul(b, f32x4.mul(s, f32x4.sub(f32x4.splat(1), s)));
  }
  // gelu': 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2), t = tanh(k (x + c x^3))
  const cube = f32x4.mul(f32x4.mul(f32x4.mul(f32x4.splat(GELU_C), a), a), a);
  const t = tanhF32x4(f32x4.mul(f32x4.splat(GELU_K), f32x4.add(a, cube)));
  const one = f32x4.splat(1);
  const slope = f32x4.add(one, f32x4.mul(f32x4.mul(f32x4.splat(GELU_C3), a), a));
  const inner = f32x4.mul(f32x4.mul(f32x4.mul(f32x4.splat(0.5), a), f32x4.sub(one, f32x4.mul(t, t))), f32x4.splat(GELU_K));
  const d = f32x4.add(f32x4.mul(f32x4.splat(0.5), f32x4.add(one, t)), f32x4.mul(inner, slope));
  return f32x4.mul(b, d);
}

/** Binary map `op` of one float: binary4's formula. */
@inline export function binary1(op: i32, a: f32, b: f32): f32 {
  if (op == ADD) return a + b;
  if (op == MULTIPLY) return a * b;
  if (op == RELU) return b * select<f32>(1, 0, a > 0);
  if (op == TANH) {
    const t = tanhF32(a);
    return b * (<f32>1 - t * t);
  }
  if (op == SIGMOID) {
    const s = sigmoidF32(a);
    return b * (s * (<f32>1 - s));
  }
  const cube = ((GELU_C * a) * a) * a;
  const t = tanhF32(GELU_K * (a + cube));
  const slope = <f32>1 + (GELU_C3 * a) * a;
  const inner = ((<f32>0.5 * a) * (<f32>1 - t * t)) * GELU_K;
  const d = <f32>0.5 * (<f32>1 + t) + inner * slope;
  return b * d;
}

/** dst[i] = op(a[i], b[i]) for i in [lo, hi). */
@inline export function binaryLoop(op: i32, a: usize, b: usize, dst: usize, lo: i32, hi: i32): void {
  let i = lo;
  for (; i + 16 <= hi; i += 16) {
    const p = <usize>i << 2;
    const a0 = v128.load(a + p), a1 = v128.load(a + p, 16), a2 = v128.load(a + p, 32), a3 = v128.load(a + p, 48);
    const b0 = v128.load(b + p), b1 = v128.load(b + p, 16), b2 = v128.load(b + p, 32), b3 = v128.load(b + p, 48);
    v128.store(dst + p, binary4(op, a0, b0));
    v128.store(dst + p, binary4(op, a1, b1), 16);
    v128.store(dst + p, binary4(op, a2, b2), 32);
    v128.store(dst + p, binary4(op, a3, b3), 48);
  }
  for (; i + 4 <= hi; i += 4) {
    const p = <usize>i << 2;
    v128.store(dst + p, binary4(op, v128.load(a + p), v128.load(b + p)));
  }
  for (; i < hi; i++) store<f32>(at(dst, i), binary1(op, load<f32>(at(a, i)), load<f32>(at(b, i))));
}

