import { checkInteger } from '../check.js';
import { batches } from './data/batches.js';
import type { Dataset } from './data/dataset.js';
import type { Sequential } from './layers/sequential.js';

/** The mean loss and accuracy of `model` on `dataset` in evaluation mode (deterministic gates), reading the device once. */
export async function evaluate(model: Sequential, dataset: Dataset, batchSize = 1000): Promise<{ loss: number; accuracy: number }> {
  checkInteger('batchSize', batchSize, 1, Number.MAX_SAFE_INTEGER, 'evaluate');
  const backend = model.backend;
  const lossSum = backend.zeros([1]);
  const correctSum = backend.zeros([1]);
  try {
    for (const batch of batches(dataset, { batchSize, shuffle: false })) {
      const x = backend.tensor(batch.x, [batch.size, dataset.features]);
      const labels = backend.tensor(Float32Array.from(batch.y), [batch.size]);
      const logits = await model.forward(x, { training: false });
      const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
      await backend.axpy(batch.size, loss, lossSum);
      await backend.axpy(1, correct, correctSum);
      for (const t of [x, labels, logits, loss, dlogits, correct]) t.dispose();
    }
    const [loss] = await backend.read(lossSum);
    const [correct] = await backend.read(correctSum);
    return { loss: loss / dataset.n, accuracy: correct / dataset.n };
  } finally {
    lossSum.dispose();
    correctSum.dispose();
  }
}
