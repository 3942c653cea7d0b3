import type { BlockLayout, BlockSize } from '../../../patterns/layout.js';
import type { LayoutTables } from '../layout-tables.js';
import { entryPoint, type Dispatch, type PlanContext, type StorageBinding, type UniformRecord, type WebGPUProgram } from '../program.js';
import type { WebGPUTensor } from '../tensor.js';
import { accIndex, accumulatorCount, loadDirect, loadTransposed, outerProductStep, tileRows, type RegisterTile } from '../tiles.js';
import { bufferWindow, ranges, roundChunk, unitsPerWindow, wholeBuffer } from '../windows.js';

/*
 * Forward and backward-data of a block-sparse layer: one workgroup per (segment, tile of batch
 * rows), as OpenAI blocksparse's xprop kernels. A segment is an output block column k (forward:
 * its entries are the input blocks c feeding it, from the layout's column view) or an input block
 * row c (backward-data: the output blocks k it feeds, from the CSR). For each entry the workgroup
 * stages the TM x bs slice of the activation and the bs x bs weight block (times its gate; W^T for
 * backward-data) in shared memory and accumulates a register-tiled product; an entry whose gate
 * is zero is skipped. Work is proportional to the present blocks.
 *
 *   forward:        Y[n, k bs + j]  = sum_(c, b in column k) X[n, c bs + i]  g_b W_b[i, j]
 *   backward-data:  dX[n, c bs + i] = sum_(k, b in row c)    dY[n, k bs + j] g_b W_b[i, j]
 *
 * Direction and gating are uniforms, not specialisations: one pipeline per block size. (On a
 * CPU fallback adapter each pipeline takes seconds to compile; on a GPU the branches are uniform
 * and cost nothing.) Only entries with block id in [blockLo, blockHi) are used (the weight binding
 * is a window of blocks), and `accumulate` adds to the output instead of overwriting it, so `plan`
 * can split over block ranges and batch rows when a binding would exceed the device's limits.
 */

/** Which product. */
export type BlockProductDirection = 'forward' | 'backward-data';

/** Batch rows per workgroup, by block size (keeps 32 to 64 threads per workgroup). */
const TILE_ROWS: Record<BlockSize, number> = { 8: 128, 16: 64, 32: 64 };

/** The register tile for block size `bs`: bs/4 threads across a block's columns, 8 rows per thread. */
export function blockProductTile(bs: BlockSize): RegisterTile {
  return { threadsX: bs / 4, threadsY: TILE_ROWS[bs] / 8, rowVecs: 2, colVecs: 1 };
}

/** Uniforms of the block products (strides and offsets in vec4s). */
export const BLOCK_PRODUCT_UNIFORMS = [
  'rows', 'aStride', 'aFirst', 'outStride', 'outFirst', 'wFirst', 'ptrAt', 'entriesAt', 'segBase', 'blockLo', 'blockHi', 'accumulate', 'transposeW', 'gated',
] as const;

/** The uniform record of one block-product dispatch. */
export type BlockProductUniforms = UniformRecord<typeof BLOCK_PRODUCT_UNIFORMS>;

/** The operands of one block product: `a` is X (forward) or dY (backward-data), `out` its result. */
export interface BlockProductOperands {
  readonly direction: BlockProductDirection;
  readonly layout: BlockLayout;
  /** Batch rows. */
  readonly n: number;
  readonly tables: LayoutTables;
  readonly a: WebGPUTensor;
  readonly w: WebGPUTensor;
  readonly gates?: WebGPUTensor;
  readonly out: WebGPUTensor;
}

/** The forward and backward-data kernel for one block size. */
export class BlockProductProgram implements WebGPUProgram {
  readonly key: string;
  readonly workgroupSize: readonly [number, number, number];
  readonly bindings: readonly StorageBinding[] = [
    { name: 'tables', access: 'read', element: 'i32' },
    { name: 'a', access: 'read', element: 'vec4<f32>' },
    { name: 'w', access: 'read', element: 'vec4<f32>' },
    { name: 'gates', access: 'read', element: 'f32' },
    { name: 'out', access: 'read_write', element: 'vec4<f32>' },
  ];
  readonly uniforms = BLOCK_PRODUCT_UNIFORMS;
  readonly tile: RegisterTile;

  constructor(readonly blockSize: BlockSize) {
    this.tile = blockProductTile(blockSize);
    this.workgroupSize = [this.tile.threadsX, this.tile.threadsY, 1];
    this.key = `block-product bs${blockSize}`;
  }

  /** Batch rows per workgroup. */
  get tileRows(): number {
    return tileRows(this.tile);
  }

  /** Workgroups along x (segments) and y (row tiles) for `segments` segments and `rows` rows. */
  grid(segments: number, rows: number): [number, number, number] {
    return [segments, Math.ceil(rows / this.tileRows), 1];
  }

