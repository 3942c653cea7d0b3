/**
 * Training checkpoints: a directory holding manifest.json (what the run is and where it stands)
 * and tensors.bin (float32 little-endian: every parameter, then every optimiser state tensor, at
 * the byte offsets the manifest gives). A checkpoint is written into a temporary directory next
 * to its place, fsynced, then renamed into place, so a reader sees the old checkpoint or the
 * new one, never a part. Every tensor entry carries the CRC-32 of its bytes, checked when read
 * (version 2; version 1 checkpoints, which have none, are still read, unchecked); a checkpoint is
 * written only from finite values, and read only after its manifest is validated completely
 * (architecture, tensor ranges, optimiser, gate-noise and metrics) and the model it describes is
 * known to fit the memory budget. Block-sparse layers are stored with their current layouts (pruning and
 * regrowth change them during a run), so a restored model has the blocks the saved one had.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import * as zlib from 'node:zlib';
import { basename, dirname, join, resolve } from 'node:path';
import { asFileError, syncDirectory } from '../atomic-write.js';
import { readFileChecked, readTextChecked } from '../read-file.js';
import { describeValue, FormatError, ParameterError } from '../errors.js';
import type { Backend, Tensor } from '../kernels/types.js';
import { layoutFromJSON } from '../patterns/json-format.js';
import type { RngState, Seed } from '../random.js';
import { checkRngState, type TrainingHook } from './hooks.js';
import { NonFiniteError } from './errors.js';
import { BlockSparseLinear } from './layers/block-sparse-linear.js';
import type { Parameter } from './layers/layer.js';
import type { Sequential } from './layers/sequential.js';
import { checkLayerRecords, describeModel, modelFromRecord, type LayerRecord } from './model.js';
import { Adam, SGD, type Optimizer } from './optimizers.js';

/** The `format` field of a checkpoint manifest. */
export const CHECKPOINT_FORMAT = 'blocksparse-checkpoint';
/** The manifest version this code writes; it reads this one and version 1 (which has no checksums). */
export const CHECKPOINT_VERSION = 2;
/** The manifest versions this code reads. */
export const CHECKPOINT_VERSIONS_READ: readonly number[] = [1, 2];
/** File names inside a checkpoint directory. */
export const CHECKPOINT_MANIFEST = 'manifest.json';
/** The file holding every tensor's bytes, at the offsets the manifest lists. */
export const CHECKPOINT_TENSORS = 'tensors.bin';

/** Where a run stands: the next epoch and batch to run, and the steps done so far. */
export interface TrainingPosition {
  epoch: number;
  batch: number;
  step: number;
}

/** A tensor stored in tensors.bin: `length` float32 values from byte `offset`, whose bytes have CRC-32 `crc32` (version 2). */
export interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
  /** CRC-32 (IEEE, as zlib and gzip) of the tensor's 4 x length bytes; absent in version 1 checkpoints. */
  crc32?: number;
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

// node:zlib has crc32 from Node 20.15 and 22.2; `engines` allows any Node 20, so a table-driven
// CRC-32 (the same IEEE polynomial, so the same values) stands in where it is missing.
const zlibCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;
let crcTable: Int32Array | undefined;

