/**
 * Sampling text from a character language model: Sequential([Embedding(V, E), LSTM, ..., Linear(H, V)])
 * fed one character at a time, each next character drawn from softmax(logits / temperature) with a
 * seeded generator.
 */
import { checkMemory } from '../budget.js';
import { checkInteger } from '../check.js';
import { BlocksparseError, ParameterError, ShapeError } from '../errors.js';
import type { Tensor } from '../kernels/types.js';
import { resolveRng, type Rng, type Seed } from '../random.js';
import type { CharVocabulary } from './data/char-vocabulary.js';
import type { Layer } from './layers/layer.js';
import type { Sequential } from './layers/sequential.js';

/** The most characters one call of `sampleText` generates (each is a forward step and a read of V logits). */
export const MAX_SAMPLE_LENGTH = 100_000;
/** The longest prime `sampleText` accepts, in characters (it runs as one sequence of that many steps). */
export const MAX_PRIME_LENGTH = 100_000;
/** The highest temperature `sampleText` accepts (at 100, logits 10 apart give probabilities within 10% of each other: nearly uniform). */
export const MAX_TEMPERATURE = 100;

/** Options of `sampleText`. */
export interface SampleOptions {
  /** Characters to generate: an integer in [1, MAX_SAMPLE_LENGTH] (100,000). */
  length: number;
  /**
   * Divides the logits before the softmax: a finite number in (0, MAX_TEMPERATURE] (100). 1 samples
   * the model's distribution, below 1 sharpens it, above 1 flattens it. 0 is refused
   * (ParameterError): a tiny temperature (e.g. 1e-6) is the greedy choice, computed by the same
   * formula (every character below the largest logit gets probability exp(-gap / temperature),
   * which underflows to 0), so the most likely character is always taken, ties shared equally.
   */
  temperature: number;
  /** The sampling generator's seed (src/random.ts, Alea): the same seed, model and backend give the same text. */
  seed: Seed;
  /**
   * Text fed to the model before generating (not part of the result): 1 to MAX_PRIME_LENGTH
   * characters of the vocabulary (UnknownCharacterError naming the first other one). Default: a
   * newline when the vocabulary holds one (the Brown corpus ends every paragraph with one, so the
   * model starts a paragraph), else the vocabulary's first character.
   */
  prime?: string;
}

/**
 * A model's output holds NaN or an infinity where a finite value is needed (its weights have
 * diverged): `what` names the output, `index` the first bad element, `value` the value.
 */
export class NonFiniteOutputError extends BlocksparseError {
  readonly what: string;
  readonly index: number;
  readonly value: number;
  constructor(what: string, index: number, value: number, context: string) {
    super('E_NON_FINITE_OUTPUT', `${context}: ${what} holds ${value} at element ${index} (the model's weights are not finite, or overflow)`);
    this.what = what;
    this.index = index;
    this.value = value;
  }
}

/** The default prime for `vocabulary`: a newline when it holds one, else its first character. */
export function defaultPrime(vocabulary: CharVocabulary): string {
  return vocabulary.indexOf('\n') >= 0 ? '\n' : String.fromCodePoint(vocabulary.codePoints[0]);
}

/**
 * Draws an index from softmax(logits / temperature) with one uniform number u = rng() in [0, 1):
 * in float64, p_i proportional to w_i = exp((logits_i - max) / temperature), cumulative sums
 * W_0 .. W_{V-1} summed in index order, the first i with u W_{V-1} < W_i. The same logits and the same u
 * give the same index on every machine (the arithmetic is IEEE float64, Math.exp is V8's fdlibm
 * port). NonFiniteOutputError for a logit that is NaN or infinite.
 */
export function sampleFromLogits(logits: ArrayLike<number>, temperature: number, rng: Rng, weights = new Float64Array(logits.length)): number {
  const v = logits.length;
  let max = -Infinity;
  for (let i = 0; i < v; i++) {
    const l = logits[i];
    if (!Number.isFinite(l)) throw new NonFiniteOutputError('the logits', i, l, 'sampleText');
    if (l > max) max = l;
  }
  let total = 0;
  for (let i = 0; i < v; i++) {
    total += Math.exp((logits[i] - max) / temperature);
    weights[i] = total;
  }
  // total >= 1 (the largest logit contributes exp(0)), so the target is well defined.
  const target = rng() * total;
  for (let i = 0; i < v; i++) if (target < weights[i]) return i;
  return v - 1; // unreachable for u < 1; guards rounding
}

