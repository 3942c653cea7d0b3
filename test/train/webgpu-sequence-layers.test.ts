import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import type { Backend } from '../../src/kernels/types.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { resolveRng } from '../../src/random.js';
import { Embedding } from '../../src/train/layers/embedding.js';
import { Linear } from '../../src/train/layers/linear.js';
import { LSTM } from '../../src/train/layers/lstm.js';
import { Sequential } from '../../src/train/layers/sequential.js';
import { gpuOrSkip, webgpuForTests } from '../helpers/webgpu.js';

/*
 * A character model (Embedding, a block-sparse L0-gated LSTM, a dense LSTM, Linear) on WebGPU
 * (lavapipe without a GPU) and on the CPU backend from the same seeds, through two calls that
 * carry the state: the outputs and every parameter's gradient agree. Float32 sums in other orders
 * and the kernels' transcendental approximations differ by ~1e-6 relative per operation, so the
 * bound is 1e-4 of the largest magnitude (a wrong gate, sign or missing term is far outside it).
 */


const [V, E, H, T, N] = [7, 8, 16, 4, 2];

/** The outputs of two consecutive calls and the gradients of the second, read back. */
async function run(backend: Backend): Promise<Float32Array[]> {
  const recurrentLayout = randomLayout({ inBlocks: 2, density: 0.75, blockSize: 8, seed: 21 });
  const sparse = new LSTM(backend, E, H, { seed: 22, recurrentLayout, l0: { dropRate: 0.2 } });
  const model = new Sequential([new Embedding(backend, V, E, { seed: 23 }), sparse, new LSTM(backend, H, H, { seed: 24 }), new Linear(backend, H, V, { seed: 25 })]);
  const gated = sparse.blockSparseLayers()[0];
  const noise = gated.noiseState()!;
  const rng = resolveRng({ seed: 'webgpu-sequence' });
  const indices = () => backend.tensor(Float32Array.from({ length: T * N }, () => Math.floor(rng() * V)), [T * N, 1]);
  const first = await backend.read(await model.forward(indices(), { training: false, steps: T }));
  gated.setNoiseState(noise);
  const y = await model.forward(indices(), { training: true, steps: T });
  const second = await backend.read(y);
  await model.backward(backend.tensor(Float32Array.from({ length: T * N * V }, () => rng() * 2 - 1), [T * N, V]));
  const grads = await Promise.all(model.parameters().map((p) => backend.read(p.grad!)));
  model.dispose();
  return [first, second, ...grads];
}

describe('sequence layers on WebGPU', () => {
  const gpuBackend = webgpuForTests('sequence-layer test');

  it("gives the CPU backend's outputs and gradients (Embedding, block-sparse L0-gated LSTM, LSTM, Linear; state carried)", async (context) => {
    const gpu = gpuOrSkip(gpuBackend, context);
    if (!gpu) return;
    const cpu = await createCpuBackend({ threads: 1 });
    const expected = await run(cpu);
    await cpu.dispose();
    const actual = await run(gpu);
    expect(actual.length).toBe(expected.length);
    expected.forEach((want, i) => {
      const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(scale, `array ${i} is not all zero`).toBeGreaterThan(0);
      want.forEach((v, j) => expect(Math.abs(actual[i][j] - v), `array ${i} [${j}]: webgpu ${actual[i][j]}, cpu ${v}`).toBeLessThanOrEqual(1e-4 * scale));
    });
  }, 120_000);
});