/** The CRC-32 (IEEE 802.3, as zlib, gzip and PNG) of `bytes`, as an unsigned 32-bit integer. */
export function crc32(bytes: Uint8Array): number {
  if (typeof zlibCrc32 === 'function') return zlibCrc32(bytes) >>> 0;
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let crc = -1;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const fail = (field: string, message: string): never => {
  throw new FormatError(`${field} ${message}`, field);
};

/** Only `keys` in `record` (an unknown field would be silently ignored, or compared as a hyper-parameter). */
function onlyKeys(record: Record<string, unknown>, keys: readonly string[], field: string): void {
  for (const key of Object.keys(record)) if (!keys.includes(key)) fail(`${field}.${key}`, `is not a field here (expected ${keys.join(', ')})`);
}

function checkEntry(entry: unknown, field: string, bytes: number, version: number): TensorEntry {
  if (!isObject(entry)) return fail(field, 'must be an object {name, shape, offset, length, crc32}');
  onlyKeys(entry, ['name', 'shape', 'offset', 'length', 'crc32'], field);
  const { name, shape, offset, length } = entry;
  if (typeof name !== 'string') fail(`${field}.name`, 'must be a string');
  if (!Array.isArray(shape) || !shape.every(isCount)) fail(`${field}.shape`, 'must be a list of sizes');
  const sizes = shape as number[];
  if (!isCount(length) || sizes.reduce((x, y) => x * y, 1) !== length) {
    throw new FormatError(`${field} (${name as string}): length ${describeValue(length)} is not the product of shape [${sizes.join(', ')}]`, field);
  }
  if (!isCount(offset) || offset % 4 !== 0 || offset + 4 * length > bytes) {
    throw new FormatError(`${field} (${name as string}): offset ${describeValue(offset)} with ${length} values does not lie within the ${bytes} bytes of ${CHECKPOINT_TENSORS}`, field);
  }
  const crc = entry.crc32;
  if (version >= 2 || crc !== undefined) {
    if (typeof crc !== 'number' || !Number.isInteger(crc) || crc < 0 || crc > 0xffffffff) fail(`${field}.crc32`, `must be a CRC-32, an integer in [0, 4294967295] (got ${describeValue(crc)})`);
  }
  return entry as unknown as TensorEntry;
}

/** The parameters (name and shape) a model of these layers has, in `Sequential.parameters()` order. */
function parametersOf(records: readonly LayerRecord[]): { name: string; shape: number[] }[] {
  const out: { name: string; shape: number[] }[] = [];
  records.forEach((r, i) => {
    const add = (name: string, shape: number[]) => out.push({ name: `${i}.${name}`, shape });
    if (r.kind === 'linear') {
      add('weight', [r.inFeatures, r.outFeatures]);
      if (r.bias) add('bias', [r.outFeatures]);
    } else if (r.kind === 'layer-norm') {
      add('gain', [r.features]);
      add('bias', [r.features]);
    } else if (r.kind === 'block-sparse-linear') {
      const { nnz, blockSize, outBlocks } = r.layout;
      add('weight', [nnz, blockSize, blockSize]);
      if (r.bias) add('bias', [outBlocks * blockSize]);
      if (r.l0) add('logAlpha', [nnz]);
    }
  });
  return out;
}

/** No two stored tensors share a byte: overlapping ranges would load one tensor's values into another. */
function checkNoOverlap(entries: { field: string; entry: TensorEntry }[]): void {
  const used = entries.filter(({ entry }) => entry.length > 0).sort((x, y) => x.entry.offset - y.entry.offset);
  for (let i = 1; i < used.length; i++) {
    const [a, b] = [used[i - 1], used[i]];
    const aEnd = a.entry.offset + 4 * a.entry.length;
    if (b.entry.offset < aEnd) {
      throw new FormatError(
        `${a.field} (${a.entry.name}) and ${b.field} (${b.entry.name}) overlap in ${CHECKPOINT_TENSORS}: bytes [${a.entry.offset}, ${aEnd}) and [${b.entry.offset}, ${b.entry.offset + 4 * b.entry.length})`,
        b.field,
      );
    }
  }
}

const METRIC_NUMBERS = ['trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy', 'seconds', 'evalSeconds', 'samplesPerSecond', 'lr'];

/**
 * One metrics record as the training loop writes it (EpochMetrics): epoch and step counts (an
 * epoch before the checkpoint's, a step not after it); losses, accuracies, timings and lr finite
 * numbers or null (JSON's NaN and infinities); densities and hook events lists of records.
 */
function checkMetricsEntry(value: unknown, field: string, position: TrainingPosition): void {
  if (!isObject(value)) fail(field, `must be an epoch's metrics record (got ${describeValue(value)})`);
  const m = value as Record<string, unknown>;
  const count = (v: unknown, where: string, max = Number.MAX_SAFE_INTEGER) => {
    if (!isCount(v) || v > max) fail(where, `must be an integer in [0, ${max}] (got ${describeValue(v)})`);
  };
  count(m.epoch, `${field}.epoch`, Math.max(position.epoch - 1, 0));
  count(m.step, `${field}.step`, position.step);
  for (const key of METRIC_NUMBERS) {
    if (!(m[key] === null || isFiniteNumber(m[key]))) fail(`${field}.${key}`, `must be a finite number or null (got ${describeValue(m[key])})`);
  }
  if (!Array.isArray(m.densities)) fail(`${field}.densities`, 'must be a list');
  (m.densities as unknown[]).forEach((d, j) => {
    const where = `${field}.densities[${j}]`;
    if (!isObject(d)) return fail(where, `must be a layer density record (got ${describeValue(d)})`);
    count(d.layer, `${where}.layer`);
    count(d.inFeatures, `${where}.inFeatures`);
    count(d.outFeatures, `${where}.outFeatures`);
    if (typeof d.kind !== 'string') fail(`${where}.kind`, 'must be a string');
    if (!(isFiniteNumber(d.density) && d.density >= 0 && d.density <= 1)) fail(`${where}.density`, `must be a number in [0, 1] (got ${describeValue(d.density)})`);
    if (d.nnz !== undefined) count(d.nnz, `${where}.nnz`);
  });
  if (!Array.isArray(m.events)) fail(`${field}.events`, 'must be a list');
  (m.events as unknown[]).forEach((e, j) => {
    const where = `${field}.events[${j}]`;
    if (!isObject(e)) return fail(where, `must be a hook event record (got ${describeValue(e)})`);
    if (typeof e.hook !== 'string') fail(`${where}.hook`, 'must be a string');
    count(e.epoch, `${where}.epoch`);
    count(e.step, `${where}.step`);
  });
}

/** Optimiser hyper-parameters in the ranges the optimisers accept (betas below 1: bias correction divides by 1 - beta^t). */
function checkOptimizer(o: unknown, parameters: readonly TensorEntry[], bytes: number, version: number): { field: string; entry: TensorEntry }[] {
  if (!isObject(o) || !['sgd', 'adam', 'adamw'].includes(o.kind as string)) return fail('optimizer.kind', 'must be sgd, adam or adamw');
  const sgd = o.kind === 'sgd';
  onlyKeys(o, sgd ? ['kind', 'lr', 'momentum', 'nesterov', 'weightDecay', 'steps', 'state'] : ['kind', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'steps', 'state'], 'optimizer');
  const ranges: [string, (v: number) => boolean, string][] = sgd
    ? [['lr', (v) => v >= 0, '>= 0'], ['momentum', (v) => v >= 0 && v <= 1, 'in [0, 1]'], ['weightDecay', (v) => v >= 0, '>= 0']]
    : [['lr', (v) => v >= 0, '>= 0'], ['beta1', (v) => v >= 0 && v < 1, 'in [0, 1)'], ['beta2', (v) => v >= 0 && v < 1, 'in [0, 1)'], ['eps', (v) => v > 0 && v <= 1, 'in (0, 1]'], ['weightDecay', (v) => v >= 0, '>= 0']];
  for (const [key, ok, range] of ranges) {
    const v = o[key];
    if (!isFiniteNumber(v) || !ok(v)) fail(`optimizer.${key}`, `must be a finite number ${range} (got ${describeValue(v)})`);
  }
  if (sgd && (typeof o.nesterov !== 'boolean' || (o.nesterov && o.momentum === 0))) fail('optimizer.nesterov', 'must be true (with momentum above 0) or false');
  if (!isCount(o.steps)) fail('optimizer.steps', `must be a non-negative integer (got ${describeValue(o.steps)})`);
  const slotCount = sgd ? ((o.momentum as number) > 0 ? 1 : 0) : 2;
  if (!Array.isArray(o.state)) fail('optimizer.state', 'must be a list');
  const shapes = new Map(parameters.map((p) => [p.name, p.shape]));
  const seen = new Set<string>();
  const entries: { field: string; entry: TensorEntry }[] = [];
  (o.state as unknown[]).forEach((st, i) => {
    const where = `optimizer.state[${i}]`;
    if (!isObject(st)) return fail(where, 'must be {parameter, steps, slots}');
    onlyKeys(st, ['parameter', 'steps', 'slots'], where);
    const name = st.parameter;
    if (typeof name !== 'string' || !shapes.has(name)) fail(`${where}.parameter`, `must name a stored parameter (got ${describeValue(name)})`);
    if (seen.has(name as string)) fail(`${where}.parameter`, `names ${name as string} a second time`);
    seen.add(name as string);
    if (!isCount(st.steps) || st.steps > (o.steps as number)) fail(`${where}.steps`, `must be an integer in [0, ${o.steps as number}] (the optimiser's steps; got ${describeValue(st.steps)})`);
    if (!Array.isArray(st.slots) || !(st.slots.length === slotCount || (st.slots.length === 0 && st.steps === 0))) {
      fail(`${where}.slots`, `must be a list of ${slotCount} state tensors for ${o.kind as string}${slotCount > 0 ? ' (or none before the first step)' : ''}`);
    }
    const shape = shapes.get(name as string)!;
    (st.slots as unknown[]).forEach((e, j) => {
      const field = `${where}.slots[${j}]`;
      const entry = checkEntry(e, field, bytes, version);
      if (entry.shape.length !== shape.length || entry.shape.some((x, k) => x !== shape[k])) {
        fail(`${field}.shape`, `must be the shape of ${name as string}, [${shape.join(', ')}] (got [${entry.shape.join(', ')}])`);
      }
      entries.push({ field, entry });
    });
  });
  return entries;
}

/**
 * Validates a parsed manifest against the size of tensors.bin, completely, before anything is
 * allocated for it; FormatError (the message starting with the field, `field` naming it) for the
 * first thing wrong.
 */
function checkManifest(value: unknown, bytes: number): CheckpointManifest {
  if (!isObject(value)) throw new FormatError('the manifest must be a JSON object', 'manifest');
  const m = value;
  if (m.format !== CHECKPOINT_FORMAT) throw new FormatError(`"format" must be "${CHECKPOINT_FORMAT}" (got ${JSON.stringify(m.format)})`, 'format');
  if (!CHECKPOINT_VERSIONS_READ.includes(m.version as number)) {
    throw new FormatError(`unsupported checkpoint version ${JSON.stringify(m.version)} (this code reads versions ${CHECKPOINT_VERSIONS_READ.join(' and ')})`, 'version');
  }
  const version = m.version as number;
  onlyKeys(m, ['format', 'version', 'savedAt', 'seed', 'position', 'architecture', 'parameters', 'optimizer', 'noise', 'hooks', 'metrics', 'run', 'tensors'], 'manifest');
  if (!(isFiniteNumber(m.seed) || typeof m.seed === 'string')) throw new FormatError('"seed" must be a finite number or a string', 'seed');
  const position = m.position;
  if (!isObject(position) || !isCount(position.epoch) || !isCount(position.batch) || !isCount(position.step)) {
    throw new FormatError('"position" must be {epoch, batch, step} of non-negative integers', 'position');
  }
  onlyKeys(position, ['epoch', 'batch', 'step'], 'position');
  const architecture = checkLayerRecords(m.architecture);
  const tensors = m.tensors;
  if (!isObject(tensors) || tensors.file !== CHECKPOINT_TENSORS || !isCount(tensors.bytes)) throw new FormatError(`"tensors" must be {file: "${CHECKPOINT_TENSORS}", bytes}`, 'tensors');
  if (tensors.bytes !== bytes) throw new FormatError(`${CHECKPOINT_TENSORS} holds ${bytes} bytes but the manifest says ${tensors.bytes}`, 'tensors');
  if (!Array.isArray(m.parameters)) throw new FormatError('"parameters" must be a list', 'parameters');
  const expected = parametersOf(architecture);
  if (m.parameters.length !== expected.length) {
    throw new FormatError(`"parameters" lists ${m.parameters.length} tensors but the architecture has ${expected.length} parameters`, 'parameters');
  }
  const parameters = m.parameters.map((e, i) => {
    const entry = checkEntry(e, `parameters[${i}]`, bytes, version);
    const want = expected[i];
    if (entry.name !== want.name || entry.shape.length !== want.shape.length || entry.shape.some((x, k) => x !== want.shape[k])) {
      throw new FormatError(`parameters[${i}] is ${entry.name} [${entry.shape.join(', ')}] but the architecture has ${want.name} [${want.shape.join(', ')}] there`, `parameters[${i}]`);
    }
    return entry;
  });
  const slots = checkOptimizer(m.optimizer, parameters, bytes, version);
  checkNoOverlap([...parameters.map((entry, i) => ({ field: `parameters[${i}]`, entry })), ...slots]);
  if (!Array.isArray(m.noise)) throw new FormatError('"noise" must be a list of {layer, state}', 'noise');
  const noisy = new Set<number>();
  m.noise.forEach((n, i) => {
    const where = `noise[${i}]`;
    if (!isObject(n)) return fail(where, 'must be {layer, state}');
    onlyKeys(n, ['layer', 'state'], where);
    const layer = architecture[n.layer as number];
    if (!isCount(n.layer) || layer?.kind !== 'block-sparse-linear' || layer.l0 === null || noisy.has(n.layer)) {
      fail(`${where}.layer`, `must be the index of an L0-gated block-sparse layer, once (got ${describeValue(n.layer)})`);
    }
    noisy.add(n.layer as number);
    checkRngState(n.state, `${where}.state`);
  });
  architecture.forEach((layer, i) => {
    if (layer.kind === 'block-sparse-linear' && layer.l0 !== null && !noisy.has(i)) fail('noise', `has no gate-noise state for the L0-gated layer ${i}`);
  });
  if (!isObject(m.hooks)) throw new FormatError('"hooks" must be an object', 'hooks');
  if (!Array.isArray(m.metrics)) throw new FormatError('"metrics" must be a list', 'metrics');
  m.metrics.forEach((entry, i) => checkMetricsEntry(entry, `metrics[${i}]`, position as unknown as TrainingPosition));
  if (!isObject(m.run)) throw new FormatError('"run" must be an object', 'run');
  return m as unknown as CheckpointManifest;
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
