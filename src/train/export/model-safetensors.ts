/**
 * A model as a safetensors file ("blocksparse-model", version 1) and back: every weight as it is
 * held (block-sparse weights as their present blocks plus their layout's CSR, dense ones as
 * [in, out]; model-tensors.ts names them), the architecture, provenance and vocabulary in the
 * header's metadata. Test-time L0 gates are folded into the blocks, so the file holds the model's
 * evaluation-mode function and the model read back has no gates. Reading our own files needs no
 * architecture; a state dict of an MLP trained elsewhere (PyTorch) is read with one (foreign-mlp.ts).
 * docs/formats.md describes the file, docs/pytorch.md the PyTorch loader.
 */
import { checkMemory } from '../../budget.js';
import { FormatError, ParameterError } from '../../errors.js';
import type { Backend } from '../../kernels/types.js';
import { CharVocabulary, type CharVocabularyJSON } from '../data/char-vocabulary.js';
import { BlockSparseLayer } from '../layers/block-sparse-layer.js';
import { Linear } from '../layers/linear.js';
import { LSTM } from '../layers/lstm.js';
import { Sequential } from '../layers/sequential.js';
import { modelFromRecord } from '../model.js';
import { checkLayerRecords, describeModel, type LayerRecord } from '../model-records.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsFile, type SafetensorsTensor } from '../safetensors.js';
import { mlpFromStateDict } from './foreign-mlp.js';
import type { MlpArch } from './mlp-arch.js';
import type { ImportedModel } from './imported-model.js';
import { layerTensorSpecs, modelTensorSpecs, weightSites } from './model-tensors.js';
import { readTensor, readWeight } from './model-weights.js';

export type { ImportedModel } from './imported-model.js';

/** The metadata's "format" of a model file. */
export const MODEL_FILE_FORMAT = 'blocksparse-model';
/** The metadata's "version" written, and the only one read. */
export const MODEL_FILE_VERSION = '1';
/** The metadata keys of a model file ("vocabulary" optional); no others are allowed. */
export const MODEL_FILE_METADATA = ['format', 'version', 'architecture', 'provenance', 'block_sizes', 'vocabulary'] as const;
/** Deepest nesting of the provenance object. */
const MAX_PROVENANCE_DEPTH = 32;

/** Options of `modelToSafetensors`. */
export interface ModelExportOptions {
  /** Where the model comes from (run settings, data, commit, ...): a JSON-safe object, stored as the "provenance" metadata (default {}). */
  provenance?: Record<string, unknown>;
  /** A language model's character vocabulary (as many characters as its embedding has rows), stored as the "vocabulary" metadata. */
  vocabulary?: CharVocabulary | CharVocabularyJSON | null;
}

/** Options of `modelFromSafetensors`. */
export interface ModelImportOptions {
  /** The architecture of a state dict trained elsewhere (an MLP; parseMlpArch reads `mlp:784,1024,10`). Refused for a blocksparse model file, which carries its own. */
  arch?: MlpArch;
  /** The file's name, recorded in an imported state dict's provenance and its masks' layouts. */
  source?: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** Whether `value` is JSON as it is (null, booleans, finite numbers, strings, arrays, plain objects), nested at most `depth` levels. */
function isJSONSafe(value: unknown, depth: number): boolean {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (depth <= 0) return false;
  if (Array.isArray(value)) return value.every((v) => isJSONSafe(v, depth - 1));
  return isPlainObject(value) && Object.values(value).every((v) => isJSONSafe(v, depth - 1));
}

/** The layout fields of a record's kind and the tensor prefix of each, for layer `i`. */
function layoutFields(kind: unknown, i: number): [string, string][] {
  if (kind === 'block-sparse-linear' || kind === 'block-sparse-conv2d') return [['layout', `layers.${i}`]];
  if (kind === 'lstm') return [['inputLayout', `layers.${i}.input`], ['recurrentLayout', `layers.${i}.recurrent`]];
  return [];
}

/** The block size of each block-sparse weight, by tensor prefix ("block_sizes"). */
function blockSizesOf(records: readonly LayerRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  records.forEach((record, i) => {
    for (const site of weightSites(record, i)) if (site.layout) out[site.prefix] = site.layout.blockSize;
  });
  return out;
}

/** The first index of a value that is not finite, or -1. */
function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (values[i] - values[i] !== 0) return i;
  return -1;
}

