/*
 * A kernel is a small program object (as in tfjs-backend-webgpu): it declares its workgroup size,
 * its storage bindings and its uniforms, and builds its WGSL body. The runner generates the
 * declarations from them (so bindings and the pipeline layout always agree), compiles each
 * distinct `key` once, and dispatches.
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
