import { ParameterError, ShapeError } from '../../../errors.js';
import { sym } from '../index-expr.js';
import { entryPoint, type Dispatch, type PlanContext, type StorageBinding, type UniformRecord, type WebGPUProgram } from '../program.js';
import { sharedBytes, type SharedArray, type SharedMemoryModel, type SharedStep } from '../shared-memory.js';
import type { WebGPUTensor } from '../tensor.js';
import { accColumn, accumulatorCount, makeTile, rowMajorProductStep, rowMajorRow, stageDirect, stageTransposed, tileCols, tileRows, type RegisterTile, type Tile } from '../tiles.js';
import { bufferWindow, ranges, roundChunk, unitsPerWindow, windowSlack } from '../windows.js';
import { SegmentSumProgram } from './segment-sum.js';

/*
 * Dense C[M, N] (+)= op(A)[M, K] . op(B)[K, N], the baseline the sparse kernels are measured
 * against and the product of dense layers. A workgroup of 16 x 16 threads computes a TM x TN tile
 * of C (128 x 128: 8 rows x 2 vec4 columns per thread, 16 FMA per shared load; or 64 x 64), going
 * along K in steps of BK = 32 with a row-major A tile (row m, vec4 along k) and a k-major B tile
 * (row k, vec4 along n) in workgroup memory. Each operand is staged straight when its storage is
 * contiguous along the tile's vec4s (A [M, K], B [K, N]) and transposed on staging otherwise (A^T
 * stored [K, M], B^T stored [N, K]). The next K step's tiles are loaded into registers while the
 * current one computes (one buffer each, 32 KiB at most: two barriers per step). Shared addresses
 * are swizzled so that no staging store or inner-loop load conflicts (the tests check it
 * statically, from `sharedSteps`, which is built from the same parts as the WGSL).
 *
 * With every row length a multiple of 4 the operands are read and written as vec4s; otherwise as
 * scalars with per-element bounds. The transposes are uniform flags (both stagings are compiled
 * in; the branch is uniform, so a GPU pays nothing for it): one pipeline per tile size and
 * vectorisation, since on a CPU fallback adapter each pipeline takes seconds to compile.
 *
 * Split-K: when the output has too few tiles to fill a large GPU and K is long, grid z splits K
 * into pieces; piece s writes its partial C to slot s of a scratch buffer (bound as `c`), and the
 * segment sum (segment-sum.ts) adds the slots in order into C: the result is the same bytes run to
 * run (WGSL has no float atomics). `accumulate` adds to C (`plan` splits K that way too when an
 * operand would exceed the binding limit). Strides and offsets are in elements.
 */

/** Tile edge: 64 (4 x 4 outputs per thread) or 128 (8 x 8). */
export type MatmulTileSize = 64 | 128;

/** K per step of the tiles. */
const BK = 32;

/** Workgroups below which K is split (about two per SM on a large GPU). */
const MIN_WORKGROUPS = 256;

/** The shortest K a piece of a split product keeps (automatic splits only). */
const MIN_SPLIT_K = 256;

/** The thread tiles of the two tile sizes, and the B tile's swizzle (both found conflict-free). */
const SHAPES: Record<MatmulTileSize, { tile: RegisterTile; bSwizzle: number[] }> = {
  128: { tile: { threadsX: 16, threadsY: 16, rows: 8, colVecs: 2 }, bSwizzle: [4] },
  64: { tile: { threadsX: 16, threadsY: 16, rows: 4, colVecs: 1 }, bSwizzle: [3] },
};

/** The A tile's swizzle (rows of BK / 4 = 8 vec4s). */
const A_SWIZZLE = [2];

/** Uniforms of the matmul (elements). `kSplit`: K per piece along grid z; `cSlot`: elements between the pieces' outputs. */
export const MATMUL_UNIFORMS = [
  'M', 'N', 'K', 'kSplit', 'aStride', 'aFirst', 'bStride', 'bFirst', 'cStride', 'cFirst', 'cSlot', 'accumulate', 'transposeA', 'transposeB',
] as const;

/** The uniform record of one matmul dispatch. */
export type MatmulUniforms = UniformRecord<typeof MATMUL_UNIFORMS>;

/** The shape of C[m, n] = op(A)[m, k] . op(B)[k, n]: what decides the plan. */
export interface MatmulShape {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  /** Test hook: split K into (at most) this many pieces when the product is vectorized (default: chosen from the grid's size). */
  readonly splitK?: number;
}