/**
 * The bytes of a safetensors file holding `model` (a Sequential of this toolkit's layers) for use
 * elsewhere: tensors named as model-tensors.ts says (block-sparse weights as [nnz, bs, bs] blocks,
 * or [nnz, kh, kw, bs, bs] for a convolution, in the layout's block order, with the layout's
 * row_ptr and col_idx as I32; dense weights [in, out], y = x W; biases, norms' gains and biases,
 * an embedding's table, an LSTM's bias), test-time L0 gates folded into the blocks; metadata
 * "format" ("blocksparse-model"), "version" ("1"), "architecture" (the LayerRecord[] JSON, each
 * layout without its rowPtr and colIdx, which are the tensors, and with l0 null), "provenance"
 * (`options.provenance` as JSON), "block_sizes" ({prefix: block size} of the block-sparse
 * weights) and, for a language model, "vocabulary". Reads the weights from the backend.
 * ParameterError names `model` (not a Sequential), `provenance` (not a JSON-safe object),
 * `vocabulary` (invalid, or of another size than the embedding's rows) or the parameter holding
 * a value that is not finite.
 */
export async function modelToSafetensors(model: Sequential, options: ModelExportOptions = {}): Promise<Uint8Array> {
  const context = 'modelToSafetensors';
  if (!(model instanceof Sequential)) throw new ParameterError('model', 'a Sequential', model, context);
  const provenance = options.provenance ?? {};
  if (!isPlainObject(provenance) || !isJSONSafe(provenance, MAX_PROVENANCE_DEPTH)) {
    throw new ParameterError('provenance', `a plain object of JSON values (finite numbers, strings, booleans, null, arrays, objects; at most ${MAX_PROVENANCE_DEPTH} levels)`, provenance, context);
  }
  const records = describeModel(model);
  const vocabulary = exportVocabulary(options.vocabulary, records, context);
  const tensors: [string, SafetensorsTensor][] = [];
  for (let i = 0; i < records.length; i++) {
    const layer = model.layers[i];
    const values = new Map<string, Float32Array | Int32Array>();
    const owners = layer instanceof LSTM ? [layer.input, layer.recurrent] : layer instanceof Linear || layer instanceof BlockSparseLayer ? [layer] : [];
    const sites = weightSites(records[i], i);
    for (let j = 0; j < sites.length; j++) {
      const weight = await readWeight(owners[j]);
      if (weight.kind === 'dense') {
        values.set(`${sites[j].prefix}.weight`, weight.values);
      } else {
        values.set(`${sites[j].prefix}.blocks`, weight.values);
        values.set(`${sites[j].prefix}.row_ptr`, Int32Array.from(weight.layout.rowPtr));
        values.set(`${sites[j].prefix}.col_idx`, Int32Array.from(weight.layout.colIdx));
      }
    }
    const parameters = new Map(layer.parameters().map((p) => [p.name, p]));
    for (const spec of layerTensorSpecs(records[i], i)) {
      let data = values.get(spec.name);
      if (!data) data = await readTensor(parameters.get(spec.parameter!)!.value);
      if (spec.dtype === 'F32') {
        const bad = firstNonFinite(data as Float32Array);
        if (bad >= 0) throw new ParameterError(spec.parameter!, 'finite values (the model has diverged?)', `${data[bad]} at element ${bad}`, context);
      }
      tensors.push([spec.name, { dtype: spec.dtype, shape: spec.shape, data }]);
    }
  }
  const metadata: Record<string, string> = {
    format: MODEL_FILE_FORMAT,
    version: MODEL_FILE_VERSION,
    architecture: JSON.stringify(records.map(storedRecord)),
    provenance: JSON.stringify(provenance),
    block_sizes: JSON.stringify(blockSizesOf(records)),
    ...(vocabulary ? { vocabulary: JSON.stringify(vocabulary) } : {}),
  };
  return encodeSafetensors(tensors, metadata);
}

/** A record as the file stores it: no L0 gates (folded into the blocks), layouts without their CSR (stored as tensors). */
function storedRecord(record: LayerRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { ...record };
  if ('l0' in out) out.l0 = null;
  for (const [field] of layoutFields(record.kind, 0)) {
    const layout = out[field] as Record<string, unknown> | null;
    if (layout) {
      const { rowPtr: _rowPtr, colIdx: _colIdx, ...rest } = layout;
      out[field] = rest;
    }
  }
  return out;
}

/** The vocabulary to store: checked, and as large as a leading embedding's rows. */
function exportVocabulary(value: CharVocabulary | CharVocabularyJSON | null | undefined, records: readonly LayerRecord[], context: string): CharVocabularyJSON | null {
  if (value === undefined || value === null) return null;
  let vocabulary: CharVocabulary;
  try {
    vocabulary = value instanceof CharVocabulary ? value : CharVocabulary.fromJSON(value);
  } catch (error) {
    if (error instanceof FormatError) throw new ParameterError('vocabulary', `a character vocabulary (${error.message})`, value, context);
    throw error;
  }
  const first = records[0];
  if (first.kind !== 'embedding' || first.symbols !== vocabulary.size) {
    throw new ParameterError('vocabulary', first.kind === 'embedding' ? `a vocabulary of ${first.symbols} characters (the embedding's rows)` : 'null for a model without an embedding', `${vocabulary.size} characters`, context);
  }
  return vocabulary.toJSON();
}

