import { ParameterError } from '../../errors.js';

/**
 * A labelled classification data set held in memory: example i is the row
 * `images[i * features .. (i + 1) * features)` with label `labels[i]` in [0, classes).
 */
export interface Dataset {
  /** The examples, row-major [n, features]. */
  images: Float32Array;
  /** The class of each example, [n]. */
  labels: Uint8Array;
  /** Number of examples. */
  n: number;
  /** Values per example (784 for 28 x 28 images). */
  features: number;
  /** Number of classes (at most 256: labels are bytes). */
  classes: number;
  /** A name per class, `classNames[label]`. */
  classNames: readonly string[];
}

/** Checks that `dataset` is self-consistent (array lengths, label range); returns it. */
export function checkDataset(dataset: Dataset, context?: string): Dataset {
  if (typeof dataset !== 'object' || dataset === null) throw new ParameterError('dataset', 'a Dataset object', dataset, context);
  const { images, labels, n, features, classes, classNames } = dataset;
  if (!Number.isInteger(n) || n < 0) throw new ParameterError('dataset.n', 'a non-negative integer', n, context);
  if (!Number.isInteger(features) || features < 1) throw new ParameterError('dataset.features', 'a positive integer', features, context);
  if (!Number.isInteger(classes) || classes < 1 || classes > 256) throw new ParameterError('dataset.classes', 'an integer in [1, 256]', classes, context);
  if (!(images instanceof Float32Array) || images.length !== n * features) {
    throw new ParameterError('dataset.images', `a Float32Array of n * features = ${n * features} values`, images, context);
  }
  if (!(labels instanceof Uint8Array) || labels.length !== n) {
    throw new ParameterError('dataset.labels', `a Uint8Array of n = ${n} labels`, labels, context);
  }
  if (!Array.isArray(classNames) || classNames.length !== classes) {
    throw new ParameterError('dataset.classNames', `an array of classes = ${classes} names`, classNames, context);
  }
  for (let i = 0; i < n; i++) {
    if (labels[i] >= classes) throw new ParameterError(`dataset.labels[${i}]`, `a class in [0, ${classes - 1}]`, labels[i], context);
  }
  return dataset;
}
