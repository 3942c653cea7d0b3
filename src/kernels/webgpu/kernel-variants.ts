import type { BlockSize } from '../../patterns/layout.js';
import type { WebGPUProgram } from './program.js';
import { BlockProductProgram } from './programs/block-product.js';
import { MatmulProgram } from './programs/matmul.js';
import { WeightGradProgram } from './programs/weight-grad.js';
import { analyseKernel, type SharedMemoryModel } from './shared-memory.js';

/** A matrix kernel variant whose shared-memory traffic can be analysed statically. */
export type AnalysableProgram = WebGPUProgram & SharedMemoryModel & { readonly sharedBytes: number };

/**
 * Every tile variant of the matrix kernels (block products wide and narrow, weight gradients, their
 * convolution forms, the dense matmul's tiles, vec4 and scalar), for the static checks and the
 * figures in the docs.
 */
export function kernelVariants(): AnalysableProgram[] {
  const sizes: BlockSize[] = [8, 16, 32];
  return [
    ...sizes.flatMap((bs) => [new BlockProductProgram(bs, 'wide'), new BlockProductProgram(bs, 'narrow')]),
    ...sizes.map((bs) => new WeightGradProgram(bs)),
    // The convolutions' kernels stage the same tiles (their rows gathered per tap).
    ...sizes.flatMap((bs) => [new BlockProductProgram(bs, 'wide', true), new BlockProductProgram(bs, 'narrow', true), new WeightGradProgram(bs, true)]),
    ...([64, 128] as const).flatMap((tile) => [new MatmulProgram(tile, true), new MatmulProgram(tile, false)]),
  ];
}

/** One line per step of every variant: ways, wavefronts per warp (ideal), FMAs per shared load, workgroup memory. */
export function formatKernelFigures(programs: readonly AnalysableProgram[] = kernelVariants()): string {
  const lines = [
    'kernel variant                 workgroup  shared memory  step                             ways  wavefronts/warp (ideal)  FMA/shared load',
  ];
  for (const program of programs) {
    const size = program.workgroupSize.join('x');
    analyseKernel(program).forEach((f, i) => {
      const head = i === 0 ? `${program.key.padEnd(30)} ${size.padStart(9)}  ${`${(program.sharedBytes / 1024).toFixed(1)} KiB`.padStart(13)}` : ' '.repeat(55);
      const wave = `${f.wavefronts.toFixed(1)} (${f.idealWavefronts.toFixed(1)})`;
      lines.push(`${head}  ${f.name.padEnd(31)}  ${String(f.ways).padStart(4)}  ${wave.padStart(23)}  ${f.fmaPerAccess === null ? '-'.padStart(15) : f.fmaPerAccess.toFixed(1).padStart(15)}`);
    });
  }
  return lines.join('\n');
}