/**
 * The model in safetensors `bytes`: a blocksparse model file (its "format" metadata
 * "blocksparse-model") is rebuilt from its own architecture, with the same layouts (provenance
 * included) and weights, so its logits are those of the exported model (bit for bit on the same
 * backend when the exported model had no L0 gates or gates of 0 and 1 only); anything else is read
 * as a PyTorch state dict of an MLP of `options.arch` (mlpFromStateDict). Everything is checked
 * before the model is built, and the model's memory against the budget (ResourceError):
 * FormatError names the field (`version`, `architecture[2].layout.nnz`, `provenance`,
 * `vocabulary`, `block_sizes`) or the tensor (`layers.2.row_ptr` missing, of another dtype or
 * shape, or holding an invalid CSR; `layers.0.weight` not finite; a tensor no layer has).
 * ParameterError names `bytes` (not a Uint8Array), `arch` (given with a model file, or missing for
 * a state dict).
 */
export function modelFromSafetensors(backend: Backend, bytes: Uint8Array, options: ModelImportOptions = {}): ImportedModel {
  const context = 'modelFromSafetensors';
  if (!(bytes instanceof Uint8Array)) throw new ParameterError('bytes', 'a Uint8Array (the bytes of a safetensors file)', bytes, context);
  const file = decodeSafetensors(bytes);
  if (file.metadata.format === MODEL_FILE_FORMAT) {
    if (options.arch !== undefined) throw new ParameterError('arch', 'absent for a blocksparse model file (it carries its architecture)', options.arch, context);
    return readModelFile(backend, file);
  }
  if (options.arch === undefined) {
    throw new ParameterError('arch', `an MLP architecture (e.g. parseMlpArch('mlp:784,1024,10')) for a file without "format": "${MODEL_FILE_FORMAT}" metadata (a state dict trained elsewhere)`, options.arch, context);
  }
  return mlpFromStateDict(backend, file, options.arch, options.source === undefined ? {} : { source: options.source });
}

/** A metadata entry parsed as JSON (FormatError naming `key` otherwise). */
function metadataJSON(file: SafetensorsFile, key: string): unknown {
  const text = file.metadata[key];
  if (text === undefined) throw new FormatError(`the metadata has no "${key}"`, key);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FormatError(`"${key}" is not JSON: ${(error as Error).message}`, key);
  }
}

/** A tensor of the file that must be there with `dtype` (FormatError naming it otherwise). */
function tensorOf(file: SafetensorsFile, name: string, dtype: 'F32' | 'I32', why: string): SafetensorsTensor {
  const t = file.tensors.get(name);
  if (!t) throw new FormatError(`the file has no tensor ${name} (${why})`, name);
  if (t.dtype !== dtype) throw new FormatError(`${name} is ${t.dtype} but must be ${dtype}`, name);
  return t;
}

/**
 * The architecture records with each layout's rowPtr and colIdx taken from its tensors, validated
 * (checkLayerRecords; an invalid CSR is named by its tensor).
 */
function readArchitecture(file: SafetensorsFile): LayerRecord[] {
  const value = metadataJSON(file, 'architecture');
  if (!Array.isArray(value)) throw new FormatError('"architecture" must be a non-empty list of layers', 'architecture');
  const tensorOfField = new Map<string, string>();
  const records = value.map((record: unknown, i) => {
    if (!isPlainObject(record)) return record;
    const out: Record<string, unknown> = { ...record };
    for (const [field, prefix] of layoutFields(record.kind, i)) {
      const layout = record[field];
      if (!isPlainObject(layout)) continue;
      const where = `architecture[${i}].${field}`;
      for (const key of ['rowPtr', 'colIdx']) {
        if (key in layout) throw new FormatError(`${where}.${key} must be absent: the layout's CSR is the tensor ${prefix}.${key === 'rowPtr' ? 'row_ptr' : 'col_idx'}`, `${where}.${key}`);
      }
      const rowPtr = tensorOf(file, `${prefix}.row_ptr`, 'I32', `the CSR of ${where}`);
      const colIdx = tensorOf(file, `${prefix}.col_idx`, 'I32', `the CSR of ${where}`);
      for (const [name, t] of [[`${prefix}.row_ptr`, rowPtr], [`${prefix}.col_idx`, colIdx]] as const) {
        if (t.shape.length !== 1) throw new FormatError(`${name} has shape [${t.shape.join(', ')}] but must be 1-D`, name);
      }
      // The layout reader takes arrays of numbers: about 8 bytes an entry.
      checkMemory(`the layout ${where}`, 8 * (rowPtr.data.length + colIdx.data.length));
      out[field] = { ...layout, rowPtr: Array.from(rowPtr.data), colIdx: Array.from(colIdx.data) };
      tensorOfField.set(`${where}.rowPtr`, `${prefix}.row_ptr`);
      tensorOfField.set(`${where}.colIdx`, `${prefix}.col_idx`);
    }
    return out;
  });
  let checked: LayerRecord[];
  try {
    checked = checkLayerRecords(records);
  } catch (error) {
    if (!(error instanceof FormatError) || error.field === undefined) throw error;
    const tensor = tensorOfField.get(error.field);
    throw tensor ? new FormatError(`${tensor}: ${error.message}`, tensor) : error;
  }
  checked.forEach((record, i) => {
    if ('l0' in record && record.l0 !== null) throw new FormatError(`architecture[${i}].l0 must be null: a model file's gates are folded into its blocks`, `architecture[${i}].l0`);
  });
  return checked;
}

