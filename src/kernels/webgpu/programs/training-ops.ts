import { ACTIVATION_CODES, TRAINING_OPS } from '../../training-ops.js';
import type { Tensor } from '../../types.js';
import { entryPoint, type Dispatch, type PlanContext, type StorageBinding, type UniformRecord, type WebGPUProgram } from '../program.js';
import type { WebGPUTensor } from '../tensor.js';
import { wholeBuffer, type BufferBinding } from '../windows.js';

/*
 * The training operations' kernels (training-ops.ts declares each op and its slots) as three
 * programs that share one binding set and one uniform block, each choosing its operation by a
 * uniform `op` (a uniform branch: one pipeline per program, so a CPU fallback adapter compiles
 * three pipelines for all of them). An op's kernel is the case OP_<name> (its index in
 * TRAINING_OPS) of the program of its grid; webgpu/training-runner.ts runs them from the specs:
 *   elementwise  a thread per element, 256 per workgroup;
 *   rows         a workgroup of 64 per row, reductions along the row by a tree in shared memory;
 *   columns      the sum stage: dst[j] = p0 * sum_r a[r * width + flag + j] for j < count, a
 *                workgroup of 64 x 4 per tile of 64 columns, the 4 thread rows taking every
 *                fourth matrix row, then adding their partial sums (no atomics).
 * Partial sums are one row per element or row of the grid.
 * Each plans its work as dispatches of at most maxComputeWorkgroupsPerDimension workgroups (uniform
 * `lo`: the first element, row or column of the dispatch). Operands are bound whole: a tensor over
 * the device's maxStorageBufferBindingSize is refused with a ShapeError.
 * Float hyper-parameters (the specs' f0 .. f8) travel as their float32 bits in the i32 uniforms p0 .. p8.
 */

/** The shared storage bindings: five read-only inputs and three outputs (in-place operands are bound as outputs). */
const BINDINGS: readonly StorageBinding[] = [
  { name: 'a', access: 'read', element: 'f32' },
  { name: 'b', access: 'read', element: 'f32' },
  { name: 'c', access: 'read', element: 'f32' },
  { name: 'd', access: 'read', element: 'f32' },
  { name: 'e', access: 'read', element: 'f32' },
  { name: 'o0', access: 'read_write', element: 'f32' },
  { name: 'o1', access: 'read_write', element: 'f32' },
  { name: 'o2', access: 'read_write', element: 'f32' },
];

/** The shared uniforms: op code, element/row count, first unit, row width, matrix rows, an integer flag, float bits. */
export const TRAINING_OP_UNIFORMS = ['op', 'count', 'lo', 'width', 'rows', 'flag', 'p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8'] as const;

/** The uniform record of one training-op dispatch. */
export type TrainingOpUniforms = UniformRecord<typeof TRAINING_OP_UNIFORMS>;

const f32Bits = new Float32Array(1);
const i32Bits = new Int32Array(f32Bits.buffer);
/** The float32 bits of `value` as an i32 (a float hyper-parameter in the i32 uniforms). */
export function floatBits(value: number): number {
  f32Bits[0] = value;
  return i32Bits[0];
}

/** Uniform values of one training op (floats as numbers; they are converted to bits p0 .. p8). */
export interface TrainingOpValues {
  op: number;
  count: number;
  width?: number;
  rows?: number;
  flag?: number;
  floats?: readonly number[];
}

/** The op codes as WGSL constants OP_<name>, and the activation codes as ACT_<kind>. */
const OP_CODES = [
  ...TRAINING_OPS.map((name, i) => `const OP_${name}: i32 = ${i};`),
  ...Object.entries(ACTIVATION_CODES).map(([kind, code]) => `const ACT_${kind}: i32 = ${code};`),
].join('\n');

/** sqrt(2 / pi), gelu's constant. */
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI).toFixed(9);