  /**
   * The dispatches of one product: split over batch rows, weight-block ranges (later ranges
   * accumulate) and segments whenever a binding or the grid would exceed `context.limits`.
   */
  plan(operands: BlockProductOperands, context: PlanContext): Dispatch[] {
    const { direction, layout, n, tables, a, w, gates, out } = operands;
    const { limits } = context;
    const bs = this.blockSize;
    const forward = direction === 'forward';
    const inWidth = forward ? layout.inFeatures : layout.outFeatures;
    const outWidth = forward ? layout.outFeatures : layout.inFeatures;
    const segments = forward ? layout.outBlocks : layout.inBlocks;
    const tm = this.tileRows;
    const rowChunk = roundChunk(Math.min(unitsPerWindow(n, 4 * Math.max(inWidth, outWidth), limits, 'batch row'), limits.maxWorkgroups * tm), n, tm, 1);
    const blockChunk = unitsPerWindow(Math.max(layout.nnz, 1), 4 * bs * bs, limits, `${bs} x ${bs} weight block`);
    const tableWindow = wholeBuffer(tables.buffer, limits, 'the layout tables');
    const gateBinding = gates ? wholeBuffer(gates.buffer, limits, 'the gates').binding : context.absentRead;
    const blockRanges = layout.nnz === 0 ? [[0, 0] as [number, number]] : ranges(layout.nnz, blockChunk);
    const dispatches: Dispatch[] = [];
    for (const [r0, r1] of ranges(n, rowChunk)) {
      const aWindow = bufferWindow(a.buffer, r0 * inWidth, (r1 - r0) * inWidth, limits);
      const outWindow = bufferWindow(out.buffer, r0 * outWidth, (r1 - r0) * outWidth, limits);
      blockRanges.forEach(([b0, b1], pass) => {
        const wWindow = bufferWindow(w.buffer, b0 * bs * bs, (b1 - b0) * bs * bs, limits);
        for (const [s0, s1] of ranges(segments, limits.maxWorkgroups)) {
          const uniforms: BlockProductUniforms = {
            rows: r1 - r0, aStride: inWidth / 4, aFirst: aWindow.first / 4, outStride: outWidth / 4, outFirst: outWindow.first / 4, wFirst: wWindow.first / 4,
            ptrAt: forward ? tables.forwardPtr : tables.backwardPtr, entriesAt: forward ? tables.forwardEntries : tables.backwardEntries,
            segBase: s0, blockLo: b0, blockHi: b1, accumulate: pass > 0 ? 1 : 0, transposeW: forward ? 0 : 1, gated: gates ? 1 : 0,
          };
          dispatches.push({
            program: this,
            buffers: [tableWindow.binding, aWindow.binding, wWindow.binding, gateBinding, outWindow.binding],
            uniforms,
            workgroups: this.grid(s1 - s0, r1 - r0),
          });
        }
      });
    }
    return dispatches;
  }

  body(): string {
    const t = this.tile;
    const bs = this.blockSize;
    const bs4 = bs / 4;
    const tm = tileRows(t);
    const threads = t.threadsX * t.threadsY;
    // The activation tile is contiguous along k (features): transposed into tileA[k][m / 4].
    const loadA = loadTransposed('tileA', bs, tm, threads, (k4, m) => `readA(row0 + ${m}, aBase + ${k4})`);
    // W_b row i is contiguous along j. Forward multiplies by W_b (k = i, n = j): a direct copy.
    // Backward-data multiplies by W_b^T (k = j, n = i): contiguous along k, transposed.
    const loadW = loadDirect('tileB', bs, bs4, threads, (k, g) => `w[wBase + (${k}) * ${bs4} + ${g}] * gate`);
    const loadWT = loadTransposed('tileB', bs, bs, threads, (k4, n) => `w[wBase + (${n}) * ${bs4} + ${k4}] * gate`);
    const writes: string[] = [];
    for (let u = 0; u < t.rowVecs; u++) {
      for (let r = 0; r < 4; r++) {
        writes.push(`write(row0 + (ty + ${u * t.threadsY}) * 4 + ${r}, seg * ${bs4} + tx, acc[${accIndex(t, u, r, 0)}]);`);
      }
    }
    return `
var<workgroup> tileA: array<vec4<f32>, ${(bs * tm) / 4}>;
var<workgroup> tileB: array<vec4<f32>, ${(bs * bs) / 4}>;

fn readA(row: i32, at: i32) -> vec4<f32> {
  if (row >= u.rows) { return vec4<f32>(0.0); }
  return a[u.aFirst + row * u.aStride + at];
}

fn write(row: i32, at: i32, value: vec4<f32>) {
  if (row >= u.rows) { return; }
  let i = u.outFirst + row * u.outStride + at;
  if (u.accumulate != 0) { out[i] = out[i] + value; } else { out[i] = value; }
}

${entryPoint(this.workgroupSize)} {
  let seg = u.segBase + i32(wg.x);
  let row0 = i32(wg.y) * ${tm};
  let tx = i32(lid.x);
  let ty = i32(lid.y);
  var acc: array<vec4<f32>, ${accumulatorCount(t)}>;
  let first = tables[u.ptrAt + seg];
  let last = tables[u.ptrAt + seg + 1];
  for (var e = first; e < last; e++) {
    let other = tables[u.entriesAt + 2 * e];
    let b = tables[u.entriesAt + 2 * e + 1];
    if (b < u.blockLo || b >= u.blockHi) { continue; }
    var gate = 1.0;
    if (u.gated != 0) { gate = gates[b]; }
    if (gate == 0.0) { continue; }
    let wBase = u.wFirst + (b - u.blockLo) * ${bs * bs4};
    let aBase = other * ${bs4};
    ${loadA}
    if (u.transposeW == 0) {
      ${loadW}
    } else {
      ${loadWT}
    }
    workgroupBarrier();
    for (var k = 0; k < ${bs}; k++) {
      ${outerProductStep(t, 'tileA', 'tileB', 'k', 'tx', 'ty')}
    }
    workgroupBarrier();
  }
  ${writes.join('\n  ')}
}
`;
  }
}
