import { describe, expect, it } from 'vitest';
import {
  evaluationBatches,
  evaluationPlan,
  minimumTrainingLength,
  sequenceBatch,
  sequenceBatches,
  sequenceBatchesPerEpoch,
  sequenceOffset,
  type SequenceBatch,
} from '../../../src/train/data/sequence-batches.js';
import { expectParameterError } from '../../helpers/expect-error.js';

/** Tokens whose value is their position, so every row can be traced back to the text. */
function positions(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('training batches', () => {
  const n = 1001;
  const tokens = positions(n);
  const shape = { batchSize: 4, steps: 10 };
  const L = 250; // floor((1001 - 1) / 4)

  it('counts floor((L - T + 1) / T) batches an epoch and needs B * (2T - 1) + 1 characters', () => {
    expect(sequenceBatchesPerEpoch(n, shape)).toBe(24);
    expect(minimumTrainingLength(shape)).toBe(77);
    expect(sequenceBatchesPerEpoch(77, shape)).toBe(1);
    expectParameterError(() => sequenceBatchesPerEpoch(76, shape), 'length');
    for (let seed = 0; seed < 20; seed++) expect([...sequenceBatches(positions(77), { ...shape, seed, epoch: 0 })]).toHaveLength(1);
  });

  it('lays out stream b at offset o + k T + t in row t B + b, targets the next character', () => {
    const offset = sequenceOffset(3, 1, 10);
    const batches = [...sequenceBatches(tokens, { ...shape, seed: 3, epoch: 1 })];
    expect(batches).toHaveLength(24);
    batches.forEach((batch, k) => {
      expect([batch.index, batch.steps, batch.batchSize, batch.inputs.length]).toEqual([k, 10, 4, 40]);
      for (let t = 0; t < 10; t++) {
        for (let b = 0; b < 4; b++) {
          expect(batch.inputs[t * 4 + b]).toBe(b * L + offset + k * 10 + t);
          expect(batch.targets[t * 4 + b]).toBe(batch.inputs[t * 4 + b] + 1);
        }
      }
    });
  });

  it('continues every stream from one batch to the next, within the stream', () => {
    const batches = [...sequenceBatches(tokens, { ...shape, seed: 'carry', epoch: 0 })];
    for (let k = 1; k < batches.length; k++) {
      for (let b = 0; b < 4; b++) expect(batches[k].inputs[b]).toBe(batches[k - 1].targets[9 * 4 + b]);
    }
    // No stream reads into the next one: the last target of stream b is at most (b + 1) L.
    const last = batches.at(-1)!;
    for (let b = 0; b < 4; b++) expect(last.targets[9 * 4 + b]).toBeLessThanOrEqual((b + 1) * L);
  });

  it('gives the same bytes for the same seed and epoch, and resumes at startBatch', () => {
    const options = { ...shape, seed: 'run', epoch: 2 };
    const a = [...sequenceBatches(Uint8Array.from(tokens, (v) => v % 251), options)];
    const b = [...sequenceBatches(Uint8Array.from(tokens, (v) => v % 251), options)];
    expect(b).toEqual(a);
    expect([...sequenceBatches(Uint8Array.from(tokens, (v) => v % 251), { ...options, startBatch: 20 })]).toEqual(a.slice(20));
    expect(sequenceBatch(Uint8Array.from(tokens, (v) => v % 251), options, 7)).toEqual(a[7]);
    expect([...sequenceBatches(tokens, { ...options, startBatch: 24 })]).toEqual([]);
  });

  it('draws the offset in [0, T) from (seed, epoch): different seeds and epochs start elsewhere', () => {
    const offsets = range(200).map((seed) => sequenceOffset(seed, 0, 4));
    expect(new Set(offsets)).toEqual(new Set([0, 1, 2, 3]));
    expect(sequenceOffset('7', 5, 100)).toBe(sequenceOffset(7, 5, 100));
    const bySeed = range(10).map((seed) => sequenceOffset(seed, 0, 100));
    const byEpoch = range(10).map((epoch) => sequenceOffset(0, epoch, 100));
    expect(new Set(bySeed).size).toBeGreaterThan(5);
    expect(new Set(byEpoch).size).toBeGreaterThan(5);
    // The batches follow the offset: two seeds with different offsets give different first rows.
    const other = range(10).find((seed) => sequenceOffset(seed, 0, 10) !== sequenceOffset(0, 0, 10))!;
    const first = (seed: number): SequenceBatch => sequenceBatch(tokens, { ...shape, seed, epoch: 0 }, 0);
    expect(first(0).inputs[0]).toBe(sequenceOffset(0, 0, 10));
    expect(first(other).inputs[0]).toBe(sequenceOffset(other, 0, 10));
    expect(first(other).inputs).not.toEqual(first(0).inputs);
  });

  it('refuses bad shapes, seeds, epochs and positions, naming the parameter', () => {
    const options = { ...shape, seed: 1, epoch: 0 };
    for (const batchSize of [0, -1, 1.5, NaN]) expectParameterError(() => sequenceBatches(tokens, { ...options, batchSize }), 'batchSize');
    for (const steps of [0, 2.5]) expectParameterError(() => sequenceBatches(tokens, { ...options, steps }), 'steps');
    expectParameterError(() => sequenceBatches(positions(50), options), 'length');
    expectParameterError(() => sequenceBatches(tokens, { ...options, epoch: -1 }), 'epoch');
    expectParameterError(() => sequenceBatches(tokens, { ...options, seed: undefined as unknown as number }), 'seed');
    expectParameterError(() => sequenceBatches(tokens, { ...options, startBatch: 25 }), 'startBatch');
    expectParameterError(() => sequenceBatch(tokens, options, 24), 'index');
    expectParameterError(() => sequenceBatches(null as unknown as Int32Array, options), 'tokens');
  });
});

describe('evaluation batches', () => {
  /** Runs an evaluation pass over positions(n) and checks coverage, layout and continuity; returns the batches. */
  function checkPass(n: number, batchSize: number, steps: number): SequenceBatch[] {
    const batches = [...evaluationBatches(positions(n), { batchSize, steps })];
    const plan = evaluationPlan(n, { batchSize, steps });
    expect(batches).toHaveLength(plan.batches);
    expect(plan.targets).toBe(n - 1);
    const covered = new Int32Array(n);
    const next = new Array<number | undefined>(batchSize).fill(undefined);
    batches.forEach((batch, k) => {
      expect(batch.index).toBe(k);
      expect(batch.inputs.length).toBe(batch.steps * batch.batchSize);
      for (let t = 0; t < batch.steps; t++) {
        for (let b = 0; b < batch.batchSize; b++) {
          const input = batch.inputs[t * batch.batchSize + b];
          expect(batch.targets[t * batch.batchSize + b]).toBe(input + 1);
          // Stream b continues where it stopped, in this batch or the previous one.
          if (next[b] !== undefined) expect(input).toBe(next[b]);
          next[b] = input + 1;
          covered[input + 1]++;
        }
      }
    });
    expect(covered[0]).toBe(0);
    expect(Array.from(covered.subarray(1)).every((c) => c === 1)).toBe(true);
    return batches;
  }

  it('covers every character after the first exactly once, with a shorter last batch', () => {
    // 1001 characters, B = 4, T = 32: L = 250 = 7 * 32 + 26, no remainder.
    const batches = checkPass(1001, 4, 32);
    expect(batches.map((b) => [b.steps, b.batchSize])).toEqual([...range(7).map(() => [32, 4]), [26, 4]]);
    expect(batches[0].inputs.subarray(0, 4)).toEqual(new Int32Array([0, 250, 500, 750]));
  });

  it('gives the remainder of (n - 1) / B to the first streams, in a last one-step batch of those streams', () => {
    // 1004 characters: 1003 targets = 4 * 250 + 3, so streams 0..2 hold 251 and stream 3 holds 250.
    const batches = checkPass(1004, 4, 50);
    expect(evaluationPlan(1004, { batchSize: 4, steps: 50 })).toEqual({ streamLength: 250, longStreams: 3, batches: 6, targets: 1003 });
    expect(batches[0].inputs.subarray(0, 4)).toEqual(new Int32Array([0, 251, 502, 753]));
    expect(batches.at(-1)).toMatchObject({ steps: 1, batchSize: 3, inputs: new Int32Array([250, 501, 752]) });
  });

  it('handles texts shorter than the batch, T = 1 and B = 1', () => {
    for (const [n, batchSize, steps] of [
      [2, 1, 1],
      [2, 8, 5],
      [7, 8, 5],
      [9, 8, 5],
      [100, 1, 7],
      [100, 3, 1],
      [97, 12, 4],
      [1000, 999, 3],
    ]) {
      checkPass(n, batchSize, steps);
    }
    expect(checkPass(7, 8, 5).map((b) => [b.steps, b.batchSize])).toEqual([[1, 6]]);
  });

  it('refuses a text of fewer than two characters and bad shapes', () => {
    expectParameterError(() => evaluationBatches(positions(1), { batchSize: 1, steps: 1 }), 'length');
    expectParameterError(() => evaluationBatches(positions(10), { batchSize: 0, steps: 1 }), 'batchSize');
    expectParameterError(() => evaluationBatches(positions(10), { batchSize: 1, steps: 0 }), 'steps');
  });
});
