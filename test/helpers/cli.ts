import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
// An absolute loader URL, so that runs from other folders (temp dirs) still find tsx.
const tsxLoader = import.meta.resolve('tsx');

/** Result of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `blocksparse` CLI from source (through tsx) with `args`, in `cwd`. */
export function runCli(args: string[], cwd: string = root): CliResult {
  const result = spawnSync(process.execPath, ['--import', tsxLoader, `${root}/src/cli/main.ts`, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
