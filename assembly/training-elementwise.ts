// The CPU backend's elementwise training operations (grid 'elements'), in AssemblyScript compiled
// to WebAssembly SIMD, and `mathKernel`, the test entry of the math library.
//
// Each op is one exported function named after the op, `(args, lo, hi)`: it reads its operands
// and hyper-parameters from the argument block at `args` (assembly/training-args.ts) and
// processes elements [lo, hi) of the grid. The JavaScript side (src/kernels/cpu/training-runner.ts)
// splits the grid into units of `per` elements (a multiple of 4) and may run units on several
// threads at once; a unit writes only its own elements (and, for l0Penalty, its own row of
// partial sums), so threads never write the same float.
//
// Loops take 16 elements (four f32x4 vectors: independent chains that hide the latency of the
// transcendental functions' polynomials) or 8 per step, then 4, then single floats at the end of
// the grid; the single floats run the same formula as the lanes (training-math.ts keeps both
// forms of each function operation for operation), so an element's value does not depend on its
// position. Per-element choices are lane masks and v128.bitselect (or pmin / pmax), never
// branches, and every argument is read once before its loop. Arithmetic is float32 (sums in
// float64), with no relaxed-SIMD instruction: both builds of the module give the same bytes.

import { logF32, logF32x4, sigmoidF32, sigmoidF32x4, tanhF32, tanhF32x4 } from './training-math';
import { ADD, binaryLoop, EXP, GELU, LOG, MULTIPLY, RELU, SCALE, SIGMOID, TANH, unary1, unary4, unaryLoop } from './training-maps';
import {
  argA, argB, argC, argD, argE, argF0, argF1, argF2, argF3, argF4, argF5, argF6, argF7, argF8, argFlag, argO0, argO1, argO2, argPer, argWidth,
} from './training-args';

/** The byte address of float i of the array at `base`. */
@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

/** n floats from src to dst (distinct or equal). */
@inline function copyFloats(src: usize, dst: usize, n: i32): void {
  // wasm's bulk memory.copy: the engine's memmove, faster than a vector loop for long copies.
  memory.copy(dst, src, <usize>n << 2);
}

/** n floats of value v at dst. */
@inline function fillFloats(dst: usize, n: i32, v: f32): void {
  const vv = f32x4.splat(v);
  let k = 0;
  for (; k + 8 <= n; k += 8) {
    const p = <usize>k << 2;
    v128.store(dst + p, vv);
    v128.store(dst + p, vv, 16);
  }
  if (k + 4 <= n) {
    v128.store(dst + (<usize>k << 2), vv);
    k += 4;
  }
  for (; k < n; k++) store<f32>(at(dst, k), v);
}

// ---------------------------------------------------------------------------------------------
// The ops

/** addBias: o0[i] = a[i] + b[i % width] (x [N, width] plus bias [width]), row segment by row segment. */
export function addBias(args: usize, lo: i32, hi: i32): void {
  const x = argA(args), bias = argB(args), out = argO0(args);
  const width = argWidth(args);
  if (width <= 0) return;
  if (width == 1) {
    const b = load<f32>(bias);
    const bv = f32x4.splat(b);
    let i = lo;
    for (; i + 4 <= hi; i += 4) {
      const p = <usize>i << 2;
      v128.store(out + p, f32x4.add(v128.load(x + p), bv));
    }
    for (; i < hi; i++) store<f32>(at(out, i), load<f32>(at(x, i)) + b);
    return;
  }
  let i = lo;
  let j = lo % width;
  while (i < hi) {
    const n = min(width - j, hi - i);
    const xs = at(x, i), os = at(out, i), bs = at(bias, j);
    let k = 0;
    for (; k + 8 <= n; k += 8) {
      const p = <usize>k << 2;
      const x0 = v128.load(xs + p), x1 = v128.load(xs + p, 16);
      const b0 = v128.load(bs + p), b1 = v128.load(bs + p, 16);
      v128.store(os + p, f32x4.add(x0, b0));
      v128.store(os + p, f32x4.add(x1, b1), 16);
    }
    if (k + 4 <= n) {
      const p = <usize>k << 2;
      v128.store(os + p, f32x4.add(v128.load(xs + p), v128.load(bs + p)));
      k += 4;
    }
    for (; k < n; k++) store<f32>(at(os, k), load<f32>(at(xs, k)) + load<f32>(at(bs, k)));
    i += n;
    j = 0;
  }
}

/** z = x + bias and y = f(z) over elements [lo, hi) for activation code `op` (inlined per code). */
@inline function biasActivationLoop(op: i32, x: usize, bias: usize, z: usize, y: usize, width: i32, lo: i32, hi: i32): void {
  const none = f32x4.splat(0);
  let i = lo;
  let j = lo % width;
  while (i < hi) {
    const n = min(width - j, hi - i);
    const xs = at(x, i), bs = at(bias, j), zs = at(z, i), ys = at(y, i);
    let k = 0;
    for (; k + 8 <= n; k += 8) {
      const p = <usize>k << 2;
      const z0 = f32x4.add(v128.load(xs + p), v128.load(bs + p));
      const z1 = f32x4.add(v128.load(xs + p, 16), v128.load(bs + p, 16));
      v128.store(zs + p, z0);
      v128.store(zs + p, z1, 16);
      v128.store(ys + p, unary4(op, z0, none));
      v128.store(ys + p, unary4(op, z1, none), 16);
    }
    for (; k + 4 <= n; k += 4) {
      const p = <usize>k << 2;
      const z0 = f32x4.add(v128.load(xs + p), v128.load(bs + p));
      v128.store(zs + p, z0);
      v128.store(ys + p, unary4(op, z0, none));
    }
    for (; k < n; k++) {
      const v = load<f32>(at(xs, k)) + load<f32>(at(bs, k));
      store<f32>(at(zs, k), v);
      store<f32>(at(ys, k), unary1(op, v, 0));
    }
    i += n;
    j = 0;
  }
}

/** addBiasActivation: o0 = z = a + b[i % width] (a = x, b = bias), o1 = y = f(z), flag the activation code; addBias then activation in one pass. */
export function addBiasActivation(args: usize, lo: i32, hi: i32): void {
  const x = argA(args), bias = argB(args), z = argO0(args), y = argO1(args);
  const width = argWidth(args);
  if (width <= 0) return;
  const kind = argFlag(args);
  if (kind == RELU) biasActivationLoop(RELU, x, bias, z, y, width, lo, hi);
  else if (kind == GELU) biasActivationLoop(GELU, x, bias, z, y, width, lo, hi);
  else if (kind == TANH) biasActivationLoop(TANH, x, bias, z, y, width, lo, hi);
  else if (kind == SIGMOID) biasActivationLoop(SIGMOID, x, bias, z, y, width, lo, hi);
}

