import { describe, expect, it } from 'vitest';
import { resolveRng } from '../../../src/random.js';
import { checkDataset } from '../../../src/train/data/dataset.js';
import { gaussianBlobs } from '../../../src/train/data/synthetic.js';
import { expectParameterError } from '../../helpers/expect-error.js';

describe('gaussianBlobs', () => {
  it('is a valid Dataset: [n, features] float32, labels i mod classes, one centre per class', () => {
    const blobs = gaussianBlobs({ n: 10, features: 3, classes: 4, seed: 1 });
    expect(checkDataset(blobs)).toBe(blobs);
    expect(blobs.images).toBeInstanceOf(Float32Array);
    expect(blobs.images.length).toBe(30);
    expect(Array.from(blobs.labels)).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    expect(blobs.classNames).toEqual(['class 0', 'class 1', 'class 2', 'class 3']);
    expect(blobs.centers.length).toBe(12);
  });

  it('same seed, same data (a seed or the rng it makes); another seed, other data', () => {
    const options = { n: 50, features: 4, classes: 3 };
    const a = gaussianBlobs({ ...options, seed: 'blobs' });
    expect(gaussianBlobs({ ...options, seed: 'blobs' })).toEqual(a);
    expect(gaussianBlobs({ ...options, rng: resolveRng({ seed: 'blobs' }) })).toEqual(a);
    expect(gaussianBlobs({ ...options, seed: 'other' }).images).not.toEqual(a.images);
  });

  it('with spread 0 every example is its class centre; centres lie in [-centerScale, centerScale]', () => {
    const blobs = gaussianBlobs({ n: 12, features: 5, classes: 3, spread: 0, centerScale: 2, seed: 9 });
    for (let i = 0; i < blobs.n; i++) {
      for (let f = 0; f < 5; f++) expect(blobs.images[i * 5 + f]).toBe(Math.fround(blobs.centers[blobs.labels[i] * 5 + f]));
    }
    for (const c of blobs.centers) expect(Math.abs(c)).toBeLessThanOrEqual(2);
    expect(Math.max(...blobs.centers.map(Math.abs))).toBeGreaterThan(1);
  });

  it('each class is normal around its centre with sd `spread` (sample moments within a few standard errors)', () => {
    const [n, features, classes, spread] = [4000, 5, 4, 2];
    const blobs = gaussianBlobs({ n, features, classes, spread, seed: 123 });
    const perClass = n / classes;
    let withinOneSd = 0;
    for (let c = 0; c < classes; c++) {
      for (let f = 0; f < features; f++) {
        let sum = 0;
        let squares = 0;
        for (let i = c; i < n; i += classes) {
          const d = blobs.images[i * features + f] - blobs.centers[c * features + f];
          sum += d;
          squares += d * d;
          if (Math.abs(d) <= spread) withinOneSd++;
        }
        // Standard errors: spread / sqrt(1000) = 0.063 for the mean, about spread / sqrt(2000) = 0.045 for the sd.
        expect(Math.abs(sum / perClass)).toBeLessThan(5 * (spread / Math.sqrt(perClass)));
        expect(Math.abs(Math.sqrt(squares / perClass) - spread)).toBeLessThan(5 * (spread / Math.sqrt(2 * perClass)));
      }
    }
    // P(|Z| <= 1) = 0.6827; its standard error over 20,000 values is 0.0033.
    expect(Math.abs(withinOneSd / (n * features) - 0.6827)).toBeLessThan(0.017);
  });

  it('checks its options', () => {
    expectParameterError(() => gaussianBlobs({ n: 0, features: 2, classes: 2, seed: 1 }), 'n');
    expectParameterError(() => gaussianBlobs({ n: 5, features: 0, classes: 2, seed: 1 }), 'features');
    expectParameterError(() => gaussianBlobs({ n: 5, features: 2, classes: 257, seed: 1 }), 'classes');
    expectParameterError(() => gaussianBlobs({ n: 5, features: 2, classes: 2, spread: -1, seed: 1 }), 'spread');
    expectParameterError(() => gaussianBlobs({ n: 5, features: 2, classes: 2, centerScale: Infinity, seed: 1 }), 'centerScale');
    expectParameterError(() => gaussianBlobs({ n: 2 ** 20, features: 2 ** 10, classes: 2, seed: 1 }), 'n * features');
    expectParameterError(() => gaussianBlobs({ n: 5, features: 2, classes: 2, seed: 1, rng: Math.random }), 'seed');
  });
});
