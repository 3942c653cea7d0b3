/**
 * Training checkpoints: a directory holding manifest.json (what the run is and where it stands)
 * and tensors.bin (float32 little-endian: every parameter, then every optimiser state tensor, at
 * the byte offsets the manifest gives). A checkpoint is written into a temporary directory next
 * to its place, fsynced, then renamed into place, so a reader sees the old checkpoint or the
 * new one, never a part. Block-sparse layers are stored with their current layouts (pruning and
 * regrowth change them during a run), so a restored model has the blocks the saved one had.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { asFileError, syncDirectory } from '../atomic-write.js';
import { readFileChecked } from '../read-file.js';
import { FormatError, ParameterError } from '../errors.js';
import type { Backend, Tensor } from '../kernels/types.js';
import { layoutFromJSON } from '../patterns/json-format.js';
import type { RngState, Seed } from '../random.js';
import type { TrainingHook } from './hooks.js';
import { BlockSparseLinear } from './layers/block-sparse-linear.js';
import type { Parameter } from './layers/layer.js';
import type { Sequential } from './layers/sequential.js';
import { describeModel, modelFromRecord, type LayerRecord } from './model.js';
import { Adam, SGD, type Optimizer } from './optimizers.js';

/** The `format` field of a checkpoint manifest. */
export const CHECKPOINT_FORMAT = 'blocksparse-checkpoint';
/** The manifest version this code writes and reads. */
export const CHECKPOINT_VERSION = 1;
/** File names inside a checkpoint directory. */
export const CHECKPOINT_MANIFEST = 'manifest.json';
export const CHECKPOINT_TENSORS = 'tensors.bin';

/** Where a run stands: the next epoch and batch to run, and the steps done so far. */
export interface TrainingPosition {
  epoch: number;
  batch: number;
  step: number;
}

/** A tensor stored in tensors.bin: `length` float32 values from byte `offset`. */
export interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

/** An optimiser's kind, hyper-parameters and steps taken. */
export type OptimizerHyper =
  | { kind: 'sgd'; lr: number; momentum: number; nesterov: boolean; weightDecay: number; steps: number }
  | { kind: 'adam' | 'adamw'; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; steps: number };

/** The optimiser: its kind, hyper-parameters, steps, and each parameter's state tensors and step count. */
export type OptimizerRecord = OptimizerHyper & {
  state: { parameter: string; steps: number; slots: TensorEntry[] }[];
};

/** The manifest.json of a checkpoint. */
export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  savedAt: string;
  seed: Seed;
  position: TrainingPosition;
  /** The model's layers; block-sparse layers with their current layout (layout JSON, with provenance). */
  architecture: LayerRecord[];
  parameters: TensorEntry[];
  optimizer: OptimizerRecord;
  /** The gate-noise generator state of each L0-gated block-sparse layer, by layer index. */
  noise: { layer: number; state: RngState }[];
  /** Each hook's state() (null for a hook without state), by hook name. */
  hooks: Record<string, unknown>;
  /** The metrics logged so far (one record per epoch). */
  metrics: unknown[];
  /** The caller's description of the run (e.g. the CLI options), kept as given. */
  run: Record<string, unknown>;
  tensors: { file: typeof CHECKPOINT_TENSORS; bytes: number };
}

/** What `saveCheckpoint` saves. */
export interface CheckpointState {
  model: Sequential;
  optimizer: Optimizer;
  seed: Seed;
  position: TrainingPosition;
  hooks?: readonly TrainingHook[];
  metrics?: readonly unknown[];
  run?: Record<string, unknown>;
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
    const chunks: Float32Array[] = [];
    let bytes = 0;
    const store = async (name: string, tensor: Tensor): Promise<TensorEntry> => {
      const values = await tensor.backend.read(tensor);
      const entry = { name, shape: [...tensor.shape], offset: bytes, length: values.length };
      chunks.push(values);
      bytes += values.byteLength;
      return entry;
    };
    const parameters: TensorEntry[] = [];
    for (const p of model.parameters()) parameters.push(await store(p.name, p.value));
    const optimizerState: OptimizerRecord['state'] = [];
    const optimized = new Set(optimizer.parameters);
    for (const p of model.parameters()) {
      if (!optimized.has(p)) continue;
      const slots: TensorEntry[] = [];
      for (const [i, t] of optimizer.state(p).entries()) slots.push(await store(`${p.name}#${i}`, t));
      optimizerState.push({ parameter: p.name, steps: optimizer.stepsOf(p), slots });
    }
    writeFileDurably(join(temp, CHECKPOINT_TENSORS), chunks.map(toLittleEndian));