/** activation: o0 = f(a), flag 0 relu, 1 gelu (tanh approximation), 2 tanh, 3 sigmoid. */
export function activation(args: usize, lo: i32, hi: i32): void {
  const x = argA(args), out = argO0(args);
  const kind = argFlag(args);
  if (kind == RELU) unaryLoop(RELU, x, out, lo, hi, 0);
  else if (kind == GELU) unaryLoop(GELU, x, out, lo, hi, 0);
  else if (kind == TANH) unaryLoop(TANH, x, out, lo, hi, 0);
  else if (kind == SIGMOID) unaryLoop(SIGMOID, x, out, lo, hi, 0);
}

/** activationGrad: o0 = b * f'(a) (a = x, b = dy; relu'(0) = 0, sigmoid' = s (1 - s)), flag as activation's. */
export function activationGrad(args: usize, lo: i32, hi: i32): void {
  const x = argA(args), dy = argB(args), out = argO0(args);
  const kind = argFlag(args);
  if (kind == RELU) binaryLoop(RELU, x, dy, out, lo, hi);
  else if (kind == GELU) binaryLoop(GELU, x, dy, out, lo, hi);
  else if (kind == TANH) binaryLoop(TANH, x, dy, out, lo, hi);
  else if (kind == SIGMOID) binaryLoop(SIGMOID, x, dy, out, lo, hi);
}

/** add: o0 = a + b. */
export function add(args: usize, lo: i32, hi: i32): void {
  binaryLoop(ADD, argA(args), argB(args), argO0(args), lo, hi);
}

/** multiply: o0 = a * b. */
export function multiply(args: usize, lo: i32, hi: i32): void {
  binaryLoop(MULTIPLY, argA(args), argB(args), argO0(args), lo, hi);
}

/** scale: o0 = f0 * a. */
export function scale(args: usize, lo: i32, hi: i32): void {
  unaryLoop(SCALE, argA(args), argO0(args), lo, hi, argF0(args));
}

/** axpy: o0 += f0 * a (o0 = y in place). */
export function axpy(args: usize, lo: i32, hi: i32): void {
  const x = argA(args), y = argO0(args);
  const alpha = argF0(args);
  const av = f32x4.splat(alpha);
  let i = lo;
  for (; i + 8 <= hi; i += 8) {
    const p = <usize>i << 2;
    const x0 = v128.load(x + p), x1 = v128.load(x + p, 16);
    const y0 = v128.load(y + p), y1 = v128.load(y + p, 16);
    v128.store(y + p, f32x4.add(y0, f32x4.mul(av, x0)));
    v128.store(y + p, f32x4.add(y1, f32x4.mul(av, x1)), 16);
  }
  if (i + 4 <= hi) {
    const p = <usize>i << 2;
    v128.store(y + p, f32x4.add(v128.load(y + p), f32x4.mul(av, v128.load(x + p))));
    i += 4;
  }
  for (; i < hi; i++) store<f32>(at(y, i), load<f32>(at(y, i)) + alpha * load<f32>(at(x, i)));
}

/** copy: o0 = a. */
export function copy(args: usize, lo: i32, hi: i32): void {
  if (hi > lo) copyFloats(at(argA(args), lo), at(argO0(args), lo), hi - lo);
}

/** fill: o0 = f0. */
export function fill(args: usize, lo: i32, hi: i32): void {
  if (hi > lo) fillFloats(at(argO0(args), lo), hi - lo, argF0(args));
}

/**
 * sgdStep, PyTorch's SGD (dampening 0) in place: a = grad, o0 = param, o1 = velocity (absent when
 * f1 = momentum is 0), f0 lr, f2 weight decay, flag nesterov. g = grad + wd p; with momentum
 * buf = momentum v + g, v = buf, g = nesterov ? g + momentum buf : buf; p -= lr g.
 */
export function sgdStep(args: usize, lo: i32, hi: i32): void {
  const grad = argA(args), param = argO0(args), velocity = argO1(args);
  const lr = argF0(args), momentum = argF1(args), wd = argF2(args);
  const nesterov = argFlag(args) != 0;
  const lrv = f32x4.splat(lr), mv = f32x4.splat(momentum), wdv = f32x4.splat(wd);
  let i = lo;
  if (momentum > 0) {
    if (nesterov) {
      for (; i + 4 <= hi; i += 4) {
        const p = <usize>i << 2;
        const pv = v128.load(param + p);
        let g = f32x4.add(v128.load(grad + p), f32x4.mul(wdv, pv));
        const buf = f32x4.add(f32x4.mul(mv, v128.load(velocity + p)), g);
        v128.store(velocity + p, buf);
        g = f32x4.add(g, f32x4.mul(mv, buf));
        v128.store(param + p, f32x4.sub(pv, f32x4.mul(lrv, g)));
      }
      for (; i < hi; i++) {
        const pv = load<f32>(at(param, i));
        let g = load<f32>(at(grad, i)) + wd * pv;
        const buf = momentum * load<f32>(at(velocity, i)) + g;
        store<f32>(at(velocity, i), buf);
        g = g + momentum * buf;
        store<f32>(at(param, i), pv - lr * g);
      }
    } else {
      for (; i + 4 <= hi; i += 4) {
        const p = <usize>i << 2;
        const pv = v128.load(param + p);
        const g = f32x4.add(v128.load(grad + p), f32x4.mul(wdv, pv));
        const buf = f32x4.add(f32x4.mul(mv, v128.load(velocity + p)), g);
        v128.store(velocity + p, buf);
        v128.store(param + p, f32x4.sub(pv, f32x4.mul(lrv, buf)));
      }
      for (; i < hi; i++) {
        const pv = load<f32>(at(param, i));
        const g = load<f32>(at(grad, i)) + wd * pv;
        const buf = momentum * load<f32>(at(velocity, i)) + g;
        store<f32>(at(velocity, i), buf);
        store<f32>(at(param, i), pv - lr * buf);
      }
    }
    return;
  }
  for (; i + 8 <= hi; i += 8) {
    const p = <usize>i << 2;
    const p0 = v128.load(param + p), p1 = v128.load(param + p, 16);
    const g0 = f32x4.add(v128.load(grad + p), f32x4.mul(wdv, p0));
    const g1 = f32x4.add(v128.load(grad + p, 16), f32x4.mul(wdv, p1));
    v128.store(param + p, f32x4.sub(p0, f32x4.mul(lrv, g0)));
    v128.store(param + p, f32x4.sub(p1, f32x4.mul(lrv, g1)), 16);
  }
  for (; i + 4 <= hi; i += 4) {
    const p = <usize>i << 2;
    const pv = v128.load(param + p);
    const g = f32x4.add(v128.load(grad + p), f32x4.mul(wdv, pv));
    v128.store(param + p, f32x4.sub(pv, f32x4.mul(lrv, g)));
  }
  for (; i < hi; i++) {
    const pv = load<f32>(at(param, i));
    const g = load<f32>(at(grad, i)) + wd * pv;
    store<f32>(at(param, i), pv - lr * g);
  }
}

