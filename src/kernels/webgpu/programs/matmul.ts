import { entryPoint, type StorageBinding, type WebGPUProgram } from '../program.js';
import { accIndex, accumulatorCount, loadDirect, loadTransposed, outerProductStep, tileCols, tileRows, type RegisterTile } from '../tiles.js';

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
 * `accumulate` adds to C (the backend splits K that way when an operand would exceed the binding
 * limit).
 */

/** Tile edge: 64 (4 x 4 per thread) or 128 (8 x 8 per thread). */
export type MatmulTileSize = 64 | 128;

const TILE_K = 16;

/** Uniforms of the matmul (elements). */
export const MATMUL_UNIFORMS = ['M', 'N', 'K', 'aStride', 'aFirst', 'bStride', 'bFirst', 'cStride', 'cFirst', 'accumulate', 'transposeA', 'transposeB'] as const;

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
