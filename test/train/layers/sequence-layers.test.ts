import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParameterError, ShapeError } from '../../../src/errors.js';
import { createCpuBackend, type CpuBackend } from '../../../src/kernels/cpu/cpu-backend.js';
import { BlockLayout } from '../../../src/patterns/layout.js';
import { randomLayout } from '../../../src/patterns/random-layout.js';
import { resolveRng } from '../../../src/random.js';
import { Embedding } from '../../../src/train/layers/embedding.js';
import { Linear } from '../../../src/train/layers/linear.js';
import { LSTM } from '../../../src/train/layers/lstm.js';
import { Sequential } from '../../../src/train/layers/sequential.js';
import { gradientCheck as checkGradients } from '../../helpers/gradient-check.js';
import { hasTorch, runPythonJSON } from '../../helpers/python.js';

/*
 * The sequence layers on the CPU backend (Embedding, LSTM, and both in a Sequential). The LSTM: finite-difference gradients through time (dense, block-sparse
 * square-shared and rectangular, L0-gated), the carried state, and PyTorch's torch.nn.LSTM with the
 * same weights when Debian's python3-torch is installed. The loss is L = sum(Y * R) for a fixed R;
 * central differences with h = 1e-2 on float32 are good to about 1e-4 here, so the bound is
 * 1e-3 absolute plus 1e-2 relative (a wrong factor or a missing term is far outside it).
 */

let backend: CpuBackend;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
});
afterAll(async () => {
  await backend.dispose();
});

const rng = resolveRng({ seed: 'lstm' });
const random = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);

/** Checks every parameter's gradient (a few coordinates each) and dx against central differences, from a reset state (test/helpers/gradient-check.ts). */
function gradientCheck(layer: LSTM, steps: number, n: number, options: { before?: () => void } = {}): Promise<void> {
  const before = () => {
    layer.resetState();
    options.before?.();
  };
  return checkGradients(backend, layer, rng, { rows: steps * n, mode: { training: true, steps }, before, inputCoords: 6 });
}

describe('LSTM gradients through time (finite differences)', () => {
  it('dense, 4 steps of 2 streams', async () => {
    const layer = new LSTM(backend, 5, 3, { seed: 1 });
    await gradientCheck(layer, 4, 2);
    expect(layer.parameters().map((p) => p.name)).toEqual(['input.weight', 'recurrent.weight', 'bias']);
    layer.dispose();
  });

  it('block-sparse recurrent weights shared by the four gates, and block-sparse input weights, blocks of 8', async () => {
    const recurrentLayout = BlockLayout.fromPairs({ inBlocks: 2, outBlocks: 2, blockSize: 8 }, [0, 1, 1], [1, 0, 1]);
    const inputLayout = randomLayout({ inBlocks: 1, outBlocks: 8, density: 0.5, blockSize: 8, seed: 2 });
    const layer = new LSTM(backend, 8, 16, { seed: 2, recurrentLayout, inputLayout });
    // The square layout is repeated for i, f, g, o: 3 blocks x 4 gates of 64 weights.
    expect(layer.recurrent.parameters()[0].value.shape).toEqual([12, 8, 8]);
    expect(layer.input.parameters()[0].value.shape).toEqual([inputLayout.nnz, 8, 8]);
    await gradientCheck(layer, 3, 2);
    layer.dispose();
  });

  it('L0-gated recurrent blocks (fixed noise), log alpha included', async () => {
    const recurrentLayout = randomLayout({ inBlocks: 2, density: 0.75, blockSize: 8, seed: 3 });
    const layer = new LSTM(backend, 4, 16, { seed: 3, recurrentLayout, l0: { dropRate: 0.3 } });
    const gated = layer.blockSparseLayers();
    expect(gated).toHaveLength(1);
    const state = gated[0].noiseState()!;
    await gradientCheck(layer, 3, 2, { before: () => gated[0].setNoiseState(state) });
    expect(layer.parameters().map((p) => p.name)).toEqual(['input.weight', 'recurrent.weight', 'recurrent.logAlpha', 'bias']);
    layer.dispose();
  });
});

