// The CPU backend's kernels (src/kernels/cpu), in AssemblyScript compiled to WebAssembly SIMD.
//
// Every pointer is a byte offset into the imported shared memory; the JavaScript side owns every
// allocation and splits each product into units of work (src/kernels/cpu/plans.ts). Units write
// disjoint parts of their outputs, so threads never write the same float and need no atomics.
// src/kernels/cpu/abi.ts declares each exported function's parameters, by name and in order, for
// the JavaScript side; test/kernels/cpu-abi.test.ts checks this file against it, so a parameter
// changed here must be changed there too.
//
// One register tile (assembly/tile.ts) does all the arithmetic: Y[4 rows][8 columns] (+)= sum
// over steps of X[step][row] * W[step][column], with X read as 4 floats per step (four rows
// interleaved) and W as 8 floats per step, both streamed from contiguous packed buffers. The
// products differ only in how they pack their operands into those streams:
//   forward       X rows -> interleaved row tiles; W blocks of output block k -> column panels
//   backwardData  dY rows -> interleaved row tiles; W blocks of input block c -> transposed panels
//   weightGrad    X column groups of 4 and dY column groups of 8, each contiguous over the batch
//   matmul        op(A) -> interleaved row tiles; op(B) -> column panels
// (The convolutions' kernels, on the same tile, are in assembly/conv.ts.)
// Built twice: with relaxed SIMD (f32x4.relaxed_madd, a fused multiply-add where the hardware has
// one) and without (multiply, then add).

import { madd, packPanels, tile } from './tile';

// ---------------------------------------------------------------------------------------------
// Packing

/**
 * Interleaved row tiles of a row-major matrix: dst tile t is [features][4] with
 * dst[t][f][r] = src[4t + r][f] (rows at or past `rows` are zero), for tiles [t0, t1).
 * src rows are `stride` floats apart.
 */
export function packRowTiles(src: usize, rows: i32, features: i32, stride: i32, dst: usize, t0: i32, t1: i32): void {
  const rs = <usize>stride << 2;
  const tileBytes = <usize>features << 4;
  for (let t = t0; t < t1; t++) {
    const r = t << 2;
    let out = dst + <usize>t * tileBytes;
    if (rows - r >= 4) {
      let p0 = src + <usize>r * rs;
      let p1 = p0 + rs, p2 = p1 + rs, p3 = p2 + rs;
      let f = 0;
      for (; f + 4 <= features; f += 4) {
        const r0 = v128.load(p0), r1 = v128.load(p1), r2 = v128.load(p2), r3 = v128.load(p3);
        const lo01 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
        const hi01 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
        const lo23 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
        const hi23 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
        v128.store(out, v128.shuffle<f32>(lo01, lo23, 0, 1, 4, 5));
        v128.store(out, v128.shuffle<f32>(lo01, lo23, 2, 3, 6, 7), 16);
        v128.store(out, v128.shuffle<f32>(hi01, hi23, 0, 1, 4, 5), 32);
        v128.store(out, v128.shuffle<f32>(hi01, hi23, 2, 3, 6, 7), 48);
        p0 += 16; p1 += 16; p2 += 16; p3 += 16;
        out += 64;
      }
      for (; f < features; f++) {
        store<f32>(out, load<f32>(p0)); store<f32>(out, load<f32>(p1), 4);
        store<f32>(out, load<f32>(p2), 8); store<f32>(out, load<f32>(p3), 12);
        p0 += 4; p1 += 4; p2 += 4; p3 += 4;
        out += 16;
      }
    } else {
      for (let f = 0; f < features; f++) {
        for (let rr = 0; rr < 4; rr++) {
          const row = r + rr;
          store<f32>(out + (<usize>rr << 2), row < rows ? load<f32>(src + <usize>row * rs + (<usize>f << 2)) : 0);
        }
        out += 16;
      }
    }
  }
}

/**
 * Interleaved row tiles of a transposed matrix: op(src)[m][f] = src[f][m] for src [features, rows]
 * row-major, so dst[t][f][r] = src[f][4t + r] (zero past `rows`), for tiles [t0, t1).
 */
export function packColumnTiles(src: usize, rows: i32, features: i32, dst: usize, t0: i32, t1: i32): void {
  const rs = <usize>rows << 2;
  const tileBytes = <usize>features << 4;
  for (let t = t0; t < t1; t++) {
    const m = t << 2;
    let out = dst + <usize>t * tileBytes;
    let p = src + (<usize>m << 2);
    if (rows - m >= 4) {
      for (let f = 0; f < features; f++) {
        v128.store(out, v128.load(p));
        p += rs;
        out += 16;
      }
    } else {
      for (let f = 0; f < features; f++) {
        for (let rr = 0; rr < 4; rr++) store<f32>(out + (<usize>rr << 2), m + rr < rows ? load<f32>(p + (<usize>rr << 2)) : 0);
        p += rs;
        out += 16;
      }
    }
  }
}

