import { describe, expect, it } from 'vitest';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { referenceBackwardData, referenceForward, referenceMatmul, referenceWeightGrad } from '../../src/kernels/reference.js';
import { resolveRng } from '../../src/random.js';
import { runPythonJSON } from '../helpers/python.js';

// The reference products are the oracle for every backend, so they are checked against numpy on
// the dense matrix the blocks describe: W_dense[c*bs + i, k*bs + j] = g_b * W_b[i, j].
describe('reference block-sparse products', () => {
  it('equal numpy on the dense matrix the layout describes', () => {
    const rng = resolveRng({ seed: 'reference' });
    const layout = randomLayout({ inBlocks: 3, outBlocks: 5, density: 0.4, blockSize: 8, seed: 2 });
    const n = 7;
    const bs = 8;
    const data = (size: number) => Array.from({ length: size }, () => Math.round((rng() * 2 - 1) * 1000) / 1000);
    const x = data(n * layout.inFeatures);
    const w = data(layout.nnz * bs * bs);
    const g = data(layout.nnz);
    const dy = data(n * layout.outFeatures);
    const { rows, cols } = layout.pairs();
    const numpy = runPythonJSON<{ y: number[]; dx: number[]; dw: number[]; dg: number[] }>(`
import json, sys, numpy as np
d = json.load(sys.stdin)
bs, n, C, K = d["bs"], d["n"], d["C"], d["K"]
x = np.array(d["x"]).reshape(n, C); dy = np.array(d["dy"]).reshape(n, K)
w = np.array(d["w"]).reshape(-1, bs, bs); g = np.array(d["g"])
dense = np.zeros((C, K))
for b, (c, k) in enumerate(zip(d["rows"], d["cols"])):
    dense[c*bs:(c+1)*bs, k*bs:(k+1)*bs] = g[b] * w[b]
full = x.T @ dy
dw = np.stack([g[b] * full[c*bs:(c+1)*bs, k*bs:(k+1)*bs] for b, (c, k) in enumerate(zip(d["rows"], d["cols"]))])
dg = np.array([np.sum(w[b] * full[c*bs:(c+1)*bs, k*bs:(k+1)*bs]) for b, (c, k) in enumerate(zip(d["rows"], d["cols"]))])
print(json.dumps({"y": (x @ dense).ravel().tolist(), "dx": (dy @ dense.T).ravel().tolist(), "dw": dw.ravel().tolist(), "dg": dg.tolist()}))
`, JSON.stringify({ bs, n, C: layout.inFeatures, K: layout.outFeatures, x, w, g, dy, rows: Array.from(rows), cols: Array.from(cols) }));
    const close = (a: ArrayLike<number>, b: number[]) => {
      expect(a.length).toBe(b.length);
      for (let i = 0; i < b.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-9);
    };
    close(referenceForward(layout, x, n, w, g), numpy.y);
    close(referenceBackwardData(layout, dy, n, w, g), numpy.dx);
    const grads = referenceWeightGrad(layout, x, dy, n, g, w);
    close(grads.dw, numpy.dw);
    close(grads.dgates!, numpy.dg);
  });

  it('dense matmul handles transposes', () => {
    // A = [[1, 2, 3], [4, 5, 6]], B = [[1, 0], [0, 1], [1, 1]]
    const a = [1, 2, 3, 4, 5, 6];
    const b = [1, 0, 0, 1, 1, 1];
    expect(Array.from(referenceMatmul(a, [2, 3], b, [3, 2]))).toEqual([4, 5, 10, 11]);
    expect(Array.from(referenceMatmul(a, [2, 3], a, [2, 3], false, true))).toEqual([14, 32, 32, 77]);
    expect(Array.from(referenceMatmul(a, [2, 3], a, [2, 3], true, false))).toEqual([17, 22, 27, 22, 29, 36, 27, 36, 45]);
  });
});
