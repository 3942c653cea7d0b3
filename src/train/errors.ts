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

/**
 * The training loss became NaN or infinite. `step` is the first step (counted over the run, from
 * 0) whose loss was not finite, `epoch` its epoch; `checkpoint` the last good checkpoint kept (null
 * when none was written), which holds the state before the divergence.
 */
export class TrainingDivergedError extends BlocksparseError {
  readonly step: number;
  readonly epoch: number;
  readonly loss: number;
  readonly checkpoint: string | null;
  constructor(step: number, epoch: number, loss: number, checkpoint: string | null) {
    const kept = checkpoint ? `; the last good checkpoint is kept at ${checkpoint}` : '; no checkpoint was written before it';
    super('E_DIVERGED', `training diverged: the loss is ${loss} at step ${step} (epoch ${epoch})${kept}`);
    this.step = step;
    this.epoch = epoch;
    this.loss = loss;
    this.checkpoint = checkpoint;
  }
}