describe('LSTM state and modes', () => {
  it('carries (h, c) across calls: two halves give the whole sequence, and resetState starts again', async () => {
    const layer = new LSTM(backend, 3, 4, { seed: 4 });
    const n = 2;
    const xs = random(6 * n * 3);
    const whole = await backend.read(await layer.forward(backend.tensor(xs, [6 * n, 3]), { training: false, steps: 6 }));
    layer.resetState();
    const first = await backend.read(await layer.forward(backend.tensor(xs.slice(0, 4 * n * 3), [4 * n, 3]), { training: true, steps: 4 }));
    const second = await backend.read(await layer.forward(backend.tensor(xs.slice(4 * n * 3), [2 * n, 3]), { training: false, steps: 2 }));
    const joined = [...first, ...second];
    joined.forEach((v, i) => expect(v).toBeCloseTo(whole[i], 6));
    // The state is the last step's h.
    expect(Array.from(await backend.read(layer.state!.h))).toEqual(Array.from(second.slice(-n * 4)));
    layer.resetState();
    expect(layer.state).toBeNull();
    const again = await backend.read(await layer.forward(backend.tensor(xs.slice(0, 4 * n * 3), [4 * n, 3]), { training: false, steps: 4 }));
    expect(Array.from(again)).toEqual(Array.from(first));
    layer.dispose();
  });

  it('raises typed errors for rows that are not steps x N, a state of other streams, and layouts of the wrong shape', async () => {
    const layer = new LSTM(backend, 3, 8, { seed: 5 });
    await expect(layer.forward(backend.tensor(random(5 * 3), [5, 3]), { training: false, steps: 2 })).rejects.toThrow(ShapeError);
    await layer.forward(backend.tensor(random(4 * 3), [4, 3]), { training: false, steps: 2 });
    await expect(layer.forward(backend.tensor(random(3 * 3), [3, 3]), { training: false, steps: 1 })).rejects.toThrow(/carried state has 2 streams/);
    await expect(layer.backward(backend.zeros([4, 8]))).rejects.toThrow(/training forward/);
    layer.dispose();
    const wrong = randomLayout({ inBlocks: 3, density: 0.5, blockSize: 8, seed: 6 });
    expect(() => new LSTM(backend, 8, 16, { recurrentLayout: wrong })).toThrow(ParameterError);
    expect(() => new LSTM(backend, 8, 16, { l0: {} })).toThrow(/L0 gates are per block/);
  });

  it('an input of fewer streams than the carried state continues its first streams', async () => {
    const layer = new LSTM(backend, 3, 8, { seed: 5 });
    const prefix = random(4 * 3);
    const next = random(2 * 3);
    await layer.forward(backend.tensor(prefix, [4, 3]), { training: false, steps: 2 });
    const both = await backend.read(await layer.forward(backend.tensor(next, [2, 3]), { training: false, steps: 1 }));
    layer.resetState();
    await layer.forward(backend.tensor(prefix, [4, 3]), { training: false, steps: 2 });
    const first = await backend.read(await layer.forward(backend.tensor(next.slice(0, 3), [1, 3]), { training: false, steps: 1 }));
    expect(Array.from(first)).toEqual(Array.from(both.slice(0, 8)));
    expect(layer.state!.h.shape).toEqual([1, 8]);
    layer.dispose();
  });
});

