/*
 * Integer index expressions that print as WGSL and evaluate in TypeScript. The kernels build their
 * shared-memory addresses from these, so the WGSL they compile and the bank-conflict analysis the
 * tests run (shared-memory.ts) read the same expressions: the analysis cannot drift from the code.
 *
 * Values are i32 in WGSL; here they are JavaScript integers with the same results for the
 * non-negative operands the kernels use (`/` truncates, `%` is the remainder, `^` and `&` bitwise).
 */

/** The values of the symbols an expression names (thread coordinates, loop counters). */
export type IndexEnv = Readonly<Record<string, number>>;

/** An i32 index expression: its WGSL text and its value for given symbols. */
export interface IndexExpr {
  readonly wgsl: string;
  value(env: IndexEnv): number;
  /** Its value when it is a constant. */
  readonly constant?: number;
}

/** An expression, or a constant. */
export type IndexLike = IndexExpr | number;

/** A symbol: a WGSL i32 name whose value the environment gives. */
export function sym(name: string): IndexExpr {
  return {
    wgsl: name,
    value(env) {
      const v = env[name];
      if (v === undefined) throw new RangeError(`index expression: no value for ${name}`);
      return v;
    },
  };
}

/** A constant. */
export function lit(value: number): IndexExpr {
  if (!Number.isInteger(value)) throw new RangeError(`index expression: ${value} is not an integer`);
  return { wgsl: value < 0 ? `(${value})` : String(value), value: () => value, constant: value };
}

const asExpr = (x: IndexLike): IndexExpr => (typeof x === 'number' ? lit(x) : x);
const isConst = (x: IndexLike, value: number): boolean => (typeof x === 'number' ? x : x.constant) === value;

function binary(a: IndexLike, b: IndexLike, op: string, f: (x: number, y: number) => number): IndexExpr {
  const ea = asExpr(a);
  const eb = asExpr(b);
  const ca = typeof a === 'number' ? a : a.constant;
  const cb = typeof b === 'number' ? b : b.constant;
  if (ca !== undefined && cb !== undefined) return lit(f(ca, cb));
  return { wgsl: `(${ea.wgsl} ${op} ${eb.wgsl})`, value: (env) => f(ea.value(env), eb.value(env)) };
}

/** a + b. */
export function add(a: IndexLike, b: IndexLike): IndexExpr {
  if (isConst(a, 0)) return asExpr(b);
  if (isConst(b, 0)) return asExpr(a);
  return binary(a, b, '+', (x, y) => x + y);
}

/** a * b. */
export function mul(a: IndexLike, b: IndexLike): IndexExpr {
  if (isConst(a, 1)) return asExpr(b);
  if (isConst(b, 1)) return asExpr(a);
  if (isConst(a, 0) || isConst(b, 0)) return lit(0);
  return binary(a, b, '*', (x, y) => x * y);
}

/** a / b, truncated (b a positive constant). */
export function div(a: IndexLike, b: number): IndexExpr {
  if (b === 1) return asExpr(a);
  return binary(a, b, '/', (x, y) => Math.trunc(x / y));
}

/** a % b (b a positive constant). */
export function mod(a: IndexLike, b: number): IndexExpr {
  if (b === 1) return lit(0);
  return binary(a, b, '%', (x, y) => x % y);
}

/** a ^ b, bitwise. */
export function xor(a: IndexLike, b: IndexLike): IndexExpr {
  if (isConst(a, 0)) return asExpr(b);
  if (isConst(b, 0)) return asExpr(a);
  return binary(a, b, '^', (x, y) => x ^ y);
}

/** a & b, bitwise. */
export function and(a: IndexLike, b: IndexLike): IndexExpr {
  return binary(a, b, '&', (x, y) => x & y);
}
