import { afterAll } from 'vitest';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';

/** Options of createCpuBackend. */
export type CpuOptions = Parameters<typeof createCpuBackend>[0];

/** The CPU backends the thread-count tests compare: one thread, two (every phase split), two with every unit on the worker. */
export const CPU_THREAD_VARIANTS = {
  one: { threads: 1 },
  two: { threads: 2, minParallelFlops: 0 },
  workersOnly: { threads: 2, minParallelFlops: 0, callerWorks: false },
} as const satisfies Record<string, CpuOptions>;

/**
 * A maker of CPU backends for the tests of the enclosing describe block: every backend it makes is
 * disposed in afterAll.
 */
export function cpuBackendsForTests(): (options: CpuOptions) => Promise<CpuBackend> {
  const backends: CpuBackend[] = [];
  afterAll(async () => {
    await Promise.all(backends.map((b) => b.dispose()));
  });
  return async (options) => {
    const backend = await createCpuBackend(options);
    backends.push(backend);
    return backend;
  };
}