/** The operands of C[m, n] = op(A)[m, k] . op(B)[k, n] (A stored [k, m] with transposeA, B [n, k] with transposeB). */
export interface MatmulOperands extends MatmulShape {
  readonly a: WebGPUTensor;
  readonly b: WebGPUTensor;
  readonly c: WebGPUTensor;
  /** Scratch of at least `scratchElements` floats when K is split. */
  readonly scratch?: WebGPUTensor;
}

/** How a product is cut: chunks of M, N and K that fit the limits, and the pieces each K chunk is split into. */
interface MatmulChunks {
  readonly mc: number;
  readonly nc: number;
  readonly kc: number;
  /** Pieces of a whole K chunk (1: not split). */
  readonly splits: number;
  /** K per piece. */
  readonly kSplit: number;
}

/** Whether C = op(A) op(B) can use vec4 loads and stores: every stored row a multiple of 4 long. */
export function matmulVectorizable(m: number, k: number, n: number, transposeA: boolean, transposeB: boolean): boolean {
  return (transposeA ? m : k) % 4 === 0 && (transposeB ? k : n) % 4 === 0 && n % 4 === 0;
}

/** The tile for an M x N output: 128 when that still gives the GPU enough workgroups, else 64. */
export function matmulTileFor(m: number, n: number): MatmulTileSize {
  return Math.ceil(m / 128) * Math.ceil(n / 128) >= 128 ? 128 : 64;
}

const roundUp = (value: number, step: number): number => Math.ceil(value / step) * step;

/** The dense matmul kernel for one tile size and vectorisation (transposes by uniform flags). */
export class MatmulProgram implements WebGPUProgram, SharedMemoryModel {
  readonly key: string;
  readonly workgroupSize: readonly [number, number, number];
  readonly bindings: readonly StorageBinding[];
  readonly uniforms = MATMUL_UNIFORMS;
  readonly tile: RegisterTile;
  readonly #a: Tile;
  readonly #b: Tile;

  constructor(
    readonly tileSize: MatmulTileSize,
    readonly vectorized: boolean,
  ) {
    const shape = SHAPES[tileSize];
    this.tile = shape.tile;
    this.workgroupSize = [this.tile.threadsX, this.tile.threadsY, 1];
    const element = vectorized ? 'vec4<f32>' : 'f32';
    this.bindings = [
      { name: 'a', access: 'read', element },
      { name: 'b', access: 'read', element },
      { name: 'c', access: 'read_write', element },
    ];
    this.key = `matmul ${tileSize}${vectorized ? ' vec4' : ' scalar'}`;
    this.#a = makeTile('tileA', tileRows(this.tile), BK / 4, 1, A_SWIZZLE);
    this.#b = makeTile('tileB', BK, tileCols(this.tile) / 4, 1, shape.bSwizzle);
  }

  /** The program for a product's shape: vec4 when every row allows it, the tile from `matmulTileFor` unless `tile` is given. */
  static forShape(shape: MatmulShape, tile?: MatmulTileSize): MatmulProgram {
    const { m, k, n, transposeA, transposeB } = shape;
    return new MatmulProgram(tile ?? matmulTileFor(m, n), matmulVectorizable(m, k, n, transposeA, transposeB));
  }

  /** Workgroup memory in bytes. */
  get sharedBytes(): number {
    return sharedBytes(this.sharedArrays());
  }

  /** Floats of scratch a product of `shape` needs (0 when K is not split). */
  scratchElements(shape: MatmulShape, context: PlanContext): number {
    if (shape.m === 0 || shape.n === 0 || shape.k === 0) return 0;
    const { mc, nc, splits } = this.#chunks(shape, context);
    return splits > 1 ? splits * mc * nc : 0;
  }

  /** The pieces K is split into for `shape` (1: not split): what `plan` does, for tests and benchmarks. */
  splitsFor(shape: MatmulShape, context: PlanContext): number {
    if (shape.m === 0 || shape.n === 0 || shape.k === 0) return 1;
    return this.#chunks(shape, context).splits;
  }

