/**
 * A small convolutional classifier whose convolutions are block-sparse over channel blocks (dense
 * in space): the CNN of `blocksparse train --model cnn`.
 */
import { checkInteger, checkOneOf } from '../check.js';
import { ParameterError } from '../errors.js';
import type { ActivationKind, Backend } from '../kernels/types.js';
import { denseLayout } from '../patterns/dense.js';
import { BLOCK_SIZES, DEFAULT_BLOCK_SIZE, type BlockLayout, type BlockSize } from '../patterns/layout.js';
import type { Seed } from '../random.js';
import { Activation, ACTIVATIONS } from './layers/activation.js';
import type { L0GateOptions } from './layers/block-sparse-layer.js';
import { BlockSparseConv2d } from './layers/block-sparse-conv2d.js';
import { ChannelNorm } from './layers/channel-norm.js';
import { ImageInput } from './layers/image-input.js';
import type { Layer } from './layers/layer.js';
import { Linear } from './layers/linear.js';
import { GlobalAvgPool, MaxPool2d } from './layers/pooling.js';
import { Sequential } from './layers/sequential.js';
import { requestLayout, type LayoutFactory } from './model.js';
import { checkModelMemory, type LayerShape } from './model-memory.js';

/** The most stages (channel widths) a CNN may have: each after the first halves the image. */
export const MAX_CNN_STAGES = 8;
/** The most convolutions per stage. */
export const MAX_CNN_DEPTH = 64;

/** Options of `buildCNN`. */
export interface CNNOptions {
  /** The images' height and width (default 28, Fashion-MNIST's). */
  height?: number;
  width?: number;
  /** The images' channels in the data (default 1: grey). */
  inChannels?: number;
  /** Output classes (default 10). */
  classes?: number;
  /** The channels of each stage, in order (at least one); multiples of the block size. channels[0] is also the stem's. */
  channels: readonly number[];
  /** Block-sparse convolutions per stage (default 1): more makes a deeper network of the same widths. */
  depth?: number;
  /** The kernel's height and width, odd (default 3; padding keeps the image's size). */
  kernel?: number;
  /** Block size of the convolutions (default 32). */
  blockSize?: BlockSize;
  /**
   * The layout of each block-sparse convolution (role 'conv', index from 0 in order: C/bs x K/bs
   * channel blocks). Without it every convolution is dense, and fixed (`fixedLayout`: pruning and
   * regrowth need a layout, as the MLP's dense layers do).
   */
  layout?: LayoutFactory;
  /** Activation after every channel norm (default relu). */
  activation?: ActivationKind;
  /** Hard-concrete L0 gates on every block-sparse convolution (needs `layout`; not the stem). */
  l0?: L0GateOptions;
  /** Seed of the initial weights (layer i is seeded with "<seed>#layer<i>", as buildMLP does); default 0. */
  seed?: Seed;
}

/** `CNNOptions` checked, with their defaults. */
export interface CheckedCNNOptions {
  height: number;
  width: number;
  inChannels: number;
  classes: number;
  channels: readonly number[];
  depth: number;
  kernel: number;
  blockSize: BlockSize;
  activation: ActivationKind;
  seed: Seed;
}

/**
 * The checks `buildCNN` makes of its options before it asks for any layout (ParameterError naming
 * the option), for callers that check settings before reading their data: `channels` a non-empty
 * list of multiples of the block size, no more stages than halvings the image allows; `depth`,
 * `kernel` (odd, fitting the image) and the sizes in range; `layout` given with `l0`.
 */
