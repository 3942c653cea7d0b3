/**
 * An epoch's record (one line of metrics.jsonl): its type, the log file it goes to, and the records
 * a checkpoint carries, checked before a resumed run rewrites the log from them.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, writeSync } from 'node:fs';
import { asFileError, writeFileAtomic } from '../atomic-write.js';
import { FileError, FormatError } from '../errors.js';
import { printable } from '../printable.js';
import type { Checkpoint } from './checkpoint.js';
import type { LayerDensity } from './model.js';

/** An event a hook returned from afterStep, with where it happened. */
export interface HookEvent {
  hook: string;
  epoch: number;
  step: number;
  [key: string]: unknown;
}

/** One line of metrics.jsonl: an epoch's results. */
export interface EpochMetrics {
  epoch: number;
  /** Steps done over the run at the end of the epoch. */
  step: number;
  /** Mean over the epoch's examples of the batch loss (including what hooks added, e.g. an L0 penalty). */
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  /** Seconds of the epoch's training steps (evaluation not included). */
  seconds: number;
  evalSeconds: number;
  /** Training examples per second of `seconds`. */
  samplesPerSecond: number;
  lr: number;
  densities: LayerDensity[];
  events: HookEvent[];
}

/** Writes `records` as the whole log at `path` (atomically): a resumed run's log restarts from what its checkpoint knows. */
export function writeMetricsLog(path: string, records: readonly EpochMetrics[]): void {
  writeFileAtomic(path, records.map((m) => `${JSON.stringify(m)}\n`).join(''));
}

/** Appends one epoch's record to the log at `path` (see appendLine). */
export function appendMetricsLog(path: string, record: EpochMetrics): void {
  appendLine(path, `${JSON.stringify(record)}\n`);
}

const EPOCH_NUMBERS = ['trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy', 'seconds', 'evalSeconds', 'samplesPerSecond', 'lr'] as const;

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
    for (const key of EPOCH_NUMBERS) if (typeof m[key] !== 'number' || !Number.isFinite(m[key])) throw bad(`${key} is not a finite number`);
    if (!Array.isArray(m.densities) || !m.densities.every((d) => typeof d === 'object' && d !== null && !Array.isArray(d))) throw bad('densities is not a list of objects');
    if (!Array.isArray(m.events) || !m.events.every((e) => typeof e === 'object' && e !== null && typeof (e as HookEvent).hook === 'string')) throw bad('events is not a list of hook events');
    const record = { epoch: i, step: lastStep } as EpochMetrics;
    for (const key of EPOCH_NUMBERS) record[key] = m[key] as number;
    record.densities = m.densities as LayerDensity[];
    record.events = m.events as HookEvent[];
    return record;
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
