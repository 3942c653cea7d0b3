/**
 * Small deterministic data sets for unit tests of training code (real experiments use Fashion-MNIST).
 */
import { checkInteger, checkNumber } from '../../check.js';
import { ParameterError } from '../../errors.js';
import { resolveRng, type RandomOptions, type Rng } from '../../random.js';
import type { Dataset } from './dataset.js';

/** Options of `gaussianBlobs`. */
export interface GaussianBlobsOptions extends RandomOptions {
  /** Number of examples (at least 1). */
  n: number;
  /** Values per example (at least 1). */
  features: number;
  /** Number of classes, in [1, 256]. */
  classes: number;
  /** Standard deviation of every coordinate around its class centre (default 1). */
  spread?: number;
  /** Centre coordinates are uniform in [-centerScale, centerScale] (default 5). */
  centerScale?: number;
}

/** A synthetic Dataset together with the class centres it was drawn around. */
export interface SyntheticDataset extends Dataset {
  /** The centre of each class, row-major [classes, features]. */
  centers: Float64Array;
}

/** Largest n * features accepted (a 1 GiB float32 array is far beyond a unit test). */
const MAX_VALUES = 2 ** 28;

/**
 * Isotropic Gaussian blobs (as scikit-learn's make_blobs): each class c gets a centre with
 * coordinates uniform in [-centerScale, centerScale]; example i has label i mod classes (so classes
 * are balanced, sizes differing by at most one) and values centre[label] + spread * N(0, 1), the
 * normals drawn by Box-Muller. The stream is consumed in a fixed order (centres, then examples row
 * by row), so the same seed gives the same data on every machine running Node (V8's Math.log and
 * Math.cos are fdlibm ports, the same everywhere). Raises ParameterError for
 * counts out of range, a negative or non-finite spread or centerScale, or both seed and rng.
 */
export function gaussianBlobs(options: GaussianBlobsOptions): SyntheticDataset {
  const context = 'gaussianBlobs';
  if (typeof options !== 'object' || options === null) throw new ParameterError('options', 'an object with n, features and classes', options, context);
  const n = checkInteger('n', options.n, 1, MAX_VALUES, context);
  const features = checkInteger('features', options.features, 1, MAX_VALUES, context);
  const classes = checkInteger('classes', options.classes, 1, 256, context);
  if (n * features > MAX_VALUES) throw new ParameterError('n * features', `at most ${MAX_VALUES}`, n * features, context);
  const spread = checkNumber('spread', options.spread ?? 1, 0, Number.MAX_VALUE, context);
  const centerScale = checkNumber('centerScale', options.centerScale ?? 5, 0, Number.MAX_VALUE, context);
  const rng = resolveRng(options, context);

  const centers = new Float64Array(classes * features);
  for (let k = 0; k < centers.length; k++) centers[k] = (2 * rng() - 1) * centerScale;
  const images = new Float32Array(n * features);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % classes;
    labels[i] = label;
    const row = i * features;
    const center = label * features;
    for (let f = 0; f < features; f++) images[row + f] = centers[center + f] + spread * standardNormal(rng);
  }
  const classNames = Array.from({ length: classes }, (_, c) => `class ${c}`);
  return { images, labels, n, features, classes, classNames, centers };
}

/** A standard normal deviate by Box-Muller (one per two uniforms; 1 - u keeps the log finite). */
function standardNormal(rng: Rng): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
