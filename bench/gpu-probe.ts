/*
 * The adapter part of the GPU kit's probe (bench/gpu.sh bundles this file into
 * bench/gpu-kit/gpu-probe.mjs): which adapter Dawn finds with the Vulkan drivers the environment
 * names (VK_DRIVER_FILES / VK_ICD_FILENAMES), what it is, its features and the limits the kernels
 * depend on. Plain Dawn (`create([])`), no backend: it must say something even when the
 * benchmark's own code could not start.
 *
 *   node gpu-probe.mjs
 *
 * Prints "adapter:", "features:" and "limits:" lines. Exit status: 0 a hardware adapter, 10 a
 * software adapter only (lavapipe, llvmpipe, SwiftShader), 11 no adapter, 12 Dawn did not load.
 */
import { isSoftwareAdapter, PROBE_EXIT } from './gpu-targets.js';

/** The limits the kernels' tiling and splitting depend on, in the order printed. */
const LIMITS = [
  'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage',
] as const;

async function main(): Promise<number> {
  let gpu: GPU;
  try {
    const { create } = await import('webgpu');
    gpu = create([]);
  } catch (error) {
    process.stdout.write(`adapter: Dawn did not load: ${(error as Error).message}\n`);
    return PROBE_EXIT.dawnFailed;
  }
  // The default request first (Dawn skips CPU adapters there), then a fallback adapter, as the backend does.
  let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) adapter = await gpu.requestAdapter({ forceFallbackAdapter: true });
  if (!adapter) {
    process.stdout.write('adapter: none (Dawn found no Vulkan device with these drivers)\n');
    return PROBE_EXIT.none;
  }
  const info = adapter.info;
  const legacy = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const summary = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? legacy),
  };
  const software = isSoftwareAdapter(summary);
  process.stdout.write(`adapter: vendor "${summary.vendor}", architecture "${summary.architecture}", device "${summary.device}", description "${summary.description}", isFallbackAdapter ${summary.isFallbackAdapter}${software ? ' (software)' : ''}\n`);
  process.stdout.write(`features: ${[...adapter.features].sort().join(', ') || 'none'}\n`);
  const limits = adapter.limits as unknown as Record<string, number>;
  process.stdout.write(`limits: ${LIMITS.map((name) => `${name} ${limits[name]}`).join(', ')}\n`);
  return software ? PROBE_EXIT.software : PROBE_EXIT.hardware;
}

// Dawn can keep the process alive after the adapter is dropped: leave explicitly.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stdout.write(`adapter: the probe failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(PROBE_EXIT.dawnFailed);
  },
);
