import { ShapeError } from '../../../errors.js';
import { entryPoint, type Dispatch, type PlanContext, type StorageBinding, type UniformRecord, type WebGPUProgram } from '../program.js';
import type { WebGPUTensor } from '../tensor.js';
import { accIndex, accumulatorCount, loadDirect, loadTransposed, outerProductStep, tileCols, tileRows, type RegisterTile } from '../tiles.js';
import { bufferWindow, ranges, roundChunk, unitsPerWindow } from '../windows.js';

/*
 * Dense C[M, N] (+)= op(A)[M, K] . op(B)[K, N], the baseline the sparse kernels are measured
 * against and the product of dense layers. Tiled as tfjs-backend-webgpu's packed matmul: a
 * workgroup of 16 x 16 threads computes a TM x TN tile of C, looping over K in steps of TK with
 * both operand tiles in shared memory (each transposed on load when its storage is contiguous
 * along K), each thread a 4 x 4 (or 8 x 8) register tile. With every row length a multiple of 4
 * the operands are read and written as vec4s; otherwise as scalars with per-element bounds.
 *
 * The transposes are uniform flags (both tile loaders are compiled in; the branch is uniform, so
 * a GPU pays nothing for it): one pipeline per tile size and vectorisation, since on a CPU fallback
 * adapter each pipeline takes seconds to compile. Strides and offsets are in elements;
 * `accumulate` adds to C (`plan` splits K that way when an operand would exceed the binding
 * limit).
 */

/** Tile edge: 64 (4 x 4 per thread) or 128 (8 x 8 per thread). */
export type MatmulTileSize = 64 | 128;

const TILE_K = 16;

/** Uniforms of the matmul (elements). */
export const MATMUL_UNIFORMS = ['M', 'N', 'K', 'aStride', 'aFirst', 'bStride', 'bFirst', 'cStride', 'cFirst', 'accumulate', 'transposeA', 'transposeB'] as const;

/** The uniform record of one matmul dispatch. */
export type MatmulUniforms = UniformRecord<typeof MATMUL_UNIFORMS>;

/** The operands of C[m, n] = op(A)[m, k] . op(B)[k, n] (A stored [k, m] with transposeA, B [n, k] with transposeB). */
export interface MatmulOperands {
  readonly a: WebGPUTensor;
  readonly b: WebGPUTensor;
  readonly c: WebGPUTensor;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

/** Whether C = op(A) op(B) can use vec4 loads and stores: every stored row a multiple of 4 long. */
export function matmulVectorizable(m: number, k: number, n: number, transposeA: boolean, transposeB: boolean): boolean {
  return (transposeA ? m : k) % 4 === 0 && (transposeB ? k : n) % 4 === 0 && n % 4 === 0;
}

/** The tile for an M x N output: 128 when that still gives the GPU enough workgroups, else 64. */
export function matmulTileFor(m: number, n: number): MatmulTileSize {
  return Math.ceil(m / 128) * Math.ceil(n / 128) >= 128 ? 128 : 64;
}

/** The dense matmul kernel for one tile size and vectorisation (transposes by uniform flags). */
export class MatmulProgram implements WebGPUProgram {
  readonly key: string;
  readonly workgroupSize: readonly [number, number, number] = [16, 16, 1];
  readonly bindings: readonly StorageBinding[];
  readonly uniforms = MATMUL_UNIFORMS;
  readonly tile: RegisterTile;

  constructor(
    readonly tileSize: MatmulTileSize,
    readonly vectorized: boolean,
  ) {
    const vecs = tileSize / 64;
    this.tile = { threadsX: 16, threadsY: 16, rowVecs: vecs, colVecs: vecs };
    const element = vectorized ? 'vec4<f32>' : 'f32';
    this.bindings = [
      { name: 'a', access: 'read', element },
      { name: 'b', access: 'read', element },
      { name: 'c', access: 'read_write', element },
    ];
    this.key = `matmul ${tileSize}${vectorized ? ' vec4' : ' scalar'}`;
  }

