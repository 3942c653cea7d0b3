import { InvalidArgumentError, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { parseByteSize } from '../budget.js';
import { ParameterError } from '../errors.js';
import { BACKEND_CHOICES } from '../kernels/get-backend.js';
import { BLOCK_SIZES, DEFAULT_BLOCK_SIZE } from '../patterns/layout.js';
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

/**
 * `--block-size <size>`: one of BLOCK_SIZES, kept as the string typed. With `withDefault` (the
 * default) it is DEFAULT_BLOCK_SIZE when not given; without, undefined (the command decides, e.g.
 * a JSON file carries its own).
 */
export function blockSizeOption(description = 'block size', withDefault = true): Option {
  const option = new Option('--block-size <size>', description).choices(BLOCK_SIZES.map(String));
  return withDefault ? option.default(String(DEFAULT_BLOCK_SIZE)) : option;
}

/** `--seed <seed>` (integer or string, see parseSeedOption), 0 when not given. */
export function seedOption(description = 'random seed'): Option {
  return new Option('--seed <seed>', description).argParser(parseSeedOption).default(0);
}

/** `--backend <name>`: one of BACKEND_CHOICES, "auto" when not given. */
export function backendOption(description = 'kernel backend: auto takes a hardware WebGPU adapter, else the CPU'): Option {
  return new Option('--backend <name>', description).choices(BACKEND_CHOICES).default('auto');
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