    const noise: CheckpointManifest['noise'] = [];
    model.layers.forEach((layer, i) => {
      const s = layer instanceof BlockSparseLinear ? layer.noiseState() : null;
      if (s) noise.push({ layer: i, state: s });
    });
    const hooks: Record<string, unknown> = {};
    for (const hook of state.hooks ?? []) {
      if (Object.hasOwn(hooks, hook.name)) throw new ParameterError('hooks', 'hooks with distinct names', hook.name, 'saveCheckpoint');
      hooks[hook.name] = hook.state ? hook.state() : null;
    }
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      savedAt: new Date().toISOString(),
      seed: state.seed,
      position: { ...state.position },
      architecture: describeModel(model),
      parameters,
      optimizer: { ...optimizerRecord(optimizer), state: optimizerState },
      noise,
      hooks,
      metrics: [...(state.metrics ?? [])],
      run: state.run ?? {},
      tensors: { file: CHECKPOINT_TENSORS, bytes },
    };
    writeFileDurably(join(temp, CHECKPOINT_MANIFEST), [new TextEncoder().encode(`${JSON.stringify(manifest, null, 1)}\n`)]);
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function checkEntry(entry: unknown, field: string, bytes: number): TensorEntry {
  if (!isObject(entry)) throw new FormatError(`${field} must be an object {name, shape, offset, length}`, field);
  const { name, shape, offset, length } = entry;
  if (typeof name !== 'string') throw new FormatError(`${field}.name must be a string`, field);
  if (!Array.isArray(shape) || !shape.every(isCount)) throw new FormatError(`${field}.shape must be a list of sizes`, field);
  if (!isCount(length) || shape.reduce((a: number, b: number) => a * b, 1) !== length) {
    throw new FormatError(`${field} (${name}): length ${String(length)} is not the product of shape [${shape.join(', ')}]`, field);
  }
  if (!isCount(offset) || offset % 4 !== 0 || offset + 4 * length > bytes) {
    throw new FormatError(`${field} (${name}): offset ${String(offset)} with ${length} values does not lie within the ${bytes} bytes of ${CHECKPOINT_TENSORS}`, field);
  }
  return entry as unknown as TensorEntry;
}

