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
 * Training diverged: the loss became NaN or infinite, or (checked at every epoch's end) a parameter
 * or optimiser state, or the test loss. `step` is the first step (counted over the run, from 0)
 * whose loss was not finite, or the epoch's last step for what is checked at its end; `epoch` its
 * epoch; `loss` the bad value; `what` names what held it ("the loss", "the test loss", "parameter
 * 0.weight", ...); `checkpoint` the last good checkpoint kept (null when none was written), which
 * holds the state before the divergence.
 */
export class TrainingDivergedError extends BlocksparseError {
  readonly step: number;
  readonly epoch: number;
  readonly loss: number;
  readonly checkpoint: string | null;
  readonly what: string;
  constructor(step: number, epoch: number, loss: number, checkpoint: string | null, what = 'the loss') {
    const kept = checkpoint ? `; the last good checkpoint is kept at ${checkpoint}` : '; no checkpoint was written before it';
    const at = what === 'the loss' ? `at step ${step} (epoch ${epoch})` : `after step ${step} (the end of epoch ${epoch})`;
    super('E_DIVERGED', `training diverged: ${what} is ${loss} ${at}${kept}`);
    this.step = step;
    this.epoch = epoch;
    this.loss = loss;
    this.checkpoint = checkpoint;
    this.what = what;
  }
}

/**
 * A tensor about to be saved (in a checkpoint) holds NaN or an infinity: such state is never
 * written, so that the checkpoint a run keeps is always one it can resume from. `tensor` names it
 * (e.g. "parameter 2.weight", "optimizer state 2.weight#0"), `index` the first bad element.
 */
export class NonFiniteError extends BlocksparseError {
  readonly tensor: string;
  readonly index: number;
  readonly value: number;
  constructor(tensor: string, index: number, value: number, context: string) {
    super('E_NON_FINITE', `${context}: ${tensor} holds ${value} at element ${index}; only finite values are saved (the training has diverged; the last checkpoint is kept as it was)`);
    this.tensor = tensor;
    this.index = index;
    this.value = value;
  }
}