  /** The program for a product's shape: vec4 when every row allows it, the tile from `matmulTileFor` unless `tile` is given. */
  static forShape(operands: MatmulOperands, tile?: MatmulTileSize): MatmulProgram {
    const { m, k, n, transposeA, transposeB } = operands;
    return new MatmulProgram(tile ?? matmulTileFor(m, n), matmulVectorizable(m, k, n, transposeA, transposeB));
  }

  /**
   * The dispatches of one product (none when a dimension is 0): M and N split into chunks of
   * whole tiles and K into chunks of 16 (later K chunks accumulate), so that every operand's
   * window fits `context.limits` and every grid the workgroup cap.
   */
  plan(operands: MatmulOperands, context: PlanContext): Dispatch[] {
    const { a, b, c, m, k, n, transposeA, transposeB } = operands;
    if (m === 0 || n === 0 || k === 0) return [];
    const { limits } = context;
    const tile = this.tileSize;
    const minStep = this.vectorized ? 4 : 1;
    // Chunk each dimension so that every operand's window (rows of full stored length) fits.
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
    kc = roundChunk(kc, k, 16, minStep);
    if (mc < 1 || nc < 1 || kc < 1) {
      throw new ShapeError(`matmul ${m} x ${k} x ${n}: the operands cannot be split to fit the device's maxStorageBufferBindingSize (${limits.maxBindingBytes})`);
    }
    const dispatches: Dispatch[] = [];
    for (const [m0, m1] of ranges(m, mc)) {
      for (const [n0, n1] of ranges(n, nc)) {
        const cWindow = bufferWindow(c.buffer, m0 * n + n0, (m1 - m0 - 1) * n + (n1 - n0), limits);
        ranges(k, kc).forEach(([k0, k1], pass) => {
          const aWindow = transposeA
            ? bufferWindow(a.buffer, k0 * m + m0, (k1 - k0 - 1) * m + (m1 - m0), limits)
            : bufferWindow(a.buffer, m0 * k + k0, (m1 - m0 - 1) * k + (k1 - k0), limits);
          const bWindow = transposeB
            ? bufferWindow(b.buffer, n0 * k + k0, (n1 - n0 - 1) * k + (k1 - k0), limits)
            : bufferWindow(b.buffer, k0 * n + n0, (k1 - k0 - 1) * n + (n1 - n0), limits);
          const uniforms: MatmulUniforms = {
            M: m1 - m0, N: n1 - n0, K: k1 - k0, aStride: transposeA ? m : k, aFirst: aWindow.first, bStride: transposeB ? k : n, bFirst: bWindow.first,
            cStride: n, cFirst: cWindow.first, accumulate: pass > 0 ? 1 : 0, transposeA: transposeA ? 1 : 0, transposeB: transposeB ? 1 : 0,
          };
          dispatches.push({ program: this, buffers: [aWindow.binding, bWindow.binding, cWindow.binding], uniforms, workgroups: this.grid(m1 - m0, n1 - n0) });
        });
      }
    }
    return dispatches;
  }

  /** Workgroups for an M x N output. */
  grid(m: number, n: number): [number, number, number] {
    return [Math.ceil(n / tileCols(this.tile)), Math.ceil(m / tileRows(this.tile)), 1];
  }

  /** A WGSL function reading 4 consecutive elements of one stored row, zero outside rows x cols. */
  #reader(name: string, buffer: 'a' | 'b'): string {
    const rows = `${name}Rows`;
    const cols = `${name}Cols`;
    const first = `u.${buffer}First`;
    const stride = `u.${buffer}Stride`;
    if (this.vectorized) {
      return `fn ${name}(row: i32, col: i32, ${rows}: i32, ${cols}: i32) -> vec4<f32> {
  if (row >= ${rows} || col >= ${cols}) { return vec4<f32>(0.0); }
  return ${buffer}[(${first} + row * ${stride} + col) / 4];
}`;
    }
    return `fn ${name}(row: i32, col: i32, ${rows}: i32, ${cols}: i32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row >= ${rows}) { return v; }
  let at = ${first} + row * ${stride} + col;
  for (var i = 0; i < 4; i++) {
    if (col + i < ${cols}) { v[i] = ${buffer}[at + i]; }
  }
  return v;
}`;
  }