describe('Embedding', () => {
  it('gathers the named rows, and its gradient sums the output gradients of each symbol (closed form)', async () => {
    const layer = new Embedding(backend, 4, 3, { seed: 8 });
    const table = await backend.read(layer.weight.value);
    const index = [2, 0, 2, 3, 2];
    const y = await backend.read(await layer.forward(backend.tensor(Float32Array.from(index), [5, 1]), { training: true }));
    index.forEach((v, r) => expect(Array.from(y.slice(3 * r, 3 * r + 3))).toEqual(Array.from(table.slice(3 * v, 3 * v + 3))));
    const dy = random(5 * 3);
    expect(await layer.backward(backend.tensor(dy, [5, 3]))).toBeNull();
    const grad = await backend.read(layer.weight.grad!);
    const expected = new Float64Array(4 * 3);
    index.forEach((v, r) => {
      for (let j = 0; j < 3; j++) expected[3 * v + j] += dy[3 * r + j];
    });
    // Symbol 1 is named by no row: its gradient is zero.
    expected.forEach((v, i) => expect(grad[i]).toBeCloseTo(v, 6));
    expect(Array.from(grad.slice(3, 6))).toEqual([0, 0, 0]);
    layer.dispose();
  });

  it('raises ParameterError for an index that is not a symbol and ShapeError for another shape', async () => {
    const layer = new Embedding(backend, 4, 3, { seed: 9 });
    await expect(layer.forward(backend.tensor(Float32Array.from([1, 4]), [2, 1]), { training: false })).rejects.toThrow(/x\[1\] must be a symbol index in \[0, 4\)/);
    await expect(layer.forward(backend.tensor(Float32Array.from([1, 0.5]), [2, 1]), { training: false })).rejects.toThrow(ParameterError);
    await expect(layer.forward(backend.tensor(Float32Array.from([1, 2]), [1, 2]), { training: false })).rejects.toThrow(ShapeError);
    layer.dispose();
  });
});

describe('a character model: Sequential(Embedding, LSTM, LSTM, Linear) over time', () => {
  it('back-propagates through both LSTMs and the embedding (finite differences), and resetState reaches the LSTMs', async () => {
    const [V, E, H, T, N] = [6, 4, 5, 3, 2];
    const model = new Sequential([new Embedding(backend, V, E, { seed: 10 }), new LSTM(backend, E, H, { seed: 11 }), new LSTM(backend, H, H, { seed: 12 }), new Linear(backend, H, V, { seed: 13 })]);
    const index = Float32Array.from({ length: T * N }, () => Math.floor(rng() * V));
    const x = backend.tensor(index, [T * N, 1]);
    const r = random(T * N * V);
    const loss = async () => {
      model.resetState();
      const y = await backend.read(await model.forward(x, { training: true, steps: T }));
      return y.reduce((sum, v, i) => sum + v * r[i], 0);
    };
    await loss();
    await model.backward(backend.tensor(r, [T * N, V]));
    const h = 1e-2;
    for (const p of model.parameters()) {
      const values = await backend.read(p.value);
      const grad = await backend.read(p.grad!);
      for (let t = 0; t < 3; t++) {
        const i = Math.floor(rng() * values.length);
        const at = async (delta: number) => {
          const copy = values.slice();
          copy[i] += delta;
          const old = p.value;
          p.value = backend.tensor(copy, old.shape);
          const value = await loss();
          p.value.dispose();
          p.value = old;
          return value;
        };
        const numeric = ((await at(h)) - (await at(-h))) / (2 * h);
        expect(Math.abs(grad[i] - numeric), `${p.name}[${i}]`).toBeLessThanOrEqual(1e-3 + 1e-2 * Math.abs(numeric));
      }
    }
    expect(model.parameters().map((p) => p.name)).toEqual(['0.weight', '1.input.weight', '1.recurrent.weight', '1.bias', '2.input.weight', '2.recurrent.weight', '2.bias', '3.weight', '3.bias']);
    expect((model.layers[1] as LSTM).state).not.toBeNull();
    model.resetState();
    expect((model.layers[1] as LSTM).state).toBeNull();
    expect((model.layers[2] as LSTM).state).toBeNull();
    model.dispose();
  });

  it('lists the block-sparse weight layers inside its LSTMs', async () => {
    const recurrentLayout = randomLayout({ inBlocks: 2, density: 0.5, blockSize: 8, seed: 14 });
    const lstm = new LSTM(backend, 8, 16, { seed: 14, recurrentLayout });
    const model = new Sequential([new Embedding(backend, 5, 8, { seed: 15 }), lstm, new Linear(backend, 16, 5, { seed: 16 })]);
    expect(model.blockSparseLayers()).toEqual([lstm.recurrent]);
    model.dispose();
  });
});


