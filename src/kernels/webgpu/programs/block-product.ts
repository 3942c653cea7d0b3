import type { BlockLayout, BlockSize } from '../../../patterns/layout.js';
import type { Conv2dGeometry } from '../../conv.js';
import { sym } from '../index-expr.js';
import type { LayoutTables } from '../layout-tables.js';
import { MAX_SEGMENT_ENTRIES } from '../layout-tables.js';
import { entryPoint, type Dispatch, type PlanContext, type StorageBinding, type UniformRecord, type WebGPUProgram } from '../program.js';
import { sharedBytes, type SharedArray, type SharedMemoryModel, type SharedStep } from '../shared-memory.js';
import type { WebGPUTensor } from '../tensor.js';
import { accColumn, accumulatorCount, makeTile, rowMajorProductStep, rowMajorRow, stageDirect, stageTransposed, tileRows, type RegisterTile, type Tile } from '../tiles.js';
import { ShapeError } from '../../../errors.js';
import { bufferWindow, ranges, roundChunk, unitsPerWindow, wholeBuffer } from '../windows.js';
import { SegmentSumProgram } from './segment-sum.js';

/*
 * Forward and backward-data of a block-sparse layer: one workgroup per (segment, tile of batch
 * rows), as OpenAI blocksparse's xprop kernels. A segment is (part of) an output block column k
 * (forward: its entries are the input blocks c feeding it) or an input block row c (backward-data:
 * the output blocks k it feeds); long columns are split into segments whose partial sums a
 * second pass adds in order (layout-tables.ts, segment-sum.ts).
 *
 *   forward:        Y[n, k bs + j]  = sum_(c, b in column k) X[n, c bs + i]  g_b W_b[i, j]
 *   backward-data:  dX[n, c bs + i] = sum_(k, b in row c)    dY[n, k bs + j] g_b W_b[i, j]
 *
 * A workgroup first stages its segment's look-up table in workgroup memory (its threads load the
 * entries in parallel; thread 0 keeps those in the weight window whose gate is not zero, with their
 * offsets and gates), then for each entry multiplies the TM x bs slice of the activation (a
 * row-major tile: vec4 along the block's k) by the bs x bs block (a k-major tile; W^T for
 * backward-data, transposed on staging).
 * The next entry's slices are loaded into registers while the current one computes; with two
 * tile buffers one barrier per entry suffices (one buffer: two). Shared addresses are swizzled so
 * that no staging store or inner-loop load conflicts (checked statically by the tests).
 *
 * Direction and gating are uniforms, not specialisations (on a CPU fallback adapter each pipeline
 * takes seconds to compile; on a GPU the branches are uniform). Only entries with block id in
 * [blockLo, blockHi) are used (the weight binding is a window), and `accumulate` adds to the
 * output, so `plan` can split over block ranges and batch rows to fit the device's limits.
 */

/** Which product. */
export type BlockProductDirection = 'forward' | 'backward-data';

/** A tile variant: wide (many batch rows per workgroup) or narrow (half as many: more workgroups for small batches). */
export type BlockProductVariant = 'wide' | 'narrow';

interface VariantShape {
  readonly tile: RegisterTile;
  /** Tile buffers: 2 double-buffers (one barrier per entry). */
  readonly buffers: 1 | 2;
}

/**
 * The tiles: every variant fits 32 KiB of workgroup memory (lavapipe's limit, so all run in the
 * tests). bs 32 wide is 4 x 16 threads of 8 x 8 outputs (128 rows; 16 FMA per shared load),
 * single-buffered (double would need 40 KiB); narrow halves the rows and double-buffers.
 */
const VARIANTS: Record<BlockSize, Record<BlockProductVariant, VariantShape>> = {
  32: {
    wide: { tile: { threadsX: 4, threadsY: 16, rows: 8, colVecs: 2 }, buffers: 1 },
    narrow: { tile: { threadsX: 4, threadsY: 8, rows: 8, colVecs: 2 }, buffers: 2 },
  },
  16: {
    wide: { tile: { threadsX: 2, threadsY: 16, rows: 8, colVecs: 2 }, buffers: 2 },
    narrow: { tile: { threadsX: 2, threadsY: 16, rows: 4, colVecs: 2 }, buffers: 2 },
  },
  8: {
    wide: { tile: { threadsX: 1, threadsY: 32, rows: 8, colVecs: 2 }, buffers: 2 },
    narrow: { tile: { threadsX: 1, threadsY: 32, rows: 4, colVecs: 2 }, buffers: 2 },
  },
};

