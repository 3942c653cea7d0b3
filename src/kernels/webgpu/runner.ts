import { BufferUsage, MAP_MODE_READ, SHADER_STAGE_COMPUTE } from './device.js';
import { WebGPUError } from './errors.js';
import { packUniforms, programSource, type Dispatch, type WebGPUProgram } from './program.js';

interface CompiledProgram {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** Kernel timings collected while profiling (GPU timestamps at the start and end of each pass). */
export interface KernelTimes {
  /** Sum of the passes' GPU times, in milliseconds; null without the timestamp-query feature. */
  gpuMs: number | null;
  /** Number of compute passes timed. */
  passes: number;
}

const roundUp = (value: number, multiple: number): number => Math.ceil(value / multiple) * multiple;

/**
 * Compiles programs (once per key) and runs dispatches: one command buffer per `run`, one compute
 * pass per dispatch, the uniforms of all its dispatches in one buffer. With `debug`, every run is
 * wrapped in error scopes and a WebGPU error rejects that run; otherwise such errors arrive as
 * uncaptured errors (the backend reports them on its next call).
 */
export class Runner {
  readonly device: GPUDevice;
  readonly debug: boolean;
  readonly timestamps: boolean;
  /** Pipelines compiled, and dispatches (compute passes) run. */
  readonly counts = { compilations: 0, dispatches: 0 };
  readonly #compiled = new Map<string, Promise<CompiledProgram>>();
  #profile: Promise<number>[] | null = null;
  #submitted: Promise<void> = Promise.resolve();
  #profiledPasses = 0;

  constructor(device: GPUDevice, options: { debug?: boolean } = {}) {
    this.device = device;
    this.debug = options.debug ?? false;
    this.timestamps = device.features.has('timestamp-query');
  }

