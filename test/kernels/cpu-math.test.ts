import { describe, expect, it } from 'vitest';
import { kernelBytes } from '../../src/kernels/cpu/wasm.js';

/*
 * The CPU backend's math library (assembly/training-math.ts), through the kernel module's
 * `mathKernel` export: exp, log, tanh and sigmoid against float64 Math.exp, Math.log, Math.tanh
 * and a float64 sigmoid, held to the error bounds the library's comments state, over dense sweeps
 * of each function's useful range, random values across many magnitudes, and special values
 * (NaN, +-Inf, +-0, huge, tiny, subnormal). The vector form (groups of 4) and the scalar form (the
 * tail) must give the same bits. Then every training op must give the same bytes in the plain and
 * the relaxed-SIMD build of the module (the training ops use no relaxed instruction).
 *
 * Errors are in ulp of the float64 reference r: ulp(r) = 2^(e - 23) for 2^e <= |r| < 2^(e + 1),
 * for r a normal float32; results below 2^-126 (subnormal) are held to an absolute bound in units
 * of 2^-149.
 */

/** The stated bounds (assembly/training-math.ts). */
const BOUNDS = {
  exp: { ulp: 1, subnormal: 1 },
  log: { ulp: 1 },
  tanh: { ulp: 5.6, absolute: 2 ** -22.25, relative: 2 ** -21.3 },
  sigmoid: { ulp: 3, absolute: 2 ** -23, subnormal: 1 },
};
const MATH_KINDS = { exp: 0, log: 1, tanh: 2, sigmoid: 3 } as const;
type MathName = keyof typeof MATH_KINDS;

const MIN_NORMAL = 2 ** -126;
const MIN_SUBNORMAL = 2 ** -149;
const MAX_FLOAT = 3.4028234663852886e38;
/** The float64 values that round to +Inf in float32 start here (MAX_FLOAT + half its ulp). */
const OVERFLOW = 3.4028235677973366e38;

type Kernel = (...args: number[]) => void;
interface Module {
  memory: WebAssembly.Memory;
  exports: Record<string, Kernel>;
  relaxed: boolean;
}

function instantiate(relaxed: boolean): Module {
  const { bytes, relaxed: isRelaxed } = kernelBytes(relaxed);
  const memory = new WebAssembly.Memory({ initial: 128, maximum: 65536, shared: true });
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as Record<string, Kernel>;
  return { memory, exports, relaxed: isRelaxed };
}

/** A small deterministic generator (mulberry32). */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SRC = 1 << 16;
const DST = 1 << 22;

/** F(x) for every x by one mathKernel call: groups of 4 take the vector form, the last n % 4 the scalar form. */
function evaluate(m: Module, name: MathName, xs: Float32Array): Float32Array {
  const f32 = new Float32Array(m.memory.buffer);
  f32.set(xs, SRC / 4);
  m.exports.mathKernel(MATH_KINDS[name], SRC, DST, xs.length);
  return f32.slice(DST / 4, DST / 4 + xs.length);
}

/** Each x alone (n = 1: the scalar form). */
function evaluateScalar(m: Module, name: MathName, xs: Float32Array): Float32Array {
  const f32 = new Float32Array(m.memory.buffer);
  f32.set(xs, SRC / 4);
  for (let i = 0; i < xs.length; i++) m.exports.mathKernel(MATH_KINDS[name], SRC + 4 * i, DST + 4 * i, 1);
  return f32.slice(DST / 4, DST / 4 + xs.length);
}

const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const REFERENCES: Record<MathName, (x: number) => number> = { exp: Math.exp, log: Math.log, tanh: Math.tanh, sigmoid };

/** ulp of a float64 value of normal float32 magnitude. */
function ulp(r: number): number {
  let e = Math.floor(Math.log2(Math.abs(r)));
  if (2 ** e > Math.abs(r)) e--;
  else if (2 ** (e + 1) <= Math.abs(r)) e++;
  return 2 ** (e - 23);
}

function sweep(lo: number, hi: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => lo + ((hi - lo) * i) / (count - 1));
}

/** Random values of random sign and magnitude 2^[lo, hi) (log-uniform). */
function magnitudes(rng: () => number, lo: number, hi: number, count: number, signed = true): number[] {
  return Array.from({ length: count }, () => (signed && rng() < 0.5 ? -1 : 1) * 2 ** (lo + (hi - lo) * rng()));
}

