import { Worker } from 'node:worker_threads';

/**
 * The URL of worker module `name` (file name without extension) in the folder of `from` (the
 * caller's import.meta.url). From compiled JavaScript it is the sibling `name.js`. From TypeScript
 * source (vitest, tsx) it is `name.ts`, loaded by a three-line bootstrap module that first
 * registers tsx's loader in the worker: on Node 20, `execArgv: ['--import', tsx]` runs tsx in the
 * worker but its hooks do not reach the worker's own imports (a .ts entry fails with
 * ERR_UNKNOWN_FILE_EXTENSION).
 */
export function workerEntry(from: string, name: string): URL {
  if (!from.endsWith('.ts')) return new URL(`./${name}.js`, from);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL(`./${name}.ts`, from).href;
  const bootstrap = `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(entry)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}

/**
 * Starts a worker thread on module `name` next to `from` (see workerEntry) with `workerData`. It
 * inherits no Node options: the parent's (--inspect, --import tsx, ...) are not for workers. The
 * caller listens for its messages, errors and exit.
 */
export function startWorker(from: string, name: string, workerData: unknown): Worker {
  return new Worker(workerEntry(from, name), { workerData, execArgv: [] });
}
