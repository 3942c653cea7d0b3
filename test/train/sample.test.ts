import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ParameterError, ShapeError } from '../../src/errors.js';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import type { Tensor } from '../../src/kernels/types.js';
import { resolveRng } from '../../src/random.js';
import { CharVocabulary, UnknownCharacterError } from '../../src/train/data/char-vocabulary.js';
import { Embedding } from '../../src/train/layers/embedding.js';
import { Linear } from '../../src/train/layers/linear.js';
import { LSTM } from '../../src/train/layers/lstm.js';
import { Sequential } from '../../src/train/layers/sequential.js';
import { defaultPrime, MAX_PRIME_LENGTH, MAX_SAMPLE_LENGTH, NonFiniteOutputError, sampleFromLogits, sampleText } from '../../src/train/sample.js';

/*
 * Sampling from a character model built from the layers: Sequential([Embedding(V, 4), LSTM(4, 8),
 * Linear(8, V)]) with random weights, or "rigged": the output Linear's weights zero and its bias
 * set, so that every step's logits are exactly that bias whatever the input, and the characters
 * are independent draws from softmax(bias / temperature).
 */

let backend: CpuBackend;
beforeAll(async () => {
  backend = await createCpuBackend({ threads: 1 });
});
afterAll(async () => {
  await backend.dispose();
});

const vocabulary = CharVocabulary.fromTexts(['\nabcdefg ']); // 9 characters; '\n' is index 0
const V = vocabulary.size;

function characterModel(seed: number): Sequential {
  return new Sequential([new Embedding(backend, V, 4, { seed }), new LSTM(backend, 4, 8, { seed: seed + 1 }), new Linear(backend, 8, V, { seed: seed + 2 })]);
}

/** A model whose logits are `bias` at every step: the output Linear's weights set to zero. */
async function riggedModel(bias: number[]): Promise<Sequential> {
  const model = characterModel(7);
  const out = model.layers[2] as Linear;
  await backend.fill(out.weight.value, 0);
  out.bias!.value.dispose();
  out.bias!.value = backend.tensor(Float32Array.from(bias), [V]);
  return model;
}

function count(text: string, character: string): number {
  return Array.from(text).filter((c) => c === character).length;
}

/** The reference: the prime fed one character at a time, each draw by sampleFromLogits from the same generator. */
async function referenceSample(model: Sequential, prime: string, length: number, temperature: number, seed: number): Promise<string> {
  const rng = resolveRng({ seed });
  model.resetState();
  let logits: Tensor | null = null;
  const step = async (index: number) => {
    logits?.dispose();
    const x = backend.tensor(Float32Array.of(index), [1, 1]);
    logits = await model.forward(x, { training: false, steps: 1 });
    x.dispose();
  };
  for (const index of vocabulary.encode(prime)) await step(index);
  const out: number[] = [];
  for (let k = 0; k < length; k++) {
    out.push(sampleFromLogits(await backend.read(logits!), temperature, rng));
    await step(out[k]);
  }
  logits!.dispose();
  model.resetState();
  return vocabulary.decode(out);
}