const SPECIALS = [
  NaN, Infinity, -Infinity, 0, -0, 1, -1, MAX_FLOAT, -MAX_FLOAT, 1e30, -1e30, MIN_NORMAL, -MIN_NORMAL, MIN_SUBNORMAL, -MIN_SUBNORMAL, 1e-40, -1e-40, 1e-20, -1e-20,
];

/** The inputs of each function: its useful range densely, random values, the specials. */
function inputs(name: MathName): Float32Array {
  const rng = generator(0x5eed + MATH_KINDS[name]);
  let parts: number[][];
  if (name === 'exp') {
    parts = [sweep(-104.5, 89.5, 120001), sweep(-1, 1, 20001), magnitudes(rng, -40, 6.5, 20000)];
    parts.push([88.72283, 88.7228394, 88.72284, -87.33654, -87.3366, -103.97, -103.98, -88.7, -95]);
  } else if (name === 'log') {
    parts = [sweep(0.5, 2, 60001), sweep(1 - 2 ** -10, 1 + 2 ** -10, 20001), magnitudes(rng, -149, 128, 60000, false)];
    parts.push(magnitudes(rng, -149, -126, 2000, false), [-1e-30, -5]);
  } else if (name === 'tanh') {
    parts = [sweep(-10.5, 10.5, 120001), sweep(-0.7, 0.7, 20001), magnitudes(rng, -40, 4, 20000)];
    parts.push([8.145, -8.145, 9.01, 20, -20, 1e5, 8.926884, -8.926884, 8.926883, 5.4396567, 0.12534592, 0.1253459]);
  } else {
    parts = [sweep(-105, 30, 120001), sweep(-1, 1, 20001), magnitudes(rng, -40, 6.5, 20000)];
    parts.push([-87.33, -87.34, -100, -104, 17, 17.5]);
  }
  return Float32Array.from(SPECIALS.concat(...parts));
}

interface Measured {
  worstUlp: number;
  worstUlpAt: number;
  worstAbsolute: number;
  worstAbsoluteAt: number;
  worstSubnormal: number;
  worstSubnormalAt: number;
  /** Values whose result is not the special value the reference gives (NaN, +-Inf), or not finite where it should be. */
  wrong: string[];
}

/** Measures the errors of F over xs, and collects special-value mismatches. */
function measure(name: MathName, xs: Float32Array, ys: Float32Array): Measured {
  const ref = REFERENCES[name];
  const m: Measured = { worstUlp: 0, worstUlpAt: NaN, worstAbsolute: 0, worstAbsoluteAt: NaN, worstSubnormal: 0, worstSubnormalAt: NaN, wrong: [] };
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const y = ys[i];
    const r = ref(x);
    if (Number.isNaN(r) || Math.abs(r) >= OVERFLOW || !Number.isFinite(y)) {
      const expected = Number.isNaN(r) ? NaN : Math.abs(r) >= OVERFLOW ? Math.sign(r) * Infinity : r;
      if (!Object.is(y, expected)) m.wrong.push(`${name}(${x}) = ${y}, expected ${expected}`);
      continue;
    }
    const error = Math.abs(y - r);
    if (error > m.worstAbsolute) {
      m.worstAbsolute = error;
      m.worstAbsoluteAt = x;
    }
    if (Math.abs(r) >= MIN_NORMAL) {
      const u = error / ulp(r);
      if (u > m.worstUlp) {
        m.worstUlp = u;
        m.worstUlpAt = x;
      }
    } else if (error / MIN_SUBNORMAL > m.worstSubnormal) {
      m.worstSubnormal = error / MIN_SUBNORMAL;
      m.worstSubnormalAt = x;
    }
  }
  return m;
}

