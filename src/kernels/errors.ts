import { BlocksparseError } from '../errors.js';

/** The requested backend cannot run here (no WebGPU adapter, no WebAssembly SIMD, ...); says why. */
export class BackendUnavailableError extends BlocksparseError {
  constructor(message: string) {
    super('E_BACKEND_UNAVAILABLE', message);
  }
}

/** The GPU device was lost (driver reset, out of memory, destroyed); the backend cannot be used any more. */
export class DeviceLostError extends BlocksparseError {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super('E_DEVICE_LOST', `WebGPU device lost (${reason}): ${message}`);
    this.reason = reason;
  }
}

/** A tensor was used after dispose(), or with a backend that did not make it. */
export class TensorError extends BlocksparseError {
  constructor(message: string) {
    super('E_TENSOR', message);
  }
}
