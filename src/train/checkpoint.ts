/**
 * Training checkpoints: a directory holding manifest.json (what the run is and where it stands)
 * and tensors.bin (float32 little-endian: every parameter, then every optimiser state tensor, then
 * the LSTMs' carried states, at the byte offsets the manifest gives). A checkpoint is written into a temporary directory next
 * to its place, fsynced, then renamed into place, so a reader sees the old checkpoint or the
 * new one, never a part. Every tensor entry carries the CRC-32 of its bytes, checked when read
 * (version 2; version 1 checkpoints, which have none, are still read, unchecked); a checkpoint is
 * written only from finite values, and read only after its manifest is validated completely
 * (architecture, tensor ranges, optimiser, gate-noise and metrics) and the model it describes is
 * known to fit the memory budget. Block-sparse weights are stored with their current layouts (pruning and
 * regrowth change them during a run), so a restored model has the blocks the saved one had; a
 * language model's checkpoint also holds its character vocabulary, and one written within an
 * epoch the epoch's progress, so that a resumed run continues exactly.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { asFileError, syncDirectory } from '../atomic-write.js';
import { readFileChecked, readTextChecked } from '../read-file.js';
import { FormatError, ParameterError } from '../errors.js';
import type { Tensor } from '../kernels/types.js';
import type { Seed } from '../random.js';
import type { TrainingHook } from './hooks.js';
import { blockSparseSites, optimizerRecord } from './checkpoint-parts.js';
import {
  checkManifest, crc32, CHECKPOINT_FORMAT, CHECKPOINT_MANIFEST, CHECKPOINT_TENSORS, CHECKPOINT_VERSION,
  type CarriedStateEntry, type CheckpointManifest, type EpochProgress, type NoiseEntry, type OptimizerRecord, type TensorEntry, type TrainingPosition,
} from './checkpoint-manifest.js';
import { CharVocabulary, type CharVocabularyJSON } from './data/char-vocabulary.js';
import { NonFiniteError } from './errors.js';
import { LSTM } from './layers/lstm.js';
import type { Sequential } from './layers/sequential.js';
import { describeModel } from './model.js';
import type { Optimizer } from './optimizers.js';

/** What `saveCheckpoint` saves. */
export interface CheckpointState {
  model: Sequential;
  optimizer: Optimizer;
  seed: Seed;
  position: TrainingPosition;
  hooks?: readonly TrainingHook[];
  metrics?: readonly unknown[];
  run?: Record<string, unknown>;
  /** A language model's character vocabulary (stored for sampling and checked on resume). */
  vocabulary?: CharVocabulary | CharVocabularyJSON | null;
  /** The epoch's sums so far, for a checkpoint within an epoch (position.batch > 0). */
  progress?: EpochProgress | null;
}

/** Layer kinds that version 2 readers do not know (older releases refuse them by the version, not by a layer kind they have never heard of). */
const VERSION_3_KINDS: readonly string[] = ['embedding', 'lstm', 'block-sparse-conv2d', 'image-input', 'channel-norm', 'max-pool2d', 'avg-pool2d', 'global-avg-pool'];

/**
 * The version a manifest needs: 3 when it holds what version 2 has no place for (carried states,
 * a vocabulary, an epoch's progress, gate noise of weights inside a layer, embedding, LSTM or
 * convolutional layers, a fixed layout, a language model's metrics), else 2, which older releases
 * read too.
 */
function versionNeeded(manifest: Omit<CheckpointManifest, 'version'>): number {
  const newer =
    manifest.state.length > 0 || manifest.vocabulary !== null || manifest.progress !== null ||
    manifest.noise.some((n) => n.part !== undefined) ||
    manifest.architecture.some((r) => VERSION_3_KINDS.includes(r.kind) || ('fixedLayout' in r && r.fixedLayout === true)) ||
    manifest.metrics.some((m) => typeof m === 'object' && m !== null && 'validationBpc' in m);
  return newer ? CHECKPOINT_VERSION : 2;
}

/** A checkpoint read from disk: the validated manifest and the bytes of tensors.bin as float32. */
export interface Checkpoint {
  /** The directory it was read from (the previous one if a commit was interrupted). */
  dir: string;
  manifest: CheckpointManifest;
  /** tensors.bin as float32: all of it, or with `parametersOnly` its start up to the end of the last parameter. */
  values: Float32Array;
  /** Read with `parametersOnly` (for inference): the optimiser state and carried states were not read. */
  parametersOnly?: true;
}

/** Options of `loadCheckpoint`. */
export interface LoadCheckpointOptions {
  /**
   * Read only the parameters (tensors.bin up to the end of the last one; their checksums checked),
   * not the optimiser state or the LSTMs' carried states: for inference, whose memory is then the
   * model's values alone. Such a checkpoint restores a model (`restoreModel`), not an optimiser.
   */
  parametersOnly?: boolean;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes of `values` as float32 little-endian. */
function toLittleEndian(values: Float32Array): Uint8Array {
  if (littleEndian) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  return out;
}

/** The index of the first NaN or infinite value, or -1. */
function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    // x - x is 0 for every finite x and NaN for NaN and the infinities.
    if (values[i] - values[i] !== 0) return i;
  }
  return -1;
}

