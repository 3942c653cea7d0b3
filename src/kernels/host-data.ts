import type { NdArray } from 'ndarray';
import { ShapeError } from '../errors.js';
import { checkShape } from './checks.js';
import type { HostData } from './types.js';

/*
 * Host data to row-major float32 values: shared by every backend's tensor().
 */

const isNdArray = (data: unknown): data is NdArray =>
  typeof data === 'object' && data !== null && 'shape' in data && 'stride' in data && 'data' in data;

/** Host data as row-major float32 values and a shape (an ndarray of any strides is packed). */
export function packHostData(data: HostData, shape?: readonly number[]): { values: Float32Array; shape: number[] } {
  if (data instanceof Float32Array) {
    if (!shape) throw new ShapeError(`a Float32Array of ${data.length} values needs a shape`);
    const size = checkShape(shape);
    if (size !== data.length) throw new ShapeError(`shape [${shape.join(', ')}] holds ${size} values but the Float32Array has ${data.length}`);
    return { values: data, shape: [...shape] };
  }
  if (!isNdArray(data)) throw new ShapeError('tensor data must be a Float32Array or an ndarray');
  const own = [...data.shape];
  checkShape(own, 'ndarray shape');
  if (shape && (shape.length !== own.length || shape.some((d, i) => d !== own[i]))) {
    throw new ShapeError(`shape [${shape.join(', ')}] differs from the ndarray's shape [${own.join(', ')}]`);
  }
  const size = own.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  const source = data.data as ArrayLike<number>;
  const stride = data.stride;
  const dims = own.length;
  if (size === 0) return { values, shape: own };
  // Odometer over the index, innermost dimension fastest; no per-element allocation.
  const index = new Int32Array(dims);
  let at = data.offset;
  for (let i = 0; i < size; i++) {
    values[i] = source[at];
    for (let d = dims - 1; d >= 0; d--) {
      index[d]++;
      at += stride[d];
      if (index[d] < own[d]) break;
      at -= stride[d] * own[d];
      index[d] = 0;
    }
  }
  return { values, shape: own };
}