const COMMON = `
${OP_CODES}
fn pf(bits: i32) -> f32 { return bitcast<f32>(bits); }
fn sigmoid(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
// tanh without overflow for large |x| (some drivers' built-in overflows to NaN).
fn tanhStable(x: f32) -> f32 {
  let t = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - t) / (1.0 + t);
}

// The activations (ACT_<kind>) and their derivatives.
fn activate(kind: i32, x: f32) -> f32 {
  if (kind == ACT_relu) { return select(0.0, x, x > 0.0); }
  if (kind == ACT_tanh) { return tanhStable(x); }
  if (kind == ACT_sigmoid) { return sigmoid(x); }
  return 0.5 * x * (1.0 + tanhStable(${SQRT_2_OVER_PI} * (x + 0.044715 * x * x * x)));
}

fn derivative(kind: i32, x: f32) -> f32 {
  if (kind == ACT_relu) { return select(0.0, 1.0, x > 0.0); }
  if (kind == ACT_tanh) {
    let t = tanhStable(x);
    return 1.0 - t * t;
  }
  if (kind == ACT_sigmoid) {
    let s = sigmoid(x);
    return s * (1.0 - s);
  }
  let t = tanhStable(${SQRT_2_OVER_PI} * (x + 0.044715 * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * ${SQRT_2_OVER_PI} * (1.0 + 3.0 * 0.044715 * x * x);
}
`;

/** A training-op program: the shared bindings and uniforms, its workgroup shape and units per workgroup. */
abstract class TrainingOpProgram implements WebGPUProgram {
  abstract readonly key: string;
  abstract readonly workgroupSize: readonly [number, number, number];
  readonly bindings = BINDINGS;
  readonly uniforms = TRAINING_OP_UNIFORMS;
  /** Elements, rows or columns one workgroup covers. */
  abstract readonly unitsPerWorkgroup: number;
  abstract body(): string;

  /**
   * The dispatches covering `units` elements / rows / columns, at most `limits.maxWorkgroups`
   * workgroups each: `inputs` bound to a .. e and `outputs` to o0 .. o2, each tensor whole (absent
   * ones to the context's stand-ins).
   */
  plan(units: number, values: TrainingOpValues, inputs: readonly (Tensor | null)[], outputs: readonly Tensor[], context: PlanContext): Dispatch[] {
    if (units === 0) return [];
    const bind = (t: Tensor | null | undefined, absent: BufferBinding): BufferBinding =>
      t ? wholeBuffer((t as WebGPUTensor).buffer, context.limits, `a tensor of shape [${t.shape.join(', ')}] (an operand of the ${this.key} kernels)`).binding : absent;
    const buffers = [...[0, 1, 2, 3, 4].map((i) => bind(inputs[i], context.absentRead)), ...[0, 1, 2].map((i) => bind(outputs[i], context.absentWrites[i]))];
    const perDispatch = context.limits.maxWorkgroups * this.unitsPerWorkgroup;
    const [p0, p1, p2, p3, p4, p5, p6, p7, p8] = Array.from({ length: 9 }, (_, i) => floatBits(values.floats?.[i] ?? 0));
    const out: Dispatch[] = [];
    for (let lo = 0; lo < units; lo += perDispatch) {
      const workgroups = Math.ceil(Math.min(perDispatch, units - lo) / this.unitsPerWorkgroup);
      const uniforms: TrainingOpUniforms = {
        op: values.op, count: values.count, lo, width: values.width ?? 0, rows: values.rows ?? 0, flag: values.flag ?? 0, p0, p1, p2, p3, p4, p5, p6, p7, p8,
      };
      out.push({ program: this, buffers, uniforms, workgroups: [workgroups, 1, 1] });
    }
    return out;
  }
}

/** A thread per element. */
export class ElementwiseProgram extends TrainingOpProgram {
  readonly key = 'training elementwise';
  readonly workgroupSize = [256, 1, 1] as const;
  readonly unitsPerWorkgroup = 256;