  body(): string {
    const t = this.tile;
    const tm = tileRows(t);
    const tn = tileCols(t);
    const threads = t.threadsX * t.threadsY;
    const readA = this.#reader('readA', 'a');
    const readB = this.#reader('readB', 'b');
    // Stored A is [M, K] (rows contiguous along K: transposed into the tile) or, with transposeA,
    // [K, M] (contiguous along M: copied directly).
    const loadA = `if (u.transposeA == 0) {
      ${loadTransposed('tileA', TILE_K, tm, threads, (k4, m) => `readA(m0 + ${m}, k0 + 4 * ${k4}, u.M, u.K)`)}
    } else {
      ${loadDirect('tileA', TILE_K, tm / 4, threads, (k, g) => `readA(k0 + ${k}, m0 + 4 * (${g}), u.K, u.M)`)}
    }`;
    // Stored B is [K, N] (contiguous along N: direct) or, with transposeB, [N, K] (transposed).
    const loadB = `if (u.transposeB == 0) {
      ${loadDirect('tileB', TILE_K, tn / 4, threads, (k, g) => `readB(k0 + ${k}, n0 + 4 * (${g}), u.K, u.N)`)}
    } else {
      ${loadTransposed('tileB', TILE_K, tn, threads, (k4, n) => `readB(n0 + ${n}, k0 + 4 * ${k4}, u.N, u.K)`)}
    }`;
    const writes: string[] = [];
    for (let u = 0; u < t.rowVecs; u++) {
      for (let r = 0; r < 4; r++) {
        for (let v = 0; v < t.colVecs; v++) {
          const value = `acc[${accIndex(t, u, r, v)}]`;
          const row = `m0 + (ty + ${u * t.threadsY}) * 4 + ${r}`;
          const col = `n0 + (tx + ${v * t.threadsX}) * 4`;
          writes.push(this.vectorized
            ? `write4(${row}, ${col}, ${value});`
            : `write1(${row}, ${col}, ${value});`);
        }
      }
    }
    const write = this.vectorized
      ? `fn write4(row: i32, col: i32, value: vec4<f32>) {
  if (row >= u.M || col >= u.N) { return; }
  let at = (u.cFirst + row * u.cStride + col) / 4;
  if (u.accumulate != 0) { c[at] = c[at] + value; } else { c[at] = value; }
}`
      : `fn write1(row: i32, col: i32, value: vec4<f32>) {
  if (row >= u.M) { return; }
  let at = u.cFirst + row * u.cStride + col;
  for (var i = 0; i < 4; i++) {
    if (col + i < u.N) {
      if (u.accumulate != 0) { c[at + i] = c[at + i] + value[i]; } else { c[at + i] = value[i]; }
    }
  }
}`;
    return `
var<workgroup> tileA: array<vec4<f32>, ${(TILE_K * tm) / 4}>;
var<workgroup> tileB: array<vec4<f32>, ${(TILE_K * tn) / 4}>;

${readA}

${readB}

${write}

${entryPoint(this.workgroupSize)} {
  let tx = i32(lid.x);
  let ty = i32(lid.y);
  let m0 = i32(wg.y) * ${tm};
  let n0 = i32(wg.x) * ${tn};
  var acc: array<vec4<f32>, ${accumulatorCount(t)}>;
  for (var k0 = 0; k0 < u.K; k0 += ${TILE_K}) {
    ${loadA}
    ${loadB}
    workgroupBarrier();
    for (var k = 0; k < ${TILE_K}; k++) {
      ${outerProductStep(t, 'tileA', 'tileB', 'k', 'tx', 'ty')}
    }
    workgroupBarrier();
  }
  ${writes.join('\n  ')}
}
`;
  }
}
