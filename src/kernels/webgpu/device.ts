import { BackendUnavailableError } from '../errors.js';

/*
 * Finding a WebGPU adapter and device through Dawn's Node bindings (npm package `webgpu`). The
 * package is loaded lazily, so that a machine without it (or without a Vulkan loader) still loads
 * this module and gets a BackendUnavailableError that says why.
 */

/** What the adapter is, as WebGPU reports it. */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  /** The driver's description of the adapter (e.g. "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)"). */
  description: string;
  /** True for a CPU implementation (lavapipe, SwiftShader): correct, but far slower than a GPU. */
  isFallbackAdapter: boolean;
}

/** The answer of `probeWebGPU`: whether an adapter exists, what it is, or why there is none. */
export interface WebGPUProbe {
  available: boolean;
  adapter?: AdapterSummary;
  reason?: string;
}

/** How to pick the adapter. */
export interface AdapterOptions {
  /** Accept a CPU fallback adapter such as lavapipe (default true). */
  allowFallbackAdapter?: boolean;
  powerPreference?: GPUPowerPreference;
}

/** Buffer usage and map-mode flags (the WebGPU spec's values; Dawn's globals hold the same). */
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  QUERY_RESOLVE: 0x0200,
} as const;
export const MAP_MODE_READ = 0x0001;
export const SHADER_STAGE_COMPUTE = 0x0004;

interface DawnModule {
  create(options: string[]): GPU;
}

let dawn: Promise<DawnModule> | undefined;

/** Loads Dawn's Node bindings once; rejects with BackendUnavailableError when they cannot load. */
async function loadDawn(): Promise<DawnModule> {
  dawn ??= import('webgpu').then(
    (module) => module as unknown as DawnModule,
    (error: unknown) => {
      throw new BackendUnavailableError(`WebGPU: Dawn's Node bindings (npm package "webgpu") could not be loaded: ${(error as Error).message}`);
    },
  );
  return dawn;
}

/**
 * A fresh GPU instance: GPU timestamps unquantised (kernel times are exact) and workgroup memory
 * not zeroed at each workgroup's start (every kernel writes each workgroup variable before reading
 * it; Dawn's `disable_workgroup_init`). With `robustness: false` Dawn also drops its bounds
 * clamping of buffer accesses (`disable_robustness`): for benchmarks only, since a kernel bug could
 * then read or write outside a binding.
 */
export async function createGPU(options: { robustness?: boolean } = {}): Promise<GPU> {
  const { create } = await loadDawn();
  const toggles = ['disable_workgroup_init', ...(options.robustness === false ? ['disable_robustness'] : [])];
  try {
    return create(['disable-dawn-features=timestamp_quantization', `enable-dawn-features=${toggles.join(',')}`]);
  } catch (error) {
    throw new BackendUnavailableError(`WebGPU: Dawn could not start: ${(error as Error).message}`);
  }
}

/** The adapter's identity in plain fields. */
export function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  const legacy = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? legacy),
  };
}

/** One line naming the adapter, and saying so when it is a CPU fallback adapter. */
export function describeAdapter(summary: AdapterSummary): string {
  const name = summary.description || summary.device || summary.vendor || 'unknown adapter';
  const kind = [summary.vendor, summary.architecture].filter(Boolean).join(' ');
  const fallback = summary.isFallbackAdapter ? ', a CPU fallback adapter (software, slow)' : '';
  return `WebGPU (Dawn) on ${name}${kind ? ` [${kind}]` : ''}${fallback}`;
}

/**
 * Requests an adapter from `gpu`; throws BackendUnavailableError when there is none, or when the
 * only one is a fallback adapter and those are not allowed.
 */
export async function requestAdapter(gpu: GPU, options: AdapterOptions = {}): Promise<{ adapter: GPUAdapter; summary: AdapterSummary }> {
  const allowFallback = options.allowFallbackAdapter ?? true;
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
    if (!adapter && allowFallback) adapter = await gpu.requestAdapter({ forceFallbackAdapter: true });
  } catch (error) {
    throw new BackendUnavailableError(`WebGPU: requesting an adapter failed: ${(error as Error).message}`);
  }
  if (!adapter) {
    throw new BackendUnavailableError(
      'WebGPU: Dawn found no adapter (no GPU with a Vulkan driver, and no CPU driver such as Mesa lavapipe; is libvulkan.so.1 installed?)',
    );
  }
  const summary = summarizeAdapter(adapter);
  if (summary.isFallbackAdapter && !allowFallback) {
    throw new BackendUnavailableError(`WebGPU: the only adapter is a CPU fallback adapter (${summary.description || summary.device}) and allowFallbackAdapter is false`);
  }
  return { adapter, summary };
}

/** Whether a WebGPU adapter exists here, and which; never throws. */
export async function probeWebGPU(options: AdapterOptions = {}): Promise<WebGPUProbe> {
  try {
    const gpu = await createGPU();
    const { summary } = await requestAdapter(gpu, { allowFallbackAdapter: true, ...options });
    return { available: true, adapter: summary };
  } catch (error) {
    return { available: false, reason: (error as Error).message };
  }
}

/**
 * A device on `adapter` with the timestamp-query feature when the adapter has it, and the
 * adapter's largest binding and buffer sizes; throws BackendUnavailableError when it refuses.
 */
export async function requestDevice(adapter: GPUAdapter, summary: AdapterSummary): Promise<GPUDevice> {
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const a = adapter.limits;
  try {
    return await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
        maxBufferSize: a.maxBufferSize,
        maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
        minStorageBufferOffsetAlignment: a.minStorageBufferOffsetAlignment,
      },
      label: 'blocksparse',
    });
  } catch (error) {
    throw new BackendUnavailableError(`WebGPU: the adapter ${summary.description || summary.device} refused a device: ${(error as Error).message}`);
  }
}
