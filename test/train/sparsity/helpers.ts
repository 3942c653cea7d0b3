import type { BlockLayout } from '../../../src/patterns/layout.js';
import type { Dataset } from '../../../src/train/data/dataset.js';
import type { StepContext, TrainingHook } from '../../../src/train/hooks.js';
import type { Sequential } from '../../../src/train/layers/sequential.js';
import type { Optimizer } from '../../../src/train/optimizers.js';

/*
 * Shared pieces of the sparsity tests: a minimal training loop that calls hooks as the real loop
 * does (afterBackward, optimiser step, afterStep), and host references for block norms.
 */

/** Full-batch training for `steps` steps from `first`, calling the hooks; returns each step's loss and afterStep events. */
export async function trainSteps(
  model: Sequential,
  optimizer: Optimizer,
  data: Dataset,
  steps: number,
  hooks: TrainingHook[],
  options: { first?: number; after?: (step: number) => Promise<void> | void } = {},
): Promise<{ losses: number[]; events: Record<string, unknown>[] }> {
  const backend = model.backend;
  const x = backend.tensor(data.images, [data.n, data.features]);
  const labels = backend.tensor(Float32Array.from(data.labels), [data.n]);
  const losses: number[] = [];
  const events: Record<string, unknown>[] = [];
  const first = options.first ?? 0;
  for (let step = first; step < first + steps; step++) {
    const logits = await model.forward(x, { training: true });
    const out = await backend.softmaxCrossEntropy(logits, labels);
    await model.backward(out.dlogits);
    const context: StepContext = { step, epoch: 0, model, optimizer, backend, loss: out.loss };
    for (const hook of hooks) {
      const extra = await hook.afterBackward?.(context);
      if (extra) {
        await backend.axpy(1, extra, out.loss);
        extra.dispose();
      }
    }
    await optimizer.step();
    for (const hook of hooks) {
      const event = await hook.afterStep?.(context);
      if (event) events.push(event);
    }
    losses.push((await backend.read(out.loss))[0]);
    for (const t of [logits, out.loss, out.dlogits, out.correct]) t.dispose();
    await options.after?.(step);
  }
  x.dispose();
  labels.dispose();
  return { losses, events };
}

/** Block norms of w ([nnz * bs * bs] row-major blocks) computed on the host in float64. */
export function hostBlockNorms(w: Float32Array, bs: number, kind: 'l2' | 'max'): Float64Array {
  const per = bs * bs;
  const norms = new Float64Array(w.length / per);
  for (let b = 0; b < norms.length; b++) {
    let acc = 0;
    for (let i = b * per; i < (b + 1) * per; i++) acc = kind === 'l2' ? acc + w[i] * w[i] : Math.max(acc, Math.abs(w[i]));
    norms[b] = kind === 'l2' ? Math.sqrt(acc) : acc;
  }
  return norms;
}

/** The ids of the `count` largest values (ties to the lower id), ascending: a plain reference for the library's selection. */
export function topIds(values: ArrayLike<number>, count: number): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i);
  order.sort((a, b) => (values[b] !== values[a] ? values[b] - values[a] : a - b));
  return order.slice(0, count).sort((a, b) => a - b);
}

/** Block j of a [nnz, bs, bs] array. */
export function block(w: Float32Array, j: number, bs: number): Float32Array {
  return w.slice(j * bs * bs, (j + 1) * bs * bs);
}

/** The (c, k) pairs of a layout as "c,k" strings, in block-id order. */
export function pairKeys(layout: BlockLayout): string[] {
  const { rows, cols } = layout.pairs();
  return Array.from(rows, (c, j) => `${c},${cols[j]}`);
}

