import { measureLayouts, type MetricRow } from '../analysis/compare.js';
import { resolveMetrics } from '../analysis/metrics.js';
import type { Backend } from '../kernels/types.js';
import type { BlockLayout, BlockSize } from '../patterns/layout.js';
import { buildPatternSpec } from '../patterns/spec.js';
import { batchCount } from '../train/data/batches.js';
import type { Dataset } from '../train/data/dataset.js';
import type { TrainingHook } from '../train/hooks.js';
import { BlockSparseLinear } from '../train/layers/block-sparse-linear.js';
import { train } from '../train/loop.js';
import { buildMLP, parameterCount } from '../train/model.js';
import { Adam } from '../train/optimizers.js';
import { l0Hook, l0Layout } from '../train/sparsity/l0.js';
import { gradualPruning } from '../train/sparsity/prune.js';

/*
 * The study of issue 5: a dense MLP against block-sparse MLPs with (about) the same parameter
 * count but wider hidden layers, with generated layouts (Watts-Strogatz, Barabási-Albert, random,
 * banded), a magnitude-pruned one and an L0-learned one, over several seeds; then the layouts
 * themselves compared with the analysis tools. Used by bench/study.ts and notebooks/training.ipynb.
 */

/** One model of the study. */
export interface StudyModel {
  name: string;
  /** Hidden widths. */
  hidden: number[];
  /** Pattern spec of every block-sparse layer (input and hidden-to-hidden); null: a dense MLP. */
  pattern: string | null;
  /** Gradual magnitude pruning to this final sparsity (from a dense layout), over the first 75% of the run. */
  pruneTo?: number;
  /** L0 gates with this lambda (from a dense layout). */
  l0?: number;
  /** Learning-rate multiplier of the gate logits (default 10: a few epochs are short for the gates to close at Adam's step size). */
  l0LrScale?: number;
}

/** The study's configuration. */
export interface StudyConfig {
  models: StudyModel[];
  seeds: number[];
  epochs: number;
  batchSize: number;
  lr: number;
  /** Block size (16: it divides 784, so the input layer is block-sparse too). */
  blockSize: BlockSize;
}

/** The default study: dense 784-256-256-10 (269k parameters) against 784-1024-1024-10 at about 14% density (about the same count). */
export function defaultStudy(options: { epochs?: number; seeds?: number } = {}): StudyConfig {
  const wide = [1024, 1024];
  return {
    models: [
      { name: 'dense 256', hidden: [256, 256], pattern: null },
      { name: 'watts-strogatz', hidden: wide, pattern: 'watts-strogatz:k=8,p=0.1' },
      { name: 'barabasi-albert', hidden: wide, pattern: 'barabasi-albert:m=4' },
      { name: 'random', hidden: wide, pattern: 'random:density=0.1406' },
      { name: 'banded', hidden: wide, pattern: 'banded:bandwidth=4' },
      { name: 'pruned', hidden: wide, pattern: 'dense', pruneTo: 0.86 },
      { name: 'l0', hidden: wide, pattern: 'dense', l0: 2e-6 },
    ],
    seeds: Array.from({ length: options.seeds ?? 3 }, (_v, i) => i),
    epochs: options.epochs ?? 3,
    batchSize: 128,
    lr: 1e-3,
    blockSize: 16,
  };
}

/** One trained model: its accuracy, parameters (present blocks at the end), seconds per epoch, and its hidden-to-hidden layout (the learned one for L0). */
export interface StudyRun {
  model: string;
  seed: number;
  testAccuracy: number;
  parameters: number;
  secondsPerEpoch: number;
  hiddenLayout: BlockLayout | null;
}

/** Mean and sample standard deviation. */
export function meanSd(values: readonly number[]): { mean: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, sd };
}

