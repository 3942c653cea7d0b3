import { BlocksparseError } from '../../errors.js';
import { DeviceLostError } from '../errors.js';
import { WebGPUError } from './errors.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref?.());

/**
 * Watches a device for the three ways it stops taking work: disposal, loss (a driver reset, or
 * `destroy`), and an uncaptured WebGPU error (reported by the next call). Every GPU promise is
 * awaited through it, so that nothing hangs on a dead device.
 */
export class DeviceGuard {
  readonly device: GPUDevice;
  readonly #lostSignal: Promise<never>;
  #lost: DeviceLostError | null = null;
  #pendingError: WebGPUError | null = null;
  #disposed = false;

  constructor(device: GPUDevice) {
    this.device = device;
    this.#lostSignal = device.lost.then((info) => {
      this.#lost ??= new DeviceLostError(info.reason ?? 'unknown', info.message || 'the GPU device is gone');
      throw this.#lost;
    });
    this.#lostSignal.catch(() => undefined);
    device.onuncapturederror = (event: GPUUncapturedErrorEvent) => {
      const kind = event.error.constructor.name.replace(/^GPU|Error$/g, '').replace('OutOfMemory', 'out-of-memory').toLowerCase();
      this.#pendingError ??= new WebGPUError(kind || 'uncaptured', event.error.message);
    };
  }

  /** Whether the device can still take work (not disposed, not lost). */
  get usable(): boolean {
    return !this.#disposed && this.#lost === null;
  }

  /** Throws when the device cannot take work: disposed, lost, or an earlier uncaptured WebGPU error (reported once). */
  check(): void {
    if (this.#disposed) throw new DeviceLostError('destroyed', 'the backend was disposed');
    if (this.#lost) throw this.#lost;
    const pending = this.#pendingError;
    if (pending) {
      this.#pendingError = null;
      throw pending;
    }
  }

  /** Awaits a GPU promise, but rejects with DeviceLostError as soon as the device is lost. */
  async await<T>(promise: Promise<T>): Promise<T> {
    promise.catch(() => undefined);
    try {
      return await Promise.race([promise, this.#lostSignal]);
    } catch (error) {
      // A rejection caused by a loss can come just before the loss is reported.
      await Promise.race([this.#lostSignal.catch(() => undefined), sleep(100)]);
      if (this.#lost) throw this.#lost;
      if (error instanceof BlocksparseError) throw error;
      throw new WebGPUError('internal', (error as Error).message);
    }
  }

  /** Waits (at most `timeoutMs`) until the device's loss is reported. */
  async lost(timeoutMs: number): Promise<void> {
    await Promise.race([this.#lostSignal.catch(() => undefined), sleep(timeoutMs)]);
  }

  /** Marks the device disposed (every later `check` throws) and stops listening for its errors. */
  dispose(): void {
    this.#disposed = true;
    this.device.onuncapturederror = null;
  }
}
