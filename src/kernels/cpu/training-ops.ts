import type { AdamParams, HardConcreteParams, SgdParams } from '../checks.js';
import type { ActivationKind, BlockNormKind } from '../types.js';

/*
 * The training operations on the CPU backend: memory-bound loops over the shared heap's float32
 * view, run in the calling thread (the WebAssembly kernels would gain little here). Arguments are
 * element indices into `f` (byte offset / 4). Arithmetic is in float64, stored as float32.
 */

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** The logistic function, without overflow for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** out[i] = x[i] + bias[i % F] over n rows of F. */
export function addBias(f: Float32Array, x: number, bias: number, out: number, n: number, width: number): void {
  for (let r = 0; r < n; r++) {
    const row = r * width;
    for (let j = 0; j < width; j++) f[out + row + j] = f[x + row + j] + f[bias + j];
  }
}

/** out[j] = scale * sum_r x[r, j] over n rows of F. */
export function sumRows(f: Float32Array, x: number, out: number, n: number, width: number, scale = 1): void {
  const acc = new Float64Array(width);
  for (let r = 0; r < n; r++) {
    const row = x + r * width;
    for (let j = 0; j < width; j++) acc[j] += f[row + j];
  }
  for (let j = 0; j < width; j++) f[out + j] = scale * acc[j];
}

/** f(x) for one value. */
function activate(kind: ActivationKind, v: number): number {
  if (kind === 'relu') return v > 0 ? v : 0;
  if (kind === 'tanh') return Math.tanh(v);
  return 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v)));
}

/** f'(x) for one value. */
function derivative(kind: ActivationKind, v: number): number {
  if (kind === 'relu') return v > 0 ? 1 : 0;
  if (kind === 'tanh') {
    const t = Math.tanh(v);
    return 1 - t * t;
  }
  const t = Math.tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
  return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * v * v);
}

/** out = f(x) elementwise. */
export function activation(f: Float32Array, kind: ActivationKind, x: number, out: number, size: number): void {
  for (let i = 0; i < size; i++) f[out + i] = activate(kind, f[x + i]);
}

/** out = dy * f'(x) elementwise. */
export function activationGrad(f: Float32Array, kind: ActivationKind, x: number, dy: number, out: number, size: number): void {
  for (let i = 0; i < size; i++) f[out + i] = f[dy + i] * derivative(kind, f[x + i]);
}

/** Softmax cross-entropy of n rows of k logits: mean loss, gradient of the mean, correct count. */
export function softmaxCrossEntropy(f: Float32Array, logits: number, labels: number, loss: number, dlogits: number, correct: number, n: number, k: number): void {
  let total = 0;
  let hits = 0;
  for (let r = 0; r < n; r++) {
    const row = logits + r * k;
    let max = f[row];
    let argmax = 0;
    for (let j = 1; j < k; j++) {
      if (f[row + j] > max) {
        max = f[row + j];
        argmax = j;
      }
    }
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(f[row + j] - max);
    const label = f[labels + r];
    const valid = Number.isInteger(label) && label >= 0 && label < k;
    total += valid ? Math.log(sum) + max - f[row + label] : NaN;
    if (valid && argmax === label) hits++;
    const out = dlogits + r * k;
    for (let j = 0; j < k; j++) f[out + j] = (Math.exp(f[row + j] - max) / sum - (j === label ? 1 : 0)) / n;
  }
  f[loss] = total / n;
  f[correct] = hits;
}

/** Layer norm of n rows of F: y, mean, rstd. */
export function layerNorm(f: Float32Array, x: number, gamma: number, beta: number, eps: number, y: number, mean: number, rstd: number, n: number, width: number): void {
  for (let r = 0; r < n; r++) {
    const row = x + r * width;
    let sum = 0;
    for (let j = 0; j < width; j++) sum += f[row + j];
    const mu = sum / width;
    let squares = 0;
    for (let j = 0; j < width; j++) squares += (f[row + j] - mu) ** 2;
    const inv = 1 / Math.sqrt(squares / width + eps);
    for (let j = 0; j < width; j++) f[y + r * width + j] = (f[row + j] - mu) * inv * f[gamma + j] + f[beta + j];
    f[mean + r] = mu;
    f[rstd + r] = inv;
  }
}

/** Layer norm's gradients from dy and the forward's (float32) mean and rstd. */
export function layerNormGrad(
  f: Float32Array, x: number, dy: number, gamma: number, mean: number, rstd: number, dx: number, dgamma: number, dbeta: number, n: number, width: number,
): void {
  const dg = new Float64Array(width);
  const db = new Float64Array(width);
  for (let r = 0; r < n; r++) {
    const row = r * width;
    const mu = f[mean + r];
    const inv = f[rstd + r];
    let sumG = 0;
    let sumGX = 0;
    for (let j = 0; j < width; j++) {
      const xhat = (f[x + row + j] - mu) * inv;
      const d = f[dy + row + j];
      const g = d * f[gamma + j];
      sumG += g;
      sumGX += g * xhat;
      dg[j] += d * xhat;
      db[j] += d;
    }
    const meanG = sumG / width;
    const meanGX = sumGX / width;
    for (let j = 0; j < width; j++) {
      const xhat = (f[x + row + j] - mu) * inv;
      f[dx + row + j] = inv * (f[dy + row + j] * f[gamma + j] - meanG - xhat * meanGX);
    }
  }
  for (let j = 0; j < width; j++) {
    f[dgamma + j] = dg[j];
    f[dbeta + j] = db[j];
  }
}

