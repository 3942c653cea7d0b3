import { describe, expect, it } from 'vitest';
import { add, div, lit, mod, mul, sym, xor } from '../../src/kernels/webgpu/index-expr.js';
import { kernelVariants } from '../../src/kernels/webgpu/kernel-variants.js';
import { programSource } from '../../src/kernels/webgpu/program.js';
import { analyseKernel, analyseStep, sharedRef, threadEnv, type SharedArray } from '../../src/kernels/webgpu/shared-memory.js';
import { makeTile, stageTransposed, rowMajorProductStep } from '../../src/kernels/webgpu/tiles.js';

/*
 * The static evidence of issue 13 (no GPU needed): for every matrix-kernel variant, the bank
 * conflicts of each staging store and inner-loop load, and FMAs per shared load, computed by the
 * shared-memory model from the same index expressions the WGSL is printed from.
 *
 * Bounds: no instruction conflicts (ways 1); at least 16 FMA per shared load for the 8 x 8
 * register tiles (every block-product variant at bs 32, the wide ones at every size, the weight
 * gradient at bs 32 and the 128 matmul tile), at least 8 for the others; at most 32 KiB of
 * workgroup memory (lavapipe's limit, so that every variant runs in the conformance tests).
 */

const words = (n: number): SharedArray => ({ name: 's', element: 'f32', length: n });
const vec4s = (n: number): SharedArray => ({ name: 'v', element: 'vec4<f32>', length: n });
const itid = sym('itid');

describe('the shared-memory model', () => {
  it('gives the closed-form ways of textbook patterns', () => {
    const size = [32, 1, 1] as const;
    const ways = (array: SharedArray, index: ReturnType<typeof sym>) => analyseStep({ name: '', kind: 'load', accesses: [{ array, index }], envs: [] }, size).ways;
    expect(ways(words(1024), itid)).toBe(1); // consecutive words
    expect(ways(words(1024), mul(itid, 2))).toBe(2); // stride 2: two words per bank
    expect(ways(words(1024), mul(itid, 32))).toBe(32); // one column of a 32 x 32 tile
    expect(ways(words(1024), mul(itid, 33))).toBe(1); // padded: conflict-free
    expect(ways(words(1024), lit(5))).toBe(1); // a broadcast
    expect(ways(vec4s(256), itid)).toBe(1); // vec4s: a quarter warp per phase
    expect(ways(vec4s(256), mul(itid, 2))).toBe(2);
    expect(ways(vec4s(256), mul(itid, 8))).toBe(8);
    expect(ways(vec4s(256), div(itid, 4))).toBe(1); // four threads share each vec4
    // a scalar lane of vec4s: word 4 index + lane
    // a scalar lane of vec4s: word 4 index + lane; words 32 t are all in bank 0
    expect(analyseStep({ name: '', kind: 'store', accesses: [{ array: vec4s(256), index: mul(itid, 8), lane: lit(0) }], envs: [] }, size).ways).toBe(32);
    // words 32 (t % 8) + 4 (t / 8): 4 banks, 8 distinct words each
    expect(analyseStep({ name: '', kind: 'store', accesses: [{ array: vec4s(256), index: add(mul(mod(itid, 8), 8), div(itid, 8)), lane: lit(0) }], envs: [] }, size).ways).toBe(8);
  });

  it('finds the conflicts of the old staging: an unswizzled transposed store (bs 32) and row-major loads of a 32-word row', () => {
    // Before issue 13 the weight tile of backward-data was filled by a transposed store without a swizzle.
    const plain = makeTile('b', 32, 8, 1, []);
    const plainStore = analyseStep({ name: 'old', kind: 'store', accesses: stageTransposed(plain, 64, 'r', () => '').storeAccesses(0), envs: [] }, [4, 16, 1]);
    expect(plainStore.ways).toBe(8);
    const swizzled = makeTile('b', 32, 8, 1, [2]);
    expect(analyseStep({ name: 'new', kind: 'store', accesses: stageTransposed(swizzled, 64, 'r', () => '').storeAccesses(0), envs: [] }, [4, 16, 1]).ways).toBe(1);
    // Rows of 32 words read in one phase by two rows of threads: 2-way unless swizzled.
    const t = { threadsX: 4, threadsY: 16, rows: 8, colVecs: 2 };
    const envs = Array.from({ length: 8 }, (_, k4) => ({ k4 }));
    const loads = (swizzle: number[]) => rowMajorProductStep(t, makeTile('a', 128, 8, 1, swizzle), swizzled, sym('k4'), 0, 0).accesses.slice(0, 8);
    expect(analyseStep({ name: '', kind: 'load', accesses: loads([]), envs }, [4, 16, 1]).ways).toBe(2);
    expect(analyseStep({ name: '', kind: 'load', accesses: loads([0]), envs }, [4, 16, 1]).ways).toBe(1);
  });

  it('evaluates index expressions as WGSL i32 arithmetic does, and prints them', () => {
    const e = xor(add(mul(sym('a'), 8), mod(sym('b'), 4)), div(sym('a'), 2));
    expect(e.value({ a: 5, b: 7 })).toBe((5 * 8 + (7 % 4)) ^ Math.trunc(5 / 2));
    expect(e.wgsl).toBe('(((a * 8) + (b % 4)) ^ (a / 2))');
    expect(() => e.value({ a: 1 })).toThrow(/no value for b/);
  });
});

describe('every matrix-kernel variant', () => {
  for (const program of kernelVariants()) {
    it(`${program.key}: conflict-free staging and inner loop, FMAs per shared load, workgroup memory`, () => {
      const figures = analyseKernel(program);
      expect(figures.length).toBeGreaterThan(1);
      for (const f of figures) expect(f.ways, `${program.key}: ${f.name}`).toBe(1);
      const inner = figures.filter((f) => f.fmaPerAccess !== null);
      expect(inner.length).toBe(1);
      const eightByEight = /bs32|wide|matmul 128/.test(program.key);
      expect(inner[0].fmaPerAccess!).toBeGreaterThanOrEqual(eightByEight ? 16 : 8);
      expect(program.sharedBytes).toBeLessThanOrEqual(32768);
      // Each staging step writes every word of its tile buffer exactly once (the swizzle is a permutation).
      const threads = program.workgroupSize[0] * program.workgroupSize[1] * program.workgroupSize[2];
      for (const step of program.sharedSteps().filter((st) => st.kind === 'store')) {
        for (const env of step.envs.length > 0 ? step.envs : [{}]) {
          const written: number[] = [];
          for (let t = 0; t < threads; t++) {
            const at = { ...env, ...threadEnv(program.workgroupSize, t) };
            for (const a of step.accesses) {
              if (a.activeBelow !== undefined && t >= a.activeBelow) continue;
              const first = 4 * a.index.value(at) + (a.lane ? a.lane.value(at) : 0);
              for (let w = first; w < first + (a.lane ? 1 : 4); w++) written.push(w);
            }
          }
          const distinct = new Set(written);
          expect(distinct.size, `${program.key}: ${step.name} writes a word twice`).toBe(written.length);
          expect(Math.max(...written) - Math.min(...written) + 1, `${program.key}: ${step.name} leaves a hole`).toBe(written.length);
        }
      }
      // The analysed addresses are the compiled ones: each access's WGSL appears in the source.
      const source = programSource(program);
      for (const step of program.sharedSteps()) for (const access of step.accesses.slice(0, 2)) expect(source).toContain(sharedRef(access));
    });
  }
});