  /** The compiled pipeline of `program` (compiled on first use, then cached by key). */
  compile(program: WebGPUProgram): Promise<CompiledProgram> {
    let compiled = this.#compiled.get(program.key);
    if (!compiled) {
      compiled = this.#build(program);
      this.#compiled.set(program.key, compiled);
      compiled.catch(() => this.#compiled.delete(program.key));
    }
    return compiled;
  }

  async #build(program: WebGPUProgram): Promise<CompiledProgram> {
    const { device } = this;
    const code = programSource(program);
    const entries: GPUBindGroupLayoutEntry[] = program.bindings.map((binding, i) => ({
      binding: i,
      visibility: SHADER_STAGE_COMPUTE,
      buffer: { type: binding.access === 'read' ? 'read-only-storage' : 'storage' },
    }));
    entries.push({ binding: program.bindings.length, visibility: SHADER_STAGE_COMPUTE, buffer: { type: 'uniform' } });
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code, label: program.key });
    const layout = device.createBindGroupLayout({ entries, label: program.key });
    const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await device.createComputePipelineAsync({ layout: pipelineLayout, compute: { module, entryPoint: 'main' }, label: program.key });
    } catch (error) {
      await device.popErrorScope();
      const info = await module.getCompilationInfo();
      const messages = info.messages.map((m) => `${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}`).join('\n');
      throw new WebGPUError('validation', `compiling ${program.key} failed: ${(error as Error).message}\n${messages}`);
    }
    const scoped = await device.popErrorScope();
    if (scoped) throw new WebGPUError('validation', `compiling ${program.key}: ${scoped.message}`);
    this.counts.compilations++;
    return { pipeline, layout };
  }

  /**
   * Encodes and submits `dispatches` in order, in one command buffer. Runs are submitted in call
   * order even when an earlier one still waits for its pipelines to compile: in-place operations
   * (optimiser steps) must not overtake a product called before them that reads the same tensor.
   */
  run(dispatches: readonly Dispatch[]): Promise<void> {
    if (dispatches.length === 0) return this.#submitted;
    const compiled = Promise.all(dispatches.map((d) => this.compile(d.program)));
    compiled.catch(() => undefined);
    const previous = this.#submitted;
    const run = previous.then(async () => this.#submit(dispatches, await compiled));
    this.#submitted = run.then(() => undefined, () => undefined);
    return run;
  }

  /** Resolves once every run called so far has been submitted (or has failed). */
  submitted(): Promise<void> {
    return this.#submitted;
  }

  async #submit(dispatches: readonly Dispatch[], compiled: CompiledProgram[]): Promise<void> {
    const { device } = this;
    if (this.debug) {
      device.pushErrorScope('validation');
      device.pushErrorScope('out-of-memory');
      device.pushErrorScope('internal');
    }
    const packed = dispatches.map((d) => packUniforms(d.program.uniforms, d.uniforms));
    const stride = roundUp(Math.max(16, ...packed.map((p) => 4 * p.length)), device.limits.minUniformBufferOffsetAlignment);
    const uniforms = device.createBuffer({ size: stride * dispatches.length, usage: BufferUsage.UNIFORM, mappedAtCreation: true });
    const view = new Int32Array(uniforms.getMappedRange());
    packed.forEach((p, i) => view.set(p, (i * stride) / 4));
    uniforms.unmap();

    const timed = this.#profile !== null && this.timestamps;
    const querySet = timed ? device.createQuerySet({ type: 'timestamp', count: 2 * dispatches.length }) : null;
    const encoder = device.createCommandEncoder();
    dispatches.forEach((d, i) => {
      const { pipeline, layout } = compiled[i];
      const entries: GPUBindGroupEntry[] = d.buffers.map((b, j) => ({ binding: j, resource: { buffer: b.buffer, offset: b.offset, size: b.size } }));
      entries.push({ binding: d.buffers.length, resource: { buffer: uniforms, offset: i * stride, size: 4 * Math.max(1, packed[i].length) } });
      const bindGroup = device.createBindGroup({ layout, entries });
      const pass = encoder.beginComputePass(querySet ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } } : {});
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
      pass.end();
    });
    let readback: GPUBuffer | null = null;
    let resolved: GPUBuffer | null = null;
    if (querySet) {
      resolved = device.createBuffer({ size: 16 * dispatches.length, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
      readback = device.createBuffer({ size: 16 * dispatches.length, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
      encoder.resolveQuerySet(querySet, 0, 2 * dispatches.length, resolved, 0);
      encoder.copyBufferToBuffer(resolved, 0, readback, 0, 16 * dispatches.length);
    }
    device.queue.submit([encoder.finish()]);
    // Destroying after submit is safe: the memory is released once the queued work is done.
    uniforms.destroy();
    querySet?.destroy();
    resolved?.destroy();
    this.counts.dispatches += dispatches.length;
    if (readback && this.#profile) {
      const buffer = readback;
      this.#profiledPasses += dispatches.length;
      this.#profile.push(
        buffer.mapAsync(MAP_MODE_READ).then(() => {
          const times = new BigUint64Array(buffer.getMappedRange());
          let ns = 0;
          for (let i = 0; i < times.length; i += 2) ns += Number(times[i + 1] - times[i]);
          buffer.destroy();
          return ns / 1e6;
        }),
      );
    }
    if (this.debug) {
      const errors = [await device.popErrorScope(), await device.popErrorScope(), await device.popErrorScope()];
      const kinds = ['internal', 'out-of-memory', 'validation'];
      const at = errors.findIndex((e) => e !== null);
      if (at >= 0) throw new WebGPUError(kinds[at], `${dispatches.map((d) => d.program.key).join(', ')}: ${errors[at]!.message}`);
    }
  }

  /** Starts collecting GPU timestamps of every pass (until `endProfile`). */
  beginProfile(): void {
    this.#profile = [];
    this.#profiledPasses = 0;
  }

  /** Stops collecting and sums the GPU time of the passes run since `beginProfile`. */
  async endProfile(): Promise<KernelTimes> {
    const pending = this.#profile ?? [];
    const passes = this.#profiledPasses;
    this.#profile = null;
    if (!this.timestamps) return { gpuMs: null, passes };
    const times = await Promise.all(pending);
    return { gpuMs: times.reduce((a, b) => a + b, 0), passes };
  }
}