/**
 * adamStep, PyTorch's Adam / AdamW in place: a = grad, o0 = param, o1 = m, o2 = v; f0 beta1,
 * f1 beta2, f2 eps, f3 l2, f4 decay, f5 step size (lr / bias correction 1), f6 sqrt(bias
 * correction 2), f7 1 - beta1, f8 1 - beta2. p = p decay; g = grad + l2 p; m = beta1 m + f7 g;
 * v = beta2 v + f8 g g; p = p - stepSize m / (sqrt(v) / f6 + eps).
 */
export function adamStep(args: usize, lo: i32, hi: i32): void {
  const grad = argA(args), param = argO0(args), mp = argO1(args), vp = argO2(args);
  const beta1 = argF0(args), beta2 = argF1(args), eps = argF2(args), l2 = argF3(args), decay = argF4(args);
  const stepSize = argF5(args), bias2Sqrt = argF6(args), oneMinusBeta1 = argF7(args), oneMinusBeta2 = argF8(args);
  const b1v = f32x4.splat(beta1), b2v = f32x4.splat(beta2), epsv = f32x4.splat(eps), l2v = f32x4.splat(l2), decayv = f32x4.splat(decay);
  const stepv = f32x4.splat(stepSize), bc2v = f32x4.splat(bias2Sqrt), c1v = f32x4.splat(oneMinusBeta1), c2v = f32x4.splat(oneMinusBeta2);
  let i = lo;
  for (; i + 4 <= hi; i += 4) {
    const o = <usize>i << 2;
    const p = f32x4.mul(v128.load(param + o), decayv);
    const g = f32x4.add(v128.load(grad + o), f32x4.mul(l2v, p));
    const m = f32x4.add(f32x4.mul(b1v, v128.load(mp + o)), f32x4.mul(c1v, g));
    const v = f32x4.add(f32x4.mul(b2v, v128.load(vp + o)), f32x4.mul(f32x4.mul(c2v, g), g));
    v128.store(mp + o, m);
    v128.store(vp + o, v);
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(v), bc2v), epsv);
    v128.store(param + o, f32x4.sub(p, f32x4.div(f32x4.mul(stepv, m), denom)));
  }
  for (; i < hi; i++) {
    const p = load<f32>(at(param, i)) * decay;
    const g = load<f32>(at(grad, i)) + l2 * p;
    const m = beta1 * load<f32>(at(mp, i)) + oneMinusBeta1 * g;
    const v = beta2 * load<f32>(at(vp, i)) + (oneMinusBeta2 * g) * g;
    store<f32>(at(mp, i), m);
    store<f32>(at(vp, i), v);
    store<f32>(at(param, i), p - (stepSize * m) / (Mathf.sqrt(v) / bias2Sqrt + eps));
  }
}

/**
 * Block gather by a map: o0[i] = b[i / width] < 0 ? 0 : a[b[i / width] * width + i % width], b
 * holding one float per output block (a source block index, or -1 for a zero block); block
 * segment by block segment.
 */
@inline function mapBlocks(args: usize, lo: i32, hi: i32): void {
  const src = argA(args), map = argB(args), out = argO0(args);
  const width = argWidth(args);
  if (width <= 0) return;
  let i = lo;
  let block = lo / width;
  let j = lo - block * width;
  while (i < hi) {
    const n = min(width - j, hi - i);
    const from = load<f32>(at(map, block));
    if (from < 0) fillFloats(at(out, i), n, 0);
    else copyFloats(src + ((<usize><i32>from * <usize>width + <usize>j) << 2), at(out, i), n);
    i += n;
    block++;
    j = 0;
  }
}

/** gatherBlocks: o0[i] = b[i / width] < 0 ? 0 : a[b[i / width] * width + i % width] (b: the source block of each output block). */
export function gatherBlocks(args: usize, lo: i32, hi: i32): void {
  mapBlocks(args, lo, hi);
}

/** scatterBlocks: gatherBlocks' kernel (the JavaScript side turns the scatter's ids into the map b, -1 for zero blocks). */
export function scatterBlocks(args: usize, lo: i32, hi: i32): void {
  mapBlocks(args, lo, hi);
}

/** gatherRows: gatherBlocks' kernel (b: the table row of each output row; the table's rows are its blocks). */
export function gatherRows(args: usize, lo: i32, hi: i32): void {
  mapBlocks(args, lo, hi);
}

/** copyRows: o0[flag + i] = a[i] in place (flag = row * width, the first element of dst's rows written). */
export function copyRows(args: usize, lo: i32, hi: i32): void {
  if (hi > lo) copyFloats(at(argA(args), lo), argO0(args) + ((<usize>argFlag(args) + <usize>lo) << 2), hi - lo);
}

/** sliceRows: o0[i] = a[flag + i] (flag = row * width, the first element of src's rows read). */
export function sliceRows(args: usize, lo: i32, hi: i32): void {
  if (hi > lo) copyFloats(argA(args) + ((<usize>argFlag(args) + <usize>lo) << 2), at(argO0(args), lo), hi - lo);
}

/**
 * The hard-concrete logit of four lanes: with noise (log(u / (1 - u)) + logAlpha) / beta (one log
 * of the odds: log u - log(1 - u) to a few ulp, at half the cost), else logAlpha.
 */
@inline function gateLogit4(noise: bool, la: v128, u: v128, beta: v128): v128 {
  if (!noise) return la;
  const odds = f32x4.div(u, f32x4.sub(f32x4.splat(1), u));
  return f32x4.div(f32x4.add(logF32x4(odds), la), beta);
}

/** The hard-concrete logit of one float: gateLogit4's formula. */
@inline function gateLogit1(noise: bool, la: f32, u: f32, beta: f32): f32 {
  if (!noise) return la;
  return (logF32(u / (<f32>1 - u)) + la) / beta;
}

/** The gate of four lanes: clamp(sigmoid(z) spread + gamma, 0, 1). */
@inline function gate4(noise: bool, la: v128, u: v128, beta: v128, gamma: v128, spread: v128): v128 {
  const s = f32x4.add(f32x4.mul(sigmoidF32x4(gateLogit4(noise, la, u, beta)), spread), gamma);
  return f32x4.min(f32x4.max(s, f32x4.splat(0)), f32x4.splat(1));
}

