import { ShapeError } from '../../errors.js';
import { resolveConv2d, type Conv2dGeometry, type Conv2dParams } from '../../kernels/conv.js';
import type { Backend, Tensor, WeightGradOptions, WeightGradResult } from '../../kernels/types.js';
import type { BlockLayout } from '../../patterns/layout.js';
import { BlockSparseLayer, type BlockSparseLayerOptions } from './block-sparse-layer.js';

/** Options of `BlockSparseConv2d`: the geometry (kernel, stride 1, padding 0, dilation 1) and BlockSparseLayerOptions (bias, l0, fixedLayout, seed). */
export interface BlockSparseConv2dOptions extends Conv2dParams, BlockSparseLayerOptions {}

/** Checks that x is NHWC [N, H, W, channels] with N, H, W >= 1. */
export function checkImageInput(x: Tensor, channels: number, layer: string): void {
  if (x.shape.length !== 4 || x.shape[3] !== channels || x.shape.slice(0, 3).some((d) => d < 1)) {
    throw new ShapeError(`${layer}: input has shape [${x.shape.join(', ')}] but the layer needs NHWC [N, H, W, ${channels}] with N, H, W >= 1`);
  }
}

/**
 * A block-sparse 2-D convolution y = conv(x, g W) + b on NHWC activations (src/kernels/conv.ts):
 * sparse over channel blocks, dense in space. Input channel block c feeds output channel block k
 * where the layout has block b = (c, k); block b holds a [kh, kw, bs, bs] weight (tap (i, j) a
 * bs x bs matrix, input channel down, output channel across), so W is [nnz, kh, kw, bs, bs] and
 * x [N, H, W, C = inBlocks bs] gives y [N, Ho, Wo, K = outBlocks bs]. Forward by the backend's
 * conv2d, backward by conv2dBackwardData and conv2dWeightGrad (with the gate gradient for L0);
 * the bias is per output channel (addBias over the last dimension). Initialised as nn.Conv2d but
 * with each output channel's real fan-in, kh kw bs x (input blocks feeding its block)
 * (BlockSparseLayer). Everything else (L0 gates, `setBlocks`, the dense gradient norms RigL
 * reads) is BlockSparseLayer's, so pruning, regrowth and L0 work on it as on BlockSparseLinear.
 */
export class BlockSparseConv2d extends BlockSparseLayer {
  readonly kind = 'block-sparse-conv2d';
  /** The resolved geometry: kernel, stride, padding, dilation, each [height, width]. */
  readonly geometry: Conv2dGeometry;

  constructor(backend: Backend, layout: BlockLayout, options: BlockSparseConv2dOptions) {
    const geometry = resolveConv2d(options);
    const [kh, kw] = geometry.kernel;
    const bs = layout.blockSize;
    super(backend, layout, [kh, kw, bs, bs], kh * kw * bs, options, 'BlockSparseConv2d');
    this.geometry = geometry;
  }

  protected checkInput(x: Tensor): void {
    checkImageInput(x, this.inFeatures, 'BlockSparseConv2d');
  }

  protected product(x: Tensor, gates: Tensor | null): Promise<Tensor> {
    return this.backend.conv2d(this.layout, x, this.weight.value, { ...this.geometry, ...(gates ? { gates } : {}) });
  }

  protected productTranspose(dy: Tensor, x: Tensor | null, gates: Tensor | null): Promise<Tensor> {
    if (!x) throw new ShapeError('BlockSparseConv2d: the input gradient needs the forward\'s input (its spatial size)');
    const inputSize: [number, number] = [x.shape[1], x.shape[2]];
    return this.backend.conv2dBackwardData(this.layout, dy, this.weight.value, { ...this.geometry, inputSize, ...(gates ? { gates } : {}) });
  }

  protected productWeightGrad(layout: BlockLayout, x: Tensor, dy: Tensor, options: WeightGradOptions): Promise<WeightGradResult> {
    return this.backend.conv2dWeightGrad(layout, x, dy, { ...this.geometry, ...options });
  }
}
