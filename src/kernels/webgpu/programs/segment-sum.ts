import { entryPoint, type Dispatch, type StorageBinding, type UniformRecord, type WebGPUProgram } from '../program.js';
import type { BufferBinding } from '../windows.js';

/*
 * The second pass of a split product: out[row, item column] (+)= sum over its slots s, in order, of
 * scratch[s][row]. A product whose long columns (block products) or long K (the dense matmul) were
 * split writes each piece's partial sums to a scratch slot of `rows` x `width` vec4s; this adds
 * them in a fixed order, so the result does not depend on timing (WGSL has no float atomics).
 *
 * Items come from a table (column, first slot, slots; 3 i32 each: the block products' split
 * columns) or, with itemsAt < 0, are one item given by the uniforms (column 0, slot 0, `slots`).
 * One thread per output vec4; workgroups along x over items, along y over vec4s.
 */

/** Threads per workgroup. */
const THREADS = 64;

/** Uniforms of the segment sum (vec4s; itemsAt in i32s, < 0 for the single uniform item). */
export const SEGMENT_SUM_UNIFORMS = ['rows', 'width', 'itemsAt', 'itemBase', 'slots', 'outStride', 'outFirst', 'accumulate'] as const;

/** The uniform record of one segment-sum dispatch. */
export type SegmentSumUniforms = UniformRecord<typeof SEGMENT_SUM_UNIFORMS>;

/** Adds the scratch slots of split products into their output. */
export class SegmentSumProgram implements WebGPUProgram {
  readonly key = 'segment-sum';
  readonly workgroupSize: readonly [number, number, number] = [THREADS, 1, 1];
  readonly bindings: readonly StorageBinding[] = [
    { name: 'tables', access: 'read', element: 'i32' },
    { name: 'scratch', access: 'read', element: 'vec4<f32>' },
    { name: 'out', access: 'read_write', element: 'vec4<f32>' },
  ];
  readonly uniforms = SEGMENT_SUM_UNIFORMS;

  /**
   * The dispatches adding `items` items (first `itemBase`), each of `rows` rows of `width` vec4s,
   * in chunks that keep both grid dimensions within `maxWorkgroups`.
   */
  plan(buffers: { tables: BufferBinding; scratch: BufferBinding; out: BufferBinding }, uniforms: Omit<SegmentSumUniforms, 'itemBase'>, items: number, maxWorkgroups: number): Dispatch[] {
    const groups = Math.ceil((uniforms.rows * uniforms.width) / THREADS);
    if (groups === 0 || items === 0) return [];
    if (groups > maxWorkgroups) throw new RangeError(`segment sum: ${groups} workgroups along y exceed ${maxWorkgroups}; the caller splits rows`);
    const dispatches: Dispatch[] = [];
    for (let first = 0; first < items; first += maxWorkgroups) {
      const count = Math.min(maxWorkgroups, items - first);
      dispatches.push({ program: this, buffers: [buffers.tables, buffers.scratch, buffers.out], uniforms: { ...uniforms, itemBase: first }, workgroups: [count, groups, 1] });
    }
    return dispatches;
  }

  body(): string {
    return `
${entryPoint(this.workgroupSize)} {
  let at = i32(wg.y) * ${THREADS} + i32(lid.x);
  let row = at / u.width;
  let j = at % u.width;
  if (row >= u.rows) { return; }
  var column = 0;
  var slot = 0;
  var slots = u.slots;
  if (u.itemsAt >= 0) {
    let item = u.itemsAt + 3 * (u.itemBase + i32(wg.x));
    column = tables[item];
    slot = tables[item + 1];
    slots = tables[item + 2];
  }
  let slice = u.rows * u.width;
  var sum = scratch[slot * slice + at];
  for (var s = 1; s < slots; s++) { sum = sum + scratch[(slot + s) * slice + at]; }
  let o = u.outFirst + row * u.outStride + column * u.width + j;
  if (u.accumulate != 0) { out[o] = out[o] + sum; } else { out[o] = sum; }
}
`;
  }
}