/** hardConcreteGates over [lo, hi), noise or not (a constant once inlined); 16 elements a step, then 4, then 1. */
@inline function gatesLoop(noise: bool, la: usize, u: usize, out: usize, lo: i32, hi: i32, beta: f32, gamma: f32, spread: f32): void {
  const bv = f32x4.splat(beta), gv = f32x4.splat(gamma), sv = f32x4.splat(spread), zero = f32x4.splat(0);
  let i = lo;
  for (; i + 16 <= hi; i += 16) {
    const p = <usize>i << 2;
    const l0 = v128.load(la + p), l1 = v128.load(la + p, 16), l2 = v128.load(la + p, 32), l3 = v128.load(la + p, 48);
    const u0 = noise ? v128.load(u + p) : zero, u1 = noise ? v128.load(u + p, 16) : zero;
    const u2 = noise ? v128.load(u + p, 32) : zero, u3 = noise ? v128.load(u + p, 48) : zero;
    v128.store(out + p, gate4(noise, l0, u0, bv, gv, sv));
    v128.store(out + p, gate4(noise, l1, u1, bv, gv, sv), 16);
    v128.store(out + p, gate4(noise, l2, u2, bv, gv, sv), 32);
    v128.store(out + p, gate4(noise, l3, u3, bv, gv, sv), 48);
  }
  for (; i + 4 <= hi; i += 4) {
    const p = <usize>i << 2;
    v128.store(out + p, gate4(noise, v128.load(la + p), noise ? v128.load(u + p) : zero, bv, gv, sv));
  }
  for (; i < hi; i++) {
    const z = gateLogit1(noise, load<f32>(at(la, i)), noise ? load<f32>(at(u, i)) : 0, beta);
    const s = sigmoidF32(z) * spread + gamma;
    store<f32>(at(out, i), Mathf.min(Mathf.max(s, 0), 1));
  }
}

/**
 * hardConcreteGates: o0 = clamp(sigmoid(z) (f2 - f1) + f1, 0, 1) with z = flag ? (log b - log(1 - b)
 * + a) / f0 : a (a = logAlpha, b = u, the noise; f0 beta, f1 gamma, f2 zeta); log b - log(1 - b)
 * is taken as log(b / (1 - b)).
 */
export function hardConcreteGates(args: usize, lo: i32, hi: i32): void {
  const la = argA(args), u = argB(args), out = argO0(args);
  const beta = argF0(args), gamma = argF1(args), zeta = argF2(args);
  const spread = zeta - gamma;
  if (argFlag(args) != 0) gatesLoop(true, la, u, out, lo, hi, beta, gamma, spread);
  else gatesLoop(false, la, u, out, lo, hi, beta, gamma, spread);
}

/** The gate's gradient of four lanes: dg spread s (1 - s) inner where the stretched gate is in [0, 1], else 0. */
@inline function gateGrad4(noise: bool, la: v128, u: v128, dg: v128, beta: v128, gamma: v128, spread: v128, inner: v128): v128 {
  const s = sigmoidF32x4(gateLogit4(noise, la, u, beta));
  const zero = f32x4.splat(0), one = f32x4.splat(1);
  const stretched = f32x4.add(f32x4.mul(s, spread), gamma);
  const inside = v128.and(f32x4.ge(stretched, zero), f32x4.le(stretched, one));
  const d = f32x4.mul(f32x4.mul(f32x4.mul(f32x4.mul(dg, spread), s), f32x4.sub(one, s)), inner);
  return v128.and(d, inside);
}

/** hardConcreteGrad over [lo, hi), noise or not (a constant once inlined); 16 elements a step, then 4, then 1. */
@inline function gateGradLoop(noise: bool, la: usize, u: usize, dg: usize, out: usize, lo: i32, hi: i32, beta: f32, gamma: f32, spread: f32, inner: f32): void {
  const bv = f32x4.splat(beta), gv = f32x4.splat(gamma), sv = f32x4.splat(spread), iv = f32x4.splat(inner), zero = f32x4.splat(0);
  let i = lo;
  for (; i + 16 <= hi; i += 16) {
    const p = <usize>i << 2;
    const l0 = v128.load(la + p), l1 = v128.load(la + p, 16), l2 = v128.load(la + p, 32), l3 = v128.load(la + p, 48);
    const u0 = noise ? v128.load(u + p) : zero, u1 = noise ? v128.load(u + p, 16) : zero;
    const u2 = noise ? v128.load(u + p, 32) : zero, u3 = noise ? v128.load(u + p, 48) : zero;
    const d0 = v128.load(dg + p), d1 = v128.load(dg + p, 16), d2 = v128.load(dg + p, 32), d3 = v128.load(dg + p, 48);
    v128.store(out + p, gateGrad4(noise, l0, u0, d0, bv, gv, sv, iv));
    v128.store(out + p, gateGrad4(noise, l1, u1, d1, bv, gv, sv, iv), 16);
    v128.store(out + p, gateGrad4(noise, l2, u2, d2, bv, gv, sv, iv), 32);
    v128.store(out + p, gateGrad4(noise, l3, u3, d3, bv, gv, sv, iv), 48);
  }
  for (; i + 4 <= hi; i += 4) {
    const p = <usize>i << 2;
    v128.store(out + p, gateGrad4(noise, v128.load(la + p), noise ? v128.load(u + p) : zero, v128.load(dg + p), bv, gv, sv, iv));
  }
  for (; i < hi; i++) {
    const z = gateLogit1(noise, load<f32>(at(la, i)), noise ? load<f32>(at(u, i)) : 0, beta);
    const s = sigmoidF32(z);
    const stretched = s * spread + gamma;
    const d = (((load<f32>(at(dg, i)) * spread) * s) * (<f32>1 - s)) * inner;
    store<f32>(at(out, i), select<f32>(d, 0, stretched >= 0 && stretched <= 1));
  }
}

/**
 * hardConcreteGrad: o0 = c (f2 - f1) s (1 - s) inner where the stretched gate s (f2 - f1) + f1 is
 * in [0, 1], else 0; s = sigmoid(z) with z as hardConcreteGates' (a = logAlpha, b = u, c =
 * dgates), inner = flag ? 1 / f0 : 1.
 */
export function hardConcreteGrad(args: usize, lo: i32, hi: i32): void {
  const la = argA(args), u = argB(args), dg = argC(args), out = argO0(args);
  const beta = argF0(args), gamma = argF1(args), zeta = argF2(args);
  const spread = zeta - gamma;
  if (argFlag(args) != 0) gateGradLoop(true, la, u, dg, out, lo, hi, beta, gamma, spread, <f32>1 / beta);
  else gateGradLoop(false, la, u, dg, out, lo, hi, beta, gamma, spread, 1);
}

/** The float64 sum of the lanes of two f64x2 accumulators, in a fixed order. */
@inline function lanesSum(a: v128, b: v128): f64 {
  return (f64x2.extract_lane(a, 0) + f64x2.extract_lane(b, 0)) + (f64x2.extract_lane(a, 1) + f64x2.extract_lane(b, 1));
}

/** The high two lanes of an f32x4 as float64 (its low two: f64x2.promote_low_f32x4). */
@inline function promoteHigh(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
}

