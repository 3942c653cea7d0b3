/*
 * A CPU backend worker thread: its own instance of the kernel module over the shared memory. It
 * says it is ready, then waits on the control block's generation word (spinning briefly after
 * each phase, then asleep); each time a phase is
 * published it claims units from the shared counter until none is left, and reports that it is
 * done by counting PENDING down (the last one wakes the calling thread). It never returns to its
 * event loop, so it takes no messages: the backend stops it with SHUTDOWN or terminate().
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FAULT, GENERATION, NEXT, PENDING, runUnit, SHUTDOWN, TOTAL, type ThreadKernels } from './jobs.js';
import type { KernelExports } from './abi.js';

/** What the pool hands each worker. */
export interface CpuWorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  scratch: number;
  buffer: number;
  index: number;
}

const data = workerData as CpuWorkerData;
const instance = new WebAssembly.Instance(data.module, { env: { memory: data.memory } });
const thread: ThreadKernels = { kernels: instance.exports as unknown as KernelExports, scratch: data.scratch, buffer: data.buffer };
const control = new Int32Array(data.control);
const words = new Uint32Array(data.control);

/** How long a worker spins on the generation word after a phase before it sleeps: a step's next phase usually comes sooner, and waking a sleeping thread costs ~25 us here. */
const SPIN_MS = 0.2;

/** Waits until the generation word moves past `seen`: spinning for SPIN_MS, then asleep. */
function awaitPhase(seen: number): void {
  const until = performance.now() + SPIN_MS;
  while (Atomics.load(control, GENERATION) === seen) {
    if (performance.now() > until) {
      Atomics.wait(control, GENERATION, seen);
      return;
    }
  }
}

let seen = Atomics.load(control, GENERATION);
parentPort!.postMessage('ready');
for (;;) {
  awaitPhase(seen);
  seen = Atomics.load(control, GENERATION);
  if (Atomics.load(control, SHUTDOWN) !== 0) break;
  const total = Atomics.load(control, TOTAL);
  for (let u = Atomics.add(control, NEXT, 1); u < total; u = Atomics.add(control, NEXT, 1)) {
    if (Atomics.load(control, FAULT) !== 0 && Atomics.compareExchange(control, FAULT, 1, 0) === 1) {
      throw new Error(`injected fault in cpu worker ${data.index} (test hook)`);
    }
    runUnit(thread, words, u);
  }
  if (Atomics.sub(control, PENDING, 1) === 1) Atomics.notify(control, PENDING);
}
