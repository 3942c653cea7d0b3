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
import { describeValue, FormatError, ParameterError, ShapeError } from '../errors.js';
import type { Backend, Tensor } from '../kernels/types.js';
import { layoutFromJSON, type LayoutJSON } from '../patterns/json-format.js';
import type { BlockLayout } from '../patterns/layout.js';
import type { Seed } from '../random.js';
import type { TrainingHook } from './hooks.js';
import {
  checkManifest, crc32, CHECKPOINT_FORMAT, CHECKPOINT_MANIFEST, CHECKPOINT_TENSORS, CHECKPOINT_VERSION,
  type CarriedStateEntry, type CheckpointManifest, type EpochProgress, type NoiseEntry, type OptimizerHyper, type OptimizerRecord, type TensorEntry, type TrainingPosition,
} from './checkpoint-manifest.js';
import { CharVocabulary, type CharVocabularyJSON } from './data/char-vocabulary.js';
import { NonFiniteError } from './errors.js';
import type { BlockSparseLinear } from './layers/block-sparse-linear.js';
import type { Parameter } from './layers/layer.js';
import { LSTM } from './layers/lstm.js';
import type { Sequential } from './layers/sequential.js';
import { describeModel, modelFromRecord, type LayerRecord } from './model.js';
import { Adam, SGD, type Optimizer } from './optimizers.js';

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

/** A block-sparse weight of a model and where it sits: layer `layer` itself, or its weights `part` (an LSTM's). */
interface BlockSparseSite {
  layer: number;
  part?: 'input' | 'recurrent';
  target: BlockSparseLinear;
}

/**
 * Every block-sparse weight of `model` (`Sequential.blockSparseLayers()`, those inside LSTMs
 * included), with its place, read from its weight's name: "2.weight" is layer 2 itself,
 * "1.recurrent.weight" the recurrent weights of layer 1.
 */
function blockSparseSites(model: Sequential): BlockSparseSite[] {
  return model.blockSparseLayers().map((target) => {
    const match = /^(\d+)\.(?:(input|recurrent)\.)?weight$/.exec(target.weight.name);
    if (!match) throw new ShapeError(`checkpoint: the block-sparse weight ${target.weight.name} is not a layer's weight or an LSTM's input or recurrent weight`);
    return { layer: Number(match[1]), ...(match[2] ? { part: match[2] as 'input' | 'recurrent' } : {}), target };
  });
}

/** A site's name in messages: "layer 2" or "the recurrent weights of layer 2". */
function siteName(site: { layer: number; part?: string }): string {
  return site.part ? `the ${site.part} weights of layer ${site.layer}` : `layer ${site.layer}`;
}

/**
 * The version a manifest needs: 3 when it holds what version 2 has no place for (carried states,
 * a vocabulary, an epoch's progress, gate noise of weights inside a layer, embedding or LSTM
 * layers, a language model's metrics), else 2, which older releases read too.
 */
function versionNeeded(manifest: Omit<CheckpointManifest, 'version'>): number {
  const newer =
    manifest.state.length > 0 || manifest.vocabulary !== null || manifest.progress !== null ||
    manifest.noise.some((n) => n.part !== undefined) ||
    manifest.architecture.some((r) => r.kind === 'embedding' || r.kind === 'lstm') ||
    manifest.metrics.some((m) => typeof m === 'object' && m !== null && 'validationBpc' in m);
  return newer ? CHECKPOINT_VERSION : 2;
}

