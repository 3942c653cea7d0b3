// The block-sparse convolutions' kernels (src/kernels/conv.ts has the definition and the layouts
// of X [N, H, W, C], Y [N, Ho, Wo, K] and W [nnz, kh, kw, bs, bs]; src/kernels/cpu/conv-plans.ts
// splits them into units). Implicit GEMM on the register tile of assembly/tile.ts: a convolution
// is a block product whose rows are spatial positions and whose reduction runs over (tap, entry)
// pairs, each tap reading a source row of the activation, or zeros where it falls outside. Each
// unit gathers the rows its taps read into its thread's buffer, one chunk of the reduction at a
// time, so no im2col copy of the whole input is ever made:
//   convUnit, forward      rows: output positions [N, Ho, Wo]; row (y, x) at tap (i, j) reads X
//                          at (y sh - ph + i dh, x sw - pw + j dw)
//   convUnit, transposed   rows: input positions [N, H, W] (backward-data, as a gather: no two
//                          units write the same float); row (y, x) at tap (i, j) reads dY at
//                          ((y + ph - i dh) / sh, (x + pw - j dw) / sw) where both divide evenly
//   convWeightGradUnit     per (block, tap): the X rows the tap reads (column groups of 4)
//                          against dY (column groups of 8), over the positions in chunks
// src/kernels/cpu/abi.ts declares the exported functions' parameters (test/kernels/cpu-abi.test.ts
// checks them against this file).

import { madd, packPanels, tile } from './tile';

/** The source index along one axis for coordinate r at kernel offset i, or -1 (padding, or off the stride grid when transposed). */
@inline function sourceAt(r: i32, i: i32, stride: i32, pad: i32, dil: i32, size: i32, transposed: bool): i32 {
  if (!transposed) {
    const s = r * stride - pad + i * dil;
    return <u32>s < <u32>size ? s : -1;
  }
  const num = r + pad - i * dil;
  if (num < 0) return -1;
  const s = stride == 1 ? num : num / stride;
  return s * stride == num && s < size ? s : -1;
}

// The geometry of the convolution a unit works on, set on entry by convUnit (module globals are
// per instance, so per thread): rows over [N, gRowH, gRowW], sources over [N, gSrcH, gSrcW].
let gTransposed: bool = false;
let gRowH: i32 = 1;
let gRowW: i32 = 1;
let gSrcH: i32 = 1;
let gSrcW: i32 = 1;
let gStrideY: i32 = 1;
let gStrideX: i32 = 1;
let gPadY: i32 = 0;
let gPadX: i32 = 0;
let gDilY: i32 = 1;
let gDilX: i32 = 1;

/** Writes row `row`'s batch index and coordinates (n, y, x) as three i32 at `at`; n = -1 for a row at or past `end`. */
@inline function decompose(row: i32, end: i32, at: usize): void {
  if (row >= end) {
    store<i32>(at, -1);
    return;
  }
  const rest = row / gRowW;
  store<i32>(at, rest / gRowH);
  store<i32>(at, rest % gRowH, 4);
  store<i32>(at, row % gRowW, 8);
}

/** The byte address of the source row that the row decomposed at `at` reads at tap (i, j), or 0 where it reads zeros. */
@inline function sourceRow(at: usize, i: i32, j: i32, src: usize, rowBytes: usize): usize {
  const n = load<i32>(at);
  if (n < 0) return 0;
  const sy = sourceAt(load<i32>(at, 4), i, gStrideY, gPadY, gDilY, gSrcH, gTransposed);
  if (sy < 0) return 0;
  const sx = sourceAt(load<i32>(at, 8), j, gStrideX, gPadX, gDilX, gSrcW, gTransposed);
  if (sx < 0) return 0;
  return src + <usize>((n * gSrcH + sy) * gSrcW + sx) * rowBytes;
}

