import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
// An absolute loader URL, so that runs from other folders (temp dirs) still find tsx.
const tsxLoader = import.meta.resolve('tsx');

/** Result of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the `blocksparse` CLI in this process: `main(args)` with what it writes to stdout and stderr
 * captured. The working directory is this process's (the repository), so give paths absolute. A
 * bug (an error `main` does not turn into exit code 2) is thrown with its stack. Use runCli for
 * what needs a process of its own: another working directory, a lock held by this process.
 */
export async function runMain(args: string[]): Promise<CliResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const capture = (stream: NodeJS.WriteStream, into: string[]): (() => void) => {
    const write = stream.write;
    stream.write = ((chunk: string | Uint8Array, encoding?: BufferEncoding | ((error?: Error | null) => void), done?: (error?: Error | null) => void) => {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      (typeof encoding === 'function' ? encoding : done)?.();
      return true;
    }) as NodeJS.WriteStream['write'];
    return () => {
      stream.write = write;
    };
  };
  const restoreStdout = capture(process.stdout, stdout);
  const restoreStderr = capture(process.stderr, stderr);
  try {
    const code = await main(args);
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  } finally {
    restoreStdout();
    restoreStderr();
  }
}

/** Runs the `blocksparse` CLI from source (through tsx) in a process of its own, with `args`, in `cwd`. */
export function runCli(args: string[], cwd: string = root): CliResult {
  const result = spawnSync(process.execPath, ['--import', tsxLoader, `${root}/src/cli/main.ts`, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
