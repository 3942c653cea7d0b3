/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747): 28 x 28 grey images of clothing
 * in 10 classes, 60,000 for training and 10,000 for testing, read from the gzipped IDX files of
 * Debian's `dataset-fashion-mnist` package (/usr/share/datasets/fashion-mnist/). Nothing is cached:
 * each call reads the files again, so callers keep the Dataset they need.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkMemory } from '../../budget.js';
import { checkInteger, checkOneOf } from '../../check.js';
import { FormatError, ParameterError } from '../../errors.js';
import { DatasetMissingError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { readIdxFile } from './idx.js';

/** A split of Fashion-MNIST. */
export type FashionMNISTSplit = 'train' | 'test';

/** How pixels are scaled: `unit` is p / 255 in [0, 1]; `standard` is (p / 255 - mean) / std with the training set's constants. */
export type PixelNormalization = 'unit' | 'standard';

/** Options of `loadFashionMNIST`. */
export interface FashionMNISTOptions {
  /** The folder with the four IDX files; default BLOCKSPARSE_FASHION_MNIST, else /usr/share/datasets/fashion-mnist. */
  dir?: string;
  /** Which split: 60,000 training or 10,000 test examples. */
  split: FashionMNISTSplit;
  /** Keep only the first `limit` examples (in file order); default all. */
  limit?: number;
  /** Pixel scaling (default 'unit'). */
  normalize?: PixelNormalization;
}

/** Where Debian's dataset-fashion-mnist package installs the files. */
export const FASHION_MNIST_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

/** The environment variable that overrides the default folder. */
export const FASHION_MNIST_ENV = 'BLOCKSPARSE_FASHION_MNIST';

/** The file names of each split, as the package (and the original distribution) names them. */
export const FASHION_MNIST_FILES: Readonly<Record<FashionMNISTSplit, { images: string; labels: string }>> = {
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
};

/** The ten class names, indexed by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/** Image side in pixels. */
export const FASHION_MNIST_SIDE = 28;

/**
 * Mean of the training set's 47,040,000 pixels scaled to [0, 1]: exactly 3431114169 / (47040000 * 255),
 * rounded to a double (computed from the data; the test recomputes it with numpy).
 */
export const FASHION_MNIST_MEAN = 0.2860405969887955;

/** Standard deviation (population, ddof 0) of the training pixels scaled to [0, 1], from the exact integer sums. */
export const FASHION_MNIST_STD = 0.3530242445149226;

const INSTALL_HINT =
  "install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist), " +
  `or point ${FASHION_MNIST_ENV} (or the dir option) at a folder holding its four IDX files`;

/** The folder files are read from: `dir` if given, else $BLOCKSPARSE_FASHION_MNIST if set and non-empty, else the Debian path. */
export function fashionMnistDir(dir?: string): string {
  if (dir !== undefined) {
    if (typeof dir !== 'string' || dir.length === 0) throw new ParameterError('dir', 'a non-empty path', dir, 'loadFashionMNIST');
    return dir;
  }
  const fromEnv = process.env[FASHION_MNIST_ENV];
  return fromEnv !== undefined && fromEnv.length > 0 ? fromEnv : FASHION_MNIST_DEBIAN_DIR;
}

/**
 * Loads a split of Fashion-MNIST: images [n, 784] as float32 (row-major, pixels of each image row
 * by row), labels [n] in [0, 9]. Raises DatasetMissingError (naming the path and the Debian
 * package) when a file is missing, FileError when one cannot be read, FormatError when a file is
 * malformed, has the wrong shape, holds no example, holds a label outside [0, 9], or images and
 * labels disagree in number; ResourceError when the files or the float32 images exceed the memory
 * budget; ParameterError for bad options (including a `limit` above the split's size).
 */
export function loadFashionMNIST(options: FashionMNISTOptions): Dataset {
  const context = 'loadFashionMNIST';
  if (typeof options !== 'object' || options === null) throw new ParameterError('options', "an object with at least a split ('train' or 'test')", options, context);
  const split = checkOneOf('split', options.split, ['train', 'test'] as const, context);
  const normalize = checkOneOf('normalize', options.normalize ?? 'unit', ['unit', 'standard'] as const, context);
  const limit = options.limit === undefined ? undefined : checkInteger('limit', options.limit, 1, Number.MAX_SAFE_INTEGER, context);
  const dir = fashionMnistDir(options.dir);
  const imagesPath = join(dir, FASHION_MNIST_FILES[split].images);
  const labelsPath = join(dir, FASHION_MNIST_FILES[split].labels);
  for (const path of [imagesPath, labelsPath]) {
    if (!existsSync(path)) throw new DatasetMissingError('Fashion-MNIST', path, INSTALL_HINT);
  }

  const labelsArray = readIdxFile(labelsPath, { type: 'uint8', shape: [null] });
  const imagesArray = readIdxFile(imagesPath, { type: 'uint8', shape: [null, FASHION_MNIST_SIDE, FASHION_MNIST_SIDE] });
  const count = imagesArray.shape[0];
  if (labelsArray.shape[0] !== count) {
    throw new FormatError(`${imagesPath} holds ${count} images but ${labelsPath} holds ${labelsArray.shape[0]} labels`, 'shape');
  }
  if (count === 0) throw new FormatError(`${imagesPath} holds no images: a data set needs at least one example`, 'shape');
  if (limit !== undefined && limit > count) throw new ParameterError('limit', `an integer in [1, ${count}] (the ${split} split's size)`, limit, context);
  const n = limit ?? count;
  const allLabels = labelsArray.data as Uint8Array;
  for (let i = 0; i < count; i++) {
    if (allLabels[i] >= FASHION_MNIST_CLASSES.length) {
      throw new FormatError(`${labelsPath}: label ${allLabels[i]} at index ${i} is not a class in [0, 9]`, 'data');
    }
  }

  const features = FASHION_MNIST_SIDE * FASHION_MNIST_SIDE;
  const pixels = imagesArray.data as Uint8Array;
  const scale = pixelTable(normalize);
  checkMemory(`Fashion-MNIST ${split} images as float32 (${n} x ${features})`, n * features * 4, { elements: n * features });
  const images = new Float32Array(n * features);
  for (let i = 0; i < images.length; i++) images[i] = scale[pixels[i]];
  return {
    images,
    labels: allLabels.slice(0, n),
    n,
    features,
    classes: FASHION_MNIST_CLASSES.length,
    classNames: FASHION_MNIST_CLASSES,
  };
}

/** The float32 value of each byte 0..255 under `normalize` (computed in double, rounded once). */
function pixelTable(normalize: PixelNormalization): Float32Array {
  const table = new Float32Array(256);
  for (let p = 0; p < 256; p++) {
    table[p] = normalize === 'unit' ? p / 255 : (p / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD;
  }
  return table;
}
