import { afterAll, beforeAll, type TestContext } from 'vitest';
import { BackendUnavailableError } from '../../src/kernels/errors.js';
import type { Backend } from '../../src/kernels/types.js';
import { createWebGPUBackend, type WebGPUBackend, type WebGPUBackendOptions } from '../../src/kernels/webgpu/webgpu-backend.js';

/** Whether the run demands WebGPU (CI sets REQUIRE_WEBGPU=1: no adapter is then a failure, not a skip). */
export const WEBGPU_REQUIRED = process.env.REQUIRE_WEBGPU === '1';

/**
 * A WebGPU backend for the tests of the enclosing describe block: created in beforeAll (null, with
 * a line on stderr naming `what`, when there is no adapter and WebGPU is not required), disposed
 * in afterAll. Returns its getter. lavapipe runs with 128-bit vectors unless told otherwise.
 */
export function webgpuForTests(what: string): () => Backend | null {
  process.env.LP_NATIVE_VECTOR_WIDTH ??= '128';
  let gpu: Backend | null = null;
  beforeAll(async () => {
    gpu = await makeWebGPU({}, what);
  });
  afterAll(async () => {
    await gpu?.dispose();
  });
  return () => gpu;
}

/** The backend, or null after skipping the running test when there is none. */
export function gpuOrSkip(gpu: () => Backend | null, context: TestContext): Backend | null {
  const backend = gpu();
  if (!backend) context.skip('no WebGPU adapter here');
  return backend;
}

/**
 * A WebGPU backend with `options` (lavapipe runs with 128-bit vectors unless told otherwise), or
 * null, with a line on stderr naming `what`, when there is no adapter and WebGPU is not required.
 */
export async function makeWebGPU(options: WebGPUBackendOptions = {}, what = 'tests'): Promise<WebGPUBackend | null> {
  process.env.LP_NATIVE_VECTOR_WIDTH ??= '128';
  try {
    return await createWebGPUBackend(options);
  } catch (error) {
    if (!(error instanceof BackendUnavailableError) || WEBGPU_REQUIRED) throw error;
    process.stderr.write(`skipping the WebGPU ${what}: ${error.message}\n`);
    return null;
  }
}
