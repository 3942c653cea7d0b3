import { ShapeError } from '../errors.js';
import type { BlockLayout } from '../patterns/layout.js';
import { checkGates, checkTensor, show, type Operand, type OperandOwner } from './checks.js';
import { convOutputSize, convWeightShape, resolveConv2d, type Conv2dGeometry, type Conv2dParams, type ConvShape } from './conv.js';

/*
 * The convolutions' argument checks, shared by both backends: each calls one of these first and
 * gets the resolved geometry and the sizes back (conv.ts has the layouts of X, Y and W).
 */

/** A checked convolution: its geometry and sizes. */
export interface CheckedConv {
  readonly geometry: Conv2dGeometry;
  readonly shape: ConvShape;
}

const what = (layout: BlockLayout, g: Conv2dGeometry): string =>
  `the ${g.kernel.join(' x ')} convolution over a layout of ${layout.inBlocks} x ${layout.outBlocks} blocks of ${layout.blockSize} (C = ${layout.inFeatures}, K = ${layout.outFeatures}, nnz = ${layout.nnz})`;

/** W must be [nnz, kh, kw, bs, bs]. */
export function checkConvWeights(layout: BlockLayout, g: Conv2dGeometry, w: Operand, name = 'W'): void {
  const expected = convWeightShape(layout, g);
  if (w.shape.length !== 5 || w.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(`${name} has shape ${show(w.shape)} but ${what(layout, g)} needs ${show(expected)}`);
  }
}

/** An NHWC activation with `channels` channels; returns [N, H, W]. */
function checkImage(layout: BlockLayout, g: Conv2dGeometry, t: Operand, name: string, channels: number, side: 'C' | 'K'): [number, number, number] {
  if (t.shape.length !== 4 || t.shape[3] !== channels || t.shape.slice(0, 3).some((d) => d < 1)) {
    throw new ShapeError(`${name} has shape ${show(t.shape)} but ${what(layout, g)} needs [N, H, W, ${side} = ${channels}] with N, H, W >= 1`);
  }
  return [t.shape[0], t.shape[1], t.shape[2]];
}

function checkOptional(backend: OperandOwner, layout: BlockLayout, g: Conv2dGeometry, gates?: Operand, weights?: Operand): void {
  if (gates) {
    checkTensor(backend, gates, 'gates');
    checkGates(layout, gates);
  }
  if (weights) {
    checkTensor(backend, weights, 'weights');
    checkConvWeights(layout, g, weights, 'weights');
  }
}

/** Checks conv2d's operands: X [N, H, W, C], W, gates. */
export function checkConv2d(backend: OperandOwner, layout: BlockLayout, x: Operand, w: Operand, params: Conv2dParams, gates?: Operand): CheckedConv {
  const geometry = resolveConv2d(params);
  checkTensor(backend, x, 'X');
  checkTensor(backend, w, 'W');
  checkConvWeights(layout, geometry, w);
  checkOptional(backend, layout, geometry, gates);
  const [n, h, wd] = checkImage(layout, geometry, x, 'X', layout.inFeatures, 'C');
  const outputSize = convOutputSize(geometry, [h, wd]);
  return { geometry, shape: { n, inputSize: [h, wd], outputSize, channels: [layout.inFeatures, layout.outFeatures] } };
}

/** Checks conv2dBackwardData's operands: dY [N, Ho, Wo, K] must be the output size of `inputSize`. */
export function checkConv2dBackwardData(
  backend: OperandOwner,
  layout: BlockLayout,
  dy: Operand,
  w: Operand,
  params: Conv2dParams,
  inputSize: readonly [number, number],
  gates?: Operand,
): CheckedConv {
  const geometry = resolveConv2d(params);
  checkTensor(backend, dy, 'dY');
  checkTensor(backend, w, 'W');
  checkConvWeights(layout, geometry, w);
  checkOptional(backend, layout, geometry, gates);
  const [n, ho, wo] = checkImage(layout, geometry, dy, 'dY', layout.outFeatures, 'K');
  if (!Array.isArray(inputSize) || inputSize.length !== 2 || inputSize.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ShapeError(`conv2dBackwardData: inputSize must be [H, W] with positive integers, not ${JSON.stringify(inputSize)}`);
  }
  const outputSize = convOutputSize(geometry, inputSize);
  if (outputSize[0] !== ho || outputSize[1] !== wo) {
    throw new ShapeError(`dY has shape ${show(dy.shape)} but ${what(layout, geometry)} on an input of ${inputSize.join(' x ')} gives ${outputSize.join(' x ')} positions`);
  }
  return { geometry, shape: { n, inputSize: [inputSize[0], inputSize[1]], outputSize, channels: [layout.inFeatures, layout.outFeatures] } };
}

/** Checks conv2dWeightGrad's operands: X [N, H, W, C] and dY [N, Ho, Wo, K] of the same convolution. */
export function checkConv2dWeightGrad(backend: OperandOwner, layout: BlockLayout, x: Operand, dy: Operand, params: Conv2dParams, gates?: Operand, weights?: Operand): CheckedConv {
  const geometry = resolveConv2d(params);
  checkTensor(backend, x, 'X');
  checkTensor(backend, dy, 'dY');
  checkOptional(backend, layout, geometry, gates, weights);
  const [n, h, wd] = checkImage(layout, geometry, x, 'X', layout.inFeatures, 'C');
  const [m, ho, wo] = checkImage(layout, geometry, dy, 'dY', layout.outFeatures, 'K');
  const outputSize = convOutputSize(geometry, [h, wd]);
  if (m !== n || outputSize[0] !== ho || outputSize[1] !== wo) {
    throw new ShapeError(`X has shape ${show(x.shape)} and dY has shape ${show(dy.shape)}, but ${what(layout, geometry)} of X gives [${n}, ${outputSize.join(', ')}, ${layout.outFeatures}]`);
  }
  return { geometry, shape: { n, inputSize: [h, wd], outputSize, channels: [layout.inFeatures, layout.outFeatures] } };
}
