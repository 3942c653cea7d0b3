import { execFileSync } from 'node:child_process';
import { TestRunner } from 'vitest';
import { FAST_TIER } from './tier.js';

/**
 * The Python used for cross-checks: Debian's /usr/bin/python3 with python3-numpy, python3-networkx
 * and python3-igraph (installed by .ci/run), or BLOCKSPARSE_PYTHON.
 */
export const PYTHON = process.env.BLOCKSPARSE_PYTHON ?? '/usr/bin/python3';

/**
 * In the fast tier, skips the running test (a cross-check is not in this tier); otherwise does
 * nothing. Python run outside a test (beforeAll, collection) cannot be skipped this way: such a
 * describe is marked `describe.skipIf(FAST_TIER)`, or its file is left out of the fast tier.
 */
export function skipCrossCheckInFastTier(): void {
  if (!FAST_TIER) return;
  const test = TestRunner.getCurrentTest();
  if (test === undefined) throw new Error('a python cross-check outside a test: mark its describe describe.skipIf(FAST_TIER)');
  test.context.skip('python cross-check: not in the fast tier');
}

/**
 * Runs a Python script (with optional stdin) and returns its stdout; throws with stderr on failure.
 * In the fast tier it skips the running test instead (skipCrossCheckInFastTier).
 */
export function runPython(script: string, input?: string | Uint8Array): string {
  skipCrossCheckInFastTier();
  try {
    return execFileSync(PYTHON, ['-c', script], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`python cross-check failed (${PYTHON}; .ci/run installs python3-numpy, python3-networkx, python3-igraph): ${e.stderr ?? e.message}`);
  }
}

/** Runs a Python script and parses its stdout as JSON. */
export function runPythonJSON<T = unknown>(script: string, input?: string | Uint8Array): T {
  return JSON.parse(runPython(script, input)) as T;
}

/** Whether Debian's python3-torch is importable by the cross-check Python (a cross-check then fails on a disagreement). */
export function hasTorch(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
