import { BackendUnavailableError } from '../../src/kernels/errors.js';
import { createWebGPUBackend, type WebGPUBackendOptions } from '../../src/kernels/webgpu/webgpu-backend.js';
import { WEBGPU_REQUIRED } from '../helpers/webgpu.js';
import { convConformance } from './conv-conformance.js';

/*
 * The block-sparse convolutions on WebGPU (lavapipe here): the conformance suite on the default
 * backend, and again with every column split into segments of at most 2 entries and tiny bindings
 * and grids (segment sums, weight windows, image chunks).
 */

process.env.LP_NATIVE_VECTOR_WIDTH ??= '128';

async function make(options: WebGPUBackendOptions = {}) {
  try {
    return await createWebGPUBackend(options);
  } catch (error) {
    if (error instanceof BackendUnavailableError && !WEBGPU_REQUIRED) {
      process.stderr.write(`skipping the WebGPU convolutions: ${error.message}\n`);
      return null;
    }
    throw error;
  }
}

convConformance('webgpu', () => make(), WEBGPU_REQUIRED);
convConformance('webgpu (split)', () => make({ segmentLimit: 2, maxBindingBytes: 131072, maxWorkgroups: 4 }), WEBGPU_REQUIRED);