/** s = sigmoid(la - shift) of four lanes; stores s (1 - s) at p and returns s. */
@inline function l0Lanes(la: v128, shift: v128, p: usize): v128 {
  const s = sigmoidF32x4(f32x4.sub(la, shift));
  v128.store(p, f32x4.mul(s, f32x4.sub(f32x4.splat(1), s)));
  return s;
}

/**
 * l0Penalty of one unit's elements [lo, hi): writes s (1 - s) to out, returns the float64 sum of
 * s (four f64x2 accumulators: 16 elements a step, then 4 a step, then a scalar tail, added in a
 * fixed order).
 */
@inline function l0Unit(la: usize, out: usize, lo: i32, hi: i32, shift: f32): f64 {
  const shv = f32x4.splat(shift);
  let a0 = f64x2.splat(0), a1 = f64x2.splat(0), b0 = f64x2.splat(0), b1 = f64x2.splat(0);
  let i = lo;
  for (; i + 16 <= hi; i += 16) {
    const p = <usize>i << 2;
    const x0 = v128.load(la + p), x1 = v128.load(la + p, 16), x2 = v128.load(la + p, 32), x3 = v128.load(la + p, 48);
    const s0 = l0Lanes(x0, shv, out + p), s1 = l0Lanes(x1, shv, out + p + 16);
    const s2 = l0Lanes(x2, shv, out + p + 32), s3 = l0Lanes(x3, shv, out + p + 48);
    a0 = f64x2.add(a0, f64x2.add(f64x2.promote_low_f32x4(s0), f64x2.promote_low_f32x4(s1)));
    a1 = f64x2.add(a1, f64x2.add(promoteHigh(s0), promoteHigh(s1)));
    b0 = f64x2.add(b0, f64x2.add(f64x2.promote_low_f32x4(s2), f64x2.promote_low_f32x4(s3)));
    b1 = f64x2.add(b1, f64x2.add(promoteHigh(s2), promoteHigh(s3)));
  }
  for (; i + 4 <= hi; i += 4) {
    const p = <usize>i << 2;
    const s = l0Lanes(v128.load(la + p), shv, out + p);
    a0 = f64x2.add(a0, f64x2.promote_low_f32x4(s));
    a1 = f64x2.add(a1, promoteHigh(s));
  }
  let sum = lanesSum(a0, a1) + lanesSum(b0, b1);
  for (; i < hi; i++) {
    const s = sigmoidF32(load<f32>(at(la, i)) - shift);
    store<f32>(at(out, i), s * (<f32>1 - s));
    sum += <f64>s;
  }
  return sum;
}

/**
 * l0Penalty: o0 = s (1 - s) with s = sigmoid(a - f3) (a = logAlpha, f3 the shift); partial sums
 * (1 per unit) at o1: float `unit` = the sum of s over the unit's elements (summed in float64).
 */
export function l0Penalty(args: usize, lo: i32, hi: i32): void {
  const la = argA(args), out = argO0(args), partials = argO1(args);
  const shift = argF3(args);
  const per = argPer(args);
  let start = lo;
  while (start < hi) {
    const unit = start / per;
    const end = min(hi, (unit + 1) * per);
    store<f32>(at(partials, unit), <f32>l0Unit(la, out, start, end, shift));
    start = end;
  }
}

// ---------------------------------------------------------------------------------------------
// LSTM cell: items are (row, unit) pairs of an [N, H] state; an item's four gates lie H floats
// (`gap` bytes) apart in its [N, 4H] row, in PyTorch's order i, f, g, o.

/**
 * Four items of lstmCell: z = (recurrent + input) + bias per gate, gates (sigmoid, sigmoid, tanh,
 * sigmoid), c = f cPrev + i g, h = o tanh(c). Pointers at the items' gate i (rec, inp, bias,
 * gates) and their states (cp, h, c).
 */
@inline function lstmLanes(rec: usize, inp: usize, bias: usize, cp: usize, h: usize, c: usize, gates: usize, gap: usize): void {
  const gap2 = gap << 1, gap3 = gap + gap2;
  const zi = f32x4.add(f32x4.add(v128.load(rec), v128.load(inp)), v128.load(bias));
  const zf = f32x4.add(f32x4.add(v128.load(rec + gap), v128.load(inp + gap)), v128.load(bias + gap));
  const zg = f32x4.add(f32x4.add(v128.load(rec + gap2), v128.load(inp + gap2)), v128.load(bias + gap2));
  const zo = f32x4.add(f32x4.add(v128.load(rec + gap3), v128.load(inp + gap3)), v128.load(bias + gap3));
  const i = sigmoidF32x4(zi), f = sigmoidF32x4(zf), g = tanhF32x4(zg), o = sigmoidF32x4(zo);
  v128.store(gates, i);
  v128.store(gates + gap, f);
  v128.store(gates + gap2, g);
  v128.store(gates + gap3, o);
  const cv = f32x4.add(f32x4.mul(f, v128.load(cp)), f32x4.mul(i, g));
  v128.store(c, cv);
  v128.store(h, f32x4.mul(o, tanhF32x4(cv)));
}

/** One item of lstmCell: lstmLanes' formula. */
@inline function lstmOne(rec: usize, inp: usize, bias: usize, cp: usize, h: usize, c: usize, gates: usize, gap: usize): void {
  const gap2 = gap << 1, gap3 = gap + gap2;
  const i = sigmoidF32((load<f32>(rec) + load<f32>(inp)) + load<f32>(bias));
  const f = sigmoidF32((load<f32>(rec + gap) + load<f32>(inp + gap)) + load<f32>(bias + gap));
  const g = tanhF32((load<f32>(rec + gap2) + load<f32>(inp + gap2)) + load<f32>(bias + gap2));
  const o = sigmoidF32((load<f32>(rec + gap3) + load<f32>(inp + gap3)) + load<f32>(bias + gap3));
  store<f32>(gates, i);
  store<f32>(gates + gap, f);
  store<f32>(gates + gap2, g);
  store<f32>(gates + gap3, o);
  const cv = f * load<f32>(cp) + i * g;
  store<f32>(c, cv);
  store<f32>(h, o * tanhF32(cv));
}

/**
 * lstmCell: a = recurrent, b = input [N, 4H], c = bias [4H], d = cPrev [N, H]; o0 = h, o1 = c
 * [N, H], o2 = gates [N, 4H]; width = H, items i = row H + j. Row segment by row segment, 8
 * items a step (two independent groups of lanes), then 4, then 1.
 */