/** Swizzles (tiles.ts) that make every staging store and inner-loop load conflict-free. */
const ACTIVATION_SWIZZLE = [0];
const WEIGHT_SWIZZLE: Record<BlockSize, number[]> = { 32: [2], 16: [0], 8: [-1] };

/** Workgroups below which the narrow variant is used (about two per SM on a large GPU). */
const MIN_WORKGROUPS = 256;

/** The variant for `segments` segments and `n` batch rows: narrow when wide would give too few workgroups. */
export function blockProductVariant(bs: BlockSize, segments: number, n: number): BlockProductVariant {
  const wideRows = tileRows(VARIANTS[bs].wide.tile);
  return n > wideRows / 2 && segments * Math.ceil(n / wideRows) >= MIN_WORKGROUPS ? 'wide' : 'narrow';
}

/**
 * Uniforms of the block products (strides and offsets in vec4s, table offsets in i32s). The last
 * ones describe a convolution's row gather (taps = 1 and the rest unused for the matrix products):
 * the result's rows are positions of an [images, outH, outW] grid, the source's of [images, inH, inW].
 */
export const BLOCK_PRODUCT_UNIFORMS = [
  'rows', 'aStride', 'aFirst', 'outStride', 'outFirst', 'wFirst', 'segmentsAt', 'entriesAt', 'segBase', 'blockLo', 'blockHi', 'accumulate', 'transposeW', 'gated',
  'taps', 'kw', 'inH', 'inW', 'outH', 'outW', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw',
] as const;

/**
 * A convolution's row gather (conv.ts): forward reads, for result position (n, y, x) and tap
 * (i, j), source position (n, y sh - ph + i dh, x sw - pw + j dw); backward-data (the adjoint)
 * reads source position (n, (y + ph - i dh) / sh, ...) where that divides exactly. Zero outside.
 */
export interface ConvGather {
  readonly geometry: Conv2dGeometry;
  /** Spatial size of the source rows (forward: the input's; backward-data: the output's). */
  readonly sourceSize: readonly [number, number];
  /** Spatial size of the result rows. */
  readonly resultSize: readonly [number, number];
}

/** The uniform record of one block-product dispatch. */
export type BlockProductUniforms = UniformRecord<typeof BLOCK_PRODUCT_UNIFORMS>;

/** The operands of one block product: `a` is X (forward) or dY (backward-data), `out` its result. */
export interface BlockProductOperands {
  readonly direction: BlockProductDirection;
  readonly layout: BlockLayout;
  /** Batch rows (for a convolution: images). */
  readonly n: number;
  readonly tables: LayoutTables;
  /** A convolution's gather (the program must be built with `conv`). */
  readonly conv?: ConvGather;
  readonly a: WebGPUTensor;
  readonly w: WebGPUTensor;
  readonly gates?: WebGPUTensor;
  readonly out: WebGPUTensor;
  /** Scratch of at least `scratchElements` floats when the layout has split columns. */
  readonly scratch?: WebGPUTensor;
}

/** The forward and backward-data kernel for one block size and tile variant. */
export class BlockProductProgram implements WebGPUProgram, SharedMemoryModel {
  readonly key: string;
  readonly workgroupSize: readonly [number, number, number];
  readonly bindings: readonly StorageBinding[] = [
    { name: 'tables', access: 'read', element: 'i32' },
    { name: 'a', access: 'read', element: 'vec4<f32>' },
    { name: 'w', access: 'read', element: 'vec4<f32>' },
    { name: 'gates', access: 'read', element: 'f32' },
    { name: 'out', access: 'read_write', element: 'vec4<f32>' },
    { name: 'scratch', access: 'read_write', element: 'vec4<f32>' },
  ];
  readonly uniforms = BLOCK_PRODUCT_UNIFORMS;
  readonly tile: RegisterTile;
  readonly buffers: 1 | 2;
  readonly #a: Tile;
  readonly #b: Tile;
  readonly #lut: SharedArray = { name: 'lut', element: 'vec4<i32>', length: MAX_SEGMENT_ENTRIES };

