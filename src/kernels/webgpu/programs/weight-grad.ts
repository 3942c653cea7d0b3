import type { BlockLayout, BlockSize } from '../../../patterns/layout.js';
import type { LayoutTables } from '../layout-tables.js';
import { entryPoint, type Dispatch, type PlanContext, type StorageBinding, type UniformRecord, type WebGPUProgram } from '../program.js';
import type { WebGPUTensor } from '../tensor.js';
import { loadDirect, outerProductStep, type RegisterTile } from '../tiles.js';
import { bufferWindow, ranges, unitsPerWindow, wholeBuffer } from '../windows.js';

/*
 * Weight gradient of a block-sparse layer: one workgroup per present block b = (c, k), as OpenAI
 * blocksparse's updat kernels, computing G_b = (X^T dY)_b = sum_n X[n, c bs + i] dY[n, k bs + j].
 * The workgroup is TZ groups of (bs/4) x (bs/4) threads, each thread owning a 4 x 4 piece of G_b.
 * The batch is read in chunks of R rows staged in shared memory (coalesced vec4 copies); group z
 * takes rows z, z + TZ, ... of each chunk. The groups' partial sums are then added by a tree in
 * shared memory: no atomics, and the result does not depend on timing.
 *
 * dW_b = g_b G_b (g_b = 1 without gates). With weights, the gate gradient dg_b = <W_b, G_b> is
 * reduced inside the same workgroup. Gating and the gate gradient are uniform flags (one pipeline
 * per block size; unused operands are bound to a dummy buffer). `accumulate` adds to dW and dg
 * instead of overwriting them, so `plan` can split the batch across passes (both are linear
 * in G_b).
 */

/** Threads per group are (bs/4)^2; groups per workgroup (TZ) and batch rows per chunk (R). */
const GROUPS: Record<BlockSize, number> = { 8: 32, 16: 16, 32: 4 };
const CHUNK_ROWS: Record<BlockSize, number> = { 8: 128, 16: 64, 32: 32 };

/** Uniforms of the weight gradient (strides and offsets in vec4s; block ids absolute). */
export const WEIGHT_GRAD_UNIFORMS = [
  'rows', 'xStride', 'xFirst', 'dyStride', 'dyFirst', 'dwFirst', 'wFirst', 'pairsAt', 'blockLo', 'accumulate', 'gated', 'gateGradient',
] as const;

/** The uniform record of one weight-gradient dispatch. */
export type WeightGradUniforms = UniformRecord<typeof WEIGHT_GRAD_UNIFORMS>;

/** The operands of one weight gradient: gates scale dW; with `weights`, `dgates` receives the gate gradient. */
export interface WeightGradOperands {
  readonly layout: BlockLayout;
  /** Batch rows. */
  readonly n: number;
  readonly tables: LayoutTables;
  readonly x: WebGPUTensor;
  readonly dy: WebGPUTensor;
  readonly gates?: WebGPUTensor;
  readonly weights?: WebGPUTensor;
  readonly dw: WebGPUTensor;
  readonly dgates?: WebGPUTensor;
}

/** The weight-gradient kernel for one block size (gates and the gate gradient optional, by uniform flags). */
export class WeightGradProgram implements WebGPUProgram {
  readonly key: string;
  readonly workgroupSize: readonly [number, number, number];
  readonly bindings: readonly StorageBinding[] = [
    { name: 'tables', access: 'read', element: 'i32' },
    { name: 'x', access: 'read', element: 'vec4<f32>' },
    { name: 'dy', access: 'read', element: 'vec4<f32>' },
    { name: 'gates', access: 'read', element: 'f32' },
    { name: 'weights', access: 'read', element: 'vec4<f32>' },
    { name: 'dw', access: 'read_write', element: 'vec4<f32>' },
    { name: 'dgates', access: 'read_write', element: 'f32' },
  ];
  readonly uniforms = WEIGHT_GRAD_UNIFORMS;
  readonly tile: RegisterTile;

  constructor(readonly blockSize: BlockSize) {
    const side = blockSize / 4;
    this.tile = { threadsX: side, threadsY: side, rowVecs: 1, colVecs: 1 };
    this.workgroupSize = [side, side, GROUPS[blockSize]];
    this.key = `weight-grad bs${blockSize}`;
  }

