import { BlocksparseError } from '../errors.js';

/** A command-line usage error (missing or conflicting options); the CLI exits with code 2. */
export class UsageError extends BlocksparseError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}
