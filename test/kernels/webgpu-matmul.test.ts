import { describe, expect, it } from 'vitest';
import { referenceMatmul } from '../../src/kernels/reference.js';
import type { PlanContext } from '../../src/kernels/webgpu/program.js';
import { MatmulProgram, type MatmulShape } from '../../src/kernels/webgpu/programs/matmul.js';
import { windowSlack } from '../../src/kernels/webgpu/windows.js';
import type { WebGPUBackend, WebGPUBackendOptions } from '../../src/kernels/webgpu/webgpu-backend.js';
import { makeWebGPU } from '../helpers/webgpu.js';
import { resolveRng } from '../../src/random.js';
import { expectWithinBound } from './conformance.js';
import { backendTests } from './suite.js';

/*
 * The dense matmul's split-K path: K cut into pieces whose partial products go to scratch slots,
 * added in order by the segment sum. Its plan (when K is split, and how far) is checked without a
 * device; its results on lavapipe (or a GPU), forced by the `matmulSplitK` hook, against the
 * float64 reference, with transposes, with K windows that accumulate, and bit-identical run to run.
 */

const required = process.env.REQUIRE_WEBGPU === '1';
process.env.LP_NATIVE_VECTOR_WIDTH ??= '128';

const rng = resolveRng({ seed: 'webgpu-matmul' });
const random = (size: number) => Float32Array.from({ length: size }, () => rng() * 2 - 1);
const abs = (a: ArrayLike<number>) => Float64Array.from(a as ArrayLike<number>, Math.abs);

/** A large GPU's limits (the planning reads only `limits`). */
const gpu = { limits: { maxBindingBytes: 2 ** 31 - 4, offsetAlignment: 256, maxWorkgroups: 65535 } } as PlanContext;

describe('dense matmul plan', () => {
  const shape = (m: number, k: number, n: number, splitK?: number): MatmulShape => ({ m, k, n, transposeA: false, transposeB: false, splitK });

  it('splits K only when the grid is small and K long, keeping at least 256 of K per piece', () => {
    // 4096^3: 1024 workgroups of 128 x 128, no split.
    expect(MatmulProgram.forShape(shape(4096, 4096, 4096)).splitsFor(shape(4096, 4096, 4096), gpu)).toBe(1);
    // N = 512 rows by 4096 outputs: 128 workgroups of 128 x 128, split in two (256 workgroups).
    const wide = MatmulProgram.forShape(shape(512, 4096, 4096));
    expect(wide.tileSize).toBe(128);
    expect(wide.splitsFor(shape(512, 4096, 4096), gpu)).toBe(2);
    expect(wide.scratchElements(shape(512, 4096, 4096), gpu)).toBe(2 * 512 * 4096);
    // One 64 x 64 workgroup: as many pieces as K allows at 256 each.
    const one = MatmulProgram.forShape(shape(64, 4096, 64));
    expect(one.splitsFor(shape(64, 4096, 64), gpu)).toBe(16);
    expect(one.splitsFor(shape(64, 511, 64), gpu)).toBe(1);
    expect(one.scratchElements(shape(64, 511, 64), gpu)).toBe(0);
    // Not vectorizable (rows of 3): never split, even when asked.
    const scalar = MatmulProgram.forShape(shape(64, 4096, 3, 4));
    expect(scalar.vectorized).toBe(false);
    expect(scalar.splitsFor(shape(64, 4096, 3, 4), gpu)).toBe(1);
  });

  it('keeps the scratch within the binding limit and the grids within the workgroup cap', () => {
    const tiny = { limits: { maxBindingBytes: 4352, offsetAlignment: 256, maxWorkgroups: 2 } } as PlanContext;
    const s = shape(40, 200, 64, 4);
    const program = MatmulProgram.forShape(s);
    const splits = program.splitsFor(s, tiny);
    // At most 2 pieces along grid z, and the scratch in one binding.
    expect(splits).toBe(2);
    expect(4 * program.scratchElements(s, tiny)).toBeLessThanOrEqual(4352 - windowSlack(tiny.limits));
    expect(program.scratchElements(s, tiny)).toBeGreaterThan(0);
  });

  it('refuses a split count that is not a positive integer', () => {
    expect(() => MatmulProgram.forShape(shape(8, 64, 8)).splitsFor(shape(8, 64, 8, 0), gpu)).toThrow(/matmulSplitK must be a positive integer/);
    expect(() => MatmulProgram.forShape(shape(8, 64, 8)).splitsFor(shape(8, 64, 8, 1.5), gpu)).toThrow(/matmulSplitK/);
  });
});

