// The register tile every product of the CPU backend runs (assembly/kernels.ts, assembly/conv.ts):
// Y[4 rows][8 columns] (+)= sum over steps of X[step][row] * W[step][column], with X read as 4
// floats per step (four rows interleaved) and W as 8 floats per step, both streamed from
// contiguous packed buffers. Not an entry of the build: its functions are no module exports.

/** acc + a * b, fused when relaxed SIMD is on. */
@inline export function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/**
 * The register tile: `steps` steps of X from x (4 floats each) and of W from w (8 floats each).
 * Writes (or, with `accumulate`, adds) the 4 x 8 result to y (row stride ys bytes); a partial
 * tile (rowsValid < 4 or colsValid < 8) goes through `scratch` (128 bytes).
 */
export function tile(x: usize, steps: i32, w: usize, y: usize, ys: usize, accumulate: bool, rowsValid: i32, colsValid: i32, scratch: usize): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  let xp = x;
  let wp = w;
  const end = x + (<usize>steps << 4);
  while (xp < end) {
    const w0 = v128.load(wp), w1 = v128.load(wp, 16);
    let v = v128.load32_splat(xp);
    a00 = madd(v, w0, a00); a01 = madd(v, w1, a01);
    v = v128.load32_splat(xp, 4);
    a10 = madd(v, w0, a10); a11 = madd(v, w1, a11);
    v = v128.load32_splat(xp, 8);
    a20 = madd(v, w0, a20); a21 = madd(v, w1, a21);
    v = v128.load32_splat(xp, 12);
    a30 = madd(v, w0, a30); a31 = madd(v, w1, a31);
    xp += 16;
    wp += 32;
  }
  if (rowsValid == 4 && colsValid == 8) {
    let yp = y;
    if (accumulate) {
      a00 = f32x4.add(a00, v128.load(yp)); a01 = f32x4.add(a01, v128.load(yp, 16)); yp += ys;
      a10 = f32x4.add(a10, v128.load(yp)); a11 = f32x4.add(a11, v128.load(yp, 16)); yp += ys;
      a20 = f32x4.add(a20, v128.load(yp)); a21 = f32x4.add(a21, v128.load(yp, 16)); yp += ys;
      a30 = f32x4.add(a30, v128.load(yp)); a31 = f32x4.add(a31, v128.load(yp, 16));
      yp = y;
    }
    v128.store(yp, a00); v128.store(yp, a01, 16); yp += ys;
    v128.store(yp, a10); v128.store(yp, a11, 16); yp += ys;
    v128.store(yp, a20); v128.store(yp, a21, 16); yp += ys;
    v128.store(yp, a30); v128.store(yp, a31, 16);
    return;
  }
  v128.store(scratch, a00); v128.store(scratch, a01, 16);
  v128.store(scratch, a10, 32); v128.store(scratch, a11, 48);
  v128.store(scratch, a20, 64); v128.store(scratch, a21, 80);
  v128.store(scratch, a30, 96); v128.store(scratch, a31, 112);
  for (let r = 0; r < rowsValid; r++) {
    const row = y + <usize>r * ys;
    const src = scratch + (<usize>r << 5);
    for (let c = 0; c < colsValid; c++) {
      const p = row + (<usize>c << 2);
      const v = load<f32>(src + (<usize>c << 2));
      store<f32>(p, accumulate ? load<f32>(p) + v : v);
    }
  }
}

/**
 * Gated weight panels for the register tile, shared by the block products (taps = 1) and the
 * convolutions: segment g (an output block; an input block when `transposed`) with entries e in
 * [ptr[g], ptr[g+1]) (block id blockId[e], or e itself when blockId is 0) gets, per slice of 8
 * columns, the steps (t, e, p) in that order (taps outermost), each 8 floats: g_b W_b[t][p][8s ..
 * 8s+8], or transposed g_b W_b[t][8s .. 8s+8][p] (a column of the tap's matrix). Segment g's
 * panels start at dst + ptr[g] * taps * bs*bs*4 bytes, slice s at + s * fan * taps * bs * 32.
 */
export function packPanels(w: usize, gates: usize, bs: i32, taps: i32, ptr: usize, blockId: usize, transposed: bool,
  dst: usize, s0: i32, s1: i32): void {
  const rowBytes = <usize>bs << 2;
  const blockBytes = <usize>(bs * bs) << 2;
  for (let g = s0; g < s1; g++) {
    const e0 = load<i32>(ptr + (<usize>g << 2));
    const e1 = load<i32>(ptr + (<usize>(g + 1) << 2));
    let out = dst + <usize>e0 * <usize>taps * blockBytes;
    for (let s = 0; s < bs; s += 8) {
      for (let t = 0; t < taps; t++) {
        for (let e = e0; e < e1; e++) {
          const b = blockId ? load<i32>(blockId + (<usize>e << 2)) : e;
          const gate = f32x4.splat(gates ? load<f32>(gates + (<usize>b << 2)) : 1);
          const block = w + (<usize>b * <usize>taps + <usize>t) * blockBytes;
          if (!transposed) {
            let src = block + (<usize>s << 2);
            for (let i = 0; i < bs; i++) {
              v128.store(out, f32x4.mul(v128.load(src), gate));
              v128.store(out, f32x4.mul(v128.load(src, 16), gate), 16);
              src += rowBytes;
              out += 32;
            }
          } else {
            for (let j = 0; j < bs; j += 4) {
              for (let h = 0; h < 2; h++) {
                // rows 8s + 4h .. +4 of the tap's matrix, columns j .. j+4, transposed: column j' -> 4 floats
                let p = block + <usize>(s + 4 * h) * rowBytes + (<usize>j << 2);
                const r0 = v128.load(p); p += rowBytes;
                const r1 = v128.load(p); p += rowBytes;
                const r2 = v128.load(p); p += rowBytes;
                const r3 = v128.load(p);
                const lo01 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
                const hi01 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
                const lo23 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
                const hi23 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
                const o = out + (<usize>j << 5) + (<usize>h << 4);
                v128.store(o, f32x4.mul(v128.shuffle<f32>(lo01, lo23, 0, 1, 4, 5), gate));
                v128.store(o, f32x4.mul(v128.shuffle<f32>(lo01, lo23, 2, 3, 6, 7), gate), 32);
                v128.store(o, f32x4.mul(v128.shuffle<f32>(hi01, hi23, 0, 1, 4, 5), gate), 64);
                v128.store(o, f32x4.mul(v128.shuffle<f32>(hi01, hi23, 2, 3, 6, 7), gate), 96);
              }
            }
            out += <usize>bs << 5;
          }
        }
      }
    }
  }
}
