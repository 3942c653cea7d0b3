/*
 * The static shared-memory figures of every WebGPU matrix-kernel variant (issue 13): bank-conflict
 * ways and wavefronts per warp of each staging store and inner-loop load, FMAs per shared load,
 * workgroup memory; from the model in src/kernels/webgpu/shared-memory.ts, evaluated on the index
 * expressions the WGSL is printed from. No GPU is needed; test/kernels/shared-memory.test.ts holds
 * the bounds.
 *
 *   npm run bench:kernel-figures
 */
import { formatKernelFigures } from '../src/kernels/webgpu/kernel-variants.js';
import { recordStdout } from './record.js';

recordStdout('kernel-figures');
process.stdout.write('Shared-memory model: 32 banks of 4 bytes, warps of 32, vec4 accesses in quarter-warp phases; ways 1 = conflict-free.\n');
process.stdout.write(`${formatKernelFigures()}\n`);