/** A blocksparse model file's model, provenance and vocabulary (see modelFromSafetensors). */
function readModelFile(backend: Backend, file: SafetensorsFile): ImportedModel {
  const { metadata } = file;
  for (const key of Object.keys(metadata)) {
    if (!(MODEL_FILE_METADATA as readonly string[]).includes(key)) throw new FormatError(`the metadata key "${key}" is not one of a model file's (${MODEL_FILE_METADATA.join(', ')})`, key);
  }
  if (metadata.version !== MODEL_FILE_VERSION) throw new FormatError(`version ${JSON.stringify(metadata.version)} is not one this reader reads ("${MODEL_FILE_VERSION}")`, 'version');
  const records = readArchitecture(file);
  const provenance = metadataJSON(file, 'provenance');
  if (!isPlainObject(provenance)) throw new FormatError('"provenance" must be a JSON object', 'provenance');
  const blockSizes = metadataJSON(file, 'block_sizes');
  const expected = blockSizesOf(records);
  if (JSON.stringify(blockSizes) !== JSON.stringify(expected)) {
    throw new FormatError(`"block_sizes" is ${JSON.stringify(blockSizes)} but the architecture's block-sparse weights have ${JSON.stringify(expected)}`, 'block_sizes');
  }
  const vocabulary = metadata.vocabulary === undefined ? null : readVocabulary(metadataJSON(file, 'vocabulary'), records);
  // Every tensor the architecture names, of its dtype and shape, finite; no others.
  const specs = modelTensorSpecs(records);
  const named = new Set(specs.map((s) => s.name));
  for (const name of file.tensors.keys()) {
    if (!named.has(name)) throw new FormatError(`${name} is not a tensor of the architecture`, name);
  }
  for (const spec of specs) {
    const t = tensorOf(file, spec.name, spec.dtype, 'the architecture needs it');
    if (t.shape.length !== spec.shape.length || t.shape.some((d, k) => d !== spec.shape[k])) {
      throw new FormatError(`${spec.name} has shape [${t.shape.join(', ')}] but the architecture needs [${spec.shape.join(', ')}]`, spec.name);
    }
    if (spec.dtype === 'F32') {
      const bad = firstNonFinite(t.data as Float32Array);
      if (bad >= 0) throw new FormatError(`${spec.name} holds ${t.data[bad]} at element ${bad}; a model's values must be finite`, spec.name);
    }
  }
  const model = modelFromRecord(backend, records, { kind: 'sgd' });
  const parameters = new Map(model.parameters().map((p) => [p.name, p]));
  for (const spec of specs) {
    if (spec.parameter === null) continue;
    const p = parameters.get(spec.parameter)!;
    p.value.dispose();
    p.value = backend.tensor(file.tensors.get(spec.name)!.data as Float32Array, spec.shape);
  }
  return { model, architecture: records, provenance, vocabulary, origin: 'blocksparse-model' };
}

/** A stored vocabulary: CharVocabulary's checks, and as many characters as a leading embedding's rows. */
function readVocabulary(value: unknown, records: readonly LayerRecord[]): CharVocabularyJSON {
  let vocabulary: CharVocabulary;
  try {
    vocabulary = CharVocabulary.fromJSON(value);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    throw new FormatError(`vocabulary: ${error.message}`, `vocabulary${error.field && error.field !== 'document' ? `.${error.field}` : ''}`);
  }
  const first = records[0];
  if (first.kind !== 'embedding' || first.symbols !== vocabulary.size) {
    throw new FormatError(`"vocabulary" holds ${vocabulary.size} characters but ${first.kind === 'embedding' ? `the embedding (architecture[0]) has ${first.symbols} rows` : 'the model has no embedding'}`, 'vocabulary');
  }
  return vocabulary.toJSON();
}
