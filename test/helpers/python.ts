import { execFileSync } from 'node:child_process';

/**
 * The Python used for cross-checks: Debian's /usr/bin/python3 with python3-numpy, python3-networkx
 * and python3-igraph (installed by .ci/run), or BLOCKSPARSE_PYTHON.
 */
export const PYTHON = process.env.BLOCKSPARSE_PYTHON ?? '/usr/bin/python3';

/** Runs a Python script (with optional stdin) and returns its stdout; throws with stderr on failure. */
export function runPython(script: string, input?: string | Uint8Array): string {
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