/** A checkpoint read from disk: the validated manifest and the bytes of tensors.bin as float32. */
export interface Checkpoint {
  /** The directory it was read from (the previous one if a commit was interrupted). */
  dir: string;
  manifest: CheckpointManifest;
  values: Float32Array;
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

function optimizerRecord(optimizer: Optimizer): OptimizerHyper {
  if (optimizer instanceof SGD) {
    return { kind: 'sgd', lr: optimizer.lr, momentum: optimizer.momentum, nesterov: optimizer.nesterov, weightDecay: optimizer.weightDecay, steps: optimizer.steps };
  }
  if (optimizer instanceof Adam) {
    return {
      kind: optimizer.decoupled ? 'adamw' : 'adam', lr: optimizer.lr, beta1: optimizer.beta1, beta2: optimizer.beta2,
      eps: optimizer.eps, weightDecay: optimizer.weightDecay, steps: optimizer.steps,
    };
  }
  throw new ParameterError('optimizer', 'an SGD or Adam optimiser', optimizer, 'saveCheckpoint');
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
export function loadCheckpoint(dir: string): Checkpoint {
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
  const raw = readFileChecked(tensorsPath, { what: CHECKPOINT_TENSORS });
  if (raw.length !== size) throw new FormatError(`${tensorsPath}: changed while being read (${size} bytes, then ${raw.length})`, 'tensors');
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
    ...manifest.optimizer.state.flatMap((st, i) => st.slots.map((entry, j) => ({ field: `optimizer.state[${i}].slots[${j}]`, entry }))),
    ...manifest.state.flatMap((st, i) => [{ field: `state[${i}].h`, entry: st.h }, { field: `state[${i}].c`, entry: st.c }]),
  ];
  for (const { field, entry } of entries) {
    if (entry.crc32 === undefined) continue;
    if (crc32(raw.subarray(entry.offset, entry.offset + 4 * entry.length)) !== entry.crc32) {
      throw new FormatError(`${tensorsPath}: checksum of ${field} (${entry.name}) does not match: the file is damaged`, field);
    }
  }
  return { dir: from, manifest, values };
}

/** The values of one stored tensor (a copy). */
export function checkpointTensor(checkpoint: Checkpoint, entry: TensorEntry): Float32Array {
  return checkpoint.values.slice(entry.offset / 4, entry.offset / 4 + entry.length);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Puts the stored parameter values and gate-noise states into `model` (whose parameters must have the stored names and shapes). */
function loadParameters(checkpoint: Checkpoint, model: Sequential): void {
  const { manifest } = checkpoint;
  const params = model.parameters();
  if (params.length !== manifest.parameters.length) {
    throw new FormatError(`the checkpoint holds ${manifest.parameters.length} parameters but the model has ${params.length}`, 'parameters');
  }
  params.forEach((p, i) => {
    const entry = manifest.parameters[i];
    if (entry.name !== p.name || !sameShape(entry.shape, p.value.shape)) {
      throw new FormatError(`parameters[${i}] is ${entry.name} [${entry.shape.join(', ')}] in the checkpoint but ${p.name} [${p.value.shape.join(', ')}] in the model`, `parameters[${i}]`);
    }
  });
  const sites = blockSparseSites(model);
  const key = (site: { layer: number; part?: string }) => `${site.layer}.${site.part ?? ''}`;
  const byKey = new Map(sites.map((site) => [key(site), site]));
  for (const entry of manifest.noise) {
    const site = byKey.get(key(entry));
    if (!site || site.target.noiseState() === null) {
      throw new FormatError(`noise: ${siteName(entry)} has a gate-noise state in the checkpoint but is not an L0-gated block-sparse weight in the model`, 'noise');
    }
  }
  const noisy = new Set(manifest.noise.map(key));
  for (const site of sites) {
    if (site.target.noiseState() !== null && !noisy.has(key(site))) throw new FormatError(`noise: ${siteName(site)} is L0-gated but the checkpoint has no gate-noise state for it`, 'noise');
  }
  for (const { layer } of manifest.state) {
    const target = model.layers[layer];
    if (!(target instanceof LSTM) || target.hidden !== manifest.state.find((st) => st.layer === layer)!.h.shape[1]) {
      throw new FormatError(`state: layer ${layer} has a carried state in the checkpoint but is not an LSTM of its width in the model`, 'state');
    }
  }
  // Everything checked: now the values.
  params.forEach((p, i) => replaceValue(p, p.value.backend.tensor(checkpointTensor(checkpoint, manifest.parameters[i]), manifest.parameters[i].shape)));
  for (const entry of manifest.noise) byKey.get(key(entry))!.target.setNoiseState(entry.state);
  const backend = model.backend;
  model.resetState();
  for (const { layer, h, c } of manifest.state) {
    (model.layers[layer] as LSTM).setState({ h: backend.tensor(checkpointTensor(checkpoint, h), h.shape), c: backend.tensor(checkpointTensor(checkpoint, c), c.shape) });
  }
}

function replaceValue(p: Parameter, value: Tensor): void {
  p.value.dispose();
  p.value = value;
  p.grad?.dispose();
  p.grad = null;
}

/** Puts the stored optimiser state (steps, lr, per-parameter tensors and steps) into `optimizer`; its kind and hyper-parameters must match. */
function loadOptimizerState(checkpoint: Checkpoint, optimizer: Optimizer): void {
  const record = checkpoint.manifest.optimizer;
  const { state: _state, steps, lr, ...hyper } = record;
  const current = optimizerRecord(optimizer) as Record<string, unknown>;
  for (const [key, value] of Object.entries(hyper)) {
    if (current[key] !== value) {
      throw new FormatError(`optimizer.${key} is ${JSON.stringify(value)} in the checkpoint but ${JSON.stringify(current[key])} in the optimiser given`, `optimizer.${key}`);
    }
  }
  optimizer.lr = lr;
  optimizer.steps = steps;
  const byName = new Map(optimizer.parameters.map((p) => [p.name, p]));
  for (const { parameter, steps: paramSteps, slots } of record.state) {
    const p = byName.get(parameter);
    if (!p) throw new FormatError(`optimizer.state names ${parameter}, which the optimiser does not update`, 'optimizer.state');
    for (const slot of slots) {
      if (!sameShape(slot.shape, p.value.shape)) throw new FormatError(`optimizer state ${slot.name} has shape [${slot.shape.join(', ')}] but ${parameter} has [${p.value.shape.join(', ')}]`, 'optimizer.state');
    }
    if (slots.length === 0 && paramSteps === 0) continue;
    const tensors = slots.map((slot) => p.value.backend.tensor(checkpointTensor(checkpoint, slot), slot.shape));
    try {
      optimizer.setState(p, tensors, paramSteps);
    } catch (error) {
      for (const t of tensors) t.dispose();
      throw new FormatError(`optimizer state of ${parameter}: ${(error as Error).message}`, 'optimizer.state');
    }
  }
}

/**
 * Gives each hook its stored state; the checkpoint and the hooks must name the same hooks, a hook
 * that restores state must have one stored, and a hook that keeps none must have null.
 * FormatError naming the manifest and the field inside the state (`hooks.gradual-pruning.initialNnz[0]`)
 * when a hook's `restore` refuses its state.
 */
export function restoreHooks(checkpoint: Checkpoint, hooks: readonly TrainingHook[]): void {
  const stored = checkpoint.manifest.hooks;
  const manifestPath = join(checkpoint.dir, CHECKPOINT_MANIFEST);
  const names = new Set(hooks.map((h) => h.name));
  for (const name of Object.keys(stored)) {
    if (!names.has(name)) throw new FormatError(`the checkpoint has state of hook "${name}" but no such hook was given (resuming without it would not continue the run)`, 'hooks');
  }
  for (const hook of hooks) {
    if (!Object.hasOwn(stored, hook.name)) throw new FormatError(`hook "${hook.name}" has no state in the checkpoint (it was not part of the saved run)`, 'hooks');
    const state = stored[hook.name];
    const where = `hooks.${hook.name}`;
    if (!hook.restore) {
      if (state !== null && !hook.state) throw new FormatError(`${manifestPath}: ${where} must be null: the hook keeps no state (got ${describeValue(state)})`, where);
      continue;
    }
    if (state === null) throw new FormatError(`${manifestPath}: ${where} is null, but the hook needs its saved state to continue the run`, where);
    try {
      hook.restore(state);
    } catch (error) {
      if (error instanceof FormatError) {
        const inner = error.field ?? '';
        const field = inner ? `${where}.${inner}` : where;
        const message = inner && error.message.startsWith(inner) ? `${field}${error.message.slice(inner.length)}` : `${where}: ${error.message}`;
        throw new FormatError(`${manifestPath}: ${message}`, field);
      }
      if (error instanceof ParameterError) throw new FormatError(`${manifestPath}: ${where}: ${error.message}`, where);
      throw error;
    }
  }
}

/** A model rebuilt from a checkpoint on `backend`: its architecture (with the layouts as saved), parameter values and gate-noise states. */
export function restoreModel(checkpoint: Checkpoint, backend: Backend): Sequential {
  const { kind, momentum } = checkpoint.manifest.optimizer as { kind: 'sgd' | 'adam' | 'adamw'; momentum?: number };
  const model = modelFromRecord(backend, checkpoint.manifest.architecture, { kind, momentum });
  try {
    loadParameters(checkpoint, model);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

/** An optimiser of the saved kind and hyper-parameters over `model`'s parameters, with the saved state. */
export function restoreOptimizer(checkpoint: Checkpoint, model: Sequential): Optimizer {
  const r = checkpoint.manifest.optimizer;
  const optimizer =
    r.kind === 'sgd'
      ? new SGD(model.parameters(), { lr: r.lr, momentum: r.momentum, nesterov: r.nesterov, weightDecay: r.weightDecay })
      : new Adam(model.parameters(), { lr: r.lr, beta1: r.beta1, beta2: r.beta2, eps: r.eps, weightDecay: r.weightDecay, decoupled: r.kind === 'adamw' });
  loadOptimizerState(checkpoint, optimizer);
  return optimizer;
}

/**
 * Restores a checkpoint into an existing model, optimiser and hooks. The model must have the
 * saved architecture, including each block-sparse layer's layout (a run whose layouts changed is
 * resumed with `restoreModel`); FormatError names the first difference.
 */
export function applyCheckpoint(checkpoint: Checkpoint, target: { model: Sequential; optimizer: Optimizer; hooks?: readonly TrainingHook[] }): void {
  const saved = checkpoint.manifest.architecture;
  const current = describeModel(target.model);
  if (saved.length !== current.length) throw new FormatError(`the checkpoint's model has ${saved.length} layers but the model given has ${current.length}`, 'architecture');
  current.forEach((layer, i) => {
    const other = saved[i];
    if (layer.kind !== other.kind) throw new FormatError(`architecture[${i}] is ${other.kind} in the checkpoint but ${layer.kind} in the model`, `architecture[${i}]`);
    // Layouts compare by their blocks (provenance aside); everything else by value.
    const layouts = (r: LayerRecord): [string, LayoutJSON | null][] =>
      r.kind === 'block-sparse-linear' ? [['layout', r.layout]] : r.kind === 'lstm' ? [['inputLayout', r.inputLayout], ['recurrentLayout', r.recurrentLayout]] : [];
    const mine = layouts(layer);
    layouts(other).forEach(([key, json], j) => {
      const theirs = json === null ? null : layoutFromJSON(json);
      const ours = mine[j][1] === null ? null : layoutFromJSON(mine[j][1]!);
      if (theirs === null && ours === null) return;
      if (theirs === null || ours === null || !theirs.equals(ours)) {
        const describe = (l: BlockLayout | null, blocks: string) => (l === null ? 'dense' : `${l.inBlocks} x ${l.outBlocks}${blocks}, nnz ${l.nnz}`);
        throw new FormatError(
          `architecture[${i}]: the checkpoint's ${key} (${describe(theirs, ' blocks')}) differs from the model's (${describe(ours, '')}); rebuild the model with restoreModel`,
          `architecture[${i}].${key}`,
        );
      }
    });
    const rest = (r: LayerRecord) => JSON.stringify(Object.fromEntries(Object.entries(r).filter(([key]) => !key.toLowerCase().endsWith('layout'))));
    if (rest(layer) !== rest(other)) {
      if (layer.kind === 'block-sparse-linear') throw new FormatError(`architecture[${i}]: bias or L0 gates differ between the checkpoint and the model`, `architecture[${i}]`);
      throw new FormatError(`architecture[${i}] is ${rest(other)} in the checkpoint but ${rest(layer)} in the model`, `architecture[${i}]`);
    }
  });
  loadParameters(checkpoint, target.model);
  loadOptimizerState(checkpoint, target.optimizer);
  restoreHooks(checkpoint, target.hooks ?? []);
}
