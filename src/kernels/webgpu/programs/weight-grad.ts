import type { BlockLayout, BlockSize } from '../../../patterns/layout.js';
import type { LayoutTables } from '../layout-tables.js';
import type { ConvGather } from './block-product.js';
import { entryPoint, type Dispatch, type PlanContext, type StorageBinding, type UniformRecord, type WebGPUProgram } from '../program.js';
import type { WebGPUTensor } from '../tensor.js';
import { add, mul, sym } from '../index-expr.js';
import { sharedBytes, type SharedArray, type SharedMemoryModel, type SharedStep } from '../shared-memory.js';
import { accColumn, kMajorProductStep, kMajorRow, makeTile, stageDirect, type RegisterTile, type Tile } from '../tiles.js';
import { bufferWindow, ranges, unitsPerWindow, wholeBuffer } from '../windows.js';

/*
 * Weight gradient of a block-sparse layer: one workgroup per present block b = (c, k), as OpenAI
 * blocksparse's updat kernels, computing G_b = (X^T dY)_b = sum_n X[n, c bs + i] dY[n, k bs + j].
 * The workgroup is TZ groups of threads that each own a register tile of G_b (8 x 8 at bs 32:
 * 16 FMA per shared load). The batch is read in chunks of R rows staged in shared memory (k-major
 * tiles, coalesced vec4 copies, swizzled so that no store or load conflicts; the next chunk is
 * loaded into registers while the current one computes); group z takes rows z, z + TZ, ... of
 * each chunk. The groups' partial sums are then added by a tree in shared memory: no atomics,
 * and the result does not depend on timing.
 *
 * dW_b = g_b G_b (g_b = 1 without gates). With weights, the gate gradient dg_b = <W_b, G_b> is
 * reduced inside the same workgroup. Gating and the gate gradient are uniform flags (one pipeline
 * per block size; unused operands are bound to a dummy buffer). `accumulate` adds to dW and dg
 * instead of overwriting them, so `plan` can split the batch across passes (both are linear
 * in G_b).
 */

interface WeightGradShape {
  /** One group's register tile (threadsX x threadsY threads covering bs x bs). */
  readonly tile: RegisterTile;
  /** Groups per workgroup (TZ). */
  readonly groups: number;
  /** Batch rows per chunk (R). */
  readonly chunkRows: number;
  /** Swizzle of both tiles (tiles.ts). */
  readonly swizzle: number[];
}

const SHAPES: Record<BlockSize, WeightGradShape> = {
  32: { tile: { threadsX: 4, threadsY: 4, rows: 8, colVecs: 2 }, groups: 4, chunkRows: 32, swizzle: [0] },
  16: { tile: { threadsX: 4, threadsY: 4, rows: 4, colVecs: 1 }, groups: 16, chunkRows: 64, swizzle: [0] },
  8: { tile: { threadsX: 2, threadsY: 2, rows: 4, colVecs: 1 }, groups: 32, chunkRows: 128, swizzle: [0] },
};

/** Uniforms of the weight gradient (strides and offsets in vec4s; block ids absolute). */
export const WEIGHT_GRAD_UNIFORMS = [
  'rows', 'xStride', 'xFirst', 'dyStride', 'dyFirst', 'dwFirst', 'wFirst', 'pairsAt', 'blockLo', 'accumulate', 'gated', 'gateGradient',
  'taps', 'kw', 'inH', 'inW', 'outH', 'outW', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw', 'tapsPerGroup',
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
  /** A convolution's gather (the program must be built with `conv`): rows are output positions, X rows gathered per tap; n counts images. */
  readonly conv?: ConvGather;
}

/** The weight-gradient kernel for one block size (gates and the gate gradient optional, by uniform flags). */
export class WeightGradProgram implements WebGPUProgram, SharedMemoryModel {
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
  readonly #shape: WeightGradShape;
  readonly #x: Tile;
  readonly #dy: Tile;
  readonly #red: SharedArray;

