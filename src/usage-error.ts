import { BlocksparseError } from './errors.js';

/**
 * A usage error: missing or conflicting options, named as the command line spells them (the CLI
 * and the runs it starts, src/runs, throw it); the CLI exits with code 2.
 */
export class UsageError extends BlocksparseError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}