/** One SGD step in place (PyTorch: g += wd p; buf = momentum buf + g; g = nesterov ? g + momentum buf : buf; p -= lr g). */
export function sgdStep(f: Float32Array, param: number, grad: number, velocity: number, size: number, h: SgdParams): void {
  for (let i = 0; i < size; i++) {
    let g = f[grad + i] + h.weightDecay * f[param + i];
    if (h.momentum > 0) {
      const buf = Math.fround(h.momentum * f[velocity + i] + g);
      f[velocity + i] = buf;
      g = h.nesterov ? g + h.momentum * buf : buf;
    }
    f[param + i] = f[param + i] - h.lr * g;
  }
}

/** One Adam / AdamW step in place (PyTorch's rule: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)). */
export function adamStep(f: Float32Array, param: number, grad: number, m: number, v: number, size: number, h: AdamParams): void {
  for (let i = 0; i < size; i++) {
    const p = Math.fround(f[param + i] * h.decay);
    const g = f[grad + i] + h.l2 * p;
    const mi = Math.fround(h.beta1 * f[m + i] + (1 - h.beta1) * g);
    const vi = Math.fround(h.beta2 * f[v + i] + (1 - h.beta2) * g * g);
    f[m + i] = mi;
    f[v + i] = vi;
    f[param + i] = p - (h.stepSize * mi) / (Math.sqrt(vi) / h.bias2Sqrt + h.eps);
  }
}

/** out = s * x. */
export function scale(f: Float32Array, x: number, s: number, out: number, size: number): void {
  for (let i = 0; i < size; i++) f[out + i] = s * f[x + i];
}

/** y += alpha * x. */
export function axpy(f: Float32Array, alpha: number, x: number, y: number, size: number): void {
  for (let i = 0; i < size; i++) f[y + i] += alpha * f[x + i];
}

/** out[b] = norm of block b (per elements each). */
export function blockNorms(f: Float32Array, kind: BlockNormKind, w: number, out: number, nnz: number, per: number): void {
  for (let b = 0; b < nnz; b++) {
    const block = w + b * per;
    let acc = 0;
    if (kind === 'l2') {
      for (let i = 0; i < per; i++) acc += f[block + i] * f[block + i];
      acc = Math.sqrt(acc);
    } else {
      for (let i = 0; i < per; i++) acc = Math.max(acc, Math.abs(f[block + i]));
    }
    f[out + b] = acc;
  }
}

/** out block j = src block sources[j], or zeros where sources[j] is -1. */
export function gatherBlocks(f: Float32Array, src: number, sources: Int32Array, out: number, per: number): void {
  for (let j = 0; j < sources.length; j++) {
    const from = sources[j];
    if (from < 0) f.fill(0, out + j * per, out + (j + 1) * per);
    else f.copyWithin(out + j * per, src + from * per, src + (from + 1) * per);
  }
}

/** The hard-concrete pre-activation: (log u - log(1 - u) + logAlpha) / beta, or logAlpha without noise. */
function gateLogit(f: Float32Array, logAlpha: number, u: number, i: number, h: HardConcreteParams): number {
  if (u < 0) return f[logAlpha + i];
  const ui = f[u + i];
  return (Math.log(ui) - Math.log(1 - ui) + f[logAlpha + i]) / h.beta;
}

/** Hard-concrete gates; u < 0 means no noise (the test-time gate). */
export function hardConcreteGates(f: Float32Array, logAlpha: number, u: number, out: number, nnz: number, h: HardConcreteParams): void {
  for (let i = 0; i < nnz; i++) {
    const s = sigmoid(gateLogit(f, logAlpha, u, i, h)) * (h.zeta - h.gamma) + h.gamma;
    f[out + i] = Math.min(1, Math.max(0, s));
  }
}

/** dlogAlpha = dgates * (zeta - gamma) s (1 - s) / beta (no 1 / beta without noise), zero where clamped. */
export function hardConcreteGrad(f: Float32Array, logAlpha: number, u: number, dgates: number, out: number, nnz: number, h: HardConcreteParams): void {
  const inner = u < 0 ? 1 : 1 / h.beta;
  for (let i = 0; i < nnz; i++) {
    const s = sigmoid(gateLogit(f, logAlpha, u, i, h));
    const stretched = s * (h.zeta - h.gamma) + h.gamma;
    f[out + i] = stretched >= 0 && stretched <= 1 ? f[dgates + i] * (h.zeta - h.gamma) * s * (1 - s) * inner : 0;
  }
}

/** The expected L0 penalty and its gradient. */
export function l0Penalty(f: Float32Array, logAlpha: number, value: number, grad: number, nnz: number, h: HardConcreteParams): void {
  let sum = 0;
  for (let i = 0; i < nnz; i++) {
    const s = sigmoid(f[logAlpha + i] - h.shift);
    sum += s;
    f[grad + i] = s * (1 - s);
  }
  f[value] = sum;
}
