/** Base class of every error this toolkit throws on purpose; `code` is stable for programs to match on. */
export class BlocksparseError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A parameter is outside its allowed range or of the wrong kind; names the parameter and the range. */
export class ParameterError extends BlocksparseError {
  readonly parameter: string;
  readonly allowed: string;
  readonly value: unknown;
  constructor(parameter: string, allowed: string, value: unknown, context?: string) {
    const where = context ? `${context}: ` : '';
    super('E_PARAMETER', `${where}${parameter} must be ${allowed} (got ${describeValue(value)})`);
    this.parameter = parameter;
    this.allowed = allowed;
    this.value = value;
  }
}

/** Two shapes that must agree do not (layout vs layout, layout vs tensor). */
export class ShapeError extends BlocksparseError {
  constructor(message: string) {
    super('E_SHAPE', message);
  }
}

/** A file or serialised object is malformed; `field` names what is wrong where known. */
export class FormatError extends BlocksparseError {
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super('E_FORMAT', message);
    this.field = field;
  }
}

/** A generator could not produce a graph with the requested property (e.g. connected) within its tries. */
export class GenerationError extends BlocksparseError {
  constructor(message: string) {
    super('E_GENERATION', message);
  }
}

/** A file could not be read or written (missing, permissions, disk full). */
export class FileError extends BlocksparseError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('E_FILE', `${path}: ${message}`);
    this.path = path;
  }
}

/** Short printable form of a bad value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return typeof value;
}

/**
 * An input asks for more memory (or a larger array, string or file) than allowed: `what` names the
 * input, `bytes` the estimate, `limit` the budget or hard limit it exceeds, and the message says
 * which option raises the budget where one can.
 */
export class ResourceError extends BlocksparseError {
  readonly what: string;
  readonly bytes: number;
  readonly limit: number;
  constructor(what: string, bytes: number, limit: number, message: string) {
    super('E_RESOURCE', message);
    this.what = what;
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** A run directory (or another resource) is held by another process; names the holder's pid. */
export class LockError extends BlocksparseError {
  readonly path: string;
  readonly holder: number | undefined;
  constructor(path: string, holder: number | undefined, message: string) {
    super('E_LOCKED', `${path}: ${message}`);
    this.path = path;
    this.holder = holder;
  }
}
