import { BlocksparseError } from '../../errors.js';

/**
 * WebGPU reported an error that is not a device loss: a validation error (a bug here, or a
 * binding over the device's limits), an out-of-memory error, or an internal error of the driver.
 * `kind` is 'validation', 'out-of-memory' or 'internal'.
 */
export class WebGPUError extends BlocksparseError {
  readonly kind: string;
  constructor(kind: string, message: string) {
    super('E_WEBGPU', `WebGPU ${kind} error: ${message}`);
    this.kind = kind;
  }
}