  /** `conv`: the convolution's weight gradient (a tap loop and a row gather). */
  constructor(
    readonly blockSize: BlockSize,
    readonly conv = false,
  ) {
    this.#shape = SHAPES[blockSize];
    this.tile = this.#shape.tile;
    this.workgroupSize = [this.tile.threadsX, this.tile.threadsY, this.#shape.groups];
    this.key = `${conv ? 'conv-weight-grad' : 'weight-grad'} bs${blockSize}`;
    const { chunkRows, swizzle, groups } = this.#shape;
    this.#x = makeTile('tileX', chunkRows, blockSize / 4, 1, swizzle);
    this.#dy = makeTile('tileDY', chunkRows, blockSize / 4, 1, swizzle);
    this.#red = { name: 'red', element: 'vec4<f32>', length: Math.max(1, groups / 2) * this.#groupThreads * this.#accs };
  }

  get #groupThreads(): number {
    return this.tile.threadsX * this.tile.threadsY;
  }

  get #accs(): number {
    return this.tile.rows * this.tile.colVecs;
  }

  /** Workgroup memory in bytes. */
  get sharedBytes(): number {
    return sharedBytes(this.sharedArrays());
  }

  sharedArrays(): readonly SharedArray[] {
    return [this.#x.array, this.#dy.array, this.#red];
  }

  #parts() {
    const threads = this.#groupThreads * this.#shape.groups;
    // Both operands are contiguous along the output dimensions (features): direct vec4 copies.
    const stageX = stageDirect(this.#x, threads, 'pfX', (r, g) => `readX(nb + ${r}, tap, xBase + ${g})`);
    const stageDY = stageDirect(this.#dy, threads, 'pfDY', (r, g) => `readDY(nb + ${r}, dyBase + ${g})`);
    // Group z reads rows z + kstep TZ of the chunk.
    const product = kMajorProductStep(this.tile, this.#x, this.#dy, add(sym('tz'), mul(sym('kstep'), this.#shape.groups)), 0, 0);
    return { stageX, stageDY, product };
  }

  sharedSteps(): readonly SharedStep[] {
    const { stageX, stageDY, product } = this.#parts();
    const { chunkRows, groups } = this.#shape;
    return [
      { name: 'stage X', kind: 'store', accesses: stageX.storeAccesses(0), envs: [] },
      { name: 'stage dY', kind: 'store', accesses: stageDY.storeAccesses(0), envs: [] },
      {
        name: 'inner product (1 k step)', kind: 'load', accesses: product.accesses, fmas: product.fmas,
        envs: Array.from({ length: chunkRows / groups }, (_, kstep) => ({ kstep })),
      },
    ];
  }

  /**
   * The dispatches of one weight gradient (none for an empty layout): split over batch rows (later
   * passes accumulate) and block ranges whenever a binding or the grid would exceed `context.limits`.
   */
  plan(operands: WeightGradOperands, context: PlanContext): Dispatch[] {
    const { layout, n, tables, x, dy, gates, weights, dw, dgates, conv } = operands;
    const { limits } = context;
    const bs = this.blockSize;
    const nnz = layout.nnz;
    if (nnz === 0) return [];
    if (Boolean(conv) !== this.conv) throw new RangeError(`${this.key}: ${conv ? 'a convolution needs the conv program' : 'the conv program needs a convolution'}`);
    const C = layout.inFeatures;
    const K = layout.outFeatures;
    // Units of batch rows, or for a convolution of whole images (X rows: sourceSize, dY rows: resultSize).
    const xRows = conv ? conv.sourceSize[0] * conv.sourceSize[1] : 1;
    const dyRows = conv ? conv.resultSize[0] * conv.resultSize[1] : 1;
    const g = conv?.geometry;
    const taps = g ? g.kernel[0] * g.kernel[1] : 1;
    const gather = g && conv
      ? {
          taps, kw: g.kernel[1], inH: conv.sourceSize[0], inW: conv.sourceSize[1], outH: conv.resultSize[0], outW: conv.resultSize[1],
          sh: g.stride[0], sw: g.stride[1], ph: g.padding[0], pw: g.padding[1], dh: g.dilation[0], dw: g.dilation[1],
        }
      : { taps: 1, kw: 1, inH: 1, inW: 1, outH: 1, outW: 1, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1 };
    const tableWindow = wholeBuffer(tables.buffer, limits, 'the layout tables');
    const gateBinding = gates ? wholeBuffer(gates.buffer, limits, 'the gates').binding : context.absentRead;
    const dgateBinding = dgates ? wholeBuffer(dgates.buffer, limits, 'the gate gradient').binding : context.absentWrites[0];
    const unitChunk = unitsPerWindow(n, 4 * Math.max(C * xRows, K * dyRows), limits, conv ? 'image' : 'batch row');
    const blockChunk = Math.min(unitsPerWindow(nnz, 4 * taps * bs * bs, limits, `${bs} x ${bs} weight block${conv ? ` of ${taps} taps` : ''}`), limits.maxWorkgroups);
    const dispatches: Dispatch[] = [];
    ranges(n, unitChunk).forEach(([r0, r1], pass) => {
      const xWindow = bufferWindow(x.buffer, r0 * xRows * C, (r1 - r0) * xRows * C, limits);
      const dyWindow = bufferWindow(dy.buffer, r0 * dyRows * K, (r1 - r0) * dyRows * K, limits);
      for (const [b0, b1] of ranges(nnz, blockChunk)) {
        const dwWindow = bufferWindow(dw.buffer, b0 * taps * bs * bs, (b1 - b0) * taps * bs * bs, limits);
        const wWindow = weights ? bufferWindow(weights.buffer, b0 * taps * bs * bs, (b1 - b0) * taps * bs * bs, limits) : null;
        // A convolution's taps go to workgroups of their own (grid y), except with the gate
        // gradient, which one workgroup sums over all taps of its block.
        const tapsPerGroup = weights ? taps : Math.ceil(taps / Math.min(taps, limits.maxWorkgroups));
        const uniforms: WeightGradUniforms = {
          rows: (r1 - r0) * dyRows, xStride: C / 4, xFirst: xWindow.first / 4, dyStride: K / 4, dyFirst: dyWindow.first / 4, dwFirst: dwWindow.first / 4,
          wFirst: (wWindow?.first ?? 0) / 4, pairsAt: tables.pairs, blockLo: b0, accumulate: pass > 0 ? 1 : 0, gated: gates ? 1 : 0, gateGradient: weights ? 1 : 0, ...gather, tapsPerGroup,
        };
        dispatches.push({
          program: this,
          buffers: [tableWindow.binding, xWindow.binding, dyWindow.binding, gateBinding, wWindow ? wWindow.binding : context.absentRead, dwWindow.binding, dgateBinding],
          uniforms,
          workgroups: [b1 - b0, Math.ceil(taps / tapsPerGroup), 1],
        });
      }
    });
    return dispatches;
  }

  body(): string {
    const bs = this.blockSize;
    const bs4 = bs / 4;
    const { groups, chunkRows: rows } = this.#shape;
    const t = this.tile;
    const accs = this.#accs;
    const slots = this.#groupThreads * accs;
    const { stageX, stageDY, product } = this.#parts();
    const tree: string[] = [];
    for (let s = groups / 2; s >= 1; s /= 2) {
      tree.push(`if (tz >= ${s} && tz < ${2 * s}) {
    for (var r = 0; r < ${accs}; r++) { red[(tz - ${s}) * ${slots} + slot + r] = acc[r]; }
  }
  workgroupBarrier();
  if (tz < ${s}) {
    for (var r = 0; r < ${accs}; r++) { acc[r] = acc[r] + red[tz * ${slots} + slot + r]; }
  }
  workgroupBarrier();`);
    }
    // acc[r * colVecs + v]: row kMajorRow(u, q) with r = 4u + q, vec4 column accColumn(v).
    const writes: string[] = [];
    for (let u = 0; u < t.rows / 4; u++) {
      for (let q = 0; q < 4; q++) {
        for (let v = 0; v < t.colVecs; v++) {
          const r = (u * 4 + q) * t.colVecs + v;
          writes.push(`store(blockAt + ${kMajorRow(t, u, q).wgsl} * ${bs4} + ${accColumn(t, v).wgsl}, gate, acc[${r}], &partial);`);
        }
      }
    }
    return `
var<workgroup> tileX: array<vec4<f32>, ${this.#x.array.length}>;
var<workgroup> tileDY: array<vec4<f32>, ${this.#dy.array.length}>;
var<workgroup> red: array<vec4<f32>, ${this.#red.length}>;

${this.conv ? CONV_READ_X : PLAIN_READ_X}

fn readDY(row: i32, at: i32) -> vec4<f32> {
  if (row >= u.rows) { return vec4<f32>(0.0); }
  return dy[u.dyFirst + row * u.dyStride + at];
}

fn store(at: i32, gate: f32, value: vec4<f32>, partial: ptr<function, f32>) {
  let base = at;
  let result = gate * value;
  if (u.accumulate != 0) { dw[u.dwFirst + base] = dw[u.dwFirst + base] + result; } else { dw[u.dwFirst + base] = result; }
  if (u.gateGradient != 0) { *partial += dot(weights[u.wFirst + base], value); }
}

${entryPoint(this.workgroupSize)} {
  let b = u.blockLo + i32(wg.x);
  let xBase = tables[u.pairsAt + 2 * b] * ${bs4};
  let dyBase = tables[u.pairsAt + 2 * b + 1] * ${bs4};
  let blockFirst = (b - u.blockLo) * u.taps * ${bs * bs4};
  let itid = i32(tid);
  let tx = i32(lid.x);
  let ty = i32(lid.y);
  let tz = i32(lid.z);
  let slot = (ty * ${t.threadsX} + tx) * ${accs};
  ${stageX.declare}
  ${stageDY.declare}
  var partial = 0.0;
  var gate = 1.0;
  if (u.gated != 0) { gate = gates[b]; }
  // The workgroup's taps one at a time (one for the matrix products; a convolution's taps are
  // split over grid y unless the gate gradient needs them all): G_b[tap] over all rows, its dW.
  let tapFirst = i32(wg.y) * u.tapsPerGroup;
  for (var tap = tapFirst; tap < min(tapFirst + u.tapsPerGroup, u.taps); tap++) {
  let blockAt = blockFirst + tap * ${bs * bs4};
  var acc = array<vec4<f32>, ${accs}>();
  var n0 = 0;
  {
    let nb = 0;
    ${stageX.load}
    ${stageDY.load}
  }
  ${stageX.store(0)}
  ${stageDY.store(0)}
  workgroupBarrier();
  for (; n0 < u.rows; n0 += ${rows}) {
    let more = n0 + ${rows} < u.rows;
    if (more) {
      let nb = n0 + ${rows};
      ${stageX.load}
      ${stageDY.load}
    }
    for (var kstep = 0; kstep < ${rows / groups}; kstep++) {
      ${product.wgsl}
    }
    workgroupBarrier();
    if (more) {
      ${stageX.store(0)}
      ${stageDY.store(0)}
      workgroupBarrier();
    }
  }
  ${tree.join('\n  ')}
  if (tz == 0) {
    ${writes.join('\n    ')}
  }
  }
  if (tz == 0) {
    red[ty * ${t.threadsX} + tx] = vec4<f32>(partial, 0.0, 0.0, 0.0);
  }
  if (u.gateGradient != 0) {
    workgroupBarrier();
    if (tid == 0u) {
      var sum = 0.0;
      for (var i = 0; i < ${this.#groupThreads}; i++) { sum += red[i].x; }
      if (u.accumulate != 0) { dgates[b] = dgates[b] + sum; } else { dgates[b] = sum; }
    }
  }
}
`;
  }
}

/** The matrix products read X rows directly. */
const PLAIN_READ_X = `fn readX(row: i32, tap: i32, at: i32) -> vec4<f32> {
  if (row >= u.rows) { return vec4<f32>(0.0); }
  return x[u.xFirst + row * u.xStride + at];
}`;

/** A convolution reads, for an output position, the input position of a tap (zero in the padding). */
const CONV_READ_X = `fn readX(row: i32, tap: i32, at: i32) -> vec4<f32> {
  if (row >= u.rows) { return vec4<f32>(0.0); }
  let x0 = row % u.outW;
  let rest = row / u.outW;
  let y0 = rest % u.outH;
  let n = rest / u.outH;
  let sy = y0 * u.sh - u.ph + (tap / u.kw) * u.dh;
  let sx = x0 * u.sw - u.pw + (tap % u.kw) * u.dw;
  if (sy < 0 || sy >= u.inH || sx < 0 || sx >= u.inW) { return vec4<f32>(0.0); }
  return x[u.xFirst + ((n * u.inH + sy) * u.inW + sx) * u.xStride + at];
}`;
