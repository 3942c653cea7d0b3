import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ARGUMENT_WORDS_LAYOUT, JOB_PARAMS, JOBS, KERNEL_PARAMS, packJobParams, readJobParams, TRAINING_KERNEL_PARAMS, type Task } from '../../src/kernels/cpu/abi.js';
import { kernelBytes } from '../../src/kernels/cpu/wasm.js';
import { TRAINING_OP_SPECS, TRAINING_OPS } from '../../src/kernels/training-ops.js';

/*
 * The CPU backend's two sides cannot share a declaration (AssemblyScript does not import
 * TypeScript from src), so src/kernels/cpu/abi.ts states the kernels' parameters and this test
 * holds assembly/kernels.ts and the built module to it: same kernels, same parameter names in the
 * same order. A parameter added, removed or swapped on one side only fails here, not as a silent
 * wrong answer.
 */

/** Each exported function of the module's entry files (assembly/asconfig.json) and its parameter names, in order. */
function assemblyExports(): Map<string, string[]> {
  const config = JSON.parse(readFileSync(new URL('../../assembly/asconfig.json', import.meta.url), 'utf8')) as { entries: string[] };
  const found = new Map<string, string[]>();
  for (const entry of config.entries) {
    const source = readFileSync(new URL(`../../assembly/${entry}`, import.meta.url), 'utf8');
    for (const match of source.matchAll(/^export function (\w+)\(([^)]*)\)/gm)) {
      const params = match[2].split(',').map((param) => param.trim().split(':')[0].trim()).filter((name) => name !== '');
      expect(found.has(match[1]), `${match[1]} is exported twice`).toBe(false);
      found.set(match[1], params);
    }
  }
  return found;
}

/** The training operations with a main stage (sumRows is a sum stage only). */
const OPS_WITH_KERNELS = TRAINING_OPS.filter((name) => name !== 'sumRows');

describe('cpu kernel ABI', () => {
  it('declares exactly the kernels assembly/*.ts exports, with their parameters in order, and one kernel per training operation', () => {
    const declared = Object.fromEntries([
      ...Object.entries(KERNEL_PARAMS).map(([name, params]) => [name, [...params]]),
      ...OPS_WITH_KERNELS.map((name) => [name, [...TRAINING_KERNEL_PARAMS]]),
    ]);
    expect(Object.fromEntries(assemblyExports())).toEqual(declared);
  });

  it('gives sumRows no main stage, so that it needs no kernel (and every other op has one)', () => {
    const fake = { name: 'cpu' };
    const x = { backend: fake, shape: [3, 4], size: 12, disposed: false };
    expect(TRAINING_OP_SPECS.sumRows(fake, x).count).toBe(0);
    expect(TRAINING_OP_SPECS.addBias(fake, x, { ...x, shape: [4], size: 4 }).count).toBe(12);
  });

  it('reads the argument block where assembly/training-args.ts does', () => {
    const source = readFileSync(new URL('../../assembly/training-args.ts', import.meta.url), 'utf8');
    // Each word's accessor is arg<Name>, reading at its byte offset: `argCount(args: usize): i32 { return load<i32>(args, 32); }`.
    const offsets = new Map<string, number>();
    for (const match of source.matchAll(/function (arg\w+)\(args: usize\)[^{]*\{[^}]*?load<\w+>\(args, (\d+)\)/g)) offsets.set(match[1], Number(match[2]));
    expect(offsets.size, 'accessors found in assembly/training-args.ts').toBe(ARGUMENT_WORDS_LAYOUT.length);
    for (const [i, name] of ARGUMENT_WORDS_LAYOUT.entries()) expect(offsets.get(`arg${name[0].toUpperCase()}${name.slice(1)}`), name).toBe(4 * i);
  });

  it('matches the built module: each kernel export takes as many arguments as it declares', async () => {
    const module = await WebAssembly.compile(kernelBytes(false).bytes);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, unknown>;
    for (const [name, params] of Object.entries(KERNEL_PARAMS)) {
      expect(typeof exports[name], name).toBe('function');
      expect((exports[name] as (...args: number[]) => void).length, name).toBe(params.length);
    }
    for (const name of OPS_WITH_KERNELS) {
      expect(typeof exports[name], name).toBe('function');
      expect((exports[name] as (...args: number[]) => void).length, name).toBe(TRAINING_KERNEL_PARAMS.length);
    }
  });

  it('gives every job parameter a distinct name, so that packing by name is one-to-one', () => {
    for (const job of JOBS) expect(new Set(JOB_PARAMS[job]).size, job).toBe(JOB_PARAMS[job].length);
    for (const params of Object.values(KERNEL_PARAMS)) expect(new Set(params).size).toBe(params.length);
  });

  it('packs a job record into control-block words in declared order and reads it back', () => {
    const task: Task = { job: 'packDense', units: 3, params: { b: 64, depth: 5, cols: 17, transposeB: 1, dst: 1024, slices: 3, perUnit: 1 } };
    const words = new Uint32Array(16);
    packJobParams(task, words, 2);
    expect([...words.subarray(2, 2 + JOB_PARAMS.packDense.length)]).toEqual([64, 5, 17, 1, 1024, 3, 1]);
    expect(readJobParams('packDense', words, 2)).toEqual(task.params);
  });

  it('rejects a parameter that is not a 32-bit word, naming it', () => {
    const task = { job: 'packDense', units: 1, params: { b: 64, depth: 5, cols: -1, transposeB: 0, dst: 0, slices: 1, perUnit: 1 } } as Task;
    expect(() => packJobParams(task, new Uint32Array(16), 0)).toThrow(/packDense: parameter cols is -1/);
  });
});
