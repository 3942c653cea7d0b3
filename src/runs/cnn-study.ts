import { ParameterError } from '../errors.js';
import type { Backend } from '../kernels/types.js';
import type { BlockLayout, BlockSize } from '../patterns/layout.js';
import { buildPatternSpec } from '../patterns/spec.js';
import { buildCNN } from '../train/cnn.js';
import { BlockSparseConv2d } from '../train/layers/block-sparse-conv2d.js';
import type { Dataset } from '../train/data/dataset.js';
import { train } from '../train/loop.js';
import { parameterCount, type LayoutRequest } from '../train/model.js';
import { Adam } from '../train/optimizers.js';
import { meanSd, summarizeStudy } from './study.js';

/*
 * The CNN study of issue 14: a dense CNN against block-sparse CNNs with (about) the same weight
 * count that are (a) wider (twice the channels at a quarter of the blocks) or (b) deeper (two
 * convolutions per stage at the density that keeps the count), with Watts-Strogatz and random
 * channel layouts, over several seeds: test accuracy, weights, seconds per epoch. The stem (from
 * the image's one channel) and the classifier stay dense. Used by bench/cnn-study.ts and the
 * small-world CNN notebook.
 */

/** One model of the study. */
export interface CnnStudyModel {
  name: string;
  channels: number[];
  /** Convolutions per stage. */
  depth: number;
  /** Pattern of the block-sparse convolutions' layouts ('watts-strogatz' or 'random'), at `density`; null: dense. */
  pattern: 'watts-strogatz' | 'random' | null;
  /** Fraction of channel blocks present in every block-sparse convolution. */
  density: number;
}

/** The study's configuration. */
export interface CnnStudyConfig {
  models: CnnStudyModel[];
  seeds: number[];
  epochs: number;
  batchSize: number;
  lr: number;
  blockSize: BlockSize;
}

/** Weights of the convolutions after the stem, for `channels` and `depth` (3 x 3 kernels). */
export function convWeights(channels: readonly number[], depth: number, density = 1): number {
  let total = 0;
  channels.forEach((to, s) => {
    for (let d = 0; d < depth; d++) {
      const from = d > 0 ? to : s > 0 ? channels[s - 1] : channels[0];
      total += 9 * from * to;
    }
  });
  return total * density;
}

/**
 * The default study: dense channels 32, 64 (one convolution per stage) against the same weight
 * count of convolutions (a) wider, channels 64, 128 at density 1/4, and (b) deeper, channels 32,
 * 64 with two convolutions per stage at density 3/8; blocks of 8.
 */
export function defaultCnnStudy(options: { epochs?: number; seeds?: number } = {}): CnnStudyConfig {
  const base = [32, 64];
  const wide = [64, 128];
  const dense = convWeights(base, 1);
  const wider = dense / convWeights(wide, 1);
  const deeper = dense / convWeights(base, 2);
  return {
    models: [
      { name: 'dense 32-64', channels: base, depth: 1, pattern: null, density: 1 },
      { name: 'wider, watts-strogatz', channels: wide, depth: 1, pattern: 'watts-strogatz', density: wider },
      { name: 'wider, random', channels: wide, depth: 1, pattern: 'random', density: wider },
      { name: 'deeper, watts-strogatz', channels: base, depth: 2, pattern: 'watts-strogatz', density: deeper },
      { name: 'deeper, random', channels: base, depth: 2, pattern: 'random', density: deeper },
    ],
    seeds: Array.from({ length: options.seeds ?? 3 }, (_v, i) => i),
    epochs: options.epochs ?? 2,
    batchSize: 64,
    lr: 2e-3,
    blockSize: 8,
  };
}

/**
 * A layout of `pattern` for one convolution with about `density` of its blocks: random at that
 * density; Watts-Strogatz (p = 0.1) with the even degree k, and with or without the diagonal,
 * whose layout's block count is closest to density x inBlocks x outBlocks (the first found on a tie).
 */
export function studyLayout(pattern: 'watts-strogatz' | 'random', density: number, request: LayoutRequest, seed: string): BlockLayout {
  const { inBlocks, outBlocks, blockSize } = request;
  if (pattern === 'random') return buildPatternSpec(`random:density=${density}`, { inBlocks, outBlocks, blockSize, seed });
  const target = density * inBlocks * outBlocks;
  let best: BlockLayout | null = null;
  for (let k = 2; k < Math.max(inBlocks, outBlocks); k += 2) {
    for (const diagonal of [false, true]) {
      let layout: BlockLayout;
      try {
        layout = buildPatternSpec(`watts-strogatz:k=${k},p=0.1,diagonal=${diagonal}`, { inBlocks, outBlocks, blockSize, seed });
      } catch (error) {
        if (error instanceof ParameterError) continue;
        throw error;
      }
      if (!best || Math.abs(layout.nnz - target) < Math.abs(best.nnz - target)) best = layout;
    }
  }
  if (!best) throw new ParameterError('channels', 'at least 3 channel blocks per convolution for Watts-Strogatz layouts', `${inBlocks} x ${outBlocks}`, 'studyLayout');
  return best;
}

/** One trained model: accuracy, weights (parameters of the whole model), convolution weights, seconds per epoch. */
export interface CnnStudyRun {
  model: string;
  seed: number;
  testAccuracy: number;
  parameters: number;
  convWeights: number;
  secondsPerEpoch: number;
}

/** Trains every model of the study on every seed; calls `onRun` after each. */
export async function runCnnStudy(backend: Backend, config: CnnStudyConfig, data: { train: Dataset; test: Dataset }, onRun?: (run: CnnStudyRun) => void): Promise<CnnStudyRun[]> {
  const runs: CnnStudyRun[] = [];
  for (const spec of config.models) {
    for (const seed of config.seeds) {
      const pattern = spec.pattern;
      const model = buildCNN(backend, {
        channels: spec.channels, depth: spec.depth, blockSize: config.blockSize, classes: data.train.classes, seed,
        ...(pattern ? { layout: (request: LayoutRequest) => studyLayout(pattern, spec.density, request, `${seed}#${request.role}${request.index}`) } : {}),
      });
      const optimizer = new Adam(model.parameters(), { lr: config.lr });
      const result = await train({ model, optimizer, train: data.train, test: data.test, epochs: config.epochs, batchSize: config.batchSize, seed, progressBar: false });
      const last = result.metrics[result.metrics.length - 1];
      // Every convolution but the stem (dense, fixed).
      const convs = model.layers.filter((layer): layer is BlockSparseConv2d => layer instanceof BlockSparseConv2d).slice(1);
      const run: CnnStudyRun = {
        model: spec.name, seed, testAccuracy: last.testAccuracy, parameters: parameterCount(model),
        convWeights: convs.reduce((s, layer) => s + layer.weight.value.size, 0),
        secondsPerEpoch: result.metrics.reduce((s, m) => s + m.seconds, 0) / result.metrics.length,
      };
      runs.push(run);
      onRun?.(run);
      optimizer.dispose();
      model.dispose();
    }
  }
  return runs;
}

/** Per model: summarizeStudy's figures (test accuracy mean and sd, weights, seconds per epoch) and the mean convolution weights. */
export function summarizeCnnStudy(runs: readonly CnnStudyRun[]): (ReturnType<typeof summarizeStudy>[number] & { convWeights: number })[] {
  return summarizeStudy(runs).map((row) => ({ ...row, convWeights: Math.round(meanSd(runs.filter((r) => r.model === row.model).map((r) => r.convWeights)).mean) }));
}
