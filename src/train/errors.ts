import { BlocksparseError } from '../errors.js';

/**
 * A data set's files are not where they were looked for. `path` is the first missing file,
 * `dataset` the data set's name; the message says how to install it (e.g. which Debian package).
 */
export class DatasetMissingError extends BlocksparseError {
  readonly path: string;
  readonly dataset: string;
  constructor(dataset: string, path: string, howToInstall: string) {
    super('E_DATASET_MISSING', `${dataset}: ${path} does not exist; ${howToInstall}`);
    this.path = path;
    this.dataset = dataset;
  }
}
