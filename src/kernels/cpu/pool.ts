import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../workers.js';
import { BackendUnavailableError } from '../errors.js';
import { WorkerError } from './errors.js';
import type { KernelExports } from './abi.js';
import { CONTROL_WORDS, FAULT, GENERATION, NEXT, PENDING, runUnit, SHUTDOWN, TOTAL, writePhase, type Phase, type ThreadKernels } from './jobs.js';
import type { SharedHeap } from './memory.js';
import { GATHER_BYTES } from './plans.js';
import type { CpuWorkerData } from './worker.js';

/** How long the calling thread blocks waiting for the workers to end a phase before it waits through the event loop. */
const BLOCKING_WAIT_MS = 20;

/** Bytes of a thread's scratch region: the 128-byte tile scratch, then the gather buffer. */
const THREAD_BYTES = 128 + GATHER_BYTES;

/** Options of the pool. */
export interface ThreadPoolOptions {
  /** Threads in all, the calling thread included. */
  threads: number;
  /** Whether the calling thread takes units too (default true; false leaves them to the workers, for tests). */
  callerWorks: boolean;
  /** Phases with less work than this run in the calling thread alone (waking the workers costs more). */
  minParallelFlops: number;
}

/**
 * The calling thread plus `threads - 1` workers, each with its own instance of the kernel module
 * over the shared memory. `run` publishes a phase in the control block, wakes the workers, works
 * on it too, and resolves when every unit is done. A worker that fails (an exception, a trap, an
 * exit) rejects the phase in flight and every later one with WorkerError: nothing waits on a dead
 * thread. Phases must not overlap (the backend runs one product at a time).
 */
export class ThreadPool {
  readonly threads: number;
  /** Phases run, and how many of them woke the workers. */
  phases = 0;
  parallelPhases = 0;
  readonly #caller: ThreadKernels;
  readonly #workers: Worker[];
  readonly #control: Int32Array;
  readonly #words: Uint32Array;
  readonly #options: ThreadPoolOptions;
  readonly #heap: SharedHeap;
  readonly #scratch: number;
  #failure: WorkerError | null = null;
  #onFailure: ((error: WorkerError) => void) | null = null;
  #closed = false;