describe.skipIf(!hasTorch())('LSTM against torch.nn.LSTM (python3-torch installed: a disagreement fails)', () => {
  it('the same weights give the same outputs, final state and gradients, from a nonzero initial state', async () => {
    const [I, H, T, N] = [5, 6, 4, 3];
    const layer = new LSTM(backend, I, H, { seed: 7 });
    // A first call leaves a nonzero carried state; the compared call starts from it.
    await layer.forward(backend.tensor(random(2 * N * I), [2 * N, I]), { training: false, steps: 2 });
    const h0 = Array.from(await backend.read(layer.state!.h));
    const c0 = Array.from(await backend.read(layer.state!.c));
    const x = random(T * N * I);
    const r = random(T * N * H);
    const y = await layer.forward(backend.tensor(x, [T * N, I]), { training: true, steps: T });
    const ours = Array.from(await backend.read(y));
    const hT = Array.from(await backend.read(layer.state!.h));
    const dx = Array.from(await backend.read((await layer.backward(backend.tensor(r, [T * N, H])))!));
    const [wih, whh, bias] = await Promise.all(layer.parameters().map(async (p) => Array.from(await backend.read(p.value))));
    const [dwih, dwhh, dbias] = await Promise.all(layer.parameters().map(async (p) => Array.from(await backend.read(p.grad!))));
    const input = JSON.stringify({ I, H, T, N, x: Array.from(x), r: Array.from(r), wih, whh, bias, h0, c0 });
    const torch = runPythonJSON<Record<string, number[]>>(
      `
import json, sys, torch
d = json.load(sys.stdin)
I, H, T, N = d['I'], d['H'], d['T'], d['N']
lstm = torch.nn.LSTM(I, H)
with torch.no_grad():
    # ours: x W with W [in, 4H]; torch: x W^T with W [4H, in]; b_ih = our b, b_hh = 0.
    lstm.weight_ih_l0.copy_(torch.tensor(d['wih']).reshape(I, 4 * H).T)
    lstm.weight_hh_l0.copy_(torch.tensor(d['whh']).reshape(H, 4 * H).T)
    lstm.bias_ih_l0.copy_(torch.tensor(d['bias']))
    lstm.bias_hh_l0.zero_()
x = torch.tensor(d['x']).reshape(T, N, I).requires_grad_()
h0 = torch.tensor(d['h0']).reshape(1, N, H)
c0 = torch.tensor(d['c0']).reshape(1, N, H)
y, (hT, cT) = lstm(x, (h0, c0))
(y * torch.tensor(d['r']).reshape(T, N, H)).sum().backward()
out = {'y': y.flatten().tolist(), 'hT': hT.flatten().tolist(), 'dx': x.grad.flatten().tolist(),
       'dwih': lstm.weight_ih_l0.grad.T.flatten().tolist(), 'dwhh': lstm.weight_hh_l0.grad.T.flatten().tolist(),
       'dbias': lstm.bias_ih_l0.grad.flatten().tolist()}
print(json.dumps(out))
`,
      input,
    );
    const close = (a: number[], b: number[], what: string) => {
      expect(a.length, what).toBe(b.length);
      a.forEach((v, i) => expect(Math.abs(v - b[i]), `${what}[${i}]: ours ${v}, torch ${b[i]}`).toBeLessThanOrEqual(2e-5 + 1e-4 * Math.abs(b[i])));
    };
    close(ours, torch.y, 'y');
    close(hT, torch.hT, 'hT');
    close(dx, torch.dx, 'dx');
    close(dwih, torch.dwih, 'dW_ih');
    close(dwhh, torch.dwhh, 'dW_hh');
    close(dbias, torch.dbias, 'db');
    layer.dispose();
  });
});
