import { formatSeconds, randomValues, timeCalls } from '../kernels/bench.js';
import { getBackend, type BackendChoice } from '../kernels/get-backend.js';
import { referenceForward } from '../kernels/reference.js';
import type { BlockLayout } from '../patterns/layout.js';
import type { Seed } from '../random.js';
import { formatTable } from './table.js';

/** Options of `runLayoutsOnKernels`. */
export interface DemoKernelOptions {
  backend: BackendChoice;
  /** Batch N of the demo's activations. */
  batch: number;
  seed: Seed;
  /** Seconds of repeated calls per timing. */
  minSeconds?: number;
}

/**
 * Runs each layout's forward, backward-data and weight-gradient products on a kernel backend with
 * random data, checks the forward product against the float64 reference, and returns a table of
 * times next to the dense matmul of the same shape on the same backend.
 */
export async function runLayoutsOnKernels(layouts: readonly { name: string; layout: BlockLayout }[], options: DemoKernelOptions): Promise<string> {
  const backend = await getBackend(options.backend);
  const minSeconds = options.minSeconds ?? 0.1;
  try {
    const rows: string[][] = [];
    let denseSeconds = 0;
    for (const [index, { name, layout }] of layouts.entries()) {
      const n = options.batch;
      const bs = layout.blockSize;
      const x = randomValues(n * layout.inFeatures, `${String(options.seed)}:x`);
      const w = randomValues(layout.nnz * bs * bs, `${String(options.seed)}:${name}:w`);
      const X = backend.tensor(x, [n, layout.inFeatures]);
      const W = backend.tensor(w, [layout.nnz, bs, bs]);
      const DY = backend.tensor(randomValues(n * layout.outFeatures, `${String(options.seed)}:dy`), [n, layout.outFeatures]);
      try {
        const Y = await backend.forward(layout, X, W);
        const y = await backend.read(Y);
        Y.dispose();
        const expected = referenceForward(layout, x, n, w);
        let worst = 0;
        let scale = 0;
        for (let i = 0; i < y.length; i++) {
          worst = Math.max(worst, Math.abs(y[i] - expected[i]));
          scale = Math.max(scale, Math.abs(expected[i]));
        }
        if (index === 0) {
          const WD = backend.tensor(randomValues(layout.inFeatures * layout.outFeatures, `${String(options.seed)}:dense`), [layout.inFeatures, layout.outFeatures]);
          denseSeconds = await timeCalls(backend, () => backend.matmul(X, WD), minSeconds);
          WD.dispose();
        }
        const forward = await timeCalls(backend, () => backend.forward(layout, X, W), minSeconds);
        const backwardData = await timeCalls(backend, () => backend.backwardData(layout, DY, W), minSeconds);
        const weightGrad = await timeCalls(backend, () => backend.weightGrad(layout, X, DY), minSeconds);
        rows.push([name, formatSeconds(forward), formatSeconds(backwardData), formatSeconds(weightGrad), (forward / denseSeconds).toFixed(3), (worst / scale).toExponential(1)]);
      } finally {
        X.dispose();
        W.dispose();
        DY.dispose();
      }
    }
    const header = ['name', 'forward', 'backward-data', 'weight-gradient', 'forward/dense', 'max error/max |Y|'];
    return `kernels on ${backend.description}, batch ${options.batch}; dense matmul of the same shape: ${formatSeconds(denseSeconds)}\n${formatTable(header, rows)}`;
  } finally {
    await backend.dispose();
  }
}
