import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import type { Backend } from '../../src/kernels/types.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { CharVocabulary } from '../../src/train/data/char-vocabulary.js';
import { buildCharLSTM } from '../../src/train/language-model.js';
import { train } from '../../src/train/loop.js';
import { Adam } from '../../src/train/optimizers.js';
import { l0Hook } from '../../src/train/sparsity/l0.js';
import { gpuOrSkip, webgpuForTests } from '../helpers/webgpu.js';
import { FAST_TIER } from '../helpers/tier.js';

/*
 * The character-level LSTM trained through train({ text }) on the WebGPU backend (lavapipe on
 * machines without a GPU) and on the CPU backend from the same initial weights, data and gate
 * noise (both drawn on the host from the same seeds): the loss of every step, and the validation
 * bits per character, agree to 1e-3 relative. Float32 sums in other orders drift apart slowly over
 * the 11 steps; a wrong gradient, clipping or update moves the loss by far more. REQUIRE_WEBGPU=1
 * makes a missing adapter fail instead of skip.
 */


const corpus = 'hello world\n'.repeat(50);
const vocabulary = CharVocabulary.fromTexts([corpus]);
const encoded = vocabulary.encode(corpus);

/** Each step's loss and the validation bpc of one epoch (11 steps of 4 streams x 8 characters), with a block-sparse L0-gated recurrent layer and clipping. */
async function run(backend: Backend): Promise<{ losses: number[]; validationBpc: number; clipped: number }> {
  const model = buildCharLSTM(backend, {
    symbols: vocabulary.size, embedding: 8, hidden: [16], blockSize: 8, seed: 3, l0: {},
    layout: ({ inBlocks, outBlocks, blockSize }) => randomLayout({ inBlocks, outBlocks, blockSize, nnz: 3, seed: 4 }),
  });
  const optimizer = new Adam(model.parameters(), { lr: 0.02 });
  const losses: number[] = [];
  const result = await train({
    model, optimizer, epochs: 1, batchSize: 4, seed: 5, clip: 0.1, progressBar: false,
    text: { train: encoded.subarray(0, 400), validation: encoded.subarray(400, 500), test: encoded.subarray(500), steps: 8, vocabulary },
    hooks: [l0Hook({ lambda: 1e-4 }), { name: 'record', async afterStep({ loss }) { losses.push((await backend.read(loss))[0]); } }],
  });
  const [epoch] = result.metrics;
  model.dispose();
  optimizer.dispose();
  return { losses, validationBpc: epoch.validationBpc, clipped: epoch.clippedSteps! };
}

describe.skipIf(FAST_TIER)('a language model on WebGPU', () => {
  const gpuBackend = webgpuForTests('language-model test');

  it('trains an LSTM with block-sparse L0-gated recurrent weights and clipping: the CPU backend\'s loss at every step', async (context) => {
    const gpu = gpuOrSkip(gpuBackend, context);
    if (!gpu) return;
    const cpu = await createCpuBackend({ threads: 1 });
    const expected = await run(cpu);
    await cpu.dispose();
    const actual = await run(gpu);
    expect(expected.losses).toHaveLength(11);
    expect(expected.losses[10]).toBeLessThan(0.7 * expected.losses[0]);
    expect(expected.clipped).toBeGreaterThan(0);
    expect(actual.clipped).toBe(expected.clipped);
    for (let i = 0; i < 11; i++) {
      expect(Math.abs(actual.losses[i] - expected.losses[i]), `step ${i}: webgpu ${actual.losses[i]}, cpu ${expected.losses[i]}`).toBeLessThanOrEqual(1e-3 * Math.abs(expected.losses[i]));
    }
    expect(Math.abs(actual.validationBpc - expected.validationBpc)).toBeLessThanOrEqual(1e-3 * expected.validationBpc);
  }, 120_000);
});