  body(): string {
    return `${COMMON}

// The hard-concrete pre-activation: with noise (flag 1) (log u - log(1 - u) + logAlpha) / beta.
fn gateLogit(i: i32) -> f32 {
  if (u.flag == 0) { return a[i]; }
  let noise = b[i];
  return (log(noise) - log(1.0 - noise) + a[i]) / pf(u.p0);
}

// Pooling over NHWC activations (pool.ts): width C, p0 .. p7 the window: input H, W, kernel kh,
// kw, stride sh, sw, padding ph, pw (exact integers); the output size derived as the specs do.
struct PoolWindow { h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, ho: i32, wo: i32 }

fn poolWindow() -> PoolWindow {
  let h = i32(pf(u.p0));
  let w = i32(pf(u.p1));
  let kh = i32(pf(u.p2));
  let kw = i32(pf(u.p3));
  let sh = i32(pf(u.p4));
  let sw = i32(pf(u.p5));
  let ph = i32(pf(u.p6));
  let pw = i32(pf(u.p7));
  return PoolWindow(h, w, kh, kw, sh, sw, ph, pw, (h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1);
}

// Whether v replaces the running maximum m: larger, or NaN (PyTorch's rule; the first maximum wins ties).
fn maxTakes(v: f32, m: f32) -> bool { return v > m || v != v; }

// Output element i of max pooling (isMax) or average pooling of a: its window's maximum, or its
// sum in row-major order over kh kw.
fn poolForward(i: i32, isMax: bool) -> f32 {
  let g = poolWindow();
  let ch = u.width;
  let pos = i / ch;
  let ox = pos % g.wo;
  let oy = (pos / g.wo) % g.ho;
  let base = (pos / (g.wo * g.ho)) * g.h * g.w * ch + i % ch;
  let y0 = oy * g.sh - g.ph;
  let x0 = ox * g.sw - g.pw;
  let ya = max(y0, 0);
  let xa = max(x0, 0);
  let yb = min(y0 + g.kh, g.h);
  let xb = min(x0 + g.kw, g.w);
  var acc = 0.0;
  if (isMax) { acc = a[base + (ya * g.w + xa) * ch]; }
  for (var ty = ya; ty < yb; ty++) {
    for (var tx = xa; tx < xb; tx++) {
      let v = a[base + (ty * g.w + tx) * ch];
      if (isMax) {
        if (maxTakes(v, acc)) { acc = v; }
      } else {
        acc = acc + v;
      }
    }
  }
  if (isMax) { return acc; }
  return acc / f32(g.kh * g.kw);
}

// Input element i's gradient, gathered from the windows that hold it in increasing window order
// (no scatter: one thread writes each element): max pooling (isMax: a x, b dy) adds the dy of the
// windows whose first maximum it is; average pooling (a dy) adds every window's dy, over kh kw.
fn poolGrad(i: i32, isMax: bool) -> f32 {
  let g = poolWindow();
  let ch = u.width;
  let pos = i / ch;
  let c = i % ch;
  let ix = pos % g.w;
  let iy = (pos / g.w) % g.h;
  let image = pos / (g.w * g.h);
  let xBase = image * g.h * g.w * ch + c;
  let dyBase = image * g.ho * g.wo * ch + c;
  let reachY = iy + g.ph - g.kh + 1;
  let reachX = ix + g.pw - g.kw + 1;
  let oyFirst = select(0, (reachY + g.sh - 1) / g.sh, reachY > 0);
  let oxFirst = select(0, (reachX + g.sw - 1) / g.sw, reachX > 0);
  let oyEnd = min((iy + g.ph) / g.sh + 1, g.ho);
  let oxEnd = min((ix + g.pw) / g.sw + 1, g.wo);
  var acc = 0.0;
  for (var oy = oyFirst; oy < oyEnd; oy++) {
    for (var ox = oxFirst; ox < oxEnd; ox++) {
      let dyAt = dyBase + (oy * g.wo + ox) * ch;
      if (!isMax) {
        acc = acc + a[dyAt];
        continue;
      }
      let y0 = oy * g.sh - g.ph;
      let x0 = ox * g.sw - g.pw;
      let ya = max(y0, 0);
      let xa = max(x0, 0);
      let yb = min(y0 + g.kh, g.h);
      let xb = min(x0 + g.kw, g.w);
      var best = a[xBase + (ya * g.w + xa) * ch];
      var bestY = ya;
      var bestX = xa;
      for (var ty = ya; ty < yb; ty++) {
        for (var tx = xa; tx < xb; tx++) {
          let v = a[xBase + (ty * g.w + tx) * ch];
          if (maxTakes(v, best)) {
            best = v;
            bestY = ty;
            bestX = tx;
          }
        }
      }
      acc = acc + select(0.0, b[dyAt], bestY == iy && bestX == ix);
    }
  }
  if (isMax) { return acc; }
  return acc / f32(g.kh * g.kw);
}

${entryPoint(this.workgroupSize)} {
  let i = u.lo + i32(wg.x) * 256 + i32(lid.x);
  if (i >= u.count) { return; }
  switch (u.op) {
    case OP_addBias: { o0[i] = a[i] + b[i % u.width]; }
    case OP_activation: { o0[i] = activate(u.flag, a[i]); }
    case OP_activationGrad: { o0[i] = b[i] * derivative(u.flag, a[i]); }
    case OP_addBiasActivation: {
      let z = a[i] + b[i % u.width];
      o0[i] = z;
      o1[i] = activate(u.flag, z);
    }
    case OP_add: { o0[i] = a[i] + b[i]; }
    case OP_multiply: { o0[i] = a[i] * b[i]; }
    case OP_scale: { o0[i] = pf(u.p0) * a[i]; }
    case OP_axpy: { o0[i] = o0[i] + pf(u.p0) * a[i]; }
    case OP_copy: { o0[i] = a[i]; }
    case OP_fill: { o0[i] = pf(u.p0); }
    case OP_sgdStep: {
      // SGD: p0 lr, p1 momentum, p2 weight decay, flag nesterov.
      let momentum = pf(u.p1);
      var g = a[i] + pf(u.p2) * o0[i];
      if (momentum > 0.0) {
        let buf = momentum * o1[i] + g;
        o1[i] = buf;
        if (u.flag != 0) { g = g + momentum * buf; } else { g = buf; }
      }
      o0[i] = o0[i] - pf(u.p0) * g;
    }
    case OP_adamStep: {
      // Adam: p0 beta1, p1 beta2, p2 eps, p3 L2, p4 decoupled decay factor, p5 lr / bc1, p6 sqrt(bc2),
      // p7 1 - beta1, p8 1 - beta2 (from float64, as PyTorch: 1 - f32(0.999) is 1.3e-5 off).
      let p = o0[i] * pf(u.p4);
      let g = a[i] + pf(u.p3) * p;
      let m = pf(u.p0) * o1[i] + pf(u.p7) * g;
      let v = pf(u.p1) * o2[i] + pf(u.p8) * g * g;
      o1[i] = m;
      o2[i] = v;
      o0[i] = p - pf(u.p5) * m / (sqrt(v) / pf(u.p6) + pf(u.p2));
    }
    case OP_gatherBlocks, OP_scatterBlocks, OP_gatherRows: {
      // Gather along the first axis: b holds each output block's (row's) source block (-1: zeros).
      let source = i32(b[i / u.width]);
      if (source < 0) { o0[i] = 0.0; } else { o0[i] = a[source * u.width + i % u.width]; }
    }
    case OP_copyRows: { o0[u.flag + i] = a[i]; }
    case OP_sliceRows: { o0[i] = a[u.flag + i]; }
    case OP_hardConcreteGates: {
      // Hard-concrete gate: p1 gamma, p2 zeta.
      let s = sigmoid(gateLogit(i)) * (pf(u.p2) - pf(u.p1)) + pf(u.p1);
      o0[i] = clamp(s, 0.0, 1.0);
    }
    case OP_hardConcreteGrad: {
      let s = sigmoid(gateLogit(i));
      let spread = pf(u.p2) - pf(u.p1);
      let stretched = s * spread + pf(u.p1);
      var inner = 1.0;
      if (u.flag != 0) { inner = 1.0 / pf(u.p0); }
      o0[i] = select(0.0, c[i] * spread * s * (1.0 - s) * inner, stretched >= 0.0 && stretched <= 1.0);
    }
    case OP_l0Penalty: {
      // L0: p3 the shift beta log(-gamma / zeta); o0 the gradient, o1 the partial sums: the probabilities.
      let s = sigmoid(a[i] - pf(u.p3));
      o0[i] = s * (1.0 - s);
      o1[i] = s;
    }
    case OP_lstmCell: {
      // LSTM cell, item i = (row, unit j) of [N, H = width]: a recurrent, b input [N, 4H] (from
      // element flag: a step of a longer input), c bias [4H], d cPrev [N, H]; o0 h, o1 c [N, H],
      // o2 gates [N, 4H] (i, f, g, o blocks of H).
      let hidden = u.width;
      let row = i / hidden;
      let j = i - row * hidden;
      let z = i + 3 * row * hidden;
      let x = z + u.flag;
      let gi = sigmoid((a[z] + b[x]) + c[j]);
      let gf = sigmoid((a[z + hidden] + b[x + hidden]) + c[j + hidden]);
      let gg = tanhStable((a[z + 2 * hidden] + b[x + 2 * hidden]) + c[j + 2 * hidden]);
      let go = sigmoid((a[z + 3 * hidden] + b[x + 3 * hidden]) + c[j + 3 * hidden]);
      o2[z] = gi;
      o2[z + hidden] = gf;
      o2[z + 2 * hidden] = gg;
      o2[z + 3 * hidden] = go;
      let cell = gf * d[i] + gi * gg;
      o1[i] = cell;
      o0[i] = go * tanhStable(cell);
    }
    case OP_lstmCellGrad: {
      // Its gradient: a gates [N, 4H], b cPrev, c c, d dh, e dc (flag 1; flag 0: zero) [N, H];
      // o0 dz [N, 4H], o1 dcPrev [N, H].
      let hidden = u.width;
      let z = i + 3 * (i / hidden) * hidden;
      let gi = a[z];
      let gf = a[z + hidden];
      let gg = a[z + 2 * hidden];
      let go = a[z + 3 * hidden];
      let tc = tanhStable(c[i]);
      let dh = d[i];
      var dc = 0.0;
      if (u.flag != 0) { dc = e[i]; }
      let dct = dc + (dh * go) * (1.0 - tc * tc);
      o0[z] = (dct * gg) * (gi * (1.0 - gi));
      o0[z + hidden] = (dct * b[i]) * (gf * (1.0 - gf));
      o0[z + 2 * hidden] = (dct * gi) * (1.0 - gg * gg);
      o0[z + 3 * hidden] = (dh * tc) * (go * (1.0 - go));
      o1[i] = dct * gf;
    }
    case OP_maxPool2d: { o0[i] = poolForward(i, true); }
    case OP_avgPool2d, OP_globalAvgPool: { o0[i] = poolForward(i, false); }
    case OP_maxPool2dGrad: { o0[i] = poolGrad(i, true); }
    case OP_avgPool2dGrad, OP_globalAvgPoolGrad: { o0[i] = poolGrad(i, false); }
    default: {}
  }
}
`;
  }
}