export function lstmCell(args: usize, lo: i32, hi: i32): void {
  // flag: the element offset of the input's first row (a step of a longer input projection).
  const rec = argA(args), inp = argB(args) + (<usize>argFlag(args) << 2), bias = argC(args), cPrev = argD(args);
  const h = argO0(args), c = argO1(args), gates = argO2(args);
  const width = argWidth(args);
  if (width <= 0) return;
  const gap = <usize>width << 2;
  let i = lo;
  let row = lo / width;
  let j = lo - row * width;
  while (i < hi) {
    const n = min(width - j, hi - i);
    const z = (<usize>row * (<usize>width << 2) + <usize>j) << 2;
    const s = <usize>i << 2;
    const rs = rec + z, ins = inp + z, bs = bias + (<usize>j << 2), gs = gates + z;
    const cps = cPrev + s, hs = h + s, cs = c + s;
    let k = 0;
    for (; k + 8 <= n; k += 8) {
      const p = <usize>k << 2;
      lstmLanes(rs + p, ins + p, bs + p, cps + p, hs + p, cs + p, gs + p, gap);
      lstmLanes(rs + p + 16, ins + p + 16, bs + p + 16, cps + p + 16, hs + p + 16, cs + p + 16, gs + p + 16, gap);
    }
    for (; k + 4 <= n; k += 4) {
      const p = <usize>k << 2;
      lstmLanes(rs + p, ins + p, bs + p, cps + p, hs + p, cs + p, gs + p, gap);
    }
    for (; k < n; k++) {
      const p = <usize>k << 2;
      lstmOne(rs + p, ins + p, bs + p, cps + p, hs + p, cs + p, gs + p, gap);
    }
    i += n;
    row++;
    j = 0;
  }
}

/**
 * Four items of lstmCellGrad: tc = tanh(c), dct = dc + (dh o) (1 - tc tc) (dc 0 when absent: the
 * same bits as a zero tensor), dz = ((dct g) (i (1 - i)), (dct cPrev) (f (1 - f)),
 * (dct i) (1 - g g), (dh tc) (o (1 - o))), dcPrev = dct f.
 */
@inline function lstmGradLanes(hasDc: bool, gates: usize, cp: usize, c: usize, dh: usize, dc: usize, dz: usize, dcPrev: usize, gap: usize): void {
  const gap2 = gap << 1, gap3 = gap + gap2;
  const one = f32x4.splat(1);
  const i = v128.load(gates), f = v128.load(gates + gap), g = v128.load(gates + gap2), o = v128.load(gates + gap3);
  const tc = tanhF32x4(v128.load(c));
  const dhv = v128.load(dh);
  const dcv = hasDc ? v128.load(dc) : f32x4.splat(0);
  const dct = f32x4.add(dcv, f32x4.mul(f32x4.mul(dhv, o), f32x4.sub(one, f32x4.mul(tc, tc))));
  v128.store(dz, f32x4.mul(f32x4.mul(dct, g), f32x4.mul(i, f32x4.sub(one, i))));
  v128.store(dz + gap, f32x4.mul(f32x4.mul(dct, v128.load(cp)), f32x4.mul(f, f32x4.sub(one, f))));
  v128.store(dz + gap2, f32x4.mul(f32x4.mul(dct, i), f32x4.sub(one, f32x4.mul(g, g))));
  v128.store(dz + gap3, f32x4.mul(f32x4.mul(dhv, tc), f32x4.mul(o, f32x4.sub(one, o))));
  v128.store(dcPrev, f32x4.mul(dct, f));
}

/** One item of lstmCellGrad: lstmGradLanes' formula. */
@inline function lstmGradOne(hasDc: bool, gates: usize, cp: usize, c: usize, dh: usize, dc: usize, dz: usize, dcPrev: usize, gap: usize): void {
  const gap2 = gap << 1, gap3 = gap + gap2;
  const i = load<f32>(gates), f = load<f32>(gates + gap), g = load<f32>(gates + gap2), o = load<f32>(gates + gap3);
  const tc = tanhF32(load<f32>(c));
  const dhv = load<f32>(dh);
  const dcv: f32 = hasDc ? load<f32>(dc) : 0;
  const dct = dcv + (dhv * o) * (<f32>1 - tc * tc);
  store<f32>(dz, (dct * g) * (i * (<f32>1 - i)));
  store<f32>(dz + gap, (dct * load<f32>(cp)) * (f * (<f32>1 - f)));
  store<f32>(dz + gap2, (dct * i) * (<f32>1 - g * g));
  store<f32>(dz + gap3, (dhv * tc) * (o * (<f32>1 - o)));
  store<f32>(dcPrev, dct * f);
}

/** lstmCellGrad over items [lo, hi), with dc or without (a constant once inlined); row segment by row segment, 8 items a step, then 4, then 1. */
@inline function lstmGradLoop(hasDc: bool, gates: usize, cPrev: usize, c: usize, dh: usize, dc: usize, dz: usize, dcPrev: usize, width: i32, lo: i32, hi: i32): void {
  const gap = <usize>width << 2;
  let i = lo;
  let row = lo / width;
  let j = lo - row * width;
  while (i < hi) {
    const n = min(width - j, hi - i);
    const z = (<usize>row * (<usize>width << 2) + <usize>j) << 2;
    const s = <usize>i << 2;
    const gs = gates + z, ds = dz + z;
    const cps = cPrev + s, cs = c + s, dhs = dh + s, dcs = dc + s, dps = dcPrev + s;
    let k = 0;
    for (; k + 8 <= n; k += 8) {
      const p = <usize>k << 2;
      lstmGradLanes(hasDc, gs + p, cps + p, cs + p, dhs + p, dcs + p, ds + p, dps + p, gap);
      lstmGradLanes(hasDc, gs + p + 16, cps + p + 16, cs + p + 16, dhs + p + 16, dcs + p + 16, ds + p + 16, dps + p + 16, gap);
    }
    for (; k + 4 <= n; k += 4) {
      const p = <usize>k << 2;
      lstmGradLanes(hasDc, gs + p, cps + p, cs + p, dhs + p, dcs + p, ds + p, dps + p, gap);
    }
    for (; k < n; k++) {
      const p = <usize>k << 2;
      lstmGradOne(hasDc, gs + p, cps + p, cs + p, dhs + p, dcs + p, ds + p, dps + p, gap);
    }
    i += n;
    row++;
    j = 0;
  }
}

/**
 * lstmCellGrad: a = gates [N, 4H], b = cPrev, c = c, d = dh, e = dc [N, H] (flag 1; flag 0: dc is
 * zero and e absent); o0 = dz [N, 4H], o1 = dcPrev [N, H]; width = H, items as lstmCell's.
 */
export function lstmCellGrad(args: usize, lo: i32, hi: i32): void {
  const gates = argA(args), cPrev = argB(args), c = argC(args), dh = argD(args), dc = argE(args);
  const dz = argO0(args), dcPrev = argO1(args);
  const width = argWidth(args);
  if (width <= 0) return;
  if (argFlag(args) != 0) lstmGradLoop(true, gates, cPrev, c, dh, dc, dz, dcPrev, width, lo, hi);
  else lstmGradLoop(false, gates, cPrev, c, dh, dc, dz, dcPrev, width, lo, hi);
}