/** Validates a parsed manifest against the size of tensors.bin; FormatError names the field. */
function checkManifest(value: unknown, bytes: number): CheckpointManifest {
  if (!isObject(value)) throw new FormatError('the manifest must be a JSON object', 'manifest');
  const m = value;
  if (m.format !== CHECKPOINT_FORMAT) throw new FormatError(`"format" must be "${CHECKPOINT_FORMAT}" (got ${JSON.stringify(m.format)})`, 'format');
  if (m.version !== CHECKPOINT_VERSION) throw new FormatError(`unsupported checkpoint version ${JSON.stringify(m.version)} (this code reads version ${CHECKPOINT_VERSION})`, 'version');
  if (!(typeof m.seed === 'number' || typeof m.seed === 'string')) throw new FormatError('"seed" must be a number or a string', 'seed');
  const position = m.position;
  if (!isObject(position) || !isCount(position.epoch) || !isCount(position.batch) || !isCount(position.step)) {
    throw new FormatError('"position" must be {epoch, batch, step} of non-negative integers', 'position');
  }
  if (!Array.isArray(m.architecture) || m.architecture.length === 0) throw new FormatError('"architecture" must be a non-empty list of layers', 'architecture');
  m.architecture.forEach((layer, i) => {
    if (isObject(layer) && layer.kind === 'block-sparse-linear') {
      try {
        layoutFromJSON(layer.layout);
      } catch (error) {
        throw new FormatError(`architecture[${i}].layout: ${(error as Error).message}`, `architecture[${i}].layout`);
      }
    }
  });
  const tensors = m.tensors;
  if (!isObject(tensors) || tensors.file !== CHECKPOINT_TENSORS || !isCount(tensors.bytes)) throw new FormatError(`"tensors" must be {file: "${CHECKPOINT_TENSORS}", bytes}`, 'tensors');
  if (tensors.bytes !== bytes) throw new FormatError(`${CHECKPOINT_TENSORS} holds ${bytes} bytes but the manifest says ${tensors.bytes}`, 'tensors');
  if (!Array.isArray(m.parameters)) throw new FormatError('"parameters" must be a list', 'parameters');
  m.parameters.forEach((e, i) => checkEntry(e, `parameters[${i}]`, bytes));
  const o = m.optimizer;
  if (!isObject(o) || !['sgd', 'adam', 'adamw'].includes(o.kind as string)) throw new FormatError('"optimizer.kind" must be sgd, adam or adamw', 'optimizer');
  const numbers = o.kind === 'sgd' ? ['lr', 'momentum', 'weightDecay'] : ['lr', 'beta1', 'beta2', 'eps', 'weightDecay'];
  for (const key of numbers) if (typeof o[key] !== 'number' || !Number.isFinite(o[key])) throw new FormatError(`"optimizer.${key}" must be a finite number`, `optimizer.${key}`);
  if (!isCount(o.steps)) throw new FormatError('"optimizer.steps" must be a non-negative integer', 'optimizer.steps');
  if (!Array.isArray(o.state)) throw new FormatError('"optimizer.state" must be a list', 'optimizer.state');
  o.state.forEach((s, i) => {
    if (!isObject(s) || typeof s.parameter !== 'string' || !isCount(s.steps) || !Array.isArray(s.slots)) {
      throw new FormatError(`optimizer.state[${i}] must be {parameter, steps, slots}`, `optimizer.state[${i}]`);
    }
    s.slots.forEach((e, j) => checkEntry(e, `optimizer.state[${i}].slots[${j}]`, bytes));
  });
  if (!Array.isArray(m.noise) || !m.noise.every((n) => isObject(n) && isCount(n.layer) && isObject(n.state))) {
    throw new FormatError('"noise" must be a list of {layer, state}', 'noise');
  }
  if (!isObject(m.hooks)) throw new FormatError('"hooks" must be an object', 'hooks');
  if (!Array.isArray(m.metrics)) throw new FormatError('"metrics" must be a list', 'metrics');
  if (!isObject(m.run)) throw new FormatError('"run" must be an object', 'run');
  return m as unknown as CheckpointManifest;
}

/**
 * Reads and validates the checkpoint in `dir`. If `dir` has no manifest but `<dir>.previous` does
 * (a commit interrupted between its two renames), that one is read. FileError when the files
 * cannot be read; FormatError (message starting with the file, `field` naming what is wrong) when
 * they are not a valid checkpoint.
 */
