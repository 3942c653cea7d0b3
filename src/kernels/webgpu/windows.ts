import { ShapeError } from '../../errors.js';

/*
 * Splitting work to fit the device's limits. A storage binding may not exceed
 * maxStorageBufferBindingSize, its offset must be a multiple of minStorageBufferOffsetAlignment,
 * and a dispatch may not exceed maxComputeWorkgroupsPerDimension along any axis. Each kernel
 * therefore reads its operands through windows: a binding that starts at an aligned offset at or
 * before the first element it needs, plus the index of that element within the binding (a uniform).
 */

/** A buffer range bound to one storage binding. */
export interface BufferBinding {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

/** The limits that shape the splitting. */
export interface SplitLimits {
  /** Largest storage binding, in bytes (the device's, or smaller as a test hook). */
  readonly maxBindingBytes: number;
  /** minStorageBufferOffsetAlignment, in bytes. */
  readonly offsetAlignment: number;
  /** maxComputeWorkgroupsPerDimension. */
  readonly maxWorkgroups: number;
}

/** A binding covering float32/i32 elements [start, start + count) and where `start` lies in it. */
export interface Window {
  readonly binding: BufferBinding;
  /** Index of element `start` within the binding, in elements. */
  readonly first: number;
}

/** Bytes a window may take beyond its elements (alignment of its start, rounding of its size). */
export const windowSlack = (limits: SplitLimits): number => Math.max(limits.offsetAlignment, 16) + 16;

/**
 * The window of `buffer` holding elements [start, start + count). Its offset is aligned down to
 * the device's alignment (and to 16 bytes, so vec4 views stay aligned); its size is rounded up to
 * 16 bytes within the buffer.
 */
export function bufferWindow(buffer: GPUBuffer, start: number, count: number, limits: SplitLimits): Window {
  const alignment = Math.max(limits.offsetAlignment, 16);
  const startBytes = 4 * start;
  const offset = Math.floor(startBytes / alignment) * alignment;
  const end = Math.min(Math.ceil((startBytes + 4 * Math.max(count, 1)) / 16) * 16, buffer.size);
  const size = end - offset;
  if (size > limits.maxBindingBytes) {
    throw new ShapeError(`a binding of ${size} bytes exceeds the device's maxStorageBufferBindingSize (${limits.maxBindingBytes}); the split plan is wrong`);
  }
  return { binding: { buffer, offset, size }, first: (startBytes - offset) / 4 };
}

/** The whole buffer as one window (for small operands: gates, tables). */
export function wholeBuffer(buffer: GPUBuffer, limits: SplitLimits, what: string): Window {
  if (buffer.size > limits.maxBindingBytes) {
    throw new ShapeError(`${what} takes ${buffer.size} bytes, more than the device's maxStorageBufferBindingSize (${limits.maxBindingBytes})`);
  }
  return { binding: { buffer, offset: 0, size: buffer.size }, first: 0 };
}

/**
 * How many units (rows, blocks) of `unitBytes` each fit in one binding, at most `total`; throws
 * when not even one fits.
 */
export function unitsPerWindow(total: number, unitBytes: number, limits: SplitLimits, what: string): number {
  const fit = Math.floor((limits.maxBindingBytes - windowSlack(limits)) / unitBytes);
  if (fit < 1) {
    throw new ShapeError(`one ${what} takes ${unitBytes} bytes, more than the device's maxStorageBufferBindingSize (${limits.maxBindingBytes}) allows in one binding`);
  }
  return Math.min(total, fit);
}

/** [start, end) ranges of `chunk` covering [0, total). */
export function ranges(total: number, chunk: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let start = 0; start < total; start += chunk) out.push([start, Math.min(total, start + chunk)]);
  return out;
}

/**
 * A chunk of at most `value` units out of `total`, rounded down to a multiple of `step` (a tile)
 * when at least one step fits, else to a multiple of `minStep` (vec4 alignment); `total` when all fit.
 */
export function roundChunk(value: number, total: number, step: number, minStep: number): number {
  if (value >= total) return total;
  if (value >= step) return Math.floor(value / step) * step;
  return Math.floor(value / minStep) * minStep;
}
