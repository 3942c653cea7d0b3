import { ParameterError } from './errors.js';

/** Checks that `value` is an integer in [min, max]; returns it. */
export function checkInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER, context?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ParameterError(name, `an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? 'inf' : max}]`, value, context);
  }
  return value;
}

/** Checks that `value` is a finite number in [min, max]; returns it. */
export function checkNumber(name: string, value: unknown, min: number, max: number, context?: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ParameterError(name, `a number in [${min}, ${max}]`, value, context);
  }
  return value;
}

/** Checks that `value` is a probability in [0, 1]; returns it. */
export function checkProbability(name: string, value: unknown, context?: string): number {
  return checkNumber(name, value, 0, 1, context);
}

/** Checks that `value` is an even integer in [min, max]; returns it. */
export function checkEvenInteger(name: string, value: unknown, min: number, max: number, context?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value % 2 !== 0 || value < min || value > max) {
    throw new ParameterError(name, `an even integer in [${min}, ${max}]`, value, context);
  }
  return value;
}

/** Checks that `value` is one of `allowed`; returns it. */
export function checkOneOf<T>(name: string, value: unknown, allowed: readonly T[], context?: string): T {
  if (!allowed.includes(value as T)) {
    throw new ParameterError(name, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, value, context);
  }
  return value as T;
}
