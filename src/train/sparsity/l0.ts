import { checkInteger, checkNumber } from '../../check.js';
import { ParameterError } from '../../errors.js';
import type { Tensor } from '../../kernels/types.js';
import type { BlockLayout } from '../../patterns/layout.js';
import type { TrainingHook } from '../hooks.js';
import { BlockSparseLayer } from '../layers/block-sparse-layer.js';
import type { Optimizer } from '../optimizers.js';
import { checkBlockSparseLayers, keepBlocks } from './blocks.js';

/**
 * L0 regularisation with hard-concrete gates per block (Louizos, Welling & Kingma 2018,
 * "Learning Sparse Neural Networks through L0 Regularization"): the penalty during training,
 * and the layout the gates learned.
 */

/** Options of `l0Hook`. */
export interface L0HookOptions {
  /** Layers made with `l0` gates (default: every gated block-sparse weight of the model being trained, those inside LSTMs included (`Sequential.blockSparseLayers`), found at each step, so the hook survives a model rebuilt from a checkpoint). */
  layers?: readonly BlockSparseLayer[];
  /** lambda of the expected-L0 penalty lambda * w * sum_b P(g_b != 0), w the weights per block (bs^2, kh kw bs^2 for a convolution) (>= 0). */
  lambda: number;
}

/** The L0 hook, which also says its lambda (for the learned layouts' provenance). */
export interface L0Hook extends TrainingHook {
  readonly lambda: number;
}

/**
 * The expected-L0 penalty as a training hook: after backward, each gated layer adds
 * lambda * w * sum_b P(g_b != 0) (w: weights per block, bs^2 or kh kw bs^2) to its log alpha gradient (`addL0Penalty`); the hook returns
 * the summed penalty ([1], on the backend) to be added to the logged loss. Raises ParameterError
 * for a given layer without gates, a model without gated layers, or a negative lambda.
 */
export function l0Hook(options: L0HookOptions): L0Hook {
  const context = 'l0Hook';
  const given = options.layers === undefined ? null : checkGated(checkBlockSparseLayers(options.layers, context), context);
  const lambda = checkNumber('lambda', options.lambda, 0, Number.MAX_VALUE, context);
  return {
    name: 'l0',
    lambda,
    async afterBackward({ model }): Promise<Tensor> {
      const layers = given ?? model.blockSparseLayers().filter((l) => l.logAlpha !== null);
      if (layers.length === 0) throw new ParameterError('layers', 'at least one block-sparse layer with l0 gates', 'none in the model', context);
      let total: Tensor | null = null;
      for (const layer of layers) {
        const penalty = await layer.addL0Penalty(lambda);
        if (!total) total = penalty;
        else {
          await layer.backend.axpy(1, penalty, total);
          penalty.dispose();
        }
      }
      return total!;
    },
  };
}

/** What a learned layout records: the lambda it was trained with and the step it was read at (null when not given). */
export interface L0LayoutInfo {
  lambda?: number;
  step?: number;
}

/**
 * The layout the gates learned: the blocks whose deterministic test-time gate
 * min(1, max(0, sigmoid(log alpha) (zeta - gamma) + gamma)) is above 0, with provenance
 * {generator: 'l0', params: {lambda, beta, gamma, zeta, step}, sources: [the layer's layout]}.
 * Raises ParameterError for a layer without gates.
 */
export async function l0Layout(layer: BlockSparseLayer, info: L0LayoutInfo = {}): Promise<BlockLayout> {
  return (await l0Blocks(layer, info)).layout;
}

/**
 * Removes the blocks whose test-time gate is 0 from the layer (weights, gate logits, optimiser
 * state), so that it runs on the learned layout; returns that layout. The remaining gates keep
 * training (or scaling the blocks at evaluation) as before.
 */
export async function l0Prune(layer: BlockSparseLayer, options: L0LayoutInfo & { optimizer?: Optimizer } = {}): Promise<BlockLayout> {
  const { layout, kept } = await l0Blocks(layer, options);
  await layer.setBlocks(layout, { kept }, options.optimizer);
  return layout;
}

/**
 * The expected density of the layer's gated layout: sum_b P(g_b != 0) over inBlocks * outBlocks
 * (so that it compares with `BlockLayout.density`; it falls as the penalty closes gates).
 */
export async function l0ExpectedDensity(layer: BlockSparseLayer): Promise<number> {
  const context = 'l0ExpectedDensity';
  checkGated([layer], context);
  const { value, grad } = await layer.backend.l0Penalty(layer.logAlpha!.value, layer.hardConcrete!);
  grad.dispose();
  const [expected] = await layer.backend.read(value);
  value.dispose();
  return expected / (layer.layout.inBlocks * layer.layout.outBlocks);
}

async function l0Blocks(layer: BlockSparseLayer, info: L0LayoutInfo): Promise<{ layout: BlockLayout; kept: Int32Array }> {
  const context = 'l0Layout';
  checkGated([layer], context);
  const lambda = info.lambda === undefined ? null : checkNumber('lambda', info.lambda, 0, Number.MAX_VALUE, context);
  const step = info.step === undefined ? null : checkInteger('step', info.step, 0, Number.MAX_SAFE_INTEGER, context);
  const gates = (await layer.testGates())!;
  let count = 0;
  for (let b = 0; b < gates.length; b++) if (gates[b] > 0) count++;
  const kept = new Int32Array(count);
  for (let b = 0, i = 0; b < gates.length; b++) if (gates[b] > 0) kept[i++] = b;
  const { beta, gamma, zeta } = layer.hardConcrete!;
  const old = layer.layout;
  const layout = keepBlocks(old, kept, { generator: 'l0', params: { lambda, beta, gamma, zeta, step }, sources: [old.provenance] });
  return { layout, kept };
}

function checkGated(layers: readonly BlockSparseLayer[], context: string): readonly BlockSparseLayer[] {
  layers.forEach((layer, i) => {
    if (!(layer instanceof BlockSparseLayer)) throw new ParameterError(`layers[${i}]`, 'a block-sparse layer (BlockSparseLinear, BlockSparseConv2d)', layer, context);
    if (!layer.logAlpha || !layer.hardConcrete) throw new ParameterError(`layers[${i}]`, 'a layer made with l0 gates', layer.kind, context);
  });
  return layers;
}
