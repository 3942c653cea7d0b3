/**
 * An epoch's record (one line of metrics.jsonl): its type, the log file it goes to, and the records
 * a checkpoint carries, checked before a resumed run rewrites the log from them.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, writeSync } from 'node:fs';
import { asFileError, writeFileAtomic } from '../atomic-write.js';
import { FileError, FormatError } from '../errors.js';
import { printable } from '../printable.js';
import type { Checkpoint } from './checkpoint.js';
import type { HookEvent } from './hooks.js';
import type { LayerDensity } from './model.js';

export type { HookEvent } from './hooks.js';

/** What every epoch's record holds, whatever the task. */
export interface EpochMetricsBase {
  epoch: number;
  /** Steps done over the run at the end of the epoch. */
  step: number;
  /** Mean over the epoch's examples (a language model's: predicted characters, in nats) of the batch loss, including what hooks added (e.g. an L0 penalty). */
  trainLoss: number;
  /** Seconds of the epoch's training steps (evaluation not included). */
  seconds: number;
  evalSeconds: number;
  lr: number;
  densities: LayerDensity[];
  events: HookEvent[];
  /** Steps of the epoch whose gradients were clipped (present when gradient clipping is on). */
  clippedSteps?: number;
}

/** One line of metrics.jsonl of a classification run. */
export interface ClassificationEpochMetrics extends EpochMetricsBase {
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  /** Training examples per second of `seconds`. */
  samplesPerSecond: number;
}

/** One line of metrics.jsonl of a language model's run. */
export interface LanguageModelEpochMetrics extends EpochMetricsBase {
  /** trainLoss in bits per character (trainLoss / ln 2). */
  trainBpc: number;
  /** Mean cross-entropy per character over the whole validation text, in nats. */
  validationLoss: number;
  /** The same in bits per character. */
  validationBpc: number;
  /** Bits per character over the whole test text, measured after the run's last epoch (null on the others). */
  testBpc: number | null;
  /** Training characters (predictions) per second of `seconds`. */
  charactersPerSecond: number;
}

/** One line of metrics.jsonl: an epoch's results, of a classification run or of a language model's. */
export type EpochMetrics = ClassificationEpochMetrics | LanguageModelEpochMetrics;

/** Whether a record is a language model's (it has validationBpc). */
export function isLanguageModelMetrics(record: EpochMetrics): record is LanguageModelEpochMetrics {
  return 'validationBpc' in record;
}

/** Writes `records` as the whole log at `path` (atomically): a resumed run's log restarts from what its checkpoint knows. */
export function writeMetricsLog(path: string, records: readonly EpochMetrics[]): void {
  writeFileAtomic(path, records.map((m) => `${JSON.stringify(m)}\n`).join(''));
}

/** Appends one epoch's record to the log at `path` (see appendLine). */
export function appendMetricsLog(path: string, record: EpochMetrics): void {
  appendLine(path, `${JSON.stringify(record)}\n`);
}

/** The numbers of each kind of record (all finite; a language model's testBpc may be null). */
const CLASSIFICATION_NUMBERS = ['trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy', 'seconds', 'evalSeconds', 'samplesPerSecond', 'lr'] as const;
const LANGUAGE_MODEL_NUMBERS = ['trainLoss', 'trainBpc', 'validationLoss', 'validationBpc', 'testBpc', 'seconds', 'evalSeconds', 'charactersPerSecond', 'lr'] as const;

/**
 * The metrics a checkpoint carries, checked to be the epoch records this loop writes (one per
 * epoch done, in order, finite numbers) and rebuilt from their known fields, so that the log a
 * resumed run rewrites holds nothing else; FormatError naming the record otherwise.
 */
export function savedMetrics(checkpoint: Checkpoint): EpochMetrics[] {
  const { metrics, position } = checkpoint.manifest;
  const where = `${checkpoint.dir}: metrics`;
  if (metrics.length !== position.epoch) throw new FormatError(`${where} holds ${metrics.length} records but the run has done ${position.epoch} epochs`, 'metrics');
  let lastStep = 0;
  return metrics.map((value, i): EpochMetrics => {
    const bad = (why: string) => new FormatError(`${where}[${i}] is not an epoch record written by train: ${why}`, `metrics[${i}]`);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('not an object');
    const m = value as Record<string, unknown>;
    if (m.epoch !== i) throw bad(`epoch is ${printable(String(m.epoch))}, not ${i}`);
    if (!Number.isSafeInteger(m.step) || (m.step as number) < lastStep || (m.step as number) > position.step) {
      throw bad(`step is ${printable(String(m.step))}, not an integer in [${lastStep}, ${position.step}]`);
    }
    lastStep = m.step as number;
    const language = 'validationBpc' in m;
    const numbers = language ? LANGUAGE_MODEL_NUMBERS : CLASSIFICATION_NUMBERS;
    for (const key of numbers) {
      const finite = typeof m[key] === 'number' && Number.isFinite(m[key]);
      if (!finite && !(key === 'testBpc' && m[key] === null)) throw bad(`${key} is not a finite number`);
    }
    if (!Array.isArray(m.densities) || !m.densities.every((d) => typeof d === 'object' && d !== null && !Array.isArray(d))) throw bad('densities is not a list of objects');
    if (!Array.isArray(m.events) || !m.events.every((e) => typeof e === 'object' && e !== null && typeof (e as HookEvent).hook === 'string')) throw bad('events is not a list of hook events');
    if (m.clippedSteps !== undefined && !(Number.isSafeInteger(m.clippedSteps) && (m.clippedSteps as number) >= 0)) throw bad('clippedSteps is not a count');
    const record: Record<string, unknown> = { epoch: i, step: lastStep };
    for (const key of numbers) record[key] = m[key];
    record.densities = m.densities;
    record.events = m.events;
    if (m.clippedSteps !== undefined) record.clippedSteps = m.clippedSteps;
    return record as unknown as EpochMetrics;
  });
}

/**
 * Appends `line` to the regular file at `path`, never through a symbolic link (O_NOFOLLOW) and not
 * to a file without write permission (as writeFileAtomic refuses); FileError otherwise.
 */
function appendLine(path: string, line: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_NOFOLLOW);
    const info = fstatSync(fd);
    if (!info.isFile()) throw new FileError(path, 'cannot append: not a regular file');
    if ((info.mode & 0o222) === 0) throw new FileError(path, 'cannot append: the file is read-only');
    const bytes = Buffer.from(line, 'utf8');
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  } catch (error) {
    if (error instanceof FileError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new FileError(path, 'cannot append: a symbolic link (a run never writes through one)');
    throw asFileError(path, 'append to', error);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