  /** `conv`: the convolution's kernel (taps and a row gather), else the matrix products'. */
  constructor(
    readonly blockSize: BlockSize,
    readonly variant: BlockProductVariant = 'wide',
    readonly conv = false,
  ) {
    const shape = VARIANTS[blockSize][variant];
    this.tile = shape.tile;
    this.buffers = shape.buffers;
    this.workgroupSize = [this.tile.threadsX, this.tile.threadsY, 1];
    this.key = `${conv ? 'conv-product' : 'block-product'} bs${blockSize} ${variant}`;
    this.#a = makeTile('tileA', this.tileRows, blockSize / 4, this.buffers, ACTIVATION_SWIZZLE);
    this.#b = makeTile('tileB', blockSize, blockSize / 4, this.buffers, WEIGHT_SWIZZLE[blockSize]);
  }

  /** Batch rows per workgroup. */
  get tileRows(): number {
    return tileRows(this.tile);
  }

  get #threads(): number {
    return this.tile.threadsX * this.tile.threadsY;
  }

  /** Workgroup memory in bytes. */
  get sharedBytes(): number {
    return sharedBytes(this.sharedArrays()) + 4;
  }

  /** Floats of scratch a product needs (0 without split columns). */
  static scratchElements(operands: Pick<BlockProductOperands, 'direction' | 'layout' | 'n' | 'tables' | 'conv'>, context: PlanContext): number {
    const { slots } = operands.direction === 'forward' ? operands.tables.forward : operands.tables.backward;
    if (slots === 0) return 0;
    return slots * BlockProductProgram.rowChunk(operands, context) * resultRows(operands.conv) * operands.layout.blockSize;
  }

  /**
   * Units per pass (batch rows; for a convolution whole images): every binding (the scratch of
   * split columns too) and grid within the device's limits.
   */
  static rowChunk(operands: Pick<BlockProductOperands, 'direction' | 'layout' | 'n' | 'tables' | 'conv'>, context: PlanContext): number {
    const { direction, layout, n, tables, conv } = operands;
    const { limits } = context;
    const forward = direction === 'forward';
    const inWidth = forward ? layout.inFeatures : layout.outFeatures;
    const outWidth = forward ? layout.outFeatures : layout.inFeatures;
    const { slots } = forward ? tables.forward : tables.backward;
    const out = resultRows(conv);
    const source = conv ? conv.sourceSize[0] * conv.sourceSize[1] : 1;
    const unitBytes = 4 * Math.max(inWidth * source, outWidth * out, slots * layout.blockSize * out);
    let units = Math.min(unitsPerWindow(n, unitBytes, limits, conv ? 'image' : 'batch row'), Math.floor((limits.maxWorkgroups * 32) / out));
    // The segment sum runs one 64-thread workgroup per 64 vec4s of a split column's rows.
    if (slots > 0) units = Math.min(units, Math.floor((limits.maxWorkgroups * 64) / (out * (layout.blockSize / 4))));
    if (units < 1) throw new ShapeError(`one image of ${out} positions needs more workgroups than the device's maxComputeWorkgroupsPerDimension (${limits.maxWorkgroups})`);
    return conv ? units : roundChunk(units, n, 32, 1);
  }

  /** Workgroups along x (segments) and y (row tiles) for `segments` segments and `rows` rows. */
  grid(segments: number, rows: number): [number, number, number] {
    return [segments, Math.ceil(rows / this.tileRows), 1];
  }

  /**
   * The dispatches of one product: split over batch rows, weight-block ranges (later ranges
   * accumulate) and segments whenever a binding or the grid would exceed `context.limits`; after
   * each product pass, the segment sum of the split columns.
   */
  plan(operands: BlockProductOperands, context: PlanContext): Dispatch[] {
    const { direction, layout, n, tables, a, w, gates, out, scratch, conv } = operands;
    const { limits } = context;
    const bs = this.blockSize;
    const forward = direction === 'forward';
    const inWidth = forward ? layout.inFeatures : layout.outFeatures;
    const outWidth = forward ? layout.outFeatures : layout.inFeatures;
    const segments = forward ? tables.forward : tables.backward;
    if (Boolean(conv) !== this.conv) throw new RangeError(`${this.key}: ${conv ? 'a convolution needs the conv program' : 'the conv program needs a convolution'}`);
    const unitChunk = BlockProductProgram.rowChunk(operands, context);
    const outRows = resultRows(conv);
    const sourceRows = conv ? conv.sourceSize[0] * conv.sourceSize[1] : 1;
    const taps = conv ? conv.geometry.kernel[0] * conv.geometry.kernel[1] : 1;
    if (segments.slots > 0 && (!scratch || scratch.size < segments.slots * unitChunk * outRows * bs)) {
      throw new RangeError(`block product: split columns need ${segments.slots * unitChunk * outRows * bs} floats of scratch`);
    }
    const gather = conv
      ? {
          taps, kw: conv.geometry.kernel[1], inH: conv.sourceSize[0], inW: conv.sourceSize[1], outH: conv.resultSize[0], outW: conv.resultSize[1],
          sh: conv.geometry.stride[0], sw: conv.geometry.stride[1], ph: conv.geometry.padding[0], pw: conv.geometry.padding[1], dh: conv.geometry.dilation[0], dw: conv.geometry.dilation[1],
        }
      : { taps: 1, kw: 1, inH: 1, inW: 1, outH: 1, outW: 1, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1 };
    const blockChunk = unitsPerWindow(Math.max(layout.nnz, 1), 4 * taps * bs * bs, limits, `${bs} x ${bs} weight block${conv ? ` of ${taps} taps` : ''}`);
    const tableWindow = wholeBuffer(tables.buffer, limits, 'the layout tables');
    const gateBinding = gates ? wholeBuffer(gates.buffer, limits, 'the gates').binding : context.absentRead;
    const blockRanges = layout.nnz === 0 ? [[0, 0] as [number, number]] : ranges(layout.nnz, blockChunk);
    const sum = new SegmentSumProgram();
    const dispatches: Dispatch[] = [];
    for (const [u0, u1] of ranges(n, unitChunk)) {
      const rows = (u1 - u0) * outRows;
      const aWindow = bufferWindow(a.buffer, u0 * sourceRows * inWidth, (u1 - u0) * sourceRows * inWidth, limits);
      const outWindow = bufferWindow(out.buffer, u0 * outRows * outWidth, rows * outWidth, limits);
      const scratchWindow = scratch && segments.slots > 0 ? bufferWindow(scratch.buffer, 0, segments.slots * rows * bs, limits) : null;
      blockRanges.forEach(([b0, b1], pass) => {
        const wWindow = bufferWindow(w.buffer, b0 * taps * bs * bs, (b1 - b0) * taps * bs * bs, limits);
        for (const [s0, s1] of ranges(segments.segments, limits.maxWorkgroups)) {
          const uniforms: BlockProductUniforms = {
            rows, aStride: inWidth / 4, aFirst: aWindow.first / 4, outStride: outWidth / 4, outFirst: outWindow.first / 4, wFirst: wWindow.first / 4,
            segmentsAt: segments.segmentsAt, entriesAt: forward ? tables.forwardEntries : tables.backwardEntries,
            segBase: s0, blockLo: b0, blockHi: b1, accumulate: pass > 0 ? 1 : 0, transposeW: forward ? 0 : 1, gated: gates ? 1 : 0, ...gather,
          };
          dispatches.push({
            program: this,
            buffers: [tableWindow.binding, aWindow.binding, wWindow.binding, gateBinding, outWindow.binding, scratchWindow ? scratchWindow.binding : context.absentWrites[0]],
            uniforms,
            workgroups: this.grid(s1 - s0, rows),
          });
        }
        if (scratchWindow) {
          dispatches.push(...sum.plan(
            { tables: tableWindow.binding, scratch: scratchWindow.binding, out: outWindow.binding },
            { rows, width: bs / 4, itemsAt: segments.splitsAt, slots: 0, outStride: outWidth / 4, outFirst: outWindow.first / 4, accumulate: pass > 0 ? 1 : 0 },
            segments.splits,
            limits.maxWorkgroups,
          ));
        }
      });
    }
    return dispatches;
  }

  sharedArrays(): readonly SharedArray[] {
    return [this.#a.array, this.#b.array, this.#lut];
  }

  #parts() {
    const bs4 = this.blockSize / 4;
    const threads = this.#threads;
    // The activation is contiguous along k (features): a direct copy into the row-major tile.
    const stageA = stageDirect(this.#a, threads, 'pfA', (row, k4) => `readA(row0 + ${row}, tap, ent.x + ${k4})`);
    // W_b row i is contiguous along j. Forward multiplies by W_b (k = i, n = j): a direct copy.
    // Backward-data multiplies by W_b^T (k = j, n = i): contiguous along k, transposed.
    const stageW = stageDirect(this.#b, threads, 'pfB', (k, n4) => `w[wAt + (${k}) * ${bs4} + ${n4}] * gate`);
    const stageWT = stageTransposed(this.#b, threads, 'pfB', (k4, n) => `w[wAt + (${n}) * ${bs4} + ${k4}] * gate`);
    const k4 = sym('k4');
    const product = rowMajorProductStep(this.tile, this.#a, this.#b, k4, sym('cur'), sym('cur'));
    return { stageA, stageW, stageWT, product };
  }

  sharedSteps(): readonly SharedStep[] {
    const { stageA, stageW, stageWT, product } = this.#parts();
    const buffers = Array.from({ length: this.buffers }, (_, buf) => ({ buf }));
    const buf = sym('buf');
    const envs = buffers.flatMap(({ buf: cur }) => Array.from({ length: this.blockSize / 4 }, (_, k4) => ({ cur, k4 })));
    return [
      { name: 'stage the activation', kind: 'store', accesses: stageA.storeAccesses(buf), envs: buffers },
      { name: 'stage W', kind: 'store', accesses: stageW.storeAccesses(buf), envs: buffers },
      { name: 'stage W^T', kind: 'store', accesses: stageWT.storeAccesses(buf), envs: buffers },
      { name: 'inner product (4 k steps)', kind: 'load', accesses: product.accesses, envs, fmas: product.fmas },
    ];
  }

  body(): string {
    const t = this.tile;
    const bs = this.blockSize;
    const bs4 = bs / 4;
    const { stageA, stageW, stageWT, product } = this.#parts();
    const double = this.buffers === 2;
    // Step `at` of the reduction is tap at % taps of entry at / taps.
    const fetch = (at: string) => `{
      let at0 = ${at};
      let ent = lut[at0 / u.taps];
      let tap = at0 % u.taps;
      let wAt = ent.y + tap * ${bs * bs4};
      let gate = bitcast<f32>(ent.z);
      ${stageA.load}
      if (u.transposeW == 0) {
        ${stageW.load}
      } else {
        ${stageWT.load}
      }
    }`;
    // Stores into buffer `buf` (a WGSL i32 in scope).
    const buf = sym('buf');
    const store = `${stageA.store(buf)}
      if (u.transposeW == 0) {
        ${stageW.store(buf)}
      } else {
        ${stageWT.store(buf)}
      }`;
    const writes: string[] = [];
    for (let r = 0; r < t.rows; r++) {
      for (let v = 0; v < t.colVecs; v++) {
        writes.push(`write(row0 + ${rowMajorRow(t, r).wgsl}, ${accColumn(t, v).wgsl}, column, slot, acc[${r * t.colVecs + v}]);`);
      }
    }
    return `
var<workgroup> tileA: array<vec4<f32>, ${this.#a.array.length}>;
var<workgroup> tileB: array<vec4<f32>, ${this.#b.array.length}>;
var<workgroup> lut: array<vec4<i32>, ${MAX_SEGMENT_ENTRIES}>;
var<workgroup> lutCount: i32;

${this.conv ? CONV_READ : PLAIN_READ}

fn write(row: i32, j: i32, column: i32, slot: i32, value: vec4<f32>) {
  if (row >= u.rows) { return; }
  if (slot >= 0) {
    scratch[(slot * u.rows + row) * ${bs4} + j] = value;
    return;
  }
  let i = u.outFirst + row * u.outStride + column * ${bs4} + j;
  if (u.accumulate != 0) { out[i] = out[i] + value; } else { out[i] = value; }
}

${entryPoint(this.workgroupSize)} {
  let segAt = u.segmentsAt + 4 * (u.segBase + i32(wg.x));
  let column = tables[segAt];
  let slot = tables[segAt + 3];
  let row0 = i32(wg.y) * ${this.tileRows};
  let itid = i32(tid);
  let tx = i32(lid.x);
  let ty = i32(lid.y);
  // The look-up table: every thread loads entries (in parallel), then thread 0 keeps those in the
  // weight window with a non-zero gate, in order, in place.
  let first = tables[segAt + 1];
  let length = tables[segAt + 2] - first;
  for (var i = itid; i < length; i += ${this.#threads}) {
    let e = first + i;
    let other = tables[u.entriesAt + 2 * e];
    let b = tables[u.entriesAt + 2 * e + 1];
    let inWindow = b >= u.blockLo && b < u.blockHi;
    var gate = 1.0;
    if (u.gated != 0 && inWindow) { gate = gates[b]; }
    lut[i] = vec4<i32>(other * ${bs4}, u.wFirst + (b - u.blockLo) * u.taps * ${bs * bs4}, bitcast<i32>(gate), select(0, 1, inWindow && gate != 0.0));
  }
  workgroupBarrier();
  if (itid == 0) {
    var kept = 0;
    for (var i = 0; i < length; i++) {
      let entry = lut[i];
      if (entry.w != 0) {
        lut[kept] = entry;
        kept++;
      }
    }
    lutCount = kept * u.taps;
  }
  let count = workgroupUniformLoad(&lutCount);
  var acc: array<vec4<f32>, ${accumulatorCount(t)}>;
  ${stageA.declare}
  ${stageW.declare}
  if (count > 0) {
    ${fetch('0')}
    let buf = 0;
    ${store}
  }
  workgroupBarrier();
  for (var e = 0; e < count; e++) {
    let cur = ${double ? 'e & 1' : '0'};
    let more = e + 1 < count;
    if (more) ${fetch('e + 1')}
    for (var k4 = 0; k4 < ${bs4}; k4++) {
      ${product.wgsl}
    }
    if (more) {
      ${double ? 'let buf = 1 - cur;' : 'workgroupBarrier();\n      let buf = 0;'}
      ${store}
    }
    workgroupBarrier();
  }
  ${writes.join('\n  ')}
}
`;
  }
}

/** Result rows per unit: one for the matrix products, an image's positions for a convolution. */
const resultRows = (conv?: ConvGather): number => (conv ? conv.resultSize[0] * conv.resultSize[1] : 1);

/** The matrix products read activation row `row` directly. */
const PLAIN_READ = `fn readA(row: i32, tap: i32, at: i32) -> vec4<f32> {
  if (row >= u.rows) { return vec4<f32>(0.0); }
  return a[u.aFirst + row * u.aStride + at];
}`;

/** A convolution reads the source position that a result position takes at a tap (zero outside). */
const CONV_READ = `fn sourceRow(row: i32, tap: i32) -> i32 {
  let x = row % u.outW;
  let rest = row / u.outW;
  let y = rest % u.outH;
  let n = rest / u.outH;
  let i = tap / u.kw;
  let j = tap % u.kw;
  var sy = y * u.sh - u.ph + i * u.dh;
  var sx = x * u.sw - u.pw + j * u.dw;
  if (u.transposeW != 0) {
    let ty = y + u.ph - i * u.dh;
    let tx = x + u.pw - j * u.dw;
    if (ty < 0 || tx < 0 || ty % u.sh != 0 || tx % u.sw != 0) { return -1; }
    sy = ty / u.sh;
    sx = tx / u.sw;
  }
  if (sy < 0 || sy >= u.inH || sx < 0 || sx >= u.inW) { return -1; }
  return (n * u.inH + sy) * u.inW + sx;
}

fn readA(row: i32, tap: i32, at: i32) -> vec4<f32> {
  if (row >= u.rows) { return vec4<f32>(0.0); }
  let source = sourceRow(row, tap);
  if (source < 0) { return vec4<f32>(0.0); }
  return a[u.aFirst + source * u.aStride + at];
}`;
