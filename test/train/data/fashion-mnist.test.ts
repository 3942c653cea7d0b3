import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../../src/errors.js';
import type { Dataset } from '../../../src/train/data/dataset.js';
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DEBIAN_DIR,
  FASHION_MNIST_ENV,
  FASHION_MNIST_FILES,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  fashionMnistDir,
  loadFashionMNIST,
} from '../../../src/train/data/fashion-mnist.js';
import { encodeIdx } from '../../../src/train/data/idx.js';
import { DatasetMissingError } from '../../../src/train/errors.js';
import { catchError, expectParameterError } from '../../helpers/expect-error.js';
import { PYTHON } from '../../helpers/python.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { FAST_TIER } from '../../helpers/tier.js';

/** What numpy reads from the same gz files: counts, label histogram, pixel sums and checksums. */
interface NumpySummary {
  n: number;
  shape: number[];
  histogram: number[];
  pixelSum: number;
  pixelSquareSum: number;
  /** sum of pixel[k] * (k mod 251 + 1) over the flat pixel array: catches moved pixels. */
  pixelChecksum: number;
  /** sum of label[i] * (i mod 7 + 1): catches reordered labels. */
  labelChecksum: number;
  firstLabels: number[];
}

/** numpy's summaries, run in the background while the files load here. */
async function numpySummaries(): Promise<Record<'train' | 'test', NumpySummary>> {
  const { stdout } = await promisify(execFile)(PYTHON, ['-c', `
import gzip, json
import numpy as np
d = ${JSON.stringify(fashionMnistDir())}
out = {}
for split, prefix in (('train', 'train'), ('test', 't10k')):
    raw = gzip.open(f'{d}/{prefix}-images-idx3-ubyte.gz').read()
    x = np.frombuffer(raw, np.uint8, offset=16).astype(np.int64)
    shape = [int(v) for v in np.frombuffer(raw[4:16], '>u4')]
    y = np.frombuffer(gzip.open(f'{d}/{prefix}-labels-idx1-ubyte.gz').read(), np.uint8, offset=8).astype(np.int64)
    k = np.arange(x.size, dtype=np.int64)
    i = np.arange(y.size, dtype=np.int64)
    out[split] = {'n': int(y.size), 'shape': shape, 'histogram': np.bincount(y, minlength=10).tolist(),
                  'pixelSum': int(x.sum()), 'pixelSquareSum': int((x * x).sum()),
                  'pixelChecksum': int((x * (k % 251 + 1)).sum()), 'labelChecksum': int((y * (i % 7 + 1)).sum()),
                  'firstLabels': y[:20].tolist()}
print(json.dumps(out))
`], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as Record<'train' | 'test', NumpySummary>;
}

/** The same sums from a loaded unit-scaled Dataset (pixels recovered as round(v * 255)). */
function summarise(dataset: Dataset) {
  let pixelSum = 0;
  let pixelSquareSum = 0;
  let pixelChecksum = 0;
  let exact = true;
  for (let k = 0; k < dataset.images.length; k++) {
    const v = dataset.images[k];
    const p = Math.round(v * 255);
    if (v !== Math.fround(p / 255)) exact = false;
    pixelSum += p;
    pixelSquareSum += p * p;
    pixelChecksum += p * ((k % 251) + 1);
  }
  const histogram = new Array<number>(10).fill(0);
  let labelChecksum = 0;
  dataset.labels.forEach((label, i) => {
    histogram[label]++;
    labelChecksum += label * ((i % 7) + 1);
  });
  return { exact, pixelSum, pixelSquareSum, pixelChecksum, histogram, labelChecksum };
}

describe.skipIf(FAST_TIER)('loadFashionMNIST: the files of Debian’s dataset-fashion-mnist package', () => {
  let train: Dataset;
  let test: Dataset;
  let numpy: Record<'train' | 'test', NumpySummary>;
  let ours: Record<'train' | 'test', ReturnType<typeof summarise>>;
  beforeAll(async () => {
    // Loaded and summarised once for the file (the 60,000 images take a second or two).
    const fromNumpy = numpySummaries();
    train = loadFashionMNIST({ split: 'train' });
    test = loadFashionMNIST({ split: 'test' });
    ours = { train: summarise(train), test: summarise(test) };
    numpy = await fromNumpy;
  });

  it('has 60,000 training and 10,000 test images of 28 x 28 = 784 features in 10 classes', () => {
    for (const [dataset, n] of [
      [train, 60_000],
      [test, 10_000],
    ] as const) {
      expect(dataset.n).toBe(n);
      expect(dataset.features).toBe(784);
      expect(dataset.images).toBeInstanceOf(Float32Array);
      expect(dataset.images.length).toBe(n * 784);
      expect(dataset.labels).toBeInstanceOf(Uint8Array);
      expect(dataset.labels.length).toBe(n);
      expect(dataset.classes).toBe(10);
      expect(dataset.classNames).toBe(FASHION_MNIST_CLASSES);
      expect(dataset.classNames).toEqual(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
    }
    expect(numpy.train.shape).toEqual([60_000, 28, 28]);
    expect(numpy.test.shape).toEqual([10_000, 28, 28]);
  });

  it('is balanced: 6,000 examples per class in train, 1,000 in test (as numpy counts them)', () => {
    expect(ours.train.histogram).toEqual(new Array(10).fill(6_000));
    expect(ours.test.histogram).toEqual(new Array(10).fill(1_000));
    expect(numpy.train.histogram).toEqual(new Array(10).fill(6_000));
    expect(numpy.test.histogram).toEqual(new Array(10).fill(1_000));
  });

  it('holds the pixels and labels numpy reads from the same gz files, scaled to [0, 1] as p / 255', () => {
    for (const [name, dataset] of [
      ['train', train],
      ['test', test],
    ] as const) {
      expect(ours[name].exact).toBe(true);
      expect(ours[name].pixelSum).toBe(numpy[name].pixelSum);
      expect(ours[name].pixelSquareSum).toBe(numpy[name].pixelSquareSum);
      expect(ours[name].pixelChecksum).toBe(numpy[name].pixelChecksum);
      expect(ours[name].labelChecksum).toBe(numpy[name].labelChecksum);
      expect(Array.from(dataset.labels.subarray(0, 20))).toEqual(numpy[name].firstLabels);
    }
    // The first training image is an ankle boot (label 9) in the original distribution.
    expect(train.labels[0]).toBe(9);
    let min = Infinity;
    let max = -Infinity;
    for (const v of test.images) (min = Math.min(min, v)), (max = Math.max(max, v));
    expect([min, max]).toEqual([0, 1]);
  });

  it('FASHION_MNIST_MEAN and _STD are the training pixels’ mean and population sd (from numpy’s exact integer sums)', () => {
    const count = 60_000 * 784;
    const mean = numpy.train.pixelSum / (count * 255);
    const variance = numpy.train.pixelSquareSum / (count * 255 * 255) - mean * mean;
    expect(FASHION_MNIST_MEAN).toBeCloseTo(mean, 15);
    expect(FASHION_MNIST_STD).toBeCloseTo(Math.sqrt(variance), 14);
  });

  it("normalize: 'standard' gives (p / 255 - mean) / std, rounded once to float32", () => {
    const standard = loadFashionMNIST({ split: 'test', normalize: 'standard', limit: 50 });
    expect(standard.n).toBe(50);
    const expected = test.images.subarray(0, 50 * 784).map((v) => (Math.round(v * 255) / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD);
    expect(standard.images).toEqual(expected);
    // Pixel 0 (black) maps to -mean / std, about -0.81; 255 to (1 - mean) / std, about 2.02.
    expect(Math.min(...standard.images)).toBe(Math.fround(-FASHION_MNIST_MEAN / FASHION_MNIST_STD));
  });

  it('limit keeps the first examples in file order; a limit above the split’s size is refused', () => {
    const first = loadFashionMNIST({ split: 'test', limit: 7 });
    expect(first.n).toBe(7);
    expect(first.images).toEqual(test.images.subarray(0, 7 * 784));
    expect(first.labels).toEqual(test.labels.subarray(0, 7));
    const error = expectParameterError(() => loadFashionMNIST({ split: 'test', limit: 10_001 }), 'limit');
    expect(error.allowed).toMatch(/\[1, 10000\]/);
    expectParameterError(() => loadFashionMNIST({ split: 'test', limit: 0 }), 'limit');
    expectParameterError(() => loadFashionMNIST({ split: 'test', limit: 2.5 }), 'limit');
  });

  it('checks its options', () => {
    expectParameterError(() => loadFashionMNIST({ split: 'validation' as 'test' }), 'split');
    expectParameterError(() => loadFashionMNIST({ split: 'test', normalize: 'minmax' as 'unit' }), 'normalize');
    expectParameterError(() => loadFashionMNIST({ split: 'test', dir: '' }), 'dir');
  });
});

describe('loadFashionMNIST: missing and malformed files', () => {
  const root = tempDir('blocksparse-fashion-');
  const savedEnv = process.env[FASHION_MNIST_ENV];
  afterEach(() => {
    if (savedEnv === undefined) delete process.env[FASHION_MNIST_ENV];
    else process.env[FASHION_MNIST_ENV] = savedEnv;
  });

  /** A folder holding a fake `split` with the given images and labels arrays. */
  function fakeDir(name: string, images: { shape: number[]; data: Uint8Array }, labels: { type?: 'uint8' | 'int16'; data: Uint8Array | Int16Array }): string {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, FASHION_MNIST_FILES.test.images), encodeIdx({ type: 'uint8', ...images }, { gzip: true }));
    writeFileSync(join(dir, FASHION_MNIST_FILES.test.labels), encodeIdx({ type: labels.type ?? 'uint8', shape: [labels.data.length], data: labels.data }, { gzip: true }));
    return dir;
  }

  const threeImages = { shape: [3, 28, 28], data: Uint8Array.from({ length: 3 * 784 }, (_, k) => k % 256) };

  it('a missing file raises DatasetMissingError naming the path and the Debian package', () => {
    const dir = join(root, 'empty');
    mkdirSync(dir);
    const error = catchError(() => loadFashionMNIST({ dir, split: 'train' })) as DatasetMissingError;
    expect(error).toBeInstanceOf(DatasetMissingError);
    expect(error.code).toBe('E_DATASET_MISSING');
    expect(error.path).toBe(join(dir, 'train-images-idx3-ubyte.gz'));
    expect(error.dataset).toBe('Fashion-MNIST');
    expect(error.message).toContain(join(dir, 'train-images-idx3-ubyte.gz'));
    expect(error.message).toContain("install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist)");
    // Only the labels missing: that file is named.
    const half = join(root, 'half');
    mkdirSync(half);
    writeFileSync(join(half, FASHION_MNIST_FILES.test.images), encodeIdx({ type: 'uint8', ...threeImages }, { gzip: true }));
    expect(catchError(() => loadFashionMNIST({ dir: half, split: 'test' }))).toMatchObject({ path: join(half, 't10k-labels-idx1-ubyte.gz') });
  });

  it('BLOCKSPARSE_FASHION_MNIST overrides the default folder; dir overrides both', () => {
    const dir = fakeDir('from-env', threeImages, { data: Uint8Array.of(4, 0, 9) });
    process.env[FASHION_MNIST_ENV] = dir;
    expect(fashionMnistDir()).toBe(dir);
    const dataset = loadFashionMNIST({ split: 'test' });
    expect(dataset.n).toBe(3);
    expect(Array.from(dataset.labels)).toEqual([4, 0, 9]);
    expect(dataset.images[300]).toBe(Math.fround(44 / 255));
    expect(catchError(() => loadFashionMNIST({ split: 'train' }))).toMatchObject({ path: join(dir, 'train-images-idx3-ubyte.gz') });
    expect(fashionMnistDir('/elsewhere')).toBe('/elsewhere');
    process.env[FASHION_MNIST_ENV] = '';
    expect(fashionMnistDir()).toBe(FASHION_MNIST_DEBIAN_DIR);
    expect(FASHION_MNIST_DEBIAN_DIR).toBe('/usr/share/datasets/fashion-mnist');
  });

  it('images and labels that disagree in number raise FormatError naming both files', () => {
    const dir = fakeDir('count-mismatch', threeImages, { data: Uint8Array.of(1, 2) });
    const error = catchError(() => loadFashionMNIST({ dir, split: 'test' })) as FormatError;
    expect(error).toBeInstanceOf(FormatError);
    expect(error.field).toBe('shape');
    expect(error.message).toBe(`${join(dir, 't10k-images-idx3-ubyte.gz')} holds 3 images but ${join(dir, 't10k-labels-idx1-ubyte.gz')} holds 2 labels`);
  });

  it('images that are not 28 x 28, labels that are not bytes or not classes: FormatError with the path', () => {
    const cases: [string, string, RegExp][] = [
      [fakeDir('wide', { shape: [3, 28, 27], data: new Uint8Array(3 * 28 * 27) }, { data: new Uint8Array(3) }), 'shape', /t10k-images-idx3-ubyte\.gz: dimension mismatch: shape \[3, 28, 27\] where \[\*, 28, 28\]/],
      [fakeDir('int16-labels', threeImages, { type: 'int16', data: Int16Array.of(1, 2, 3) }), 'type', /t10k-labels-idx1-ubyte\.gz: element type int16 where uint8 was expected/],
      [fakeDir('label-10', threeImages, { data: Uint8Array.of(1, 10, 3) }), 'data', /t10k-labels-idx1-ubyte\.gz: label 10 at index 1 is not a class in \[0, 9\]/],
    ];
    for (const [dir, field, message] of cases) {
      const error = catchError(() => loadFashionMNIST({ dir, split: 'test' })) as FormatError;
      expect(error).toBeInstanceOf(FormatError);
      expect(error.field).toBe(field);
      expect(error.message).toMatch(message);
    }
  });

  it('a corrupt gz file raises FormatError, not a zlib error', () => {
    const dir = fakeDir('corrupt', threeImages, { data: Uint8Array.of(1, 2, 3) });
    writeFileSync(join(dir, FASHION_MNIST_FILES.test.images), Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff));
    expect(catchError(() => loadFashionMNIST({ dir, split: 'test' }))).toMatchObject({ name: 'FormatError', field: 'gzip' });
  });
});