/**
 * Generates `length` characters from a character language model (its input a column of symbol
 * indices [R, 1], its output V = vocabulary.size logits per row, e.g.
 * Sequential([Embedding(V, E), LSTM(E, H), Linear(H, V)])). The model's state is reset, the prime
 * is fed as one sequence (one stream, prime-length steps) in evaluation mode, and then each
 * character is drawn (`sampleFromLogits`, one uniform from the seeded generator per character)
 * from softmax(logits / temperature) of the last step's output and fed back as the next step
 * (one stream, one step). Each generated character reads one [1, V] row of logits from the
 * backend (V is small: 85 for the Brown corpus), where the draw runs in float64; the model's
 * activations and state stay on the backend. Returns the generated text only (not the prime); the
 * model's state is reset again at the end.
 *
 * The same model, backend, options and seed give the same text on every machine (given the same
 * logits: the CPU and WebGPU backends may differ in the last bits of a logit, which changes a draw
 * only when its uniform falls that close to a boundary of the cumulative distribution).
 *
 * Raises ParameterError for a bad option (naming it), ShapeError when the model's input is not one
 * column or its output not V wide, UnknownCharacterError for a prime character outside the
 * vocabulary, NonFiniteOutputError when the logits are not finite, ResourceError when the prime's
 * activations exceed the memory budget.
 */
export async function sampleText(model: Sequential, vocabulary: CharVocabulary, options: SampleOptions): Promise<string> {
  const context = 'sampleText';
  if (typeof options !== 'object' || options === null) throw new ParameterError('options', 'an object {length, temperature, seed, prime?}', options, context);
  const length = checkInteger('length', options.length, 1, MAX_SAMPLE_LENGTH, context);
  const temperature = options.temperature;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0 || temperature > MAX_TEMPERATURE) {
    throw new ParameterError('temperature', `a number in (0, ${MAX_TEMPERATURE}] (0 is not allowed: a tiny temperature such as 1e-6 takes the most likely character)`, temperature, context);
  }
  if (options.seed === undefined) throw new ParameterError('seed', 'a finite number or a string', undefined, context);
  const rng = resolveRng({ seed: options.seed }, context);
  const prime = options.prime ?? defaultPrime(vocabulary);
  if (typeof prime !== 'string' || prime.length === 0) throw new ParameterError('prime', 'a non-empty string', prime, context);
  checkCharacterModel(model, vocabulary, context);
  const primeIndices = vocabulary.encode(prime);
  const steps = primeIndices.length;
  if (steps > MAX_PRIME_LENGTH) throw new ParameterError('prime', `a string of 1 to ${MAX_PRIME_LENGTH} characters`, `${steps} characters`, context);
  checkMemory(`sampling with a prime of ${steps} characters`, estimateSequenceBytes(model.layers, steps));

  const backend = model.backend;
  const v = vocabulary.size;
  const generated = new Int32Array(length);
  const row = new Float32Array(v);
  const cumulative = new Float64Array(v);
  model.resetState();
  try {
    let logits = await runSteps(model, Float32Array.from(primeIndices), steps);
    for (let k = 0; k < length; k++) {
      await backend.read(logits, row);
      logits.dispose();
      generated[k] = sampleFromLogits(row, temperature, rng, cumulative);
      if (k + 1 === length) break;
      logits = await runSteps(model, Float32Array.of(generated[k]), 1);
    }
  } finally {
    model.resetState();
  }
  return vocabulary.decode(generated);
}

/** Runs `steps` steps of one stream (indices as floats) and returns the last step's logits, [1, V]. */
async function runSteps(model: Sequential, indices: Float32Array, steps: number): Promise<Tensor> {
  const backend = model.backend;
  const x = backend.tensor(indices, [steps, 1]);
  try {
    const out = await model.forward(x, { training: false, steps });
    if (steps === 1) return out;
    const last = await backend.sliceRows(out, steps - 1, 1);
    out.dispose();
    return last;
  } finally {
    x.dispose();
  }
}

/** ShapeError unless the model takes a column of symbol indices and gives vocabulary.size outputs. */
function checkCharacterModel(model: Sequential, vocabulary: CharVocabulary, context: string): void {
  if (model.inFeatures !== 1) throw new ShapeError(`${context}: the model takes ${model.inFeatures} input features but a character model takes 1 (a column of symbol indices: an Embedding first)`);
  if (model.outFeatures !== vocabulary.size) {
    throw new ShapeError(`${context}: the model gives ${model.outFeatures} outputs but the vocabulary has ${vocabulary.size} characters`);
  }
}

/**
 * About the bytes an evaluation forward pass of `rows` rows through `layers` holds at once: per
 * row, the input and every layer's output (an LSTM's also its input projection to the 4 gates),
 * float32, all counted together as an upper bound.
 */
export function estimateSequenceBytes(layers: readonly Layer[], rows: number): number {
  let perRow = 1;
  for (const layer of layers) perRow += layer.outFeatures * (layer.kind === 'lstm' ? 5 : 1);
  return 4 * rows * perRow;
}