/** A workgroup of 64 per row of `width`. */
export class RowProgram extends TrainingOpProgram {
  readonly key = 'training rows';
  readonly workgroupSize = [64, 1, 1] as const;
  readonly unitsPerWorkgroup = 1;

  body(): string {
    return `${COMMON}

var<workgroup> red: array<f32, 64>;
var<workgroup> redAt: array<i32, 64>;

fn sumAll(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (t < s) { red[t] = red[t] + red[t + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn maxAll(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (t < s) { red[t] = max(red[t], red[t + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

// The first position of the largest value: (value, position) pairs, larger value or equal value
// and smaller position wins.
fn argmaxAll(t: u32, v: f32, at: i32) -> i32 {
  red[t] = v;
  redAt[t] = at;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (t < s) {
      let other = red[t + s];
      let otherAt = redAt[t + s];
      if (other > red[t] || (other == red[t] && otherAt < redAt[t])) {
        red[t] = other;
        redAt[t] = otherAt;
      }
    }
    workgroupBarrier();
  }
  let r = redAt[0];
  workgroupBarrier();
  return r;
}

${entryPoint(this.workgroupSize)} {
  let row = u.lo + i32(wg.x);
  if (row >= u.count) { return; }
  let width = u.width;
  let base = row * width;
  let t = lid.x;
  let first = i32(t);
  let fw = f32(width);
  switch (u.op) {
    case OP_softmaxCrossEntropy: {
      // Softmax cross-entropy: a logits, b labels; o0 dlogits, o1 partial sums [row loss, hit]; p0 1/N, p1 NaN.
      var best = a[base];
      var bestAt = 0;
      for (var j = first; j < width; j += 64) {
        if (a[base + j] > best) { best = a[base + j]; bestAt = j; }
      }
      let top = argmaxAll(t, best, bestAt);
      let shift = a[base + top];
      var local = 0.0;
      for (var j = first; j < width; j += 64) { local += exp(a[base + j] - shift); }
      let sum = sumAll(t, local);
      let label = b[row];
      let valid = label >= 0.0 && label < fw && floor(label) == label;
      let at = select(-1, i32(label), valid);
      let invN = pf(u.p0);
      for (var j = first; j < width; j += 64) {
        o0[base + j] = (exp(a[base + j] - shift) / sum - select(0.0, 1.0, j == at)) * invN;
      }
      if (t == 0u) {
        if (valid) { o1[2 * row] = log(sum) + shift - a[base + at]; } else { o1[2 * row] = pf(u.p1); }
        o1[2 * row + 1] = select(0.0, 1.0, valid && top == at);
      }
    }
    case OP_layerNorm: {
      // Layer norm: a x, b gamma, c beta, p0 eps; o0 y, o1 mean, o2 rstd.
      var local = 0.0;
      for (var j = first; j < width; j += 64) { local += a[base + j]; }
      let mean = sumAll(t, local) / fw;
      var squares = 0.0;
      for (var j = first; j < width; j += 64) {
        let centred = a[base + j] - mean;
        squares += centred * centred;
      }
      let rstd = 1.0 / sqrt(sumAll(t, squares) / fw + pf(u.p0));
      for (var j = first; j < width; j += 64) { o0[base + j] = (a[base + j] - mean) * rstd * b[j] + c[j]; }
      if (t == 0u) {
        o1[row] = mean;
        o2[row] = rstd;
      }
    }
    case OP_layerNormGrad: {
      // Layer norm's gradients: a x, b dy, c gamma, d mean, e rstd; o0 dx, o1 partial sums [dy xhat (F), dy (F)].
      let mean = d[row];
      let rstd = e[row];
      var sumG = 0.0;
      var sumGX = 0.0;
      for (var j = first; j < width; j += 64) {
        let g = b[base + j] * c[j];
        sumG += g;
        sumGX += g * (a[base + j] - mean) * rstd;
      }
      let meanG = sumAll(t, sumG) / fw;
      let meanGX = sumAll(t, sumGX) / fw;
      for (var j = first; j < width; j += 64) {
        let xhat = (a[base + j] - mean) * rstd;
        o0[base + j] = rstd * (b[base + j] * c[j] - meanG - xhat * meanGX);
        o1[2 * base + j] = b[base + j] * xhat;
        o1[2 * base + width + j] = b[base + j];
      }
    }
    case OP_activationGradBias: {
      // a z, b dy; o0 dz, o1 the partial sums: the row of dz itself (the sum stage adds the rows).
      for (var j = first; j < width; j += 64) {
        let g = b[base + j] * derivative(u.flag, a[base + j]);
        o0[base + j] = g;
        o1[base + j] = g;
      }
    }
    case OP_blockNorms: {
      // Block norm of a: flag 0 l2, 1 max; o0[row].
      var local = 0.0;
      if (u.flag == 0) {
        for (var j = first; j < width; j += 64) { local += a[base + j] * a[base + j]; }
        let norm = sqrt(sumAll(t, local));
        if (t == 0u) { o0[row] = norm; }
      } else {
        for (var j = first; j < width; j += 64) { local = max(local, abs(a[base + j])); }
        let norm = maxAll(t, local);
        if (t == 0u) { o0[row] = norm; }
      }
    }
    case OP_scatterAddRows: {
      // a dy [R, E], b dy's rows in output-row order, c each output row's first position in b
      // (rows + 1); o0 [rows, E]: each element's terms added from 0 in increasing r.
      let k0 = i32(c[row]);
      let k1 = i32(c[row + 1]);
      for (var j = first; j < width; j += 64) {
        var s = 0.0;
        for (var k = k0; k < k1; k++) { s = s + a[i32(b[k]) * width + j]; }
        o0[base + j] = s;
      }
    }
    case OP_sumSquares: {
      // a x, its first flag elements as rows of width (the last one short); o0 the partial sums, one per row.
      let end = min(base + width, u.flag);
      var local = 0.0;
      for (var j = base + first; j < end; j += 64) { local += a[j] * a[j]; }
      let total = sumAll(t, local);
      if (t == 0u) { o0[row] = total; }
    }
    default: {}
  }
}
`;
  }
}

/** A workgroup of 64 x 4 per tile of 64 columns of a [rows, width] matrix. */
export class ColumnProgram extends TrainingOpProgram {
  readonly key = 'training columns';
  readonly workgroupSize = [64, 4, 1] as const;
  readonly unitsPerWorkgroup = 64;

  body(): string {
    return `
fn pf(bits: i32) -> f32 { return bitcast<f32>(bits); }

var<workgroup> part0: array<f32, 256>;

${entryPoint(this.workgroupSize)} {
  let col = u.lo + i32(wg.x) * 64 + i32(lid.x);
  var s0 = 0.0;
  if (col < u.count) {
    for (var r = i32(lid.y); r < u.rows; r += 4) { s0 += a[r * u.width + u.flag + col]; }
  }
  part0[tid] = s0;
  workgroupBarrier();
  if (lid.y == 0u && col < u.count) {
    let x = lid.x;
    o0[col] = pf(u.p0) * ((part0[x] + part0[x + 64u]) + (part0[x + 128u] + part0[x + 192u]));
  }
}
`;
  }
}