// ---------------------------------------------------------------------------------------------
// Pooling over NHWC activations (src/kernels/pool.ts)
//
// width = C (the channels); f0 .. f7 the window: input H, W, kernel kh, kw, stride sh, sw,
// padding ph, pw (exact integers in float32); the output size is derived as the specs do. An
// element is (position, channel) = (i / C, i % C): a unit's elements are walked position segment
// by position segment, four channels at a time (contiguous in NHWC) and single channels at the end
// of a segment, the lanes and the single channels running the same operations in the same order,
// so an element's value does not depend on where its unit starts. Every op writes only its own
// elements: the gradients gather, for each input position, the windows that hold it (no scatter),
// adding their terms from 0 in increasing window order.

/** The pooled size along one axis: floor((size + 2 pad - kernel) / stride) + 1 (the specs check it is >= 1). */
@inline function pooledSize(size: i32, kernel: i32, stride: i32, pad: i32): i32 {
  return (size + 2 * pad - kernel) / stride + 1;
}

/** The first window along one axis that holds input index `index`. */
@inline function firstWindow(index: i32, kernel: i32, stride: i32, pad: i32): i32 {
  const reach = index + pad - kernel + 1;
  return reach <= 0 ? 0 : (reach + stride - 1) / stride;
}

/** One past the last window along one axis that holds input index `index`. */
@inline function endWindow(index: i32, stride: i32, pad: i32, windows: i32): i32 {
  return min((index + pad) / stride + 1, windows);
}

/** Whether v replaces the running maximum m: larger, or NaN (PyTorch's rule: NaN propagates, and the first maximum wins ties). */
@inline function maxTakes4(v: v128, m: v128): v128 {
  return v128.or(f32x4.gt(v, m), f32x4.ne(v, v));
}

@inline function maxTakes1(v: f32, m: f32): bool {
  return v > m || v != v;
}

/**
 * Max or average of the window rows [ya, yb) x columns [xa, xb) of x, four channels from `src`
 * (the address of tap (ya, xa)); `rowBytes`, `colBytes` the strides of an input row and position.
 */
@inline function window4(isMax: bool, src: usize, rows: i32, cols: i32, rowBytes: usize, colBytes: usize, divisor: v128): v128 {
  let acc = isMax ? v128.load(src) : f32x4.splat(0);
  let row = src;
  for (let r = 0; r < rows; r++) {
    let p = row;
    for (let q = 0; q < cols; q++) {
      const v = v128.load(p);
      acc = isMax ? v128.bitselect(v, acc, maxTakes4(v, acc)) : f32x4.add(acc, v);
      p += colBytes;
    }
    row += rowBytes;
  }
  return isMax ? acc : f32x4.div(acc, divisor);
}

@inline function window1(isMax: bool, src: usize, rows: i32, cols: i32, rowBytes: usize, colBytes: usize, divisor: f32): f32 {
  let acc: f32 = isMax ? load<f32>(src) : 0;
  let row = src;
  for (let r = 0; r < rows; r++) {
    let p = row;
    for (let q = 0; q < cols; q++) {
      const v = load<f32>(p);
      acc = isMax ? (maxTakes1(v, acc) ? v : acc) : acc + v;
      p += colBytes;
    }
    row += rowBytes;
  }
  return isMax ? acc : acc / divisor;
}

/** maxPool2d (isMax) or avgPool2d / globalAvgPool: o0 [N, Ho, Wo, C] from a = x [N, H, W, C], over output elements [lo, hi). */
@inline function poolForward(isMax: bool, args: usize, lo: i32, hi: i32): void {
  const x = argA(args), out = argO0(args);
  const ch = argWidth(args);
  if (ch <= 0) return;
  const h = <i32>argF0(args), w = <i32>argF1(args), kh = <i32>argF2(args), kw = <i32>argF3(args);
  const sh = <i32>argF4(args), sw = <i32>argF5(args), ph = <i32>argF6(args), pw = <i32>argF7(args);
  const ho = pooledSize(h, kh, sh, ph), wo = pooledSize(w, kw, sw, pw);
  const divisor: f32 = <f32>(kh * kw);
  const divisor4 = f32x4.splat(divisor);
  const colBytes = <usize>ch << 2;
  const rowBytes = <usize>w * colBytes;
  let i = lo;
  let pos = lo / ch;
  let c = lo - pos * ch;
  while (i < hi) {
    const n = min(ch - c, hi - i);
    const ox = pos % wo;
    const oy = (pos / wo) % ho;
    const image = pos / (wo * ho);
    const y0 = oy * sh - ph, x0 = ox * sw - pw;
    const ya = max(y0, 0), xa = max(x0, 0);
    const rows = min(y0 + kh, h) - ya, cols = min(x0 + kw, w) - xa;
    const src = at(x, ((image * h + ya) * w + xa) * ch + c);
    const dst = at(out, i);
    let k = 0;
    for (; k + 4 <= n; k += 4) {
      const p = <usize>k << 2;
      v128.store(dst + p, window4(isMax, src + p, rows, cols, rowBytes, colBytes, divisor4));
    }
    for (; k < n; k++) {
      const p = <usize>k << 2;
      store<f32>(dst + p, window1(isMax, src + p, rows, cols, rowBytes, colBytes, divisor));
    }
    i += n;
    pos++;
    c = 0;
  }
}

/** maxPool2d: o0 [N, Ho, Wo, C] = the maximum of each window of a = x [N, H, W, C] (padding: -infinity). */
export function maxPool2d(args: usize, lo: i32, hi: i32): void {
  poolForward(true, args, lo, hi);
}

/** avgPool2d: o0 [N, Ho, Wo, C] = each window's sum of a = x [N, H, W, C] over kh kw (padding counted as zeros). */
export function avgPool2d(args: usize, lo: i32, hi: i32): void {
  poolForward(false, args, lo, hi);
}

/** globalAvgPool: avgPool2d's kernel with one window of the whole input (kernel and stride [H, W]): o0 [N, C]. */
export function globalAvgPool(args: usize, lo: i32, hi: i32): void {
  poolForward(false, args, lo, hi);
}

/**
 * Four channels' gradient at input position (iy, ix) of image `image` from dy at `dy` (the
 * address of channel 0 of dy's image): each window (oy, ox) that holds the position adds its dy
 * where its first maximum (isMax; x at `x`, channel 0 of x's image) is this position, or always
 * (average). `c` is the first channel.
 */
