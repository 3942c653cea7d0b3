/*
 * Dated result records for the benchmark scripts: each run's output, as printed, goes to
 * bench/results/<name>-<YYYY-MM-DD>.md with the machine, the date, the git commit and the command,
 * so that results live beside the code that measured them instead of being pasted into the docs.
 * A script calls recordStdout('<name>') once at its start; the record is written when the process
 * exits with status 0. BLOCKSPARSE_BENCH_RECORD=0 turns recording off.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where records go unless a caller says otherwise. */
export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

/** The machine a benchmark ran on. */
export interface MachineInfo {
  /** CPU model name (os.cpus()[0].model), or "unknown cpu". */
  cpu: string;
  /** Logical cores available to Node (os.availableParallelism()). */
  cores: number;
  /** Node's version (process.version). */
  node: string;
}

/** One benchmark run, as it is written to its record. */
export interface BenchRecord {
  /** The benchmark's name: generate, analysis, sigma, kernels, train, study. */
  name: string;
  /** When it ran (the record's file name carries the UTC date). */
  date: Date;
  machine: MachineInfo;
  /** `git rev-parse --short HEAD`, or "unknown". */
  commit: string;
  /** The command line that ran it. */
  command: string;
  /** Its standard output, as printed. */
  output: string;
}

/** The current machine's CPU, cores and Node version. */
export function machineInfo(): MachineInfo {
  return { cpu: os.cpus()[0]?.model.trim() || 'unknown cpu', cores: os.availableParallelism(), node: process.version };
}

/** The short hash of HEAD in `cwd`, or "unknown" outside a git checkout or without git. */
export function gitCommit(cwd: string = process.cwd()): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The record's Markdown text. */
export function formatRecord(record: BenchRecord): string {
  const { name, date, machine, commit, command, output } = record;
  const fence = output.includes('```') ? '~~~~' : '```';
  return [
    `# bench: ${name}, ${date.toISOString().slice(0, 10)}`,
    '',
    `- date: ${date.toISOString()}`,
    `- machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}`,
    `- commit: ${commit}`,
    `- command: \`${command}\``,
    '',
    'Output, as printed:',
    '',
    fence,
    output.replace(/\n+$/, ''),
    fence,
    '',
  ].join('\n');
}

/**
 * Writes the record to `<dir>/<name>-<YYYY-MM-DD>.md` (`-2`, `-3`, ... when that day already has
 * one) and returns its path.
 */
export function writeRecord(record: BenchRecord, dir: string = RESULTS_DIR): string {
  mkdirSync(dir, { recursive: true });
  const stem = `${record.name}-${record.date.toISOString().slice(0, 10)}`;
  let path = join(dir, `${stem}.md`);
  for (let n = 2; existsSync(path); n++) path = join(dir, `${stem}-${n}.md`);
  writeFileSync(path, formatRecord(record));
  return path;
}

/** The command line of this process, with the script relative to the working directory. */
export function currentCommand(): string {
  const [, script, ...args] = process.argv;
  return ['node', ...process.execArgv, script ? relative(process.cwd(), script) : '', ...args].filter(Boolean).join(' ');
}

/** Stops copying standard output and writes the record; returns its path, or null when nothing was recorded. */
export type StopRecording = () => string | null;

/**
 * Copies everything written to standard output from now on, and writes it as the benchmark's
 * record when the process exits with status 0 (or when the returned function is called).
 */
export function recordStdout(name: string, options: { dir?: string; command?: string } = {}): StopRecording {
  if (process.env.BLOCKSPARSE_BENCH_RECORD === '0') return () => null;
  const date = new Date();
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stdout.write;
  let stopped = false;
  const stop: StopRecording = () => {
    if (stopped) return null;
    stopped = true;
    process.stdout.write = write;
    process.off('exit', onExit);
    const path = writeRecord({ name, date, machine: machineInfo(), commit: gitCommit(), command: options.command ?? currentCommand(), output: chunks.join('') }, options.dir);
    process.stderr.write(`recorded ${relative(process.cwd(), path)}\n`);
    return path;
  };
  const onExit = (code: number) => {
    if (code === 0) stop();
  };
  process.on('exit', onExit);
  return stop;
}