  private constructor(heap: SharedHeap, caller: ThreadKernels, workers: Worker[], control: SharedArrayBuffer, scratch: number, options: ThreadPoolOptions) {
    this.#heap = heap;
    this.#caller = caller;
    this.#workers = workers;
    this.#control = new Int32Array(control);
    this.#words = new Uint32Array(control);
    this.#scratch = scratch;
    this.#options = options;
    this.threads = options.threads;
    workers.forEach((worker, i) => {
      worker.on('error', (error) => this.#fail(new WorkerError(i + 1, error.message)));
      worker.on('exit', (code) => {
        if (!this.#closed) this.#fail(new WorkerError(i + 1, `exited with code ${code}`));
      });
      worker.on('messageerror', (error) => this.#fail(new WorkerError(i + 1, error.message)));
    });
  }

  /** Starts the workers and waits until each has instantiated the module; BackendUnavailableError if one cannot. */
  static async create(module: WebAssembly.Module, heap: SharedHeap, kernels: KernelExports, options: ThreadPoolOptions): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(4 * CONTROL_WORDS);
    const scratch = heap.alloc(options.threads * THREAD_BYTES);
    const region = (index: number) => scratch + index * THREAD_BYTES;
    const caller: ThreadKernels = { kernels, scratch: region(0), buffer: region(0) + 128 };
    const workers: Worker[] = [];
    try {
      await Promise.all(
        Array.from({ length: options.threads - 1 }, (_, i) => {
          const data: CpuWorkerData = { module, memory: heap.memory, control, scratch: region(i + 1), buffer: region(i + 1) + 128, index: i + 1 };
          const worker = startWorker(import.meta.url, 'worker', data);
          workers.push(worker);
          return new Promise<void>((resolve, reject) => {
            worker.once('message', () => resolve());
            worker.once('error', reject);
            worker.once('exit', (code) => reject(new Error(`exited with code ${code} before it was ready`)));
          });
        }),
      );
    } catch (error) {
      await Promise.all(workers.map((worker) => worker.terminate()));
      heap.free(scratch);
      throw new BackendUnavailableError(`the cpu backend could not start its worker threads: ${(error as Error).message}`);
    }
    for (const worker of workers) {
      worker.removeAllListeners();
      // Idle workers sleep in Atomics.wait; they must not keep the process alive.
      worker.unref();
    }
    return new ThreadPool(heap, caller, workers, control, scratch, options);
  }

  /** The first worker failure, if any (the pool is then unusable). */
  get failure(): WorkerError | null {
    return this.#failure;
  }

  #fail(error: WorkerError): void {
    if (this.#failure || this.#closed) return;
    this.#failure = error;
    this.#onFailure?.(error);
    // The others may still be writing into the failed phase's buffers: stop them.
    for (const worker of this.#workers) void worker.terminate();
  }

  /** Whether `phase` runs in the calling thread alone (too little work to wake the workers for). */
  isSmall(phase: Phase): boolean {
    return this.#workers.length === 0 || phase.flops < this.#options.minParallelFlops;
  }

  /**
   * Runs `phase` now, synchronously, when it is small (or empty) and returns true; returns false,
   * having run nothing, when it needs the workers (then `run` it).
   */
  runNow(phase: Phase): boolean {
    if (this.#failure) throw this.#failure;
    if (!this.isSmall(phase)) return false;
    const total = writePhase(this.#words, phase);
    if (total === 0) return true;
    this.phases++;
    for (let u = 0; u < total; u++) runUnit(this.#caller, this.#words, u);
    return true;
  }

  /** Runs every unit of `phase`: in the calling thread alone when the phase is small, else on all threads. */
  async run(phase: Phase): Promise<void> {
    if (this.runNow(phase)) return;
    const total = writePhase(this.#words, phase);
    if (total === 0) return;
    this.phases++;
    const control = this.#control;
    this.parallelPhases++;
    Atomics.store(control, TOTAL, total);
    Atomics.store(control, NEXT, 0);
    Atomics.store(control, PENDING, this.#workers.length);
    Atomics.add(control, GENERATION, 1);
    Atomics.notify(control, GENERATION);
    let callerError: unknown = null;
    if (this.#options.callerWorks) {
      try {
        for (let u = Atomics.add(control, NEXT, 1); u < total; u = Atomics.add(control, NEXT, 1)) runUnit(this.#caller, this.#words, u);
      } catch (error) {
        callerError = error; // the workers may still write: wait for them before reporting it
      }
    }
    await this.#waitForWorkers();
    if (callerError) throw callerError;
  }

  /**
   * Resolves when PENDING reaches 0; rejects as soon as a worker fails. The workers finish their
   * last units a few microseconds after the calling thread as a rule, so it first blocks on
   * PENDING (Atomics.wait, which Node allows on the main thread) for up to BLOCKING_WAIT_MS, the
   * last worker's notify waking it at once, and only then waits through the event loop
   * (Atomics.waitAsync), where a worker's failure event can reject it.
   */
  async #waitForWorkers(): Promise<void> {
    const control = this.#control;
    const deadline = performance.now() + BLOCKING_WAIT_MS;
    for (let pending = Atomics.load(control, PENDING); pending !== 0 && performance.now() < deadline; pending = Atomics.load(control, PENDING)) {
      Atomics.wait(control, PENDING, pending, BLOCKING_WAIT_MS);
    }
    if (Atomics.load(control, PENDING) === 0) return;
    // Atomics.waitAsync does not keep Node's event loop alive, and the workers are unref'd.
    const keepAlive = setInterval(() => undefined, 2 ** 30);
    const failed = new Promise<never>((_, reject) => {
      this.#onFailure = reject;
      if (this.#failure) reject(this.#failure);
    });
    failed.catch(() => undefined);
    try {
      for (let pending = Atomics.load(control, PENDING); pending !== 0; pending = Atomics.load(control, PENDING)) {
        const wait = Atomics.waitAsync(control, PENDING, pending);
        if (wait.async) await Promise.race([wait.value, failed]);
      }
    } finally {
      this.#onFailure = null;
      clearInterval(keepAlive);
    }
  }

  /** Test hook: the next unit a worker claims throws in that worker. */
  injectFault(): void {
    Atomics.store(this.#control, FAULT, 1);
  }

  /** Stops the workers and frees the thread scratch. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    Atomics.store(this.#control, SHUTDOWN, 1);
    Atomics.add(this.#control, GENERATION, 1);
    Atomics.notify(this.#control, GENERATION);
    // A dead worker leaves PENDING above 0: release a waiter still parked on it.
    Atomics.store(this.#control, PENDING, 0);
    Atomics.notify(this.#control, PENDING);
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
    this.#heap.free(this.#scratch);
  }
}
