/** What reading a model from a safetensors file gives: the model of a model file of this toolkit or of a state dict trained elsewhere. */
import type { CharVocabularyJSON } from '../data/char-vocabulary.js';
import type { Sequential } from '../layers/sequential.js';
import type { LayerRecord } from '../model-records.js';

/** A model read from a safetensors file. */
export interface ImportedModel {
  /** The model, on the backend given, in evaluation-ready form (no L0 gates). */
  model: Sequential;
  /** Its architecture records (describeModel's form). */
  architecture: LayerRecord[];
  /** A model file's "provenance"; for a state dict, {generator: 'state-dict', arch, layers, file}. */
  provenance: Record<string, unknown>;
  /** A language model file's character vocabulary, or null. */
  vocabulary: CharVocabularyJSON | null;
  /** 'blocksparse-model' for a model file of this toolkit, 'state-dict' for an MLP trained elsewhere. */
  origin: 'blocksparse-model' | 'state-dict';
}
