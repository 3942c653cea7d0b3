/**
 * The checkpoint manifest (manifest.json): its format constants and types, the CRC-32 of each
 * stored tensor, and its complete validation against the size of tensors.bin, done before anything
 * is allocated for it (architecture, tensor ranges and checksums fields, optimiser, gate-noise
 * states, carried states, vocabulary, epoch progress, metrics). Reading, writing and restoring
 * checkpoints are in checkpoint.ts.
 */
import * as zlib from 'node:zlib';
import { describeValue, FormatError } from '../errors.js';
import type { RngState, Seed } from '../random.js';
import { CharVocabulary, type CharVocabularyJSON } from './data/char-vocabulary.js';
import { checkRngState, type HookEvent } from './hooks.js';
import { checkLayerRecords, type LayerRecord } from './model-records.js';

/** The `format` field of a checkpoint manifest. */
export const CHECKPOINT_FORMAT = 'blocksparse-checkpoint';
/**
 * The newest manifest version, which this code writes when a checkpoint holds what version 2 has
 * no place for (carried LSTM states, a vocabulary, an epoch's progress, gate noise of weights
 * inside a layer, embedding or LSTM layers, a language model's metrics); otherwise it writes
 * version 2, which older releases read too. Version 1 has no checksums.
 */
export const CHECKPOINT_VERSION = 3;
/** The manifest versions this code reads. */
export const CHECKPOINT_VERSIONS_READ: readonly number[] = [1, 2, 3];
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

/** The gate-noise generator state of one L0-gated block-sparse weight: layer `layer`, or its weights `part` (an LSTM's 'input' or 'recurrent'). */
export interface NoiseEntry {
  layer: number;
  /** Which weights of the layer (version 3; absent for a block-sparse layer itself). */
  part?: 'input' | 'recurrent';
  state: RngState;
}

/** The (h, c) an LSTM (layer `layer`) carries into its next forward, each [streams, hidden] (version 3). */
export interface CarriedStateEntry {
  layer: number;
  h: TensorEntry;
  c: TensorEntry;
}

/**
 * The sums of an epoch's steps so far, as a checkpoint within the epoch stores them (version 3),
 * so that a resumed run ends the epoch with the record an uninterrupted one writes.
 */
export interface EpochProgress {
  /** Examples (a language model's: predicted characters) of the steps done. */
  samples: number;
  /** Their summed loss (the float32 sum the backend held). */
  loss: number;
  /** Their correct predictions. */
  correct: number;
  /** Seconds of the steps done. */
  seconds: number;
  /** Steps whose gradients were clipped. */
  clippedSteps: number;
  /** The hooks' events so far. */
  events: HookEvent[];
}

/** The manifest.json of a checkpoint (as read: the keys version 3 added are filled in for older versions). */
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
  /** The gate-noise generator state of each L0-gated block-sparse weight, by layer index (and part). */
  noise: NoiseEntry[];
  /** Each LSTM's carried state (version 3; none: [], as older versions read). */
  state: CarriedStateEntry[];
  /** The character vocabulary of a language model (version 3; null without one). */
  vocabulary: CharVocabularyJSON | null;
  /** The epoch's progress when the checkpoint is within an epoch (position.batch > 0; version 3), else null. */
  progress: EpochProgress | null;
  /** Each hook's state() (null for a hook without state), by hook name. */
  hooks: Record<string, unknown>;
  /** The metrics logged so far (one record per epoch). */
  metrics: unknown[];
  /** The caller's description of the run (e.g. the CLI options), kept as given. */
  run: Record<string, unknown>;
  tensors: { file: typeof CHECKPOINT_TENSORS; bytes: number };
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
    } else if (r.kind === 'layer-norm' || r.kind === 'channel-norm') {
      add('gain', [r.features]);
      add('bias', [r.features]);
    } else if (r.kind === 'block-sparse-linear') {
      const { nnz, blockSize, outBlocks } = r.layout;
      add('weight', [nnz, blockSize, blockSize]);
      if (r.bias) add('bias', [outBlocks * blockSize]);
      if (r.l0) add('logAlpha', [nnz]);
    } else if (r.kind === 'block-sparse-conv2d') {
      const { nnz, blockSize, outBlocks } = r.layout;
      add('weight', [nnz, r.kernel[0], r.kernel[1], blockSize, blockSize]);
      if (r.bias) add('bias', [outBlocks * blockSize]);
      if (r.l0) add('logAlpha', [nnz]);
    } else if (r.kind === 'embedding') {
      add('weight', [r.symbols, r.features]);
    } else if (r.kind === 'lstm') {
      const weights = (part: 'input' | 'recurrent', rows: number) => {
        const layout = part === 'input' ? r.inputLayout : r.recurrentLayout;
        if (layout === null) return add(`${part}.weight`, [rows, 4 * r.hidden]);
        add(`${part}.weight`, [layout.nnz, layout.blockSize, layout.blockSize]);
        if (r.l0) add(`${part}.logAlpha`, [layout.nnz]);
      };
      weights('input', r.inFeatures);
      weights('recurrent', r.hidden);
      add('bias', [4 * r.hidden]);
    }
  });
  return out;
}