  /**
   * Chunks of M, N and K such that every operand's window (rows of full stored length) fits the
   * binding limit and every grid the workgroup cap; then the split of K: automatic when the grid
   * of one chunk has fewer than MIN_WORKGROUPS workgroups and K is long, or forced by `splitK`;
   * only for vectorized products, and only as far as the scratch (one slot of M x N chunk per
   * piece) and the segment sum's grid fit the limits (M chunks shrink for it; no split when even
   * one row of every slot would not fit).
   */
  #chunks(shape: MatmulShape, context: PlanContext): MatmulChunks {
    const { m, k, n, transposeA, transposeB, splitK } = shape;
    const { limits } = context;
    if (splitK !== undefined && !(Number.isInteger(splitK) && splitK >= 1)) throw new ParameterError('matmulSplitK', 'a positive integer', splitK);
    const tile = this.tileSize;
    const minStep = this.vectorized ? 4 : 1;
    const fit = (rowLength: number, what: string) => unitsPerWindow(Number.MAX_SAFE_INTEGER, 4 * rowLength, limits, what);
    let mc = Math.min(m, limits.maxWorkgroups * tile, fit(n, 'row of C'));
    if (!transposeA) mc = Math.min(mc, fit(k, 'row of A'));
    let nc = Math.min(n, limits.maxWorkgroups * tile);
    if (transposeB) nc = Math.min(nc, fit(k, 'row of B'));
    let kc = k;
    if (transposeA) kc = Math.min(kc, fit(m, 'row of A'));
    if (!transposeB) kc = Math.min(kc, fit(n, 'row of B'));
    mc = roundChunk(mc, m, tile, minStep);
    nc = roundChunk(nc, n, tile, minStep);
    kc = roundChunk(kc, k, BK, minStep);
    if (mc < 1 || nc < 1 || kc < 1) {
      throw new ShapeError(`matmul ${m} x ${k} x ${n}: the operands cannot be split to fit the device's maxStorageBufferBindingSize (${limits.maxBindingBytes})`);
    }
    const whole: MatmulChunks = { mc, nc, kc, splits: 1, kSplit: kc };
    if (!this.vectorized) return whole;
    const groups = Math.ceil(mc / tile) * Math.ceil(nc / tile);
    let splits = splitK ?? (groups < MIN_WORKGROUPS ? Math.min(Math.ceil(MIN_WORKGROUPS / groups), Math.floor(kc / MIN_SPLIT_K)) : 1);
    // Scratch: `splits` slots of mc x nc floats in one binding; the segment sum's grid: mc x nc / 4 vec4s in 64-thread workgroups.
    const room = limits.maxBindingBytes - windowSlack(limits);
    const sumRows = Math.floor((limits.maxWorkgroups * 64) / (nc / 4));
    splits = Math.min(splits, limits.maxWorkgroups, Math.floor(room / (4 * nc)), Math.ceil(kc / 4));
    if (splits <= 1 || sumRows < 1) return whole;
    const kSplit = roundUp(Math.ceil(kc / splits), splitK === undefined ? BK : 4);
    splits = Math.ceil(kc / kSplit);
    if (splits <= 1) return whole;
    const rows = roundChunk(Math.min(mc, Math.floor(room / (4 * splits * nc)), sumRows), m, tile, minStep);
    if (rows < 1) return whole;
    return { mc: rows, nc, kc, splits, kSplit };
  }

  /**
   * The dispatches of one product (none when a dimension is 0): M and N split into chunks of
   * whole tiles and K into chunks of BK (later K chunks accumulate), so that every operand's
   * window fits `context.limits` and every grid the workgroup cap; with split K, each K chunk is
   * one dispatch of `splits` pieces into the scratch and one segment sum into C.
   */
  plan(operands: MatmulOperands, context: PlanContext): Dispatch[] {
    const { a, b, c, m, k, n, transposeA, transposeB, scratch } = operands;
    if (m === 0 || n === 0 || k === 0) return [];
    const { limits } = context;
    const { mc, nc, kc, splits, kSplit } = this.#chunks(operands, context);
    if (splits > 1 && (!scratch || scratch.size < splits * mc * nc)) {
      throw new RangeError(`matmul: split K needs ${splits * mc * nc} floats of scratch`);
    }
    const sum = new SegmentSumProgram();
    const dispatches: Dispatch[] = [];
    for (const [m0, m1] of ranges(m, mc)) {
      for (const [n0, n1] of ranges(n, nc)) {
        const rows = m1 - m0;
        const cols = n1 - n0;
        const cWindow = bufferWindow(c.buffer, m0 * n + n0, (rows - 1) * n + cols, limits);
        ranges(k, kc).forEach(([k0, k1], pass) => {
          const aWindow = transposeA
            ? bufferWindow(a.buffer, k0 * m + m0, (k1 - k0 - 1) * m + rows, limits)
            : bufferWindow(a.buffer, m0 * k + k0, (rows - 1) * k + (k1 - k0), limits);
          const bWindow = transposeB
            ? bufferWindow(b.buffer, n0 * k + k0, (cols - 1) * k + (k1 - k0), limits)
            : bufferWindow(b.buffer, k0 * n + n0, (k1 - k0 - 1) * n + cols, limits);
          const pieces = splits > 1 ? Math.ceil((k1 - k0) / kSplit) : 1;
          const operandsOf = { M: rows, N: cols, K: k1 - k0, aStride: transposeA ? m : k, aFirst: aWindow.first, bStride: transposeB ? k : n, bFirst: bWindow.first };
          const flags = { transposeA: transposeA ? 1 : 0, transposeB: transposeB ? 1 : 0 };
          if (pieces <= 1) {
            const uniforms: MatmulUniforms = {
              ...operandsOf, ...flags, kSplit: k1 - k0, cStride: n, cFirst: cWindow.first, cSlot: 0, accumulate: pass > 0 ? 1 : 0,
            };
            dispatches.push({ program: this, buffers: [aWindow.binding, bWindow.binding, cWindow.binding], uniforms, workgroups: this.grid(rows, cols) });
            return;
          }
          // Piece s writes rows x cols floats at slot s of the scratch; the segment sum adds them into C in order.
          const scratchWindow = bufferWindow(scratch!.buffer, 0, pieces * rows * cols, limits);
          const uniforms: MatmulUniforms = {
            ...operandsOf, ...flags, kSplit, cStride: cols, cFirst: scratchWindow.first, cSlot: rows * cols, accumulate: 0,
          };
          const [x, y] = this.grid(rows, cols);
          dispatches.push({ program: this, buffers: [aWindow.binding, bWindow.binding, scratchWindow.binding], uniforms, workgroups: [x, y, pieces] });
          dispatches.push(...sum.plan(
            { tables: context.absentRead, scratch: scratchWindow.binding, out: cWindow.binding },
            { rows, width: cols / 4, itemsAt: -1, slots: pieces, outStride: n / 4, outFirst: cWindow.first / 4, accumulate: pass > 0 ? 1 : 0 },
            1,
            limits.maxWorkgroups,
          ));
        });
      }
    }
    return dispatches;
  }

  /** Workgroups for an M x N output (one piece of K). */
  grid(m: number, n: number): [number, number, number] {
    return [Math.ceil(n / tileCols(this.tile)), Math.ceil(m / tileRows(this.tile)), 1];
  }

  sharedArrays(): readonly SharedArray[] {
    return [this.#a.array, this.#b.array];
  }

  /** The stagings and the inner product: what both `body` and `sharedSteps` are built from. */
  #parts() {
    const threads = this.tile.threadsX * this.tile.threadsY;
    // The read callbacks see `k0` (the K step), `kEnd` (the end of this piece's K), m0 and n0.
    // A stored [M, K] is contiguous along k: a direct copy into the row-major tile (row m, vec4 k).
    const stageA = stageDirect(this.#a, threads, 'pfA', (row, k4) => `readA(m0 + ${row}, k0 + 4 * ${k4}, u.M, kEnd)`);
    // A^T stored [K, M] is contiguous along m: a source vec4 holds m = 4 r4 .. 4 r4 + 3 of column k = c.
    const stageAT = stageTransposed(this.#a, threads, 'pfA', (r4, c) => `readA(k0 + ${c}, m0 + 4 * ${r4}, kEnd, u.M)`);
    // B stored [K, N] is contiguous along n: a direct copy into the k-major tile (row k, vec4 n).
    const stageB = stageDirect(this.#b, threads, 'pfB', (k, n4) => `readB(k0 + ${k}, n0 + 4 * ${n4}, kEnd, u.N)`);
    // B^T stored [N, K] is contiguous along k: a source vec4 holds k = 4 r4 .. 4 r4 + 3 of column n = c.
    const stageBT = stageTransposed(this.#b, threads, 'pfB', (r4, c) => `readB(n0 + ${c}, k0 + 4 * ${r4}, u.N, kEnd)`);
    const product = rowMajorProductStep(this.tile, this.#a, this.#b, sym('k4'), 0, 0);
    return { stageA, stageAT, stageB, stageBT, product };
  }

  sharedSteps(): readonly SharedStep[] {
    const { stageA, stageAT, stageB, stageBT, product } = this.#parts();
    return [
      { name: 'stage A (direct)', kind: 'store', accesses: stageA.storeAccesses(0), envs: [] },
      { name: 'stage A^T (transposed)', kind: 'store', accesses: stageAT.storeAccesses(0), envs: [] },
      { name: 'stage B (direct)', kind: 'store', accesses: stageB.storeAccesses(0), envs: [] },
      { name: 'stage B^T (transposed)', kind: 'store', accesses: stageBT.storeAccesses(0), envs: [] },
      { name: 'inner product (4 k steps)', kind: 'load', accesses: product.accesses, envs: Array.from({ length: BK / 4 }, (_, k4) => ({ k4 })), fmas: product.fmas },
    ];
  }

  /** A WGSL function reading 4 consecutive elements of one stored row, zero outside rows x cols. */
  #reader(name: string, buffer: 'a' | 'b'): string {
    const first = `u.${buffer}First`;
    const stride = `u.${buffer}Stride`;
    if (this.vectorized) {
      return `fn ${name}(row: i32, col: i32, rows: i32, cols: i32) -> vec4<f32> {
  if (row >= rows || col >= cols) { return vec4<f32>(0.0); }
  return ${buffer}[(${first} + row * ${stride} + col) / 4];
}`;
    }
    return `fn ${name}(row: i32, col: i32, rows: i32, cols: i32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row >= rows) { return v; }
  let at = ${first} + row * ${stride} + col;
  for (var i = 0; i < 4; i++) {
    if (col + i < cols) { v[i] = ${buffer}[at + i]; }
  }
  return v;
}`;
  }

  body(): string {
    const t = this.tile;
    const { stageA, stageAT, stageB, stageBT, product } = this.#parts();
    const fetch = (k0: string) => `{
      let k0 = ${k0};
      if (u.transposeA == 0) {
        ${stageA.load}
      } else {
        ${stageAT.load}
      }
      if (u.transposeB == 0) {
        ${stageB.load}
      } else {
        ${stageBT.load}
      }
    }`;
    const store = `if (u.transposeA == 0) {
      ${stageA.store(0)}
    } else {
      ${stageAT.store(0)}
    }
    if (u.transposeB == 0) {
      ${stageB.store(0)}
    } else {
      ${stageBT.store(0)}
    }`;
    const writes: string[] = [];
    for (let r = 0; r < t.rows; r++) {
      for (let v = 0; v < t.colVecs; v++) {
        const row = `m0 + ${rowMajorRow(t, r).wgsl}`;
        const col = `n0 + 4 * ${accColumn(t, v).wgsl}`;
        writes.push(`${this.vectorized ? 'write4' : 'write1'}(cBase, ${row}, ${col}, acc[${r * t.colVecs + v}]);`);
      }
    }
    const write = this.vectorized
      ? `fn write4(base: i32, row: i32, col: i32, value: vec4<f32>) {
  if (row >= u.M || col >= u.N) { return; }
  let at = (base + row * u.cStride + col) / 4;
  if (u.accumulate != 0) { c[at] = c[at] + value; } else { c[at] = value; }
}`
      : `fn write1(base: i32, row: i32, col: i32, value: vec4<f32>) {
  if (row >= u.M) { return; }
  let at = base + row * u.cStride + col;
  for (var i = 0; i < 4; i++) {
    if (col + i < u.N) {
      if (u.accumulate != 0) { c[at + i] = c[at + i] + value[i]; } else { c[at + i] = value[i]; }
    }
  }
}`;
    return `
var<workgroup> tileA: array<vec4<f32>, ${this.#a.array.length}>;
var<workgroup> tileB: array<vec4<f32>, ${this.#b.array.length}>;

${this.#reader('readA', 'a')}

${this.#reader('readB', 'b')}

${write}

${entryPoint(this.workgroupSize)} {
  let itid = i32(tid);
  let tx = i32(lid.x);
  let ty = i32(lid.y);
  let m0 = i32(wg.y) * ${tileRows(t)};
  let n0 = i32(wg.x) * ${tileCols(t)};
  // This piece of K (grid z; one piece unless K is split) and where its output goes.
  let kBegin = i32(wg.z) * u.kSplit;
  let kEnd = min(u.K, kBegin + u.kSplit);
  let cBase = u.cFirst + i32(wg.z) * u.cSlot;
  let steps = (kEnd - kBegin + ${BK - 1}) / ${BK};
  var acc: array<vec4<f32>, ${accumulatorCount(t)}>;
  ${stageA.declare}
  ${stageB.declare}
  ${fetch('kBegin')}
  ${store}
  workgroupBarrier();
  for (var s = 0; s < steps; s++) {
    let more = s + 1 < steps;
    // Load the next step's tiles into registers while this one computes.
    if (more) ${fetch(`kBegin + (s + 1) * ${BK}`)}
    for (var k4 = 0; k4 < ${BK / 4}; k4++) {
      ${product.wgsl}
    }
    workgroupBarrier();
    if (more) {
      ${store}
    }
    workgroupBarrier();
  }
  ${writes.join('\n  ')}
}
`;
  }
}