  /**
   * The dispatches of one weight gradient (none for an empty layout): split over batch rows (later
   * passes accumulate) and block ranges whenever a binding or the grid would exceed `context.limits`.
   */
  plan(operands: WeightGradOperands, context: PlanContext): Dispatch[] {
    const { layout, n, tables, x, dy, gates, weights, dw, dgates } = operands;
    const { limits } = context;
    const bs = this.blockSize;
    const nnz = layout.nnz;
    if (nnz === 0) return [];
    const C = layout.inFeatures;
    const K = layout.outFeatures;
    const tableWindow = wholeBuffer(tables.buffer, limits, 'the layout tables');
    const gateBinding = gates ? wholeBuffer(gates.buffer, limits, 'the gates').binding : context.absentRead;
    const dgateBinding = dgates ? wholeBuffer(dgates.buffer, limits, 'the gate gradient').binding : context.absentWrites[0];
    const rowChunk = unitsPerWindow(n, 4 * Math.max(C, K), limits, 'batch row');
    const blockChunk = Math.min(unitsPerWindow(nnz, 4 * bs * bs, limits, `${bs} x ${bs} weight block`), limits.maxWorkgroups);
    const dispatches: Dispatch[] = [];
    ranges(n, rowChunk).forEach(([r0, r1], pass) => {
      const xWindow = bufferWindow(x.buffer, r0 * C, (r1 - r0) * C, limits);
      const dyWindow = bufferWindow(dy.buffer, r0 * K, (r1 - r0) * K, limits);
      for (const [b0, b1] of ranges(nnz, blockChunk)) {
        const dwWindow = bufferWindow(dw.buffer, b0 * bs * bs, (b1 - b0) * bs * bs, limits);
        const wWindow = weights ? bufferWindow(weights.buffer, b0 * bs * bs, (b1 - b0) * bs * bs, limits) : null;
        const uniforms: WeightGradUniforms = {
          rows: r1 - r0, xStride: C / 4, xFirst: xWindow.first / 4, dyStride: K / 4, dyFirst: dyWindow.first / 4, dwFirst: dwWindow.first / 4,
          wFirst: (wWindow?.first ?? 0) / 4, pairsAt: tables.pairs, blockLo: b0, accumulate: pass > 0 ? 1 : 0, gated: gates ? 1 : 0, gateGradient: weights ? 1 : 0,
        };
        dispatches.push({
          program: this,
          buffers: [tableWindow.binding, xWindow.binding, dyWindow.binding, gateBinding, wWindow ? wWindow.binding : context.absentRead, dwWindow.binding, dgateBinding],
          uniforms,
          workgroups: [b1 - b0, 1, 1],
        });
      }
    });
    return dispatches;
  }

  body(): string {
    const bs = this.blockSize;
    const bs4 = bs / 4;
    const groups = GROUPS[bs];
    const rows = CHUNK_ROWS[bs];
    const groupThreads = bs4 * bs4;
    const threads = groupThreads * groups;
    // Both operands are contiguous along the output dimensions (features): direct vec4 copies.
    const loadX = loadDirect('tileX', rows, bs4, threads, (r, g) => `readX(n0 + ${r}, xBase + ${g})`);
    const loadDY = loadDirect('tileDY', rows, bs4, threads, (r, g) => `readDY(n0 + ${r}, dyBase + ${g})`);
    const tree: string[] = [];
    for (let s = groups / 2; s >= 1; s /= 2) {
      tree.push(`if (tz >= ${s} && tz < ${2 * s}) {
    for (var r = 0; r < 4; r++) { red[(tz - ${s}) * ${4 * groupThreads} + slot + r] = acc[r]; }
  }
  workgroupBarrier();
  if (tz < ${s}) {
    for (var r = 0; r < 4; r++) { acc[r] = acc[r] + red[tz * ${4 * groupThreads} + slot + r]; }
  }
  workgroupBarrier();`);
    }
    return `
var<workgroup> tileX: array<vec4<f32>, ${rows * bs4}>;
var<workgroup> tileDY: array<vec4<f32>, ${rows * bs4}>;
var<workgroup> red: array<vec4<f32>, ${Math.max(1, groups / 2) * 4 * groupThreads}>;

fn readX(row: i32, at: i32) -> vec4<f32> {
  if (row >= u.rows) { return vec4<f32>(0.0); }
  return x[u.xFirst + row * u.xStride + at];
}

fn readDY(row: i32, at: i32) -> vec4<f32> {
  if (row >= u.rows) { return vec4<f32>(0.0); }
  return dy[u.dyFirst + row * u.dyStride + at];
}

${entryPoint(this.workgroupSize)} {
  let b = u.blockLo + i32(wg.x);
  let xBase = tables[u.pairsAt + 2 * b] * ${bs4};
  let dyBase = tables[u.pairsAt + 2 * b + 1] * ${bs4};
  let tx = i32(lid.x);
  let ty = i32(lid.y);
  let tz = i32(lid.z);
  let slot = (ty * ${bs4} + tx) * 4;
  var acc: array<vec4<f32>, 4>;
  for (var n0 = 0; n0 < u.rows; n0 += ${rows}) {
    ${loadX}
    ${loadDY}
    workgroupBarrier();
    for (var k = tz; k < ${rows}; k += ${groups}) {
      ${outerProductStep(this.tile, 'tileX', 'tileDY', 'k', 'tx', 'ty')}
    }
    workgroupBarrier();
  }
  ${tree.join('\n  ')}
  var partial = 0.0;
  if (tz == 0) {
    var gate = 1.0;
    if (u.gated != 0) { gate = gates[b]; }
    let base = (b - u.blockLo) * ${bs * bs4} + ty * ${4 * bs4} + tx;
    for (var r = 0; r < 4; r++) {
      let at = u.dwFirst + base + r * ${bs4};
      let value = gate * acc[r];
      if (u.accumulate != 0) { dw[at] = dw[at] + value; } else { dw[at] = value; }
      if (u.gateGradient != 0) { partial += dot(weights[u.wFirst + base + r * ${bs4}], acc[r]); }
    }
    red[slot / 4] = vec4<f32>(partial, 0.0, 0.0, 0.0);
  }
  if (u.gateGradient != 0) {
    workgroupBarrier();
    if (tid == 0u) {
      var sum = 0.0;
      for (var i = 0; i < ${groupThreads}; i++) { sum += red[i].x; }
      if (u.accumulate != 0) { dgates[b] = dgates[b] + sum; } else { dgates[b] = sum; }
    }
  }
}
`;
  }
}
