/**
 * A training run's data from its settings: Fashion-MNIST for an MLP or a CNN; for a language model the
 * Brown corpus or a user's text file, its character vocabulary (the saved run's when resuming) and
 * the three texts encoded, the training text cut to --limit characters.
 */
import { ParameterError } from '../errors.js';
import { CharVocabulary, UnknownCharacterError, type CharVocabularyJSON } from '../train/data/char-vocabulary.js';
import type { Dataset } from '../train/data/dataset.js';
import { loadFashionMNIST } from '../train/data/fashion-mnist.js';
import { loadBrownCorpus } from '../train/data/brown.js';
import { minimumTrainingLength } from '../train/data/sequence-batches.js';
import { loadTextFile, type TextCorpus } from '../train/data/text-corpus.js';
import type { TextData } from '../train/tasks.js';
import { UsageError } from '../usage-error.js';
import { checkActivationMemory, DEFAULT_SEQ, type TrainRunConfig } from './training-settings.js';

/** A run's data: a classification data set, or a language model's encoded texts and vocabulary. */
export type RunData =
  | { kind: 'classification'; train: Dataset; test: Dataset }
  | {
      kind: 'text';
      text: TextData & { vocabulary: CharVocabulary };
      /** Characters of each split as trained and evaluated (train after --limit). */
      characters: { train: number; validation: number; test: number };
    };

/** The corpus `data` names: the Brown corpus, or the text file of text:<file> split 90 / 5 / 5 by position. */
function loadCorpus(data: string): TextCorpus {
  return data === 'brown' ? loadBrownCorpus() : loadTextFile(data.slice('text:'.length));
}

/**
 * Loads the data of `config` (a run's resolved settings). A language model's vocabulary is the
 * corpus's (all three splits), or `saved` (the resumed run's), which must be the corpus's own:
 * a text that changed since the run started is refused (UsageError naming --resume). UsageError
 * too for a --limit above the training text or leaving fewer characters than one epoch of
 * --batch streams and --seq steps needs.
 */
export function loadRunData(config: TrainRunConfig, saved: CharVocabularyJSON | null = null, resume?: string): RunData {
  if (config.model !== 'lstm') {
    return { kind: 'classification', train: loadFashionMNIST({ split: 'train', limit: config.limit ?? undefined }), test: loadFashionMNIST({ split: 'test' }) };
  }
  const corpus = loadCorpus(config.data);
  const own = CharVocabulary.fromCorpus(corpus);
  let vocabulary = own;
  if (saved !== null) {
    vocabulary = CharVocabulary.fromJSON(saved);
    if (JSON.stringify(vocabulary.codePoints) !== JSON.stringify(own.codePoints)) {
      throw new UsageError(`--resume ${resume}: ${config.data} is not the text the run trained on (its ${own.size} distinct characters differ from the run's ${vocabulary.size})`);
    }
  }
  checkActivationMemory(config, vocabulary.size);
  const encode = (text: string): Uint8Array | Uint16Array => {
    try {
      return vocabulary.encode(text);
    } catch (error) {
      if (error instanceof UnknownCharacterError) throw new UsageError(`${config.data}: ${error.message}`);
      throw error;
    }
  };
  let train = encode(corpus.train);
  const limit = config.limit;
  if (limit !== null) {
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > train.length) throw new ParameterError('limit', `an integer in [1, ${train.length}] (the training characters of ${config.data})`, limit);
    train = train.subarray(0, limit);
  }
  const steps = config.seq ?? DEFAULT_SEQ;
  const need = minimumTrainingLength({ batchSize: config.batch, steps });
  if (train.length < need) {
    throw new UsageError(`${config.data}: ${train.length} training characters${limit !== null ? ' (--limit)' : ''} are fewer than one epoch of --batch ${config.batch} streams of --seq ${steps} steps needs (B (2T - 1) + 1 = ${need}); lower --batch or --seq`);
  }
  const validation = encode(corpus.validation);
  const test = encode(corpus.test);
  return {
    kind: 'text',
    text: { train, validation, test, steps, vocabulary },
    characters: { train: train.length, validation: validation.length, test: test.length },
  };
}
