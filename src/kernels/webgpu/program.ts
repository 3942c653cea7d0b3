import type { BufferBinding, SplitLimits } from './windows.js';

/*
 * A kernel is a small program object (as in tfjs-backend-webgpu): it declares its workgroup size,
 * its storage bindings and its uniforms, builds its WGSL body, and plans its own dispatches (the
 * window splitting, grids and uniform values for given operands and device limits). The runner
 * generates the declarations from them (so bindings, uniforms and the pipeline layout always
 * agree), compiles each distinct `key` once, and dispatches.
 */

/** Element type of a storage binding. */
export type StorageElement = 'f32' | 'vec4<f32>' | 'i32';

/** One storage buffer binding, in binding order (binding i = bindings[i]). */
export interface StorageBinding {
  /** The WGSL name of the array. */
  readonly name: string;
  readonly access: 'read' | 'read_write';
  readonly element: StorageElement;
}

/**
 * The uniform values of a program whose i32 uniforms are named `Names`: a typed record, one field
 * per name. The program's `uniforms` list fixes the field order of both the WGSL struct (generated
 * by `programHeader`) and the packed buffer (`packUniforms`), so the two cannot drift.
 */
export type UniformRecord<Names extends readonly string[]> = { readonly [Name in Names[number]]: number };

/** A compute kernel: its declarations and its WGSL body. */
export interface WebGPUProgram {
  /** Unique per variant: programs with equal keys share one compiled pipeline. */
  readonly key: string;
  readonly workgroupSize: readonly [number, number, number];
  readonly bindings: readonly StorageBinding[];
  /** Names of the i32 uniforms, in order (read as `u.name` in the body). */
  readonly uniforms: readonly string[];
  /** Shared memory, helper functions and the entry point `main` (see `entryPoint`). */
  body(): string;
}

/** One dispatch of a program: its buffers (in the program's binding order), uniform record and grid. */
export interface Dispatch {
  readonly program: WebGPUProgram;
  readonly buffers: readonly BufferBinding[];
  /** One i32 per name of `program.uniforms` (packed in that order by the runner). */
  readonly uniforms: Readonly<Record<string, number>>;
  readonly workgroups: readonly [number, number, number];
}

/** What every plan needs besides its operands: the device's split limits and the buffers bound in place of absent operands. */
export interface PlanContext {
  readonly limits: SplitLimits;
  /** Bound where an optional read-only operand is absent. */
  readonly absentRead: BufferBinding;
  /** Bound where optional outputs are absent (one per output slot: writable bindings may not alias). */
  readonly absentWrites: readonly BufferBinding[];
}

/**
 * The uniform buffer contents of `record`: its fields in the order of `names` (the program's
 * declared order), each an i32. Throws when a field is missing or not an i32, so a record that
 * does not match its declaration fails loudly instead of shifting fields.
 */
export function packUniforms(names: readonly string[], record: Readonly<Record<string, number>>): Int32Array {
  const packed = new Int32Array(names.length);
  names.forEach((name, i) => {
    const value = record[name];
    if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
      throw new RangeError(`uniform ${name}: ${String(value)} is not an i32`);
    }
    packed[i] = value;
  });
  return packed;
}

/** The declarations the runner puts before a program's body. */
export function programHeader(program: WebGPUProgram): string {
  const lines: string[] = [];
  program.bindings.forEach((binding, i) => {
    lines.push(`@group(0) @binding(${i}) var<storage, ${binding.access}> ${binding.name}: array<${binding.element}>;`);
  });
  lines.push(`struct Uniforms {\n${program.uniforms.map((name) => `  ${name}: i32,`).join('\n')}\n};`);
  lines.push(`@group(0) @binding(${program.bindings.length}) var<uniform> u: Uniforms;`);
  return lines.join('\n');
}

/** The whole WGSL source of a program. */
export function programSource(program: WebGPUProgram): string {
  return `${programHeader(program)}\n${program.body()}`;
}

/** The entry point's signature for a workgroup size (builtins: wg, lid, tid). */
export function entryPoint(workgroupSize: readonly [number, number, number]): string {
  return `@compute @workgroup_size(${workgroupSize.join(', ')})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) tid: u32)`;
}