export function checkCNNOptions(options: CNNOptions, context = 'buildCNN'): CheckedCNNOptions {
  if (typeof options !== 'object' || options === null) throw new ParameterError('options', 'an object {channels, ...}', options, context);
  const height = checkInteger('height', options.height ?? 28, 1, 2 ** 16, context);
  const width = checkInteger('width', options.width ?? 28, 1, 2 ** 16, context);
  const inChannels = checkInteger('inChannels', options.inChannels ?? 1, 1, 2 ** 16, context);
  const classes = checkInteger('classes', options.classes ?? 10, 1, 2 ** 24, context);
  const depth = checkInteger('depth', options.depth ?? 1, 1, MAX_CNN_DEPTH, context);
  const kernel = checkInteger('kernel', options.kernel ?? 3, 1, 63, context);
  if (kernel % 2 === 0) throw new ParameterError('kernel', 'an odd size (the padding (kernel - 1) / 2 keeps the image\'s size)', kernel, context);
  const blockSize = checkOneOf('blockSize', options.blockSize ?? DEFAULT_BLOCK_SIZE, BLOCK_SIZES, context);
  const activation = checkOneOf('activation', options.activation ?? 'relu', ACTIVATIONS, context);
  const channels = options.channels;
  if (!Array.isArray(channels) || channels.length === 0) throw new ParameterError('channels', 'a non-empty list of widths', channels, context);
  channels.forEach((c, i) => checkInteger(`channels[${i}]`, c, 1, 2 ** 20, context));
  const bad = channels.findIndex((c) => c % blockSize !== 0);
  if (bad >= 0) throw new ParameterError('channels', `widths that are multiples of the block size ${blockSize}`, `${channels.join(',')} (${channels[bad]} is not)`, context);
  if (channels.length > MAX_CNN_STAGES) throw new ParameterError('channels', `at most ${MAX_CNN_STAGES} widths`, channels.length, context);
  // Each stage after the first starts with a 2 x 2 max pooling: the image must last.
  let [h, w] = [height, width];
  for (let s = 1; s < channels.length; s++) {
    if (h < 2 || w < 2) {
      throw new ParameterError('channels', `at most ${s} widths for ${height} x ${width} images (each after the first halves the image)`, channels.join(','), context);
    }
    [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
  }
  if (options.l0 && !options.layout) throw new ParameterError('layout', "given with l0 (the gates live on block-sparse convolutions; use the 'dense' pattern to learn a layout from all blocks)", undefined, context);
  return { height, width, inChannels, classes, channels, depth, kernel, blockSize, activation, seed: options.seed ?? 0 };
}

/** One planned convolution: its stage, channels in and out, and its layout (null: not asked for yet). */
interface PlannedConv {
  stage: number;
  from: number;
  to: number;
  index: number;
  layout: BlockLayout | null;
}

/**
 * A CNN for images given as flattened rows [N, height width inChannels] (a data set's rows):
 *
 *   ImageInput (NHWC, the data's channels in the first of bs: a block-sparse convolution takes
 *   whole channel blocks) -> stem: a dense k x k convolution to channels[0] (BlockSparseConv2d on
 *   the dense layout of ceil(inChannels / bs) x channels[0] / bs blocks, fixedLayout; with one grey
 *   channel its input block holds bs - 1 zero channels, a tiny waste at 28 x 28), ChannelNorm,
 *   activation -> for each stage s: (s > 0: a 2 x 2 max pooling) then `depth` block-sparse k x k
 *   convolutions to channels[s], each followed by ChannelNorm and the activation ->
 *   GlobalAvgPool -> a dense Linear to `classes` logits.
 *
 * Convolutions are padded to keep the image's size (padding (k - 1) / 2, stride 1) and have no
 * bias (the channel norm after each removes it; its own bias takes its place). The block-sparse
 * convolutions take their layouts from `layout` (role 'conv', index 0, 1, ... in order); without
 * it they are dense and fixed. The layouts are asked for and the model's memory checked before
 * any weight is allocated. ParameterError names the option (checkCNNOptions), or `layout` when
 * the factory returns a layout of another shape (naming both sizes).
 */
export function buildCNN(backend: Backend, options: CNNOptions): Sequential {
  const context = 'buildCNN';
  const { height, width, inChannels, classes, channels, depth, kernel, blockSize: bs, activation, seed } = checkCNNOptions(options, context);
  const factory = options.layout;
  const l0 = options.l0;
  const padding = (kernel - 1) / 2;
  const inputChannels = bs * Math.ceil(inChannels / bs);
  const stemLayout = denseLayout({ inBlocks: inputChannels / bs, outBlocks: channels[0] / bs, blockSize: bs });
  const convs: PlannedConv[] = [];
  channels.forEach((to, s) => {
    for (let d = 0; d < depth; d++) convs.push({ stage: s, from: d > 0 ? to : s > 0 ? channels[s - 1] : channels[0], to, index: convs.length, layout: null });
  });
  const taps = kernel * kernel;
  const shapes = (): LayerShape[] => {
    const conv = (from: number, to: number, nnz: number, gated: boolean): LayerShape => ({
      kind: 'block-sparse-conv2d', inBlocks: from / bs, outBlocks: to / bs, blockSize: bs, nnz, bias: false, l0: gated, taps,
    });
    const out: LayerShape[] = [
      { kind: 'image-input', inChannels, channels: inputChannels },
      conv(inputChannels, channels[0], stemLayout.nnz, false), { kind: 'channel-norm', features: channels[0] }, { kind: 'activation', features: channels[0] },
    ];
    for (const c of convs) {
      // Without a factory a convolution is dense; a layout not asked for yet counts as no blocks.
      const nnz = factory ? (c.layout?.nnz ?? 0) : (c.from / bs) * (c.to / bs);
      out.push(conv(c.from, c.to, nnz, l0 !== undefined), { kind: 'channel-norm', features: c.to }, { kind: 'activation', features: c.to });
    }
    out.push({ kind: 'global-avg-pool', features: channels[channels.length - 1] }, { kind: 'linear', inFeatures: channels[channels.length - 1], outFeatures: classes, bias: true });
    return out;
  };
  checkModelMemory(shapes());
  for (const c of convs) {
    const wanted = { index: c.index, role: 'conv' as const, inBlocks: c.from / bs, outBlocks: c.to / bs, blockSize: bs };
    c.layout = factory ? requestLayout(factory, wanted, `convolution ${c.index} over channel blocks`, context) : denseLayout({ inBlocks: c.from / bs, outBlocks: c.to / bs, blockSize: bs });
  }
  checkModelMemory(shapes());

  const layers: Layer[] = [];
  const seedOf = (i: number) => `${seed}#layer${i}`;
  const geometry = { kernel, padding };
  const normAndActivation = (features: number) => layers.push(new ChannelNorm(backend, features), new Activation(backend, activation, features));
  try {
    layers.push(new ImageInput(backend, { height, width, inChannels, channels: inputChannels }));
    layers.push(new BlockSparseConv2d(backend, stemLayout, { ...geometry, bias: false, fixedLayout: true, seed: seedOf(layers.length) }));
    normAndActivation(channels[0]);
    let stage = 0;
    for (const c of convs) {
      if (c.stage !== stage) {
        layers.push(new MaxPool2d(backend, c.from, { kernel: 2 }));
        stage = c.stage;
      }
      layers.push(new BlockSparseConv2d(backend, c.layout!, {
        ...geometry, bias: false, seed: seedOf(layers.length), ...(factory ? {} : { fixedLayout: true }), ...(l0 ? { l0 } : {}),
      }));
      normAndActivation(c.to);
    }
    layers.push(new GlobalAvgPool(backend, channels[channels.length - 1]));
    layers.push(new Linear(backend, channels[channels.length - 1], classes, { seed: seedOf(layers.length) }));
    return new Sequential(layers);
  } catch (error) {
    for (const layer of layers) layer.dispose();
    throw error;
  }
}
