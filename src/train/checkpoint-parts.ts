import { ParameterError, ShapeError } from '../errors.js';
import type { OptimizerHyper } from './checkpoint-manifest.js';
import type { BlockSparseLayer } from './layers/block-sparse-layer.js';
import type { Sequential } from './layers/sequential.js';
import { Adam, SGD, type Optimizer } from './optimizers.js';

/*
 * What saving and restoring checkpoints share (checkpoint.ts, checkpoint-restore.ts): where each
 * block-sparse weight of a model sits, and the optimiser's record.
 */

/** A block-sparse weight of a model and where it sits: layer `layer` itself, or its weights `part` (an LSTM's). */
export interface BlockSparseSite {
  layer: number;
  part?: 'input' | 'recurrent';
  target: BlockSparseLayer;
}

/**
 * Every block-sparse weight of `model` (`Sequential.blockSparseLayers()`, those inside LSTMs
 * included), with its place, read from its weight's name: "2.weight" is layer 2 itself,
 * "1.recurrent.weight" the recurrent weights of layer 1.
 */
export function blockSparseSites(model: Sequential): BlockSparseSite[] {
  return model.blockSparseLayers().map((target) => {
    const match = /^(\d+)\.(?:(input|recurrent)\.)?weight$/.exec(target.weight.name);
    if (!match) throw new ShapeError(`checkpoint: the block-sparse weight ${target.weight.name} is not a layer's weight or an LSTM's input or recurrent weight`);
    return { layer: Number(match[1]), ...(match[2] ? { part: match[2] as 'input' | 'recurrent' } : {}), target };
  });
}

/** A site's name in messages: "layer 2" or "the recurrent weights of layer 2". */
export function siteName(site: { layer: number; part?: string }): string {
  return site.part ? `the ${site.part} weights of layer ${site.layer}` : `layer ${site.layer}`;
}

/** The optimiser's kind and hyper-parameters as a checkpoint stores them. */
export function optimizerRecord(optimizer: Optimizer): OptimizerHyper {
  if (optimizer instanceof SGD) {
    return { kind: 'sgd', lr: optimizer.lr, momentum: optimizer.momentum, nesterov: optimizer.nesterov, weightDecay: optimizer.weightDecay, steps: optimizer.steps };
  }
  if (optimizer instanceof Adam) {
    return {
      kind: optimizer.decoupled ? 'adamw' : 'adam', lr: optimizer.lr, beta1: optimizer.beta1, beta2: optimizer.beta2,
      eps: optimizer.eps, weightDecay: optimizer.weightDecay, steps: optimizer.steps,
    };
  }
  throw new ParameterError('optimizer', 'an SGD or Adam optimiser', optimizer, 'saveCheckpoint');
}

/** Whether two shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
