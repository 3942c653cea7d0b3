import type { WebGPUBackendOptions } from '../../src/kernels/webgpu/webgpu-backend.js';
import { makeWebGPU, WEBGPU_REQUIRED } from '../helpers/webgpu.js';
import { convConformance } from './conv-conformance.js';

/*
 * The block-sparse convolutions on WebGPU (lavapipe here): the conformance suite on the default
 * backend, and again with every column split into segments of at most 2 entries and tiny bindings
 * and grids (segment sums, weight windows, image chunks).
 */

const make = (options: WebGPUBackendOptions = {}) => makeWebGPU(options, 'convolutions');

convConformance('webgpu', () => make(), WEBGPU_REQUIRED);
convConformance('webgpu (split)', () => make({ segmentLimit: 2, maxBindingBytes: 131072, maxWorkgroups: 4 }), WEBGPU_REQUIRED);