/** Trains every model of the study on every seed; calls `onRun` after each. */
export async function runStudy(backend: Backend, config: StudyConfig, data: { train: Dataset; test: Dataset }, onRun?: (run: StudyRun) => void): Promise<StudyRun[]> {
  const runs: StudyRun[] = [];
  const steps = config.epochs * batchCount(data.train.n, config.batchSize);
  for (const spec of config.models) {
    for (const seed of config.seeds) {
      const pattern = spec.pattern;
      const model = buildMLP(backend, {
        inputs: data.train.features, hidden: spec.hidden, classes: data.train.classes, blockSize: config.blockSize, seed,
        ...(pattern ? {
          sparseInput: true,
          layout: ({ role, index, inBlocks, outBlocks, blockSize }) => buildPatternSpec(pattern, { inBlocks, outBlocks, blockSize, seed: `${seed}#${role}${index}` }),
        } : {}),
        ...(spec.l0 !== undefined ? { l0: { lrScale: spec.l0LrScale ?? 10 } } : {}),
      });
      const optimizer = new Adam(model.parameters(), { lr: config.lr });
      const sparse = model.blockSparseLayers();
      const hooks: TrainingHook[] = [];
      if (spec.l0 !== undefined) hooks.push(l0Hook({ lambda: spec.l0 }));
      if (spec.pruneTo !== undefined) {
        const every = Math.max(1, Math.floor(steps / 20));
        hooks.push(gradualPruning({ layers: sparse, schedule: { initial: 0, final: spec.pruneTo, begin: 0, end: every * Math.max(1, Math.floor((0.75 * steps) / every)), frequency: every } }));
      }
      const result = await train({ model, optimizer, train: data.train, test: data.test, epochs: config.epochs, batchSize: config.batchSize, seed, hooks, progressBar: false });
      const last = result.metrics[result.metrics.length - 1];
      const hidden = sparse.length > 1 ? sparse[1] : null;
      let hiddenLayout = hidden?.layout ?? null;
      let parameters = parameterCount(model);
      if (spec.l0 !== undefined) {
        // What the gates learned: count only blocks whose test-time gate is open.
        parameters = 0;
        for (const layer of model.layers) {
          if (!(layer instanceof BlockSparseLinear)) {
            parameters += layer.parameters().reduce((s, p) => s + p.value.size, 0);
            continue;
          }
          const learned = await l0Layout(layer, { lambda: spec.l0, step: last.step });
          parameters += learned.nnz * learned.blockSize ** 2 + layer.outFeatures;
          if (layer === hidden) hiddenLayout = learned;
        }
      }
      const run: StudyRun = {
        model: spec.name, seed, testAccuracy: last.testAccuracy, parameters,
        secondsPerEpoch: result.metrics.reduce((s, m) => s + m.seconds, 0) / result.metrics.length, hiddenLayout,
      };
      runs.push(run);
      onRun?.(run);
      optimizer.dispose();
      model.dispose();
    }
  }
  return runs;
}

/** What a study's summary reads of each run (StudyRun, CnnStudyRun). */
export type StudyRunFigures = Pick<StudyRun, 'model' | 'testAccuracy' | 'parameters' | 'secondsPerEpoch'>;

/** Per model: test accuracy mean and sd over seeds, mean parameters and seconds per epoch. */
export function summarizeStudy(runs: readonly StudyRunFigures[]): { model: string; accuracy: { mean: number; sd: number }; parameters: number; secondsPerEpoch: number; seeds: number }[] {
  const names = [...new Set(runs.map((r) => r.model))];
  return names.map((model) => {
    const rows = runs.filter((r) => r.model === model);
    return {
      model,
      accuracy: meanSd(rows.map((r) => r.testAccuracy)),
      parameters: Math.round(meanSd(rows.map((r) => r.parameters)).mean),
      secondsPerEpoch: meanSd(rows.map((r) => r.secondsPerEpoch)).mean,
      seeds: rows.length,
    };
  });
}

/** The hidden-to-hidden layouts of the first seed of each sparse model, through the analysis tools (path length, clustering, mixing depth, degree spread). */
export async function analyseStudyLayouts(runs: readonly StudyRun[]): Promise<MetricRow[]> {
  const first = new Map<string, BlockLayout>();
  for (const r of runs) if (r.hiddenLayout && !first.has(r.model)) first.set(r.model, r.hiddenLayout);
  const layouts = [...first].map(([name, layout]) => ({ name, layout }));
  return measureLayouts(layouts, { metrics: resolveMetrics(['components', 'degree-sd', 'path-length', 'clustering', 'mixing-depth']), seed: 0 });
}
