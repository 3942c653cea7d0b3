import { ShapeError } from '../../errors.js';
import { checkShape } from '../checks.js';
import { packHostData } from '../host-data.js';
import type { Backend, HostData } from '../types.js';
import { BufferUsage, MAP_MODE_READ } from './device.js';
import type { DeviceGuard } from './device-guard.js';
import type { BufferBinding } from './windows.js';
import { bufferBytes, WebGPUTensor } from './tensor.js';

const STORAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

/**
 * The backend's tensors on one device: allocation within maxBufferSize, uploads and reads, and
 * tracking, so that a tensor's buffer is freed when it is disposed, collected, or the memory is
 * destroyed. Also holds the small stand-in buffers bound where a kernel's optional operand is absent.
 */
export class DeviceMemory {
  readonly device: GPUDevice;
  /** Bound in place of an absent read-only operand. */
  readonly absentRead: BufferBinding;
  /** Bound in place of absent outputs, one per output slot (writable bindings may not alias). */
  readonly absentWrites: readonly BufferBinding[];
  readonly #owner: Backend;
  readonly #buffers = new Set<GPUBuffer>();
  readonly #collected = new FinalizationRegistry<GPUBuffer>((buffer) => {
    if (this.#buffers.delete(buffer)) buffer.destroy();
  });

  constructor(device: GPUDevice, owner: Backend) {
    this.device = device;
    this.#owner = owner;
    const standIn = (label: string): BufferBinding => ({ buffer: device.createBuffer({ size: 16, usage: BufferUsage.STORAGE, label }), offset: 0, size: 16 });
    this.absentRead = standIn('absent operand');
    this.absentWrites = [0, 1, 2].map((i) => standIn(`absent output ${i}`));
  }

  /** A new zero-filled tensor of `shape`; `what` names it in errors and buffer labels. */
  allocate(shape: readonly number[], what: string): WebGPUTensor {
    const size = checkShape(shape);
    const bytes = bufferBytes(size);
    if (bytes > this.device.limits.maxBufferSize) {
      throw new ShapeError(`${what} [${shape.join(', ')}] takes ${4 * size} bytes, more than the device's maxBufferSize (${this.device.limits.maxBufferSize})`);
    }
    return this.#track(shape, this.device.createBuffer({ size: bytes, usage: STORAGE, label: what }));
  }

  /** A new tensor holding `data`. */
  upload(data: HostData, shape?: readonly number[]): WebGPUTensor {
    const packed = packHostData(data, shape);
    const bytes = bufferBytes(packed.values.length);
    if (bytes > this.device.limits.maxBufferSize) {
      throw new ShapeError(`a tensor of shape [${packed.shape.join(', ')}] exceeds the device's maxBufferSize (${this.device.limits.maxBufferSize} bytes)`);
    }
    const buffer = this.device.createBuffer({ size: bytes, usage: STORAGE, mappedAtCreation: true, label: 'tensor' });
    new Float32Array(buffer.getMappedRange()).set(packed.values);
    buffer.unmap();
    return this.#track(packed.shape, buffer);
  }

  /** Copies `source` back to the host through a staging buffer (into `into` when given), awaiting the GPU through `guard`. */
  async read(source: WebGPUTensor, guard: DeviceGuard, into?: Float32Array): Promise<Float32Array> {
    const out = into ?? new Float32Array(source.size);
    const bytes = 4 * source.size;
    const staging = this.device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'read' });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(source.buffer, 0, staging, 0, bytes);
      this.device.queue.submit([encoder.finish()]);
      await guard.await(staging.mapAsync(MAP_MODE_READ));
      out.set(new Float32Array(staging.getMappedRange(), 0, source.size));
      staging.unmap();
    } finally {
      staging.destroy();
    }
    return out;
  }

  #track(shape: readonly number[], buffer: GPUBuffer): WebGPUTensor {
    this.#buffers.add(buffer);
    const tensor = new WebGPUTensor(this.#owner, shape, buffer, (t) => {
      this.#buffers.delete(t.buffer);
      this.#collected.unregister(t);
    });
    this.#collected.register(tensor, buffer, tensor);
    return tensor;
  }

  /** Destroys every tensor's buffer and the stand-ins. */
  destroy(): void {
    for (const buffer of this.#buffers) buffer.destroy();
    this.#buffers.clear();
    this.absentRead.buffer.destroy();
    for (const binding of this.absentWrites) binding.buffer.destroy();
  }
}
