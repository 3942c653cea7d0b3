#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { setMemoryBudget } from '../budget.js';
import { BlocksparseError, ParameterError } from '../errors.js';
import { oneLine } from '../printable.js';
import { parseByteSizeOption } from './options.js';
import { addGenerateCommand, PRESET_PATTERN } from './generate.js';
import { addInspectCommand } from './inspect.js';
import { addConvertCommand } from './convert.js';
import { addPatternsCommand } from './patterns.js';
import { addDemoCommand } from './demo.js';
import { addCompareCommand } from './compare.js';
import { addSweepCommand } from './sweep.js';
import { addBenchCommand } from './bench.js';
import { addTrainCommand } from './train.js';
import { addSampleCommand } from './sample.js';
import { addPredictCommand } from './predict.js';
import { addPruneCommand } from './prune.js';
import { addExportCommand } from './export.js';
import { addImportCommand } from './import-model.js';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The `blocksparse` command with all its subcommands (errors are thrown, not exited on). */
export function buildProgram(): Command {
  const program = new Command('blocksparse')
    .description('design, inspect, compare and run block-sparsity layouts')
    .version(packageJson.version)
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: () => {} });
  addGenerateCommand(program);
  addInspectCommand(program);
  addConvertCommand(program);
  addCompareCommand(program);
  addSweepCommand(program);
  addBenchCommand(program);
  addTrainCommand(program);
  addSampleCommand(program);
  addPredictCommand(program);
  addPruneCommand(program);
  addExportCommand(program);
  addImportCommand(program);
  addPatternsCommand(program);
  addDemoCommand(program);
  addMemoryOption(program);
  return program;
}

/**
 * Every command that runs something takes --max-memory: the budget that sizes from input are
 * checked against before anything is allocated (src/budget.ts). It is set just before the command's
 * action runs, and restored by `main` afterwards.
 */
function addMemoryOption(program: Command): void {
  const visit = (command: Command): void => {
    if (command.commands.length > 0) {
      command.commands.forEach(visit);
      return;
    }
    command.option('--max-memory <size>', 'memory budget for sizes from input, e.g. 512M, 8G (default: half of this machine\'s memory)', parseByteSizeOption);
  };
  program.commands.forEach(visit);
  program.hook('preAction', (_program, action) => {
    const { maxMemory } = action.opts<{ maxMemory?: number }>();
    if (maxMemory !== undefined) setMemoryBudget(maxMemory);
  });
}

/** `generate ws_4_10 ...` -> `generate preset ws_4_10 ...` for OpenAI's preset names that are not pattern commands. */
function rewritePresets(program: Command, args: string[]): string[] {
  if (args[0] !== 'generate' || args[1] === undefined || !PRESET_PATTERN.test(args[1])) return args;
  const generate = program.commands.find((c) => c.name() === 'generate')!;
  if (generate.commands.some((c) => c.name() === args[1] || c.aliases().includes(args[1]))) return args;
  return ['generate', 'preset', ...args.slice(1)];
}

/** Runs the CLI on `args` (without node and script); returns the exit code: 0 ok, 2 usage or input error, 1 bug. */
export async function main(args: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(rewritePresets(program, args), { from: 'user' });
    return 0;
  } catch (error) {
    // Every error is one line: commander's suggestions ("(Did you mean ...)") and names from
    // files are folded into it, control characters escaped.
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0; // --help, --version
      process.stderr.write(`blocksparse: ${oneLine(error.message)}\n`);
      return 2;
    }
    if (error instanceof BlocksparseError) {
      process.stderr.write(`blocksparse: error: ${oneLine(cliMessage(error))}\n`);
      return 2;
    }
    const environmental = environmentalError(error);
    if (environmental !== undefined) {
      process.stderr.write(`blocksparse: error: ${oneLine(environmental)}\n`);
      return 2;
    }
    throw error;
  } finally {
    setMemoryBudget(undefined);
  }
}

/**
 * The last line of defence, for failures of the machine rather than of our code: a file-system
 * error that no reader or writer turned into a FileError (it names its path), and the engine
 * running out of memory although the budget allowed the work (the machine has less free than its
 * size). Both become one line and exit 2; anything else is a bug and keeps its stack.
 */
function environmentalError(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, syscall, path } = error as NodeJS.ErrnoException;
  if (typeof code === 'string' && typeof syscall === 'string') {
    const reason = /^[A-Z0-9_]+: ([^,]+)/.exec(error.message)?.[1] ?? error.message;
    return `${typeof path === 'string' ? `${path}: ` : ''}cannot ${syscall}: ${reason} (${code})`;
  }
  if (error instanceof RangeError && /Array buffer allocation failed/.test(error.message)) {
    return `out of memory (${error.message}); lower the sizes asked for, or free memory on this machine`;
  }
  return undefined;
}

/** A ParameterError names the option as the user typed it (--p, --blocks); other errors keep their message. */
function cliMessage(error: BlocksparseError): string {
  if (!(error instanceof ParameterError)) return error.message;
  const flag = `--${error.parameter.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  return error.message.replace(new RegExp(`(^|: )${error.parameter} must`), `$1${flag} must`);
}

const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invokedDirectly) {
  // `blocksparse ... | head` closes the pipe early: stop quietly, as Unix tools do.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`blocksparse: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
