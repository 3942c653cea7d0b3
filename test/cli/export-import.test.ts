import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/runs/index.js';
import { loadFashionMNIST } from '../../src/train/data/fashion-mnist.js';
import { encodeSafetensors } from '../../src/train/safetensors.js';
import { runMain } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('blocksparse-export-');
const run = join(dir, 'run');
const test = loadFashionMNIST({ split: 'test', limit: 32 });

// A block-sparse MLP 784 -> 64 -> 64 -> 10 (sparse input, blocks of 16) trained for one epoch on 300 examples.
beforeAll(async () => {
  const trained = await runMain(['train', '--hidden', '64,64', '--layout', 'random:density=0.5', '--block-size', '16', '--sparse-input', '--limit', '300', '--batch', '50', '--backend', 'cpu', '--epochs', '1', '--out', run]);
  expect(trained.code, trained.stderr).toBe(0);
}, 60_000);

async function logitsOf(runDir: string): Promise<Float32Array> {
  const model = await loadModel(runDir, { backend: 'cpu' });
  try {
    return (await model.predict(test.images, test.n)).logits;
  } finally {
    await model.dispose();
  }
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (1e-3 + Math.abs(expected[i])));
  expect(worst).toBeLessThan(tolerance);
}

describe('blocksparse export and import', () => {
  it('round-trips a run through a safetensors model file: same layouts, same logits', async () => {
    const file = join(dir, 'model.safetensors');
    const exported = await runMain(['export', run, '--out', file, '--backend', 'cpu']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/wrote .*model\.safetensors \(\d+ bytes, safetensors\)/);
    const back = join(dir, 'back');
    const imported = await runMain(['import', file, '--out', back, '--backend', 'cpu']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/blocksparse-model/);
    expect(readFileSync(join(back, 'layout-1.json'), 'utf8')).toBe(readFileSync(join(run, 'layout-1.json'), 'utf8'));
    expect(await logitsOf(back)).toEqual(await logitsOf(run));
    // The imported run holds the run's settings: predict takes it with its data.
    const predicted = await runMain(['predict', back, '--backend', 'cpu', '--json']);
    const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'));
    expect(JSON.parse(predicted.stdout).accuracy).toBeCloseTo(summary.testAccuracy, 10);
    // Files are not replaced, runs not overwritten, unless asked.
    expect((await runMain(['export', run, '--out', file, '--backend', 'cpu'])).stderr).toMatch(/exists: give --force/);
    expect((await runMain(['import', file, '--out', back, '--backend', 'cpu'])).stderr).toMatch(/already holds a training run/);
  }, 60_000);

  it('writes an ONNX model that ONNX Runtime runs to our logits', async () => {
    const file = join(dir, 'model.onnx');
    expect((await runMain(['export', run, '--format', 'onnx', '--out', file, '--backend', 'cpu'])).code).toBe(0);
    const session = await ort.InferenceSession.create(readFileSync(file));
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', test.images, [test.n, 784]) });
    expectClose(out[session.outputNames[0]].data as Float32Array, await logitsOf(run), 1e-3);
    await session.release();
  }, 60_000);

  it('imports a dense MLP state dict trained elsewhere, which predict and prune then take', async () => {
    // An nn.Sequential(Linear(784, 32), ReLU(), Linear(32, 10)) state dict: weights [out, in], in PyTorch's names.
    let s = 7;
    const uniform = (n: number, bound: number) => Float32Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647 * 2 - 1) * bound);
    const w0 = uniform(32 * 784, 0.05);
    const b0 = uniform(32, 0.05);
    const w2 = uniform(10 * 32, 0.2);
    const b2 = uniform(10, 0.2);
    const file = join(dir, 'torch.safetensors');
    writeFileSync(file, encodeSafetensors([
      ['0.weight', { dtype: 'F32', shape: [32, 784], data: w0 }], ['0.bias', { dtype: 'F32', shape: [32], data: b0 }],
      ['2.weight', { dtype: 'F32', shape: [10, 32], data: w2 }], ['2.bias', { dtype: 'F32', shape: [10], data: b2 }],
    ]));
    const out = join(dir, 'from-torch');
    const imported = await runMain(['import', file, '--arch', 'mlp:784,32,10', '--out', out, '--backend', 'cpu']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/state-dict, 25450 parameters/);
    // The logits of a plain forward: relu(x W0^T + b0) W2^T + b2.
    const expected = new Float64Array(test.n * 10);
    for (let r = 0; r < test.n; r++) {
      const h = new Float64Array(32);
      for (let j = 0; j < 32; j++) {
        let sum = b0[j];
        for (let i = 0; i < 784; i++) sum += test.images[r * 784 + i] * w0[j * 784 + i];
        h[j] = Math.max(0, sum);
      }
      for (let k = 0; k < 10; k++) {
        let sum = b2[k];
        for (let j = 0; j < 32; j++) sum += h[j] * w2[k * 32 + j];
        expected[r * 10 + k] = sum;
      }
    }
    expectClose(await logitsOf(out), expected, 1e-4);
    const predicted = await runMain(['predict', out, '--backend', 'cpu', '--limit', '100']);
    expect(predicted.code, predicted.stderr).toBe(0);
    const pruned = await runMain(['prune', out, '--sparsity', '0.5', '--block-size', '16', '--out', join(dir, 'from-torch-pruned'), '--backend', 'cpu']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(existsSync(join(dir, 'from-torch-pruned', 'sparsity-0.5', 'layout-0.json'))).toBe(true);
    // A wrong architecture is named.
    const wrong = await runMain(['import', file, '--arch', 'mlp:784,64,10', '--out', join(dir, 'never'), '--backend', 'cpu']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);
});
