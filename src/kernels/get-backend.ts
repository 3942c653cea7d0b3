import { checkOneOf } from '../check.js';
import { createCpuBackend, type CpuBackendOptions } from './cpu/cpu-backend.js';
import { createWebGPUBackend, probeWebGPU, type WebGPUBackendOptions } from './webgpu/webgpu-backend.js';
import type { Backend, BackendName } from './types.js';

/** Which backend to use: a named one, or `auto` (WebGPU on a real GPU, else the CPU fast path). */
export type BackendChoice = 'auto' | BackendName;

/** The accepted backend choices. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'cpu'];

/** Options of `getBackend`. */
export interface GetBackendOptions {
  /** CPU threads (default: every core); shorthand for cpu.threads. */
  threads?: number;
  /** Options passed to createCpuBackend when the CPU backend is chosen. */
  cpu?: CpuBackendOptions;
  /** Options passed to createWebGPUBackend when the WebGPU backend is chosen (allowFallbackAdapter is set by the choice). */
  webgpu?: Omit<WebGPUBackendOptions, 'allowFallbackAdapter'>;
  /** Where `auto` says what it chose and why (default: stderr). */
  log?: (message: string) => void;
}

/**
 * A kernel backend. `webgpu` and `cpu` give that backend (BackendUnavailableError if it cannot
 * run). `auto` takes WebGPU when a hardware adapter exists and says which; when the only adapter
 * is a CPU fallback (lavapipe, SwiftShader) or there is none, it takes the CPU backend
 * (WebAssembly SIMD on every core), which is faster than a software GPU, and says so.
 */
export async function getBackend(choice: BackendChoice = 'auto', options: GetBackendOptions = {}): Promise<Backend> {
  checkOneOf('backend', choice, BACKEND_CHOICES);
  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  const cpuOptions: CpuBackendOptions = { ...options.cpu, ...(options.threads === undefined ? {} : { threads: options.threads }) };
  if (choice === 'cpu') return createCpuBackend(cpuOptions);
  if (choice === 'webgpu') return createWebGPUBackend({ ...options.webgpu, allowFallbackAdapter: true });
  const probe = await probeWebGPU();
  if (probe.available && probe.adapter && !probe.adapter.isFallbackAdapter) {
    const backend = await createWebGPUBackend({ ...options.webgpu, allowFallbackAdapter: false });
    log(`backend: ${backend.description}`);
    return backend;
  }
  const cpu = await createCpuBackend(cpuOptions);
  if (probe.available && probe.adapter) {
    log(`warning: the only WebGPU adapter is a CPU fallback (${probe.adapter.description || probe.adapter.device}); using ${cpu.description} instead (choose --backend webgpu to use the adapter anyway)`);
  } else {
    log(`backend: ${cpu.description} (no WebGPU adapter${probe.reason ? `: ${probe.reason}` : ''})`);
  }
  return cpu;
}