const make = (options: WebGPUBackendOptions) => makeWebGPU(options, 'split-K matmul tests');

/** `backendTests` on a WebGPU backend made with `options` (its bodies get the WebGPU backend, for its dispatch count). */
const webgpuTests = (name: string, options: WebGPUBackendOptions) =>
  backendTests(name, () => make(options), required) as (title: string, body: (b: WebGPUBackend) => Promise<void>) => void;

type Case = readonly [m: number, k: number, n: number, transposeA: boolean, transposeB: boolean];

/** C = op(A) op(B) on `b` for random operands, its reference, and the dispatches it took. */
async function product(b: WebGPUBackend, [m, k, n, transposeA, transposeB]: Case) {
  const aShape: [number, number] = transposeA ? [k, m] : [m, k];
  const bShape: [number, number] = transposeB ? [n, k] : [k, n];
  const a = random(m * k);
  const bb = random(k * n);
  const A = b.tensor(a, aShape);
  const B = b.tensor(bb, bShape);
  const before = b.stats.dispatches;
  const C = await b.matmul(A, B, { transposeA, transposeB });
  const dispatches = b.stats.dispatches - before;
  const c = await b.read(C);
  const again = await b.read(await b.matmul(A, B, { transposeA, transposeB }));
  return {
    c, again, dispatches,
    check: (what: string) => expectWithinBound(c, referenceMatmul(a, aShape, bb, bShape, transposeA, transposeB), referenceMatmul(abs(a), aShape, abs(bb), bShape, transposeA, transposeB), k, `${what} ${m}x${k}x${n} tA=${transposeA} tB=${transposeB}`),
  };
}

describe('webgpu dense matmul with split K', () => {
  const run = webgpuTests('webgpu (split K in 3)', { matmulSplitK: 3 });

  run('matches the reference with every transpose, bit-identical run to run', async (b) => {
    const cases: Case[] = [[37, 200, 44, false, false], [40, 300, 36, true, true], [29, 132, 20, false, true], [20, 96, 68, true, false], [70, 40, 8, false, false]];
    for (const c of cases) {
      const { c: out, again, dispatches, check } = await product(b, c);
      // One matmul of three pieces (fewer when K is short) and one segment sum.
      expect(dispatches, `${c.join('x')}: split`).toBe(2);
      check('split-K matmul');
      expect(Buffer.from(again.buffer).equals(Buffer.from(out.buffer)), 'two runs give the same bytes').toBe(true);
    }
  });

  run('leaves products whose rows do not allow vec4s unsplit, and still right', async (b) => {
    const { dispatches, check } = await product(b, [9, 130, 7, false, false]);
    expect(dispatches).toBe(1);
    check('scalar matmul');
  });
});

describe('webgpu dense matmul with split K and small bindings', () => {
  // Bindings of at most 4352 bytes and 2 workgroups per dimension: M and K come in windows; each
  // K window is split in two and added into C, the later ones accumulating.
  const run = webgpuTests('webgpu (split K, small bindings)', { matmulSplitK: 2, maxBindingBytes: 4352, maxWorkgroups: 2 });

  run('accumulates split K windows into C, within the bound and the same bytes every run', async (b) => {
    for (const c of [[24, 200, 32, false, false], [16, 136, 24, true, true]] as const) {
      const { c: out, again, dispatches, check } = await product(b, c);
      expect(dispatches, 'K windows, each a split product and a segment sum').toBeGreaterThan(4);
      check('windowed split-K matmul');
      expect(Buffer.from(again.buffer).equals(Buffer.from(out.buffer))).toBe(true);
    }
  });
});