/**
 * Forward panels for output blocks [k0, k1): output block k with fan-in entries
 * e in [colPtr[k], colPtr[k+1]) (block ids blockId[e]) gets, per slice s of 8 output columns, the
 * steps (e, i) in order, each 8 floats g_b * W_b[i][8s .. 8s+8]. Block k's panels start at
 * dst + colPtr[k] * bs*bs*4 bytes, slice s at + s * fan * bs * 32. gates = 0: no gates.
 */
export function packForward(w: usize, gates: usize, bs: i32, colPtr: usize, blockId: usize, dst: usize, k0: i32, k1: i32): void {
  packPanels(w, gates, bs, 1, colPtr, blockId, false, dst, k0, k1);
}

/**
 * Backward-data panels for input blocks [c0, c1): input block c with blocks b in
 * [rowPtr[c], rowPtr[c+1]) gets, per slice s of 8 input features, the steps (b, j) in order, each
 * 8 floats g_b * W_b[8s .. 8s+8][j] (a column of W_b). Input block c's panels start at
 * dst + rowPtr[c] * bs*bs*4 bytes, slice s at + s * fan * bs * 32.
 */
export function packBackward(w: usize, gates: usize, bs: i32, rowPtr: usize, dst: usize, c0: i32, c1: i32): void {
  packPanels(w, gates, bs, 1, rowPtr, 0, true, dst, c0, c1);
}

/**
 * Dense column panels of op(B) [depth, cols] (B itself [cols, depth] when `transposeB`): slice S
 * (columns 8S .. 8S+8, zero past `cols`) is [depth][8] at dst + S * depth * 32, for S in [s0, s1).
 */
export function packDense(b: usize, depth: i32, cols: i32, transposeB: bool, dst: usize, s0: i32, s1: i32): void {
  for (let S = s0; S < s1; S++) {
    const n0 = S << 3;
    let out = dst + <usize>S * (<usize>depth << 5);
    if (!transposeB && n0 + 8 <= cols) {
      let p = b + (<usize>n0 << 2);
      const rs = <usize>cols << 2;
      for (let t = 0; t < depth; t++) {
        v128.store(out, v128.load(p));
        v128.store(out, v128.load(p, 16), 16);
        p += rs;
        out += 32;
      }
    } else {
      for (let t = 0; t < depth; t++) {
        for (let c = 0; c < 8; c++) {
          const n = n0 + c;
          let v: f32 = 0;
          if (n < cols) v = transposeB ? load<f32>(b + ((<usize>n * depth + t) << 2)) : load<f32>(b + ((<usize>t * cols + n) << 2));
          store<f32>(out + (<usize>c << 2), v);
        }
        out += 32;
      }
    }
  }
}

/**
 * Column groups of a row-major [rows, features] matrix for the weight gradient: group g (features
 * width*g .. width*g + width, width 4 or 8) is [rows][width] at dst + g * rows * width * 4, copied
 * for rows [r0, r1). features is a multiple of width.
 */
