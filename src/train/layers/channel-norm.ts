import { ShapeError } from '../../errors.js';
import type { Backend, Tensor } from '../../kernels/types.js';
import { LayerNorm } from './layer-norm.js';

/**
 * Channel normalisation of NHWC activations: each position's C channels normalised to mean 0 and
 * variance 1 (biased, eps inside the root), then scaled by a gain (ones) and shifted by a bias
 * (zeros) per channel: PyTorch's nn.LayerNorm(C) applied to the channels-last tensor, as ConvNeXt
 * normalises. It is LayerNorm over the last dimension of x [..., C] (rank >= 2: [N, H, W, C], or
 * [N, C]), so unlike batch normalisation it keeps no running statistics and a batch's examples
 * stay independent; the gain and bias gradients sum over every position.
 */
export class ChannelNorm extends LayerNorm {
  override readonly kind = 'channel-norm';

  constructor(backend: Backend, channels: number, eps = 1e-5) {
    super(backend, channels, eps);
  }

  /** Checks the input's shape: [..., C], rank >= 2. */
  protected override checkInput(x: Tensor): void {
    if (x.shape.length < 2 || x.shape[x.shape.length - 1] !== this.inFeatures) {
      throw new ShapeError(`ChannelNorm: input has shape [${x.shape.join(', ')}] but the layer needs [..., ${this.inFeatures}] (channels last, rank >= 2)`);
    }
  }
}