/** Writes chunks to a new file and fsyncs it. */
function writeFileDurably(path: string, chunks: Iterable<Uint8Array>): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'wx', 0o666);
    for (const chunk of chunks) {
      let offset = 0;
      while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset);
    }
    fsyncSync(fd);
  } catch (error) {
    throw asFileError(path, 'write', error);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The sibling that holds the old checkpoint for the instant between the two renames of a commit. */
function previousDir(dir: string): string {
  return `${resolve(dir)}.previous`;
}

/**
 * Saves a checkpoint to directory `dir` (created or replaced): parameters, optimiser state,
 * position, seed, hook states, gate-noise states, current layouts and metrics. Reads the tensors
 * from the backend (one sync). Atomic: everything is written and fsynced in a temporary sibling
 * directory, which is then renamed into place; on any failure the temporary directory is removed
 * and the old checkpoint stays as it was.
 */
export async function saveCheckpoint(dir: string, state: CheckpointState): Promise<void> {
  if (typeof dir !== 'string' || dir.length === 0) throw new ParameterError('dir', 'a non-empty path', dir, 'saveCheckpoint');
  const { model, optimizer } = state;
  const target = resolve(dir);
  const parent = dirname(target);
  try {
    mkdirSync(parent, { recursive: true });
  } catch (error) {
    throw asFileError(parent, 'create the directory', error);
  }
  const temp = join(parent, `.${basename(target).slice(0, 180)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    mkdirSync(temp);
  } catch (error) {
    throw asFileError(temp, 'create the temporary directory', error);
  }
  try {
    // Everything is read back and checked (finite values, a manifest that reads back) before
    // anything is written: a checkpoint is only ever a state a run can resume from.
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    const store = async (name: string, what: string, tensor: Tensor): Promise<TensorEntry> => {
      const values = await tensor.backend.read(tensor);
      const bad = firstNonFinite(values);
      if (bad >= 0) throw new NonFiniteError(`${what} ${name}`, bad, values[bad], 'saveCheckpoint');
      const chunk = toLittleEndian(values);
      const entry = { name, shape: [...tensor.shape], offset: bytes, length: values.length, crc32: crc32(chunk) };
      chunks.push(chunk);
      bytes += chunk.byteLength;
      return entry;
    };
    const parameters: TensorEntry[] = [];
    for (const p of model.parameters()) parameters.push(await store(p.name, 'parameter', p.value));
    const optimizerState: OptimizerRecord['state'] = [];
    const optimized = new Set(optimizer.parameters);
    for (const p of model.parameters()) {
      if (!optimized.has(p)) continue;
      const slots: TensorEntry[] = [];
      for (const [i, t] of optimizer.state(p).entries()) slots.push(await store(`${p.name}#${i}`, 'optimizer state', t));
      optimizerState.push({ parameter: p.name, steps: optimizer.stepsOf(p), slots });
    }

    const noise: NoiseEntry[] = [];
    for (const { layer, part, target } of blockSparseSites(model)) {
      const s = target.noiseState();
      if (s) noise.push({ layer, ...(part ? { part } : {}), state: s });
    }
    const carried: CarriedStateEntry[] = [];
    for (const [i, layer] of model.layers.entries()) {
      const st = layer instanceof LSTM ? layer.state : null;
      if (st) carried.push({ layer: i, h: await store(`${i}.state.h`, 'carried state', st.h), c: await store(`${i}.state.c`, 'carried state', st.c) });
    }
    const hooks: Record<string, unknown> = {};
    for (const hook of state.hooks ?? []) {
      if (Object.hasOwn(hooks, hook.name)) throw new ParameterError('hooks', 'hooks with distinct names', hook.name, 'saveCheckpoint');
      hooks[hook.name] = hook.state ? hook.state() : null;
    }
    const vocabulary = state.vocabulary instanceof CharVocabulary ? state.vocabulary.toJSON() : (state.vocabulary ?? null);
    const progress = state.progress ?? null;
    if ((progress !== null) !== (state.position.batch > 0)) {
      throw new ParameterError('progress', 'given exactly when position.batch is above 0 (a checkpoint within an epoch)', progress === null ? 'none' : 'a progress record', 'saveCheckpoint');
    }
    const content: Omit<CheckpointManifest, 'version'> = {
      format: CHECKPOINT_FORMAT,
      savedAt: new Date().toISOString(),
      seed: state.seed,
      position: { ...state.position },
      architecture: describeModel(model),
      parameters,
      optimizer: { ...optimizerRecord(optimizer), state: optimizerState },
      noise,
      state: carried,
      vocabulary,
      progress,
      hooks,
      metrics: [...(state.metrics ?? [])],
      run: state.run ?? {},
      tensors: { file: CHECKPOINT_TENSORS, bytes },
    };
    const { format, state: _state, vocabulary: _vocabulary, progress: _progress, ...older } = content;
    // Version 3's keys only when there is something in them: a version 2 manifest has none.
    const manifest = {
      format, version: versionNeeded(content), ...older,
      ...(carried.length > 0 ? { state: carried } : {}), ...(vocabulary ? { vocabulary } : {}), ...(progress ? { progress } : {}),
    };
    const text = `${JSON.stringify(manifest, null, 1)}\n`;
    try {
      checkManifest(JSON.parse(text), bytes);
    } catch (error) {
      if (error instanceof FormatError) throw new FormatError(`saveCheckpoint: the state given would not read back: ${error.message}`, error.field);
      throw error;
    }
    writeFileDurably(join(temp, CHECKPOINT_TENSORS), chunks);
    writeFileDurably(join(temp, CHECKPOINT_MANIFEST), [new TextEncoder().encode(text)]);
    syncDirectory(temp);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
  // Commit: a non-empty directory cannot be renamed over, so the old one steps aside first; a
  // reader that finds no manifest at `dir` reads `<dir>.previous` (see loadCheckpoint).
  const previous = previousDir(target);
  try {
    rmSync(previous, { recursive: true, force: true });
    if (existsSync(target)) renameSync(target, previous);
    renameSync(temp, target);
    syncDirectory(parent);
    rmSync(previous, { recursive: true, force: true });
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw asFileError(target, 'commit the checkpoint', error);
  }
}

/**
 * Reads and validates the checkpoint in `dir`. If `dir` has no manifest but `<dir>.previous` does
 * (a commit interrupted between its two renames), that one is read. The manifest is validated
 * completely against the size of tensors.bin before tensors.bin is read (through the checked
 * reader: ResourceError past the memory budget or the 4 GiB one buffer holds), and each tensor's
 * CRC-32 is checked after. FileError when the files cannot be read; FormatError (message starting
 * with the file, `field` naming what is wrong) when they are not a valid checkpoint.
 */
export function loadCheckpoint(dir: string, options: LoadCheckpointOptions = {}): Checkpoint {
  if (typeof dir !== 'string' || dir.length === 0) throw new ParameterError('dir', 'a non-empty path', dir, 'loadCheckpoint');
  let from = resolve(dir);
  if (!existsSync(join(from, CHECKPOINT_MANIFEST)) && existsSync(join(previousDir(from), CHECKPOINT_MANIFEST))) from = previousDir(from);
  const manifestPath = join(from, CHECKPOINT_MANIFEST);
  const tensorsPath = join(from, CHECKPOINT_TENSORS);
  const text = readTextChecked(manifestPath, { what: CHECKPOINT_MANIFEST });
  let size: number;
  try {
    size = statSync(tensorsPath).size;
  } catch (error) {
    throw asFileError(tensorsPath, 'read', error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new FormatError(`${manifestPath}: not valid JSON (${(error as Error).message})`, 'manifest');
  }
  let manifest: CheckpointManifest;
  try {
    manifest = checkManifest(parsed, size);
  } catch (error) {
    if (error instanceof FormatError) throw new FormatError(`${manifestPath}: ${error.message}`, error.field);
    throw error;
  }
  const parametersOnly = options.parametersOnly === true;
  // Parameters come first in tensors.bin; the manifest's offsets were checked against its size.
  const wanted = parametersOnly ? manifest.parameters.reduce((end, e) => Math.max(end, e.offset + 4 * e.length), 0) : size;
  const raw = readFileChecked(tensorsPath, { what: CHECKPOINT_TENSORS, ...(parametersOnly ? { prefix: wanted } : {}) });
  if (raw.length !== wanted) throw new FormatError(`${tensorsPath}: changed while being read (${wanted} bytes expected, ${raw.length} read)`, 'tensors');
  // On little-endian machines the bytes are the values: a view, not a second copy.
  let values: Float32Array;
  if (littleEndian && raw.byteOffset % 4 === 0) values = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  else {
    values = new Float32Array(raw.length / 4);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(4 * i, true);
  }
  const entries = [
    ...manifest.parameters.map((entry, i) => ({ field: `parameters[${i}]`, entry })),
    ...(parametersOnly ? [] : manifest.optimizer.state.flatMap((st, i) => st.slots.map((entry, j) => ({ field: `optimizer.state[${i}].slots[${j}]`, entry })))),
    ...(parametersOnly ? [] : manifest.state.flatMap((st, i) => [{ field: `state[${i}].h`, entry: st.h }, { field: `state[${i}].c`, entry: st.c }])),
  ];
  for (const { field, entry } of entries) {
    if (entry.crc32 === undefined) continue;
    if (crc32(raw.subarray(entry.offset, entry.offset + 4 * entry.length)) !== entry.crc32) {
      throw new FormatError(`${tensorsPath}: checksum of ${field} (${entry.name}) does not match: the file is damaged`, field);
    }
  }
  return { dir: from, manifest, values, ...(parametersOnly ? { parametersOnly: true as const } : {}) };
}

/** The values of one stored tensor (a copy). */
export function checkpointTensor(checkpoint: Checkpoint, entry: TensorEntry): Float32Array {
  return checkpoint.values.slice(entry.offset / 4, entry.offset / 4 + entry.length);
}