describe('cpu math library (assembly/training-math.ts)', () => {
  const plain = instantiate(false);

  it('exp is within 1 ulp (1 unit of 2^-149 for subnormal results), overflows to +Inf, underflows to 0, keeps NaN', () => {
    const xs = inputs('exp');
    const m = measure('exp', xs, evaluate(plain, 'exp', xs));
    expect(m.wrong).toEqual([]);
    expect(m.worstUlp, `worst at x = ${m.worstUlpAt}`).toBeLessThanOrEqual(BOUNDS.exp.ulp);
    expect(m.worstSubnormal, `worst subnormal at x = ${m.worstSubnormalAt}`).toBeLessThanOrEqual(BOUNDS.exp.subnormal);
    const special = evaluate(plain, 'exp', Float32Array.from([Infinity, -Infinity, 89, -104, 0, -0, NaN]));
    expect([...special]).toEqual([Infinity, 0, Infinity, 0, 1, 1, NaN]);
  });

  it('log is within 1 ulp over all positive floats (subnormals included); log(+-0) = -Inf, log(x < 0) = NaN, log(+Inf) = +Inf', () => {
    const xs = inputs('log');
    const m = measure('log', xs, evaluate(plain, 'log', xs));
    expect(m.wrong).toEqual([]);
    expect(m.worstUlp, `worst at x = ${m.worstUlpAt}`).toBeLessThanOrEqual(BOUNDS.log.ulp);
    const special = evaluate(plain, 'log', Float32Array.from([0, -0, -1, -Infinity, Infinity, NaN, 1]));
    expect([...special]).toEqual([-Infinity, -Infinity, NaN, NaN, Infinity, NaN, 0]);
  });

  it('tanh is within 2^-22.25 absolute and 5.6 ulp (2^-21.3 relative), odd, exactly +-1 for large |x|, never above 1, tanh(+-0) = +-0, tanh(tiny) = tiny', () => {
    const xs = inputs('tanh');
    const ys = evaluate(plain, 'tanh', xs);
    const m = measure('tanh', xs, ys);
    expect(m.wrong).toEqual([]);
    expect(m.worstAbsolute, `worst at x = ${m.worstAbsoluteAt}`).toBeLessThanOrEqual(BOUNDS.tanh.absolute);
    expect(m.worstUlp, `worst at x = ${m.worstUlpAt}`).toBeLessThanOrEqual(BOUNDS.tanh.ulp);
    // Relative error where tanh(x) ~ x matters (gelu near 0, gradients): every normal result.
    let worstRelative = 0;
    let worstRelativeAt = NaN;
    xs.forEach((x, i) => {
      const r = Math.tanh(x);
      if (Number.isFinite(x) && Math.abs(r) >= MIN_NORMAL) {
        const e = Math.abs(ys[i] - r) / Math.abs(r);
        if (e > worstRelative) [worstRelative, worstRelativeAt] = [e, x];
      }
    });
    expect(worstRelative, `worst relative at x = ${worstRelativeAt}`).toBeLessThanOrEqual(BOUNDS.tanh.relative);
    expect(ys.filter((y) => Math.abs(y) > 1).length, 'results above 1 in magnitude').toBe(0);
    const tiny = Float32Array.from([MIN_SUBNORMAL, -MIN_SUBNORMAL, 3 * MIN_SUBNORMAL, 1e-40, -1e-40, MIN_NORMAL, 1e-30, -1e-20, 2 ** -13]);
    expect([...evaluate(plain, 'tanh', tiny)], 'tanh(x) = x for tiny x').toEqual([...tiny]);
    const negated = evaluate(plain, 'tanh', xs.map((x) => -x));
    const notOdd = xs.filter((x, i) => !Number.isNaN(x) && !Object.is(negated[i], -ys[i]));
    expect([...notOdd], 'x with tanh(-x) != -tanh(x)').toEqual([]);
    const special = evaluate(plain, 'tanh', Float32Array.from([Infinity, -Infinity, 9.1, -9.1, 1e30, 0, -0, NaN, 8.926884, -8.926884, 9.01]));
    expect([...special]).toEqual([1, -1, 1, -1, 1, 0, -0, NaN, 1, -1, 1]);
    expect(Object.is(special[6], -0)).toBe(true);
  });

  it('sigmoid is within 2^-23 absolute and 3 ulp (1 unit of 2^-149 for subnormal results), never overflows', () => {
    const xs = inputs('sigmoid');
    const m = measure('sigmoid', xs, evaluate(plain, 'sigmoid', xs));
    expect(m.wrong).toEqual([]);
    expect(m.worstAbsolute, `worst at x = ${m.worstAbsoluteAt}`).toBeLessThanOrEqual(BOUNDS.sigmoid.absolute);
    expect(m.worstUlp, `worst at x = ${m.worstUlpAt}`).toBeLessThanOrEqual(BOUNDS.sigmoid.ulp);
    expect(m.worstSubnormal, `worst subnormal at x = ${m.worstSubnormalAt}`).toBeLessThanOrEqual(BOUNDS.sigmoid.subnormal);
    const special = evaluate(plain, 'sigmoid', Float32Array.from([Infinity, -Infinity, 1e30, -1e30, 0, -0, NaN, 100, -100]));
    expect([...special.slice(0, 7)]).toEqual([1, 0, 1, 0, 0.5, 0.5, NaN]);
    expect(special[7]).toBe(1);
    expect(special[8]).toBeGreaterThan(0);
    expect(Math.abs(special[8] - Math.exp(-100))).toBeLessThanOrEqual(MIN_SUBNORMAL);
  });

  it('gives the same bits in the vector form (groups of 4) and the scalar form (tails)', () => {
    const rng = generator(7);
    for (const name of Object.keys(MATH_KINDS) as MathName[]) {
      const all = inputs(name);
      // The specials and a random sample, at random lanes.
      const xs = Float32Array.from([...SPECIALS, ...Array.from({ length: 3000 }, () => all[Math.floor(rng() * all.length)])]);
      const vector = evaluate(plain, name, xs);
      const scalar = evaluateScalar(plain, name, xs);
      const vectorBits = new Uint32Array(vector.buffer);
      const scalarBits = new Uint32Array(scalar.buffer);
      const differ = xs.filter((_, i) => vectorBits[i] !== scalarBits[i] && !(Number.isNaN(vector[i]) && Number.isNaN(scalar[i])));
      expect([...differ], `${name}: x where the scalar form differs from the vector form`).toEqual([]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The training ops in both builds

/** One call of a training op: operand lengths and their values, the argument block's integers and floats. */
interface OpCase {
  op: string;
  grid: 'elements' | 'rows';
  count: number;
  width?: number;
  flag?: number;
  per: number;
  floats?: number[];
  /** The read operands' values. */
  reads: Float32Array[];
  /** The written operands' lengths (in-place ones get `initial`'s values). */
  writes: number[];
  initial?: (Float32Array | null)[];
}

function opCases(): OpCase[] {
  const rng = generator(11);
  const values = (n: number, lo = -3, hi = 3) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rng());
  const n = 1029;
  const per = 256;
  const cases: OpCase[] = [];
  const x = values(n);
  const y = values(n);
  const u = values(n, 0.001, 0.999);
  const elementwise = (op: string, reads: Float32Array[], extra: Partial<OpCase> = {}): OpCase => ({
    op, grid: 'elements', count: n, per, reads, writes: [n], ...extra,
  });
  for (let flag = 0; flag < 4; flag++) {
    cases.push(elementwise('activation', [x], { flag }));
    cases.push(elementwise('activationGrad', [x, y], { flag }));
  }
  cases.push(elementwise('addBias', [x, values(7)], { width: 7, count: 1029 }));
  cases.push(elementwise('add', [x, y]), elementwise('multiply', [x, y]), elementwise('scale', [x], { floats: [0.3] }), elementwise('copy', [x]));
  cases.push(elementwise('axpy', [x], { floats: [-0.7], initial: [y] }), elementwise('fill', [], { floats: [1.25] }));
  cases.push(elementwise('sgdStep', [y], { flag: 1, floats: [0.1, 0.9, 0.01], writes: [n, n], initial: [x, values(n)] }));
  const adam = [0.9, 0.999, 1e-8, 0.01, 1, 0.02, 0.3, 0.1, 0.001];
  cases.push(elementwise('adamStep', [y], { floats: adam, writes: [n, n, n], initial: [x, values(n), values(n, 0, 1)] }));
  const map = Float32Array.from({ length: 12 }, (_, i) => (i % 4 === 3 ? -1 : (i * 5) % 9));
  cases.push({ op: 'gatherBlocks', grid: 'elements', count: 12 * 67, width: 67, per: 64, reads: [values(9 * 67), map], writes: [12 * 67] });
  cases.push({ op: 'scatterBlocks', grid: 'elements', count: 12 * 67, width: 67, per: 64, reads: [values(9 * 67), map], writes: [12 * 67] });
  const hc = [2 / 3, -0.1, 1.1, (2 / 3) * Math.log(0.1 / 1.1)];
  for (const flag of [0, 1]) {
    cases.push(elementwise('hardConcreteGates', [values(n, -6, 6), u], { flag, floats: hc }));
    cases.push(elementwise('hardConcreteGrad', [values(n, -6, 6), u, y], { flag, floats: hc }));
  }
  cases.push(elementwise('l0Penalty', [x], { floats: hc, writes: [n, Math.ceil(n / per)] }));
  const rows = 37;
  const k = 67;
  const labels = Float32Array.from({ length: rows }, (_, r) => (r === 5 ? 2.5 : Math.floor(rng() * k)));
  const grid = { grid: 'rows', count: rows, width: k, per: 8 } as const;
  cases.push({ op: 'softmaxCrossEntropy', ...grid, floats: [1 / rows, NaN], reads: [values(rows * k), labels], writes: [rows * k, 2 * 5] });
  cases.push({ op: 'layerNorm', ...grid, floats: [1e-5], reads: [values(rows * k), values(k), values(k)], writes: [rows * k, rows, rows] });
  cases.push({
    op: 'layerNormGrad', ...grid,
    reads: [values(rows * k), values(rows * k), values(k), values(rows, -0.1, 0.1), values(rows, 0.5, 2)], writes: [rows * k, 5 * 2 * k],
  });
  for (const flag of [0, 1]) cases.push({ op: 'blockNorms', ...grid, flag, reads: [values(rows * k)], writes: [rows] });
  return cases;
}

/** Runs one op case unit by unit on a module; returns the bytes of its written operands. */
function runCase(m: Module, c: OpCase): Uint8Array[] {
  const f32 = new Float32Array(m.memory.buffer);
  const words = new Uint32Array(m.memory.buffer, 256, 21);
  const i32 = new Int32Array(m.memory.buffer, 256, 21);
  const floats = new Float32Array(m.memory.buffer, 256, 21);
  let next = 4096 + 4; // 4-byte aligned only
  const place = (length: number): number => {
    const at = next;
    next += 4 * length + 68;
    return at;
  };
  words.fill(0);
  c.reads.forEach((values, i) => {
    const at = place(values.length);
    f32.set(values, at / 4);
    words[i] = at;
  });
  const outs = c.writes.map((length, i) => {
    const at = place(length);
    f32.fill(0, at / 4, at / 4 + length);
    const initial = c.initial?.[i];
    if (initial) f32.set(initial, at / 4);
    words[5 + i] = at;
    return [at, length];
  });
  i32[8] = c.count;
  i32[9] = c.width ?? 0;
  i32[10] = c.flag ?? 0;
  i32[11] = c.per;
  (c.floats ?? []).forEach((v, i) => (floats[12 + i] = v));
  for (let lo = 0; lo < c.count; lo += c.per) m.exports[c.op](256, lo, Math.min(c.count, lo + c.per));
  return outs.map(([at, length]) => new Uint8Array(m.memory.buffer).slice(at, at + 4 * length));
}

describe('cpu training ops in both builds', () => {
  it('give the same bytes with and without relaxed SIMD (they use no relaxed instruction)', () => {
    const plain = instantiate(false);
    const relaxed = instantiate(true);
    for (const c of opCases()) {
      const a = runCase(plain, c);
      const b = runCase(relaxed, c);
      a.forEach((bytes, i) => expect(Buffer.compare(Buffer.from(bytes), Buffer.from(b[i])), `${c.op} flag ${c.flag ?? 0}: output ${i}`).toBe(0));
    }
    // The sum stage and the math library too.
    for (const m of [plain, relaxed]) new Float32Array(m.memory.buffer).set(Float32Array.from({ length: 999 }, (_, i) => Math.sin(i) * 100), SRC / 4);
    const sums = [plain, relaxed].map((m) => {
      m.exports.sumColumns(SRC, 37, 27, 3, DST, 0x3e99999a, 1, 23);
      return new Uint8Array(m.memory.buffer).slice(DST, DST + 4 * 23);
    });
    expect(Buffer.compare(Buffer.from(sums[0]), Buffer.from(sums[1]))).toBe(0);
    for (const name of Object.keys(MATH_KINDS) as MathName[]) {
      const xs = inputs(name).subarray(0, 5001);
      expect(Buffer.compare(Buffer.from(evaluate(plain, name, xs).buffer), Buffer.from(evaluate(relaxed, name, xs).buffer)), name).toBe(0);
    }
  });
});
