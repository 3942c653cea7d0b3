import { BlocksparseError } from '../../errors.js';

/** A CPU backend worker thread failed (an exception, a WebAssembly trap, an exit); the backend cannot be used any more. */
export class WorkerError extends BlocksparseError {
  /** Which worker (1 .. threads - 1; the calling thread is 0). */
  readonly worker: number;
  constructor(worker: number, reason: string) {
    super('E_WORKER', `cpu backend worker ${worker} failed: ${reason}; the backend cannot be used any more (dispose it and create another)`);
    this.worker = worker;
  }
}