@inline function gather4(
  isMax: bool, x: usize, dy: usize, c: i32, iy: i32, ix: i32, ch: i32, h: i32, w: i32, ho: i32, wo: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, rowBytes: usize, colBytes: usize,
): v128 {
  let acc = f32x4.splat(0);
  const oyEnd = endWindow(iy, sh, ph, ho), oxEnd = endWindow(ix, sw, pw, wo);
  for (let oy = firstWindow(iy, kh, sh, ph); oy < oyEnd; oy++) {
    for (let ox = firstWindow(ix, kw, sw, pw); ox < oxEnd; ox++) {
      const g = v128.load(at(dy, (oy * wo + ox) * ch + c));
      if (!isMax) {
        acc = f32x4.add(acc, g);
        continue;
      }
      const y0 = oy * sh - ph, x0 = ox * sw - pw;
      const ya = max(y0, 0), xa = max(x0, 0), yb = min(y0 + kh, h), xb = min(x0 + kw, w);
      let row = at(x, (ya * w + xa) * ch + c);
      let best = v128.load(row);
      let bestTap = i32x4.splat((ya - y0) * kw + (xa - x0));
      for (let ty = ya; ty < yb; ty++) {
        let p = row;
        for (let tx = xa; tx < xb; tx++) {
          const v = v128.load(p);
          const takes = maxTakes4(v, best);
          best = v128.bitselect(v, best, takes);
          bestTap = v128.bitselect(i32x4.splat((ty - y0) * kw + (tx - x0)), bestTap, takes);
          p += colBytes;
        }
        row += rowBytes;
      }
      const mine = i32x4.eq(bestTap, i32x4.splat((iy - y0) * kw + (ix - x0)));
      acc = f32x4.add(acc, v128.and(g, mine));
    }
  }
  return acc;
}

@inline function gather1(
  isMax: bool, x: usize, dy: usize, c: i32, iy: i32, ix: i32, ch: i32, h: i32, w: i32, ho: i32, wo: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, rowBytes: usize, colBytes: usize,
): f32 {
  let acc: f32 = 0;
  const oyEnd = endWindow(iy, sh, ph, ho), oxEnd = endWindow(ix, sw, pw, wo);
  for (let oy = firstWindow(iy, kh, sh, ph); oy < oyEnd; oy++) {
    for (let ox = firstWindow(ix, kw, sw, pw); ox < oxEnd; ox++) {
      const g = load<f32>(at(dy, (oy * wo + ox) * ch + c));
      if (!isMax) {
        acc += g;
        continue;
      }
      const y0 = oy * sh - ph, x0 = ox * sw - pw;
      const ya = max(y0, 0), xa = max(x0, 0), yb = min(y0 + kh, h), xb = min(x0 + kw, w);
      let row = at(x, (ya * w + xa) * ch + c);
      let best = load<f32>(row);
      let bestTap = (ya - y0) * kw + (xa - x0);
      for (let ty = ya; ty < yb; ty++) {
        let p = row;
        for (let tx = xa; tx < xb; tx++) {
          const v = load<f32>(p);
          if (maxTakes1(v, best)) {
            best = v;
            bestTap = (ty - y0) * kw + (tx - x0);
          }
          p += colBytes;
        }
        row += rowBytes;
      }
      acc += bestTap == (iy - y0) * kw + (ix - x0) ? g : 0;
    }
  }
  return acc;
}

/**
 * maxPool2dGrad (isMax: a = x, b = dy) or avgPool2dGrad / globalAvgPoolGrad (a = dy): o0 = dx
 * [N, H, W, C] over input elements [lo, hi), each the sum over the windows that hold it (for the
 * average, divided by kh kw).
 */
@inline function poolBackward(isMax: bool, args: usize, lo: i32, hi: i32): void {
  const x = isMax ? argA(args) : 0, dy = isMax ? argB(args) : argA(args), out = argO0(args);
  const ch = argWidth(args);
  if (ch <= 0) return;
  const h = <i32>argF0(args), w = <i32>argF1(args), kh = <i32>argF2(args), kw = <i32>argF3(args);
  const sh = <i32>argF4(args), sw = <i32>argF5(args), ph = <i32>argF6(args), pw = <i32>argF7(args);
  const ho = pooledSize(h, kh, sh, ph), wo = pooledSize(w, kw, sw, pw);
  const divisor: f32 = <f32>(kh * kw);
  const divisor4 = f32x4.splat(divisor);
  const colBytes = <usize>ch << 2;
  const rowBytes = <usize>w * colBytes;
  let i = lo;
  let pos = lo / ch;
  let c = lo - pos * ch;
  while (i < hi) {
    const n = min(ch - c, hi - i);
    const ix = pos % w;
    const iy = (pos / w) % h;
    const image = pos / (w * h);
    const xi = at(x, image * h * w * ch), dyi = at(dy, image * ho * wo * ch);
    const dst = at(out, i);
    let k = 0;
    for (; k + 4 <= n; k += 4) {
      const g = gather4(isMax, xi, dyi, c + k, iy, ix, ch, h, w, ho, wo, kh, kw, sh, sw, ph, pw, rowBytes, colBytes);
      v128.store(dst + (<usize>k << 2), isMax ? g : f32x4.div(g, divisor4));
    }
    for (; k < n; k++) {
      const g = gather1(isMax, xi, dyi, c + k, iy, ix, ch, h, w, ho, wo, kh, kw, sh, sw, ph, pw, rowBytes, colBytes);
      store<f32>(dst + (<usize>k << 2), isMax ? g : g / divisor);
    }
    i += n;
    pos++;
    c = 0;
  }
}

/** maxPool2dGrad: o0 = dx [N, H, W, C] from a = x and b = dy [N, Ho, Wo, C]: each window's dy to its first maximum, summed where windows overlap. */
export function maxPool2dGrad(args: usize, lo: i32, hi: i32): void {
  poolBackward(true, args, lo, hi);
}

/** avgPool2dGrad: o0 = dx [N, H, W, C] from a = dy [N, Ho, Wo, C]: the sum of the dy of the windows that hold each position, over kh kw. */
export function avgPool2dGrad(args: usize, lo: i32, hi: i32): void {
  poolBackward(false, args, lo, hi);
}

/** globalAvgPoolGrad: avgPool2dGrad's kernel with one window of the whole input: dx[n, y, x, c] = dy[n, c] / (H W). */
export function globalAvgPoolGrad(args: usize, lo: i32, hi: i32): void {
  poolBackward(false, args, lo, hi);
}

// ---------------------------------------------------------------------------------------------
// The math library's test entry

/**
 * The math library's test entry: dst[i] = F(src[i]) for i < n, F = 0 exp, 1 log, 2 tanh,
 * 3 sigmoid (training-math.ts); the vector form for each group of 4, the scalar form for the
 * last n % 4.
 */
export function mathKernel(kind: i32, src: usize, dst: usize, n: i32): void {
  if (kind == 0) unaryLoop(EXP, src, dst, 0, n, 0);
  else if (kind == 1) unaryLoop(LOG, src, dst, 0, n, 0);
  else if (kind == 2) unaryLoop(TANH, src, dst, 0, n, 0);
  else if (kind == 3) unaryLoop(SIGMOID, src, dst, 0, n, 0);
}
