/*
 * WGSL building blocks shared by the matrix kernels: shared-memory tiles and a register-tiled
 * outer-product step.
 *
 * Every product here is C[m, n] += sum_k A[m, k] B[k, n] over a tile. Both shared tiles are stored
 * k-major with vec4 along the output dimension: tileA[k][m / 4] and tileB[k][n / 4]. A thread owns
 * 4U rows x 4V columns of the output tile: row groups ty + u * TY and column groups tx + v * TX
 * (interleaved, so that neighbouring threads touch neighbouring vec4s). One k step is U + V vec4
 * reads from shared memory for 16 U V multiply-adds.
 *
 * A source that is contiguous along m (or n) is copied into its tile as vec4s ("direct"); one that
 * is contiguous along k is read as vec4s along k and scattered into four tile rows ("transposed").
 */

/** How a workgroup's threads cover an output tile. */
export interface RegisterTile {
  /** Threads across output columns (TX). */
  readonly threadsX: number;
  /** Threads across output rows (TY). */
  readonly threadsY: number;
  /** vec4 row groups per thread (U): a thread owns 4U rows. */
  readonly rowVecs: number;
  /** vec4 column groups per thread (V): a thread owns 4V columns. */
  readonly colVecs: number;
}

/** Rows of the output tile (4 U TY). */
export const tileRows = (t: RegisterTile): number => 4 * t.rowVecs * t.threadsY;
/** Columns of the output tile (4 V TX). */
export const tileCols = (t: RegisterTile): number => 4 * t.colVecs * t.threadsX;
/** Accumulator vec4s per thread. */
export const accumulatorCount = (t: RegisterTile): number => 4 * t.rowVecs * t.colVecs;

/** Index into `acc` of row 4u + r (of the thread's row groups) and column group v. */
export const accIndex = (t: RegisterTile, u: number, r: number, v: number): number => (u * 4 + r) * t.colVecs + v;

/**
 * One k step of the outer product: reads tileA row k (the thread's row groups) and tileB row k
 * (its column groups) and accumulates into `acc`. `k`, `tx`, `ty` are WGSL i32 expressions.
 */
export function outerProductStep(t: RegisterTile, tileA: string, tileB: string, k: string, tx: string, ty: string): string {
  const m4 = tileRows(t) / 4;
  const n4 = tileCols(t) / 4;
  const lines: string[] = [];
  for (let u = 0; u < t.rowVecs; u++) lines.push(`let a${u} = ${tileA}[(${k}) * ${m4} + ${ty} + ${u * t.threadsY}];`);
  for (let v = 0; v < t.colVecs; v++) lines.push(`let b${v} = ${tileB}[(${k}) * ${n4} + ${tx} + ${v * t.threadsX}];`);
  const lanes = ['x', 'y', 'z', 'w'];
  for (let u = 0; u < t.rowVecs; u++) {
    for (let r = 0; r < 4; r++) {
      for (let v = 0; v < t.colVecs; v++) {
        const i = accIndex(t, u, r, v);
        lines.push(`acc[${i}] = fma(vec4<f32>(a${u}.${lanes[r]}), b${v}, acc[${i}]);`);
      }
    }
  }
  return lines.join('\n');
}

/** A WGSL expression reading a vec4 of the source, given two i32 WGSL expressions. */
export type TileRead = (first: string, second: string) => string;

/**
 * Copies a tile stored k-major with vec4 along m/n: `rows` k rows of `vecs` vec4s each, from a
 * source contiguous along m/n. `read(k, g)` gives elements (k, 4g .. 4g + 3) of the tile.
 */
export function loadDirect(tile: string, rows: number, vecs: number, threads: number, read: TileRead): string {
  return `for (var i = i32(tid); i < ${rows * vecs}; i += ${threads}) {
  ${tile}[i] = ${read(`i / ${vecs}`, `i % ${vecs}`)};
}`;
}

/**
 * Fills a k-major tile (`kRows` x `width`, vec4 along `width`) from a source contiguous along k:
 * `read(k4, j)` gives elements (4 k4 .. 4 k4 + 3, j), which go to four tile rows.
 */
export function loadTransposed(tile: string, kRows: number, width: number, threads: number, read: TileRead): string {
  const k4s = kRows / 4;
  const w4 = width / 4;
  return `for (var i = i32(tid); i < ${width * k4s}; i += ${threads}) {
  let k4 = i % ${k4s};
  let j = i / ${k4s};
  let v = ${read('k4', 'j')};
  let at = k4 * ${4 * w4} + j / 4;
  let lane = j % 4;
  ${tile}[at][lane] = v.x;
  ${tile}[at + ${w4}][lane] = v.y;
  ${tile}[at + ${2 * w4}][lane] = v.z;
  ${tile}[at + ${3 * w4}][lane] = v.w;
}`;
}