describe('sampleText', () => {
  it('gives the same text for the same seed, another for another seed, and matches a step-by-step reference', async () => {
    const model = characterModel(1);
    const options = { length: 60, temperature: 1, seed: 5, prime: 'abc' };
    const a = await sampleText(model, vocabulary, options);
    const b = await sampleText(model, vocabulary, options);
    const c = await sampleText(model, vocabulary, { ...options, seed: 6 });
    expect(a).toHaveLength(60);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(Array.from(a).every((ch) => vocabulary.indexOf(ch) >= 0)).toBe(true);
    // The prime as one sequence and the prime one step at a time give the same logits, so the same draws.
    expect(await referenceSample(model, 'abc', 60, 1, 5)).toBe(a);
    expect(await referenceSample(model, 'abc', 60, 0.5, 9)).toBe(await sampleText(model, vocabulary, { ...options, temperature: 0.5, seed: 9 }));
    // The state is reset afterwards, and a state carried from before does not leak in.
    expect((model.layers[1] as LSTM).state).toBeNull();
    const x = backend.tensor(Float32Array.of(3, 4, 5), [3, 1]);
    (await model.forward(x, { training: false, steps: 3 })).dispose();
    x.dispose();
    expect(await sampleText(model, vocabulary, options)).toBe(a);
    model.dispose();
  });

  it('reads one row of V logits per generated character (the prime only as the embedding reads its indices)', async () => {
    const model = characterModel(2);
    const read = vi.spyOn(backend, 'read');
    try {
      await sampleText(model, vocabulary, { length: 25, temperature: 1, seed: 1, prime: 'abcdefgabcdefg' });
      const sizes = read.mock.calls.map(([t]) => t.size);
      expect(sizes.filter((s) => s === V)).toHaveLength(25);
      // The rest are the embedding's index reads: the 14 prime indices once, then one index a step.
      expect(sizes.filter((s) => s !== V).sort((a, b) => a - b)).toEqual([...Array(24).fill(1), 14]);
    } finally {
      read.mockRestore();
      model.dispose();
    }
  });

  it('samples a rigged model\'s certain character every time, and never returns the prime', async () => {
    const bias = Array(V).fill(0);
    bias[vocabulary.indexOf('e')] = 40; // the others have probability e^-40 each
    const model = await riggedModel(bias);
    const text = await sampleText(model, vocabulary, { length: 200, temperature: 1, seed: 3, prime: 'abc' });
    expect(text).toBe('e'.repeat(200));
    model.dispose();
  });

  it('draws a rigged two-character distribution with the right frequencies, at temperature 1 and 2', async () => {
    const p = 0.3;
    const bias = Array(V).fill(-1e4);
    bias[vocabulary.indexOf('a')] = Math.log(p);
    bias[vocabulary.indexOf('b')] = Math.log(1 - p);
    const model = await riggedModel(bias);
    const n = 2000;
    // softmax(log p / T): p^(1/T) / (p^(1/T) + (1 - p)^(1/T)).
    for (const [temperature, expected] of [[1, p], [2, Math.sqrt(p) / (Math.sqrt(p) + Math.sqrt(1 - p))]]) {
      const text = await sampleText(model, vocabulary, { length: n, temperature, seed: `binomial-${temperature}`, prime: 'g' });
      // Exactly one uniform per character, against the cumulative distribution in vocabulary order ('a' before 'b').
      const rng = resolveRng({ seed: `binomial-${temperature}` });
      expect(text).toBe(Array.from({ length: n }, () => (rng() < expected ? 'a' : 'b')).join(''));
      const a = count(text, 'a');
      expect(a + count(text, 'b')).toBe(n);
      // Binomial(n, expected): 4 standard deviations (a false alarm has probability 6e-5; the seed is fixed).
      expect(Math.abs(a - n * expected)).toBeLessThanOrEqual(4 * Math.sqrt(n * expected * (1 - expected)));
    }
    model.dispose();
  });

  it('takes the most likely character at a tiny temperature, sharing exact ties', async () => {
    const bias = [0, 1, 2.5, 2.4, 0, 0, 0, 0, 0];
    const model = await riggedModel(bias);
    for (const temperature of [1e-6, Number.MIN_VALUE]) {
      expect(await sampleText(model, vocabulary, { length: 100, temperature, seed: 1 })).toBe(vocabulary.decode([2]).repeat(100));
    }
    const tied = await riggedModel([0, 3, 3, 0, 0, 0, 0, 0, 0]);
    const text = await sampleText(tied, vocabulary, { length: 400, temperature: 1e-6, seed: 2 });
    const first = count(text, vocabulary.decode([1]));
    expect(first + count(text, vocabulary.decode([2]))).toBe(400);
    expect(Math.abs(first - 200)).toBeLessThanOrEqual(4 * Math.sqrt(100)); // Binomial(400, 1/2)
    model.dispose();
    tied.dispose();
  });

  it('primes with a newline by default, else with the vocabulary\'s first character', async () => {
    expect(defaultPrime(vocabulary)).toBe('\n');
    const model = characterModel(4);
    const options = { length: 40, temperature: 1, seed: 8 };
    const plain = await sampleText(model, vocabulary, options);
    expect(plain).toBe(await sampleText(model, vocabulary, { ...options, prime: '\n' }));
    expect(plain).toBe(await referenceSample(model, '\n', 40, 1, 8));
    expect(plain).not.toBe(await sampleText(model, vocabulary, { ...options, prime: 'gfedcba gfedcba' }));
    model.dispose();

    const letters = CharVocabulary.fromTexts(['zyx']);
    expect(defaultPrime(letters)).toBe('x');
    const small = new Sequential([new Embedding(backend, 3, 4, { seed: 1 }), new LSTM(backend, 4, 8, { seed: 2 }), new Linear(backend, 8, 3, { seed: 3 })]);
    expect(await sampleText(small, letters, options)).toBe(await sampleText(small, letters, { ...options, prime: 'x' }));
    small.dispose();
  });

  it('raises typed errors for bad options, an unknown prime character and a mismatched model', async () => {
    const model = characterModel(5);
    const good = { length: 5, temperature: 1, seed: 1 };
    const parameterError = async (options: object, parameter: string) => {
      const error = await sampleText(model, vocabulary, options as typeof good).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ParameterError);
      expect((error as ParameterError).parameter).toBe(parameter);
    };
    for (const length of [0, 1.5, -1, MAX_SAMPLE_LENGTH + 1, NaN, '5']) await parameterError({ ...good, length }, 'length');
    for (const temperature of [0, -1, NaN, Infinity, 100.5, '1']) await parameterError({ ...good, temperature }, 'temperature');
    await parameterError({ length: 5, temperature: 1 }, 'seed');
    await parameterError({ ...good, seed: Infinity }, 'seed');
    await parameterError({ ...good, prime: '' }, 'prime');
    await parameterError({ ...good, prime: 'a'.repeat(MAX_PRIME_LENGTH + 1) }, 'prime');
    await expect(sampleText(model, vocabulary, { ...good, prime: 'abz' })).rejects.toThrow(UnknownCharacterError);
    await expect(sampleText(model, vocabulary, { ...good, prime: 'abz' })).rejects.toMatchObject({ character: 'z', position: 2 });
    const other = CharVocabulary.fromTexts(['abc']);
    await expect(sampleText(model, other, { ...good, prime: 'a' })).rejects.toThrow(ShapeError);
    const logitsNaN = await riggedModel([NaN, 0, 0, 0, 0, 0, 0, 0, 0]);
    await expect(sampleText(logitsNaN, vocabulary, good)).rejects.toThrow(NonFiniteOutputError);
    logitsNaN.dispose();
    model.dispose();
  });
});

describe('sampleFromLogits', () => {
  it('inverts the float64 cumulative distribution with one uniform', () => {
    const logits = [Math.log(0.2), Math.log(0.5), Math.log(0.3)];
    const at = (u: number) => sampleFromLogits(logits, 1, () => u);
    expect([0, 0.1999, 0.2001, 0.6999, 0.7001, 0.99999].map(at)).toEqual([0, 0, 1, 1, 2, 2]);
    // Temperature 0.5 squares the probabilities: 0.04, 0.25, 0.09 over 0.38.
    expect(sampleFromLogits(logits, 0.5, () => 0.04 / 0.38 - 1e-9)).toBe(0);
    expect(sampleFromLogits(logits, 0.5, () => 0.04 / 0.38 + 1e-9)).toBe(1);
    expect(sampleFromLogits(logits, 0.5, () => 0.29 / 0.38 + 1e-9)).toBe(2);
  });
});
