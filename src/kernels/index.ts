export * from './types.js';
export * from './errors.js';
export * from './training-ops.js';
export { getBackend, BACKEND_CHOICES, type BackendChoice, type GetBackendOptions } from './get-backend.js';
export { createCpuBackend, CpuBackend, type CpuBackendOptions, type CpuStats } from './cpu/cpu-backend.js';
export { OutOfMemoryError } from './cpu/memory.js';
export { WorkerError } from './cpu/errors.js';
export { createWebGPUBackend, probeWebGPU, WebGPUBackend, type WebGPUBackendOptions, type WebGPUStats, type AdapterSummary, type WebGPUProbe } from './webgpu/webgpu-backend.js';
export { WebGPUError } from './webgpu/errors.js';
export { referenceForward, referenceBackwardData, referenceWeightGrad, referenceMatmul } from './reference.js';
export {
  runKernelBench, benchCases, benchLayout, timeCalls, timeCallsBoth, checkBenchGrid, FULL_BENCH_GRID, GPU_BENCH_GRID, SHORT_BENCH_GRID, BENCH_PRODUCTS,
  type BenchProduct, type CallTimes, type KernelBenchCase, type KernelBenchRow, type KernelBenchGrid, type KernelBenchOptions,
} from './bench.js';