/** Interleaves `bytes` bytes from each of four rows (0: zeros) into out as [bytes / 4][4]; returns the end of what it wrote. */
@inline function interleave4(p0: usize, p1: usize, p2: usize, p3: usize, bytes: usize, out: usize): usize {
  const zero = f32x4.splat(0);
  const whole = p0 != 0 && p1 != 0 && p2 != 0 && p3 != 0;
  for (let f: usize = 0; f < bytes; f += 16) {
    let r0 = zero, r1 = zero, r2 = zero, r3 = zero;
    if (whole) {
      r0 = v128.load(p0 + f); r1 = v128.load(p1 + f); r2 = v128.load(p2 + f); r3 = v128.load(p3 + f);
    } else {
      if (p0) r0 = v128.load(p0 + f);
      if (p1) r1 = v128.load(p1 + f);
      if (p2) r2 = v128.load(p2 + f);
      if (p3) r3 = v128.load(p3 + f);
    }
    const lo01 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
    const hi01 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
    const lo23 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
    const hi23 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
    v128.store(out, v128.shuffle<f32>(lo01, lo23, 0, 1, 4, 5));
    v128.store(out, v128.shuffle<f32>(lo01, lo23, 2, 3, 6, 7), 16);
    v128.store(out, v128.shuffle<f32>(hi01, hi23, 0, 1, 4, 5), 32);
    v128.store(out, v128.shuffle<f32>(hi01, hi23, 2, 3, 6, 7), 48);
    out += 64;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Packing

/**
 * The convolutions' weight panels for segments [s0, s1): segment g (an output block, forward; an
 * input block, `transposed`) with entries e in [ptr[g], ptr[g+1]) (fan of them; block id
 * blockId[e], or e itself when blockId is 0) gets, per slice of 8 columns, the steps (t, e, p) in
 * that order (taps outermost), each 8 floats: forward g_b W_b[t][p][8s .. 8s+8]; transposed
 * g_b W_b[t][8s .. 8s+8][p] (a column of the tap's matrix). Segment g's panels start at
 * dst + ptr[g] * taps * bs*bs*4 bytes, slice s at + s * fan * taps * bs * 32.
 */
export function packConvPanels(w: usize, gates: usize, bs: i32, taps: i32, ptr: usize, blockId: usize, transposed: bool,
  dst: usize, s0: i32, s1: i32): void {
  packPanels(w, gates, bs, taps, ptr, blockId, transposed, dst, s0, s1);
}

// ---------------------------------------------------------------------------------------------
// Products (one unit each)

/**
 * One unit of the forward convolution (or, `transposed`, of backward-data): output block `ob` (bs
 * columns of y, yFeatures wide) for rows [r0, r1) (r0 a multiple of 4) of the row space
 * [N, rowH, rowW]. Its reduction runs over the pairs (t, e) of taps t < taps (kernel width kw) and
 * entries e in [ptr[ob], ptr[ob+1]) (feature block idx[e] of the source `src`, [N, srcH, srcW, F]),
 * with the panels of packConvPanels, in chunks of `chunk` pairs: a chunk's source segments of
 * every row tile are first gathered into `buf` (the four source rows of a tile found once per
 * tap, zeros for padding), then each slice of 8 columns runs the register tile over every row tile while its
 * panel slice stays in L1. Writes zeros when the block has no entries.
 */
export function convUnit(src: usize, F: i32, y: usize, yFeatures: i32, panels: usize, ptr: usize, idx: usize, bs: i32,
  taps: i32, kw: i32, transposed: bool, rowH: i32, rowW: i32, srcH: i32, srcW: i32, strideY: i32, strideX: i32,
  padY: i32, padX: i32, dilY: i32, dilX: i32, ob: i32, r0: i32, r1: i32, chunk: i32, scratch: usize, buf: usize): void {
  gTransposed = transposed;
  gRowH = rowH; gRowW = rowW; gSrcH = srcH; gSrcW = srcW;
  gStrideY = strideY; gStrideX = strideX; gPadY = padY; gPadX = padX; gDilY = dilY; gDilX = dilX;
  const e0 = load<i32>(ptr + (<usize>ob << 2));
  const fan = load<i32>(ptr + (<usize>(ob + 1) << 2)) - e0;
  const pairs = fan * taps;
  const ys = <usize>yFeatures << 2;
  const rowBytes = <usize>F << 2;
  const segBytes = <usize>bs << 2;
  const sliceBytes = <usize>(pairs * bs) << 5;
  const base = panels + <usize>e0 * <usize>taps * (<usize>(bs * bs) << 2);
  const entries = idx + (<usize>e0 << 2);
  let q = 0;
  do {
    const count = min(chunk, pairs - q);
    const runBytes = <usize>(count * bs) << 4;
    if (count > 0) {
      // gather the chunk's source segments of every row tile into buf, one contiguous run per tile
      let out = buf;
      for (let r = r0; r < r1; r += 4) {
        // scratch holds the four rows' (n, y, x) while gathering (tile() uses it only afterwards)
        decompose(r, r1, scratch);
        decompose(r + 1, r1, scratch + 12);
        decompose(r + 2, r1, scratch + 24);
        decompose(r + 3, r1, scratch + 36);
        let t = q / fan;
        let e = q - t * fan;
        let p0: usize = 0, p1: usize = 0, p2: usize = 0, p3: usize = 0;
        let fresh = true;
        for (let k = 0; k < count; k++) {
          if (fresh) {
            const i = t / kw;
            const j = t - i * kw;
            p0 = sourceRow(scratch, i, j, src, rowBytes);
            p1 = sourceRow(scratch + 12, i, j, src, rowBytes);
            p2 = sourceRow(scratch + 24, i, j, src, rowBytes);
            p3 = sourceRow(scratch + 36, i, j, src, rowBytes);
            fresh = false;
          }
          const at = <usize>load<i32>(entries + (<usize>e << 2)) * segBytes;
          out = interleave4(p0 ? p0 + at : 0, p1 ? p1 + at : 0, p2 ? p2 + at : 0, p3 ? p3 + at : 0, segBytes, out);
          if (++e == fan) {
            e = 0;
            t++;
            fresh = true;
          }
        }
      }
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
  } while (q < pairs);
}

/**
 * One unit of the convolution's weight gradient: the pairs u in [u0, u1) of block b = u / taps and
 * tap t = u % taps (block b = input block pairRows[b], output block pairCols[b]), each
 * G_b[t] = sum over the output positions [N, outH, outW] of X(source row at tap t)[c]^T dY[k]
 * into dw at u * bs*bs floats, with X [N, inH, inW, C] and dY [N, outH, outW, K]. The positions
 * run in chunks of `chunk`: a chunk's dY rows of block k are gathered into column groups of 8
 * once for all of the unit's taps of the block, and each tap's X rows of block c (zeros for
 * padding) into column groups of 4, both in `buf`; then the register tile over every 4 x 8 piece
 * of the tap's matrix. Gates and the gate gradient are a second pass (convGateGrad).
 */
export function convWeightGradUnit(x: usize, dy: usize, C: i32, K: i32, bs: i32, taps: i32, kw: i32, positions: i32,
  outH: i32, outW: i32, inH: i32, inW: i32, strideY: i32, strideX: i32, padY: i32, padX: i32, dilY: i32, dilX: i32,
  pairRows: usize, pairCols: usize, dw: usize, u0: i32, u1: i32, chunk: i32, scratch: usize, buf: usize): void {
  const blockBytes = <usize>(bs * bs) << 2;
  const ys = <usize>bs << 2;
  const xRowBytes = <usize>C << 2;
  const dyRowBytes = <usize>K << 2;
  const xPlane = <usize>chunk << 4;
  const dyPlane = <usize>chunk << 5;
  const xBuf = buf + <usize>(bs >> 3) * dyPlane;
  const zero = f32x4.splat(0);
  let u = u0;
  while (u < u1) {
    const b = u / taps;
    const tEnd = min(u1 - b * taps, taps);
    const c = load<i32>(pairRows + (<usize>b << 2));
    const k = load<i32>(pairCols + (<usize>b << 2));
    const xBlock = x + (<usize>(c * bs) << 2);
    const dyBlock = dy + (<usize>(k * bs) << 2);
    let q = 0;
    do {
      const count = min(chunk, positions - q);
      // dY rows q .. q+count of block k, column groups of 8
      let row = dyBlock + <usize>q * dyRowBytes;
      for (let step = 0; step < count; step++) {
        let p = row;
        let out = buf + (<usize>step << 5);
        for (let h = 0; h < bs; h += 8) {
          v128.store(out, v128.load(p));
          v128.store(out, v128.load(p, 16), 16);
          p += 32;
          out += dyPlane;
        }
        row += dyRowBytes;
      }
      for (let t = u - b * taps; t < tEnd; t++) {
        const i = t / kw;
        const j = t - i * kw;
        // X rows of block c read at tap (i, j) by positions q .. q+count, column groups of 4
        const rest = q / outW;
        let ox = q - rest * outW;
        let oy = rest % outH;
        let n = rest / outH;
        for (let step = 0; step < count; step++) {
          const sy = oy * strideY - padY + i * dilY;
          const sx = ox * strideX - padX + j * dilX;
          let out = xBuf + (<usize>step << 4);
          if (<u32>sy < <u32>inH && <u32>sx < <u32>inW) {
            let p = xBlock + <usize>((n * inH + sy) * inW + sx) * xRowBytes;
            for (let g = 0; g < bs; g += 4) {
              v128.store(out, v128.load(p));
              p += 16;
              out += xPlane;
            }
          } else {
            for (let g = 0; g < bs; g += 4) {
              v128.store(out, zero);
              out += xPlane;
            }
          }
          if (++ox == outW) {
            ox = 0;
            if (++oy == outH) {
              oy = 0;
              n++;
            }
          }
        }
        const outTap = dw + (<usize>b * <usize>taps + <usize>t) * blockBytes;
        for (let p = 0; p < bs; p += 4) {
          const xp = xBuf + <usize>(p >> 2) * xPlane;
          for (let h = 0; h < bs; h += 8) {
            tile(xp, count, buf + <usize>(h >> 3) * dyPlane, outTap + <usize>p * ys + (<usize>h << 2), ys, q > 0, 4, 8, scratch);
          }
        }
      }
      q += chunk;
    } while (q < positions);
    u = b * taps + tEnd;
  }
}

/**
 * The gates' part of the convolution's weight gradient, for blocks [b0, b1) of `blockFloats`
 * floats each (taps * bs * bs): with weights, dgates[b] = <weights_b, G_b> (G_b the ungated
 * gradient dw holds); with gates, dw_b = g_b G_b.
 */
export function convGateGrad(dw: usize, gates: usize, weights: usize, dgates: usize, blockFloats: i32, b0: i32, b1: i32): void {
  const blockBytes = <usize>blockFloats << 2;
  for (let b = b0; b < b1; b++) {
    const out = dw + <usize>b * blockBytes;
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
