import { expect } from 'vitest';
import { ParameterError } from '../../src/errors.js';

/** Expects `fn` to throw a ParameterError naming `parameter` (a name, or a pattern it must match); returns the error. */
export function expectParameterError(fn: () => unknown, parameter: string | RegExp): ParameterError {
  const error = catchError(fn);
  expect(error).toBeInstanceOf(ParameterError);
  const e = error as ParameterError;
  if (typeof parameter === 'string') expect(e.parameter).toBe(parameter);
  else expect(e.parameter).toMatch(parameter);
  return e;
}

/** Runs `run` and returns what it throws; fails the test if it throws nothing. */
export function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