export function packColumnGroups(src: usize, rows: i32, features: i32, width: i32, dst: usize, r0: i32, r1: i32): void {
  const groups = features / width;
  const groupBytes = <usize>width << 2;
  const rs = <usize>features << 2;
  const planeBytes = <usize>rows * groupBytes;
  // blocks of 16 rows: reads stay within a few lines per row, writes within a few lines per group
  for (let rb = r0; rb < r1; rb += 16) {
    const re = min(rb + 16, r1);
    for (let g = 0; g < groups; g++) {
      let out = dst + <usize>g * planeBytes + <usize>rb * groupBytes;
      let p = src + <usize>rb * rs + <usize>g * groupBytes;
      for (let r = rb; r < re; r++) {
        v128.store(out, v128.load(p));
        if (width == 8) v128.store(out, v128.load(p, 16), 16);
        p += rs;
        out += groupBytes;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Products (one unit each)

/**
 * One unit of the dense product C[rows, cols] = op(A) . op(B): column group `group` (32 columns,
 * fewer at the edge) for rows [r0, r1) (r0 a multiple of 4), from the row tiles of op(A) (xi,
 * depth features) and the panels of op(B); the reduction runs in chunks of `chunk` steps.
 */
export function denseUnit(xi: usize, depth: i32, y: usize, cols: i32, panels: usize, group: i32, r0: i32, r1: i32,
  chunk: i32, scratch: usize): void {
  const ys = <usize>cols << 2;
  const tileBytes = <usize>depth << 4;
  const sEnd = min((group << 2) + 4, (cols + 7) >> 3);
  let q = 0;
  do {
    const count = min(chunk, depth - q);
    for (let S = group << 2; S < sEnd; S++) {
      const wp = panels + <usize>S * (<usize>depth << 5) + (<usize>q << 5);
      let xp = xi + <usize>(r0 >> 2) * tileBytes + (<usize>q << 4);
      let yp = y + <usize>r0 * ys + (<usize>(S << 3) << 2);
      const colsValid = min(8, cols - (S << 3));
      for (let r = r0; r < r1; r += 4) {
        tile(xp, count, wp, yp, ys, q > 0, min(4, r1 - r), colsValid, scratch);
        xp += tileBytes;
        yp += ys << 2;
      }
    }
    q += chunk;
  } while (q < depth);
}

/**
 * One unit of the weight gradient: blocks [b0, b1) (block b = input block rows[b], output block
 * cols[b]). G_b = X[:, c]^T dY[:, k] from the column groups xg (width 4) and dyg (width 8) over
 * `rows` batch rows, in chunks of `chunk` rows. Then dgates[b] = <weights_b, G_b> when weights is
 * given, and dW_b = g_b G_b (G_b without gates).
 */
export function weightGradUnit(xg: usize, dyg: usize, rows: i32, bs: i32, pairRows: usize, pairCols: usize,
  dw: usize, gates: usize, weights: usize, dgates: usize, b0: i32, b1: i32, chunk: i32, scratch: usize): void {
  const blockBytes = <usize>(bs * bs) << 2;
  const ys = <usize>bs << 2;
  const xPlane = <usize>rows << 4;
  const dyPlane = <usize>rows << 5;
  for (let b = b0; b < b1; b++) {
    const c = load<i32>(pairRows + (<usize>b << 2));
    const k = load<i32>(pairCols + (<usize>b << 2));
    const out = dw + <usize>b * blockBytes;
    let q = 0;
    do {
      const count = min(chunk, rows - q);
      for (let i = 0; i < bs; i += 4) {
        const xp = xg + <usize>((c * bs + i) >> 2) * xPlane + (<usize>q << 4);
        for (let j = 0; j < bs; j += 8) {
          const wp = dyg + <usize>((k * bs + j) >> 3) * dyPlane + (<usize>q << 5);
          tile(xp, count, wp, out + <usize>i * ys + (<usize>j << 2), ys, q > 0, 4, 8, scratch);
        }
      }
      q += chunk;
    } while (q < rows);
    if (weights) {
      let acc = f32x4.splat(0);
      const wb = weights + <usize>b * blockBytes;
      for (let o: usize = 0; o < blockBytes; o += 16) acc = madd(v128.load(wb + o), v128.load(out + o), acc);
      store<f32>(dgates + (<usize>b << 2), f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
    }
    if (gates) {
      const g = f32x4.splat(load<f32>(gates + (<usize>b << 2)));
      for (let o: usize = 0; o < blockBytes; o += 16) v128.store(out + o, f32x4.mul(v128.load(out + o), g));
    }
  }
}

/**
 * One unit of the forward or backward-data product: output block `ob` (bs columns of y) for rows
 * [r0, r1) (r0 a multiple of 4). Its inputs are the entries e in [ptr[ob], ptr[ob+1]), each the
 * feature block idx[e] of the row tiles xi (F features), and its panels (packForward or
 * packBackward output at `panels`). The reduction runs in chunks of `chunk` blocks: a chunk's
 * input segments of every row tile are first gathered into `buf` (one contiguous run per tile, so
 * the tile streams them and the scattered reads happen in a copy loop that keeps many loads in
 * flight); its panel slices stay in L1 while every row tile uses them. Writes zeros when the block
 * has no inputs.
 */
export function sparseUnit(xi: usize, F: i32, y: usize, yFeatures: i32, panels: usize, ptr: usize, idx: usize,
  bs: i32, ob: i32, r0: i32, r1: i32, chunk: i32, scratch: usize, buf: usize): void {
  const e0 = load<i32>(ptr + (<usize>ob << 2));
  const e1 = load<i32>(ptr + (<usize>(ob + 1) << 2));
  const fan = e1 - e0;
  const ys = <usize>yFeatures << 2;
  const tileBytes = <usize>F << 4;
  const segBytes = <usize>bs << 4;
  const sliceBytes = <usize>(fan * bs) << 5;
  const base = panels + <usize>e0 * (<usize>(bs * bs) << 2);
  let q = 0;
  do {
    const count = min(chunk, fan - q);
    const runBytes = <usize>count * segBytes;
    // gather the chunk's segments of every row tile into buf, one contiguous run per tile
    let out = buf;
    let xt = xi + <usize>(r0 >> 2) * tileBytes;
    for (let r = r0; r < r1; r += 4) {
      for (let e = 0; e < count; e++) {
        let src = xt + <usize>load<i32>(idx + (<usize>(e0 + q + e) << 2)) * segBytes;
        const end = src + segBytes;
        while (src < end) {
          v128.store(out, v128.load(src)); v128.store(out, v128.load(src, 16), 16);
          v128.store(out, v128.load(src, 32), 32); v128.store(out, v128.load(src, 48), 48);
          src += 64; out += 64;
        }
      }
      xt += tileBytes;
    }
    for (let s = 0; s < bs; s += 8) {
      const wp = base + <usize>(s >> 3) * sliceBytes + (<usize>(q * bs) << 5);
      let xp = buf;
      let yp = y + <usize>r0 * ys + (<usize>(ob * bs + s) << 2);
      for (let r = r0; r < r1; r += 4) {
        tile(xp, count * bs, wp, yp, ys, q > 0, min(4, r1 - r), 8, scratch);
        xp += runBytes;
        yp += ys << 2;
      }
    }
    q += chunk;
  } while (q < fan);
}
