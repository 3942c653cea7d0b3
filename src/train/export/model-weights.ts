/**
 * The weights of a model read off its backend for export (safetensors, ONNX): each layer's
 * tensors as host arrays, with the test-time L0 gates folded into the blocks they scale, so
 * that a reader gets the model's evaluation-mode function without knowing about gates.
 */
import type { Tensor } from '../../kernels/types.js';
import type { BlockLayout } from '../../patterns/layout.js';
import { BlockSparseLayer } from '../layers/block-sparse-layer.js';
import { BlockSparseConv2d } from '../layers/block-sparse-conv2d.js';
import { Linear } from '../layers/linear.js';

/** A dense weight W [inFeatures, outFeatures] (y = x W), row-major. */
export interface DenseWeight {
  readonly kind: 'dense';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly values: Float32Array;
}

/**
 * A block-sparse weight: its layout and its present blocks in the layout's block-id order, each
 * `blockShape` row-major ([bs, bs] for a product, [kh, kw, bs, bs] for a convolution; input
 * feature within the block before output feature), L0 gates folded in.
 */
export interface BlockWeight {
  readonly kind: 'blocks';
  readonly layout: BlockLayout;
  readonly blockShape: readonly number[];
  readonly values: Float32Array;
}

/** A weight as export reads it. */
export type ExportedWeight = DenseWeight | BlockWeight;

/** The values of a tensor as a new Float32Array. */
export async function readTensor(t: Tensor): Promise<Float32Array> {
  return Float32Array.from(await t.backend.read(t));
}

/** The test-time gates of a block-sparse layer ([nnz], in [0, 1]), or null without L0 gates. */
export async function testTimeGates(layer: BlockSparseLayer): Promise<Float32Array | null> {
  if (!layer.logAlpha || !layer.hardConcrete) return null;
  const gates = await layer.backend.hardConcreteGates(layer.logAlpha.value, null, layer.hardConcrete);
  try {
    return await readTensor(gates);
  } finally {
    gates.dispose();
  }
}

/** The weight of a dense or block-sparse product or convolution, gates folded into the blocks. */
export async function readWeight(layer: Linear | BlockSparseLayer): Promise<ExportedWeight> {
  if (layer instanceof Linear) return { kind: 'dense', inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, values: await readTensor(layer.weight.value) };
  const values = await readTensor(layer.weight.value);
  const gates = await testTimeGates(layer);
  const perBlock = layer.weightsPerBlock;
  if (gates) {
    for (let b = 0; b < gates.length; b++) {
      const g = gates[b];
      for (let i = b * perBlock; i < (b + 1) * perBlock; i++) values[i] *= g;
    }
  }
  const bs = layer.layout.blockSize;
  const blockShape = layer instanceof BlockSparseConv2d ? [...layer.geometry.kernel, bs, bs] : [bs, bs];
  return { kind: 'blocks', layout: layer.layout, blockShape, values };
}

/**
 * A block weight as a dense one, zeros where blocks are absent: W [inFeatures, outFeatures] for a
 * product, [kh, kw, inChannels, outChannels] (HWIO) for a convolution.
 */
export function densify(weight: BlockWeight): Float32Array {
  const { layout, blockShape, values } = weight;
  const bs = layout.blockSize;
  const taps = blockShape.length === 4 ? blockShape[0] * blockShape[1] : 1;
  const cin = layout.inFeatures;
  const cout = layout.outFeatures;
  const out = new Float32Array(taps * cin * cout);
  const { rowPtr, colIdx } = layout;
  for (let c = 0; c < layout.inBlocks; c++) {
    for (let b = rowPtr[c]; b < rowPtr[c + 1]; b++) {
      const k = colIdx[b];
      for (let t = 0; t < taps; t++) {
        const block = (b * taps + t) * bs * bs;
        for (let i = 0; i < bs; i++) {
          const row = (t * cin + c * bs + i) * cout + k * bs;
          out.set(values.subarray(block + i * bs, block + (i + 1) * bs), row);
        }
      }
    }
  }
  return out;
}
