/**
 * The memory budget: every size that comes from input (layout dimensions, nnz, tensor shapes in a
 * manifest, dataset dimensions, options such as --hidden) is turned into an estimate of bytes and
 * checked here before anything is allocated. The budget is process-wide: by default half of the
 * machine's memory (or of the container's limit, where one is set); `setMemoryBudget` (the CLI's
 * --max-memory) changes it.
 */
import { constants as bufferConstants } from 'node:buffer';
import { totalmem } from 'node:os';
import { ParameterError, ResourceError } from './errors.js';

/** The most elements a typed array can hold in this JavaScript engine (2^32 on 64-bit V8). */
export const MAX_TYPED_ARRAY_LENGTH = 2 ** 32;
/** The most bytes one Buffer (and so one file read in one piece) can hold. */
export const MAX_BUFFER_BYTES: number = bufferConstants.MAX_LENGTH;
/** The most UTF-16 code units a string can hold (about 512 Mi): a longer JSON text cannot exist in memory. */
export const MAX_STRING_LENGTH: number = bufferConstants.MAX_STRING_LENGTH;

let budget: number | undefined;
let machine: number | undefined;

/**
 * The machine's memory, or the container's limit where one is set and smaller; read once (the
 * two calls take ~35 us, and every tensor allocation checks the budget).
 */
function machineMemory(): number {
  if (machine === undefined) {
    const total = totalmem();
    const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : undefined;
    machine = constrained !== undefined && constrained > 0 && constrained < total ? constrained : total;
  }
  return machine;
}

/** The default budget: half of the machine's (or container's) memory. */
export function defaultMemoryBudget(): number {
  return Math.floor(machineMemory() / 2);
}

/** The memory budget in force, in bytes. */
export function memoryBudget(): number {
  return budget ?? defaultMemoryBudget();
}

/** Sets the process-wide memory budget in bytes (an integer >= 1 MiB); `undefined` restores the default. */
export function setMemoryBudget(bytes: number | undefined): void {
  if (bytes === undefined) {
    budget = undefined;
    return;
  }
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 2 ** 20) {
    throw new ParameterError('maxMemory', 'a whole number of bytes of at least 1 MiB (e.g. 512M, 8G)', bytes);
  }
  budget = bytes;
}

/** Runs `fn` with the budget set to `bytes`, then restores the previous one (for tests and scoped API use). */
export function withMemoryBudget<T>(bytes: number, fn: () => T): T {
  const previous = budget;
  setMemoryBudget(bytes);
  try {
    return fn();
  } finally {
    budget = previous;
  }
}

/** `bytes` as a short human figure in binary units: "512 B", "3.0 KiB", "8.2 GiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'an unbounded amount';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/**
 * Parses a size such as "512M", "8G", "1.5GiB", "2T" or a plain number of bytes (k/M/G/T are powers
 * of 1024, with or without "iB"/"B"); ParameterError naming `parameter` otherwise.
 */
export function parseByteSize(text: string, parameter = 'maxMemory'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*$/.exec(text);
  if (!match) throw new ParameterError(parameter, 'a size such as 512M, 8G or 1.5GiB', text);
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[match[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const bytes = Math.floor(Number(match[1]) * 1024 ** power);
  if (!Number.isSafeInteger(bytes)) throw new ParameterError(parameter, 'a size below 8 PiB', text);
  return bytes;
}

/** Options of `checkMemory`. */
export interface MemoryCheckOptions {
  /** Elements of the largest single typed array the work allocates (checked against MAX_TYPED_ARRAY_LENGTH). */
  elements?: number;
  /** What raises the budget, for the message (default: "--max-memory, or setMemoryBudget() in the API"). */
  raise?: string;
}

/** How a user raises the budget, for messages. */
export const RAISE_BUDGET = '--max-memory, or setMemoryBudget() in the API';

/**
 * Checks that work on `what` (e.g. "layout of 1 x 2147483646 blocks: mixing depth", or a function
 * giving it, called only when refusing) needing about `bytes` of memory fits the budget, before anything is allocated; ResourceError naming the input,
 * the estimate and the option otherwise. NaN and infinite estimates are refused.
 */
export function checkMemory(what: string | (() => string), bytes: number, options: MemoryCheckOptions = {}): void {
  const limit = memoryBudget();
  const { elements } = options;
  if (bytes <= limit && (elements === undefined || elements <= MAX_TYPED_ARRAY_LENGTH)) return;
  // Named only when refused: on a hot path (every tensor) the description costs nothing.
  const name = typeof what === 'string' ? what : what();
  if (!(bytes <= limit)) {
    throw new ResourceError(
      name,
      bytes,
      limit,
      `${name} needs about ${formatBytes(bytes)} of memory, over the budget of ${formatBytes(limit)} (raise it with ${options.raise ?? RAISE_BUDGET})`,
    );
  }
  throw new ResourceError(
    name,
    bytes,
    MAX_TYPED_ARRAY_LENGTH,
    `${name} needs an array of ${Number.isFinite(elements) ? elements : 'unboundedly many'} elements, more than the 2^32 one array can hold`,
  );
}