/** The L0-gated block-sparse weights of an architecture, as noise entries name them: "2" (a layer) or "2.recurrent" (an LSTM's weights). */
function gatedWeights(records: readonly LayerRecord[]): string[] {
  const out: string[] = [];
  records.forEach((r, i) => {
    if ((r.kind === 'block-sparse-linear' || r.kind === 'block-sparse-conv2d') && r.l0 !== null) out.push(String(i));
    if (r.kind === 'lstm' && r.l0 !== null) {
      if (r.inputLayout) out.push(`${i}.input`);
      if (r.recurrentLayout) out.push(`${i}.recurrent`);
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
/** A language model's record (it has validationBpc) holds these instead. */
const TEXT_METRIC_NUMBERS = ['trainLoss', 'trainBpc', 'validationLoss', 'validationBpc', 'testBpc', 'seconds', 'evalSeconds', 'charactersPerSecond', 'lr'];

/** A list of hook events (`field`): each an object naming its hook, epoch and step. */
function checkEvents(value: unknown, field: string): void {
  if (!Array.isArray(value)) fail(field, 'must be a list');
  (value as unknown[]).forEach((e, j) => {
    const where = `${field}[${j}]`;
    if (!isObject(e)) return fail(where, `must be a hook event record (got ${describeValue(e)})`);
    if (typeof e.hook !== 'string') fail(`${where}.hook`, 'must be a string');
    if (!isCount(e.epoch)) fail(`${where}.epoch`, `must be an integer in [0, ${Number.MAX_SAFE_INTEGER}] (got ${describeValue(e.epoch)})`);
    if (!isCount(e.step)) fail(`${where}.step`, `must be an integer in [0, ${Number.MAX_SAFE_INTEGER}] (got ${describeValue(e.step)})`);
  });
}

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
  for (const key of 'validationBpc' in m ? TEXT_METRIC_NUMBERS : METRIC_NUMBERS) {
    if (!(m[key] === null || isFiniteNumber(m[key]))) fail(`${field}.${key}`, `must be a finite number or null (got ${describeValue(m[key])})`);
  }
  if (m.clippedSteps !== undefined) count(m.clippedSteps, `${field}.clippedSteps`);
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
  checkEvents(m.events, `${field}.events`);
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
export function checkManifest(value: unknown, bytes: number): CheckpointManifest {
  if (!isObject(value)) throw new FormatError('the manifest must be a JSON object', 'manifest');
  const m = value;
  if (m.format !== CHECKPOINT_FORMAT) throw new FormatError(`"format" must be "${CHECKPOINT_FORMAT}" (got ${JSON.stringify(m.format)})`, 'format');
  if (!CHECKPOINT_VERSIONS_READ.includes(m.version as number)) {
    throw new FormatError(`unsupported checkpoint version ${JSON.stringify(m.version)} (this code reads versions ${CHECKPOINT_VERSIONS_READ.join(' and ')})`, 'version');
  }
  const version = m.version as number;
  const keys = ['format', 'version', 'savedAt', 'seed', 'position', 'architecture', 'parameters', 'optimizer', 'noise', 'hooks', 'metrics', 'run', 'tensors'];
  onlyKeys(m, version >= 3 ? [...keys, 'state', 'vocabulary', 'progress'] : keys, 'manifest');
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
  const states = checkCarriedStates(m.state ?? [], architecture, bytes);
  checkNoOverlap([
    ...parameters.map((entry, i) => ({ field: `parameters[${i}]`, entry })), ...slots,
    ...states.flatMap((st, i) => [{ field: `state[${i}].h`, entry: st.h }, { field: `state[${i}].c`, entry: st.c }]),
  ]);
  checkNoise(m.noise, architecture, version);
  if (m.vocabulary !== undefined) checkVocabulary(m.vocabulary, architecture);
  if (m.progress !== undefined) checkProgress(m.progress, position as unknown as TrainingPosition);
  if ((position.batch as number) > 0 && m.progress === undefined) fail('progress', 'must be given when position.batch is above 0 (a checkpoint within an epoch stores the epoch\'s sums so far)');
  if (!isObject(m.hooks)) throw new FormatError('"hooks" must be an object', 'hooks');
  if (!Array.isArray(m.metrics)) throw new FormatError('"metrics" must be a list', 'metrics');
  m.metrics.forEach((entry, i) => checkMetricsEntry(entry, `metrics[${i}]`, position as unknown as TrainingPosition));
  if (!isObject(m.run)) throw new FormatError('"run" must be an object', 'run');
  return { ...(m as unknown as CheckpointManifest), state: states, vocabulary: (m.vocabulary as CharVocabularyJSON | undefined) ?? null, progress: (m.progress as EpochProgress | undefined) ?? null };
}

/** The gate-noise states: one per L0-gated weight of the architecture ("2", or "2.recurrent" with part, version 3 only), each a valid generator state. */
function checkNoise(noise: unknown, architecture: readonly LayerRecord[], version: number): void {
  if (!Array.isArray(noise)) throw new FormatError('"noise" must be a list of {layer, state}', 'noise');
  const gated = new Set(gatedWeights(architecture));
  const seen = new Set<string>();
  noise.forEach((n, i) => {
    const where = `noise[${i}]`;
    if (!isObject(n)) return fail(where, 'must be {layer, state}');
    onlyKeys(n, version >= 3 ? ['layer', 'part', 'state'] : ['layer', 'state'], where);
    if (n.part !== undefined && n.part !== 'input' && n.part !== 'recurrent') fail(`${where}.part`, `must be input or recurrent, an LSTM's weights (got ${describeValue(n.part)})`);
    const name = n.part === undefined ? String(n.layer) : `${String(n.layer)}.${String(n.part)}`;
    if (!isCount(n.layer) || !gated.has(name) || seen.has(name)) {
      const what = n.part === undefined ? 'an L0-gated block-sparse layer' : `an LSTM whose ${String(n.part)} weights are L0-gated`;
      fail(`${where}.layer`, `must be the index of ${what}, once (got ${describeValue(n.layer)})`);
    }
    seen.add(name);
    checkRngState(n.state, `${where}.state`);
  });
  for (const name of gated) {
    if (seen.has(name)) continue;
    const [layer, part] = name.split('.');
    fail('noise', part ? `has no gate-noise state for the L0-gated ${part} weights of layer ${layer}` : `has no gate-noise state for the L0-gated layer ${layer}`);
  }
}

/** The carried states: each of an LSTM layer, once, h and c tensor entries of shape [streams, hidden] (the same streams). */
function checkCarriedStates(value: unknown, architecture: readonly LayerRecord[], bytes: number): CarriedStateEntry[] {
  if (!Array.isArray(value)) return fail('state', 'must be a list of {layer, h, c}');
  const seen = new Set<number>();
  return value.map((st, i): CarriedStateEntry => {
    const where = `state[${i}]`;
    if (!isObject(st)) return fail(where, 'must be {layer, h, c}');
    onlyKeys(st, ['layer', 'h', 'c'], where);
    const record = isCount(st.layer) ? architecture[st.layer] : undefined;
    if (record?.kind !== 'lstm' || seen.has(st.layer as number)) fail(`${where}.layer`, `must be the index of an LSTM layer, once (got ${describeValue(st.layer)})`);
    seen.add(st.layer as number);
    const hidden = (record as Extract<LayerRecord, { kind: 'lstm' }>).hidden;
    const h = checkEntry(st.h, `${where}.h`, bytes, 3);
    const c = checkEntry(st.c, `${where}.c`, bytes, 3);
    for (const [name, entry] of [['h', h], ['c', c]] as const) {
      const [streams, width] = entry.shape;
      if (entry.shape.length !== 2 || streams < 1 || width !== hidden || streams !== h.shape[0]) {
        fail(`${where}.${name}.shape`, `must be [streams, ${hidden}] with streams >= 1, the same for h and c (got [${entry.shape.join(', ')}])`);
      }
    }
    return { layer: st.layer as number, h, c };
  });
}

/** A character vocabulary (CharVocabulary.fromJSON's checks), of as many characters as a leading embedding's rows. */
function checkVocabulary(value: unknown, architecture: readonly LayerRecord[]): void {
  let size: number;
  try {
    size = CharVocabulary.fromJSON(value).size;
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    throw new FormatError(`vocabulary: ${error.message}`, `vocabulary${error.field && error.field !== 'document' ? `.${error.field}` : ''}`);
  }
  const first = architecture[0];
  if (first.kind === 'embedding' && first.symbols !== size) fail('vocabulary', `holds ${size} characters but the embedding (architecture[0]) has ${first.symbols} rows`);
}

/** An epoch's progress (a checkpoint within an epoch, position.batch > 0): counts, a finite loss sum and seconds, hook events of this epoch. */
function checkProgress(value: unknown, position: TrainingPosition): void {
  if (!isObject(value)) return fail('progress', `must be an epoch's progress {samples, loss, correct, seconds, clippedSteps, events} (got ${describeValue(value)})`);
  onlyKeys(value, ['samples', 'loss', 'correct', 'seconds', 'clippedSteps', 'events'], 'progress');
  if (position.batch === 0) fail('progress', 'must be absent at an epoch\'s start (position.batch 0)');
  for (const key of ['samples', 'correct', 'clippedSteps']) if (!isCount(value[key])) fail(`progress.${key}`, `must be a non-negative integer (got ${describeValue(value[key])})`);
  if ((value.correct as number) > (value.samples as number)) fail('progress.correct', `must be at most progress.samples (${value.samples as number})`);
  for (const key of ['loss', 'seconds']) if (!isFiniteNumber(value[key]) || (value[key] as number) < 0) fail(`progress.${key}`, `must be a finite number >= 0 (got ${describeValue(value[key])})`);
  checkEvents(value.events, 'progress.events');
}