export function loadCheckpoint(dir: string): Checkpoint {
  if (typeof dir !== 'string' || dir.length === 0) throw new ParameterError('dir', 'a non-empty path', dir, 'loadCheckpoint');
  let from = resolve(dir);
  if (!existsSync(join(from, CHECKPOINT_MANIFEST)) && existsSync(join(previousDir(from), CHECKPOINT_MANIFEST))) from = previousDir(from);
  const manifestPath = join(from, CHECKPOINT_MANIFEST);
  const tensorsPath = join(from, CHECKPOINT_TENSORS);
  const text = readFileChecked(manifestPath).toString('utf8');
  const raw = readFileChecked(tensorsPath);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new FormatError(`${manifestPath}: not valid JSON (${(error as Error).message})`, 'manifest');
  }
  let manifest: CheckpointManifest;
  try {
    manifest = checkManifest(parsed, raw.length);
  } catch (error) {
    if (error instanceof FormatError) throw new FormatError(`${manifestPath}: ${error.message}`, error.field);
    throw error;
  }
  const values = new Float32Array(raw.length / 4);
  if (littleEndian) new Uint8Array(values.buffer).set(raw);
  else {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(4 * i, true);
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
  params.forEach((p, i) => replaceValue(p, p.value.backend.tensor(checkpointTensor(checkpoint, manifest.parameters[i]), manifest.parameters[i].shape)));
  const noisy = new Set<number>();
  for (const { layer, state } of manifest.noise) {
    const target = model.layers[layer];
    if (!(target instanceof BlockSparseLinear) || target.noiseState() === null) {
      throw new FormatError(`noise: layer ${layer} has a gate-noise state in the checkpoint but is not an L0-gated block-sparse layer in the model`, 'noise');
    }
    target.setNoiseState(state);
    noisy.add(layer);
  }
  model.layers.forEach((layer, i) => {
    if (layer instanceof BlockSparseLinear && layer.noiseState() !== null && !noisy.has(i)) {
      throw new FormatError(`noise: layer ${i} is L0-gated but the checkpoint has no gate-noise state for it`, 'noise');
    }
  });
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

/** Gives each hook its stored state; the checkpoint and the hooks must name the same hooks (FormatError otherwise). */
export function restoreHooks(checkpoint: Checkpoint, hooks: readonly TrainingHook[]): void {
  const stored = checkpoint.manifest.hooks;
  const names = new Set(hooks.map((h) => h.name));
  for (const name of Object.keys(stored)) {
    if (!names.has(name)) throw new FormatError(`the checkpoint has state of hook "${name}" but no such hook was given (resuming without it would not continue the run)`, 'hooks');
  }
  for (const hook of hooks) {
    if (!Object.hasOwn(stored, hook.name)) throw new FormatError(`hook "${hook.name}" has no state in the checkpoint (it was not part of the saved run)`, 'hooks');
    if (hook.restore && stored[hook.name] !== null) hook.restore(stored[hook.name]);
  }
}

/** A model rebuilt from a checkpoint on `backend`: its architecture (with the layouts as saved), parameter values and gate-noise states. */
export function restoreModel(checkpoint: Checkpoint, backend: Backend): Sequential {
  const model = modelFromRecord(backend, checkpoint.manifest.architecture);
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
    if (layer.kind === 'block-sparse-linear' && other.kind === 'block-sparse-linear') {
      const a = layoutFromJSON(other.layout);
      const b = layoutFromJSON(layer.layout);
      if (!a.equals(b)) {
        throw new FormatError(
          `architecture[${i}]: the checkpoint's layout (${a.inBlocks} x ${a.outBlocks} blocks, nnz ${a.nnz}) differs from the model's (${b.inBlocks} x ${b.outBlocks}, nnz ${b.nnz}); rebuild the model with restoreModel`,
          `architecture[${i}].layout`,
        );
      }
      if (layer.bias !== other.bias || JSON.stringify(layer.l0) !== JSON.stringify(other.l0)) {
        throw new FormatError(`architecture[${i}]: bias or L0 gates differ between the checkpoint and the model`, `architecture[${i}]`);
      }
    } else if (JSON.stringify(layer) !== JSON.stringify(other)) {
      throw new FormatError(`architecture[${i}] is ${JSON.stringify(other)} in the checkpoint but ${JSON.stringify(layer)} in the model`, `architecture[${i}]`);
    }
  });
  loadParameters(checkpoint, target.model);
  loadOptimizerState(checkpoint, target.optimizer);
  restoreHooks(checkpoint, target.hooks ?? []);
}
