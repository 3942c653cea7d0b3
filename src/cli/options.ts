import { InvalidArgumentError } from 'commander';
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
