/**
 * Sampling text from a trained run: the run's last checkpoint (its model and character
 * vocabulary) restored on a backend, then `sampleText`.
 */
import { existsSync } from 'node:fs';
import { checkInteger } from '../check.js';
import { FileError, ParameterError } from '../errors.js';
import { getBackend, type BackendChoice } from '../kernels/get-backend.js';
import type { Seed } from '../random.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { restoreModel } from '../train/checkpoint-restore.js';
import { CharVocabulary } from '../train/data/char-vocabulary.js';
import { MAX_SAMPLE_LENGTH, MAX_TEMPERATURE, sampleText } from '../train/sample.js';
import { UsageError } from '../usage-error.js';
import { resumeCheckpointDir } from './training.js';

/** Options of `sampleRun`: sampleText's, and the backend to run the model on. */
export interface SampleRunOptions {
  /** Characters to generate, in [1, 100000]. */
  length: number;
  /** Divides the logits before the softmax, in (0, 100]. */
  temperature: number;
  /** The sampling generator's seed. */
  seed: Seed;
  /** Text fed to the model before generating (default: a newline when the vocabulary has one). */
  prime?: string;
  backend: BackendChoice;
  /** Lines about the backend picked (default: to stderr, as getBackend does). */
  log?: (message: string) => void;
}

/** What `sampleRun` returns. */
export interface SampleRunResult {
  /** The generated text (without the prime). */
  text: string;
  /** The checkpoint directory read. */
  checkpoint: string;
  /** The training steps the checkpoint's model had taken. */
  step: number;
}

/**
 * Generates text from the language model of the run in `run` (a run directory of `train --model
 * lstm`, or its checkpoint directory): loads its checkpoint (the model with its layouts as
 * trained, and the character vocabulary stored with it), runs `sampleText` with `options` on the
 * backend chosen, and frees everything. The options are checked before anything is read
 * (ParameterError naming them); FileError when `run` does not exist; UsageError when its
 * checkpoint holds no vocabulary (not a language model's run); the checkpoint's own errors
 * (FormatError, ResourceError) as `loadCheckpoint` and `restoreModel` raise them.
 */
export async function sampleRun(run: string, options: SampleRunOptions): Promise<SampleRunResult> {
  const context = 'sample';
  checkInteger('length', options.length, 1, MAX_SAMPLE_LENGTH, context);
  const { temperature } = options;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0 || temperature > MAX_TEMPERATURE) {
    throw new ParameterError('temperature', `a number in (0, ${MAX_TEMPERATURE}] (a tiny one such as 1e-6 takes the most likely character)`, temperature, context);
  }
  if (options.prime !== undefined && (typeof options.prime !== 'string' || options.prime.length === 0)) throw new ParameterError('prime', 'a non-empty string', options.prime, context);
  if (typeof run !== 'string' || run.length === 0) throw new UsageError('sample needs a run directory (the --out of blocksparse train --model lstm)');
  if (!existsSync(run)) throw new FileError(run, 'does not exist: there is no run to sample from');
  const checkpoint = loadCheckpoint(resumeCheckpointDir(run));
  const saved = checkpoint.manifest.vocabulary;
  if (saved === null) throw new UsageError(`${run}: not a language model's run (its checkpoint holds no character vocabulary): sample needs a run of blocksparse train --model lstm`);
  const vocabulary = CharVocabulary.fromJSON(saved);
  const backend = await getBackend(options.backend, options.log ? { log: options.log } : {});
  try {
    const model = restoreModel(checkpoint, backend);
    try {
      const text = await sampleText(model, vocabulary, {
        length: options.length, temperature, seed: options.seed, ...(options.prime !== undefined ? { prime: options.prime } : {}),
      });
      return { text, checkpoint: checkpoint.dir, step: checkpoint.manifest.position.step };
    } finally {
      model.dispose();
    }
  } finally {
    await backend.dispose();
  }
}
