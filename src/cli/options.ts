import { InvalidArgumentError } from 'commander';
import { availableParallelism } from 'node:os';
import { parseByteSize } from '../budget.js';
import { ParameterError } from '../errors.js';
import type { Seed } from '../random.js';

/** Commander parser for an integer option value. */
export function parseIntegerOption(value: string): number {
  if (!/^[+-]?\d+$/.test(value.trim())) throw new InvalidArgumentError('must be an integer.');
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('must be an integer of at most 2^53.');
  return n;
}

/** Commander parser for a finite number option value (decimal or exponent form). */
export function parseNumberOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('must be a finite number.');
  return n;
}

/** Commander parser for a seed: an integer stays a number (same stream as its string form), anything else a string. */
export function parseSeedOption(value: string): Seed {
  return /^-?\d+$/.test(value) && Number.isSafeInteger(Number(value)) ? Number(value) : value;
}

/** kebab-case -> camelCase, as Commander names option attributes. */
export function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Commander parser for a size in bytes ("512M", "8G", "1.5GiB"; at least 1 MiB), as for --max-memory. */
export function parseByteSizeOption(value: string): number {
  let bytes: number;
  try {
    bytes = parseByteSize(value);
  } catch {
    throw new InvalidArgumentError('must be a size such as 512M, 8G or 1.5GiB.');
  }
  if (bytes < 2 ** 20) throw new InvalidArgumentError('must be at least 1M.');
  return bytes;
}

/**
 * A thread or worker count from the command line (`--workers`, `--threads`): at most the cores this
 * machine has, unless `oversubscribe` (the --oversubscribe flag) allows up to `hardMax`; every
 * thread costs memory (a worker holds its own copies), so 1000 threads on 2 cores is refused.
 */
export function checkThreadCount(option: string, value: number | undefined, oversubscribe: boolean, hardMax = 256): number | undefined {
  if (value === undefined) return undefined;
  const cores = Math.max(1, availableParallelism());
  const max = oversubscribe ? hardMax : cores;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    const why = oversubscribe ? '' : ` (the cores of this machine; --oversubscribe allows up to ${hardMax})`;
    throw new ParameterError(option, `an integer in [1, ${max}]${why}`, value);
  }
  return value;
}
