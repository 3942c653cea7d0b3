import type { Backend, Tensor, WeightGradOptions, WeightGradResult } from '../../kernels/types.js';
import type { BlockLayout } from '../../patterns/layout.js';
import { BlockSparseLayer, type BlockSparseLayerOptions } from './block-sparse-layer.js';
import type { Projection } from './layer.js';
import { checkLayerInput } from './linear.js';

export { blockMapOf, hardConcreteConstants, type BlockMap, type L0GateOptions } from './block-sparse-layer.js';

/** Options of `BlockSparseLinear`: bias (default true), L0 gates, a fixed layout, the seed (BlockSparseLayerOptions). */
export type BlockSparseLinearOptions = BlockSparseLayerOptions;

/**
 * A block-sparse layer y = x W + b whose W holds only the layout's present blocks
 * ([nnz, bs, bs], block-id order), run by the backend's block-sparse kernels. Initialised as
 * nn.Linear but with each output feature's real fan-in: the weights and bias of output block k
 * are uniform in [-1/sqrt(f_k), 1/sqrt(f_k)] with f_k = bs x (input blocks feeding k); an output
 * block fed by nothing gets a zero bias. With `l0`, block b is used as g_b W_b with a
 * hard-concrete gate g_b: sampled in training, deterministic in evaluation; log alpha is a
 * parameter trained through the gate gradient of the weight-gradient kernel. Pruning, regrowth
 * and L0 change the layout in place with `setBlocks` (the Parameter objects stay the same); what
 * it shares with the block-sparse convolution is `BlockSparseLayer`'s. As a `Projection` it can
 * be applied many times per pass (an LSTM's weights).
 */
export class BlockSparseLinear extends BlockSparseLayer implements Projection {
  readonly kind = 'block-sparse-linear';

  constructor(backend: Backend, layout: BlockLayout, options: BlockSparseLinearOptions = {}) {
    super(backend, layout, [layout.blockSize, layout.blockSize], layout.blockSize, options, 'BlockSparseLinear');
  }

  protected checkInput(x: Tensor): void {
    checkLayerInput(x, this.inFeatures, 'BlockSparseLinear');
  }

  protected product(x: Tensor, gates: Tensor | null): Promise<Tensor> {
    return this.backend.forward(this.layout, x, this.weight.value, gates ? { gates } : {});
  }

  protected productTranspose(dy: Tensor, _x: Tensor | null, gates: Tensor | null): Promise<Tensor> {
    return this.backend.backwardData(this.layout, dy, this.weight.value, gates ? { gates } : {});
  }

  protected productWeightGrad(layout: BlockLayout, x: Tensor, dy: Tensor, options: WeightGradOptions): Promise<WeightGradResult> {
    return this.backend.weightGrad(layout, x, dy, options);
  }

  /** x (g W) with this pass's gates (Projection). */
  apply(x: Tensor): Promise<Tensor> {
    return this.product(x, this.currentPass('apply').gates);
  }

  /** dy (g W)^T with this pass's gates (Projection). */
  applyTranspose(dy: Tensor): Promise<Tensor> {
    return this.productTranspose(dy, null, this.currentPass('applyTranspose').gates);
  }
}
