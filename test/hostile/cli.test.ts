import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { withMemoryBudget } from '../../src/budget.js';
import { ResourceError } from '../../src/errors.js';
import { getBackend } from '../../src/kernels/get-backend.js';
import { runMain } from '../helpers/cli.js';

/** stderr of a failed run: exactly one line, starting "blocksparse: error: ". */
function oneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.length > 0);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^blocksparse: error: /);
  return lines[0];
}

describe('hostile and careless input: the CLI as a whole', () => {
  it("folds commander's suggestion into the one error line", async () => {
    const result = await runMain(['inspet', 'x.json']);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toBe("blocksparse: error: unknown command 'inspet' (Did you mean inspect?)");
  });

  it('takes --max-memory on every command and refuses a bad size with one line', async () => {
    const result = await runMain(['generate', 'ws', '--blocks', '16', '--k', '4', '--max-memory', 'lots', '-o', 'x.json']);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toBe("blocksparse: error: option '--max-memory <size>' argument 'lots' is invalid. must be a size such as 512M, 8G or 1.5GiB.");
  });

  it('bench: --threads above the cores is refused unless --oversubscribe; --features over the budget is refused before any allocation', async () => {
    const cores = availableParallelism();
    const many = await runMain(['bench', '--backend', 'cpu', '--threads', '1000']);
    expect(many.code).toBe(2);
    expect(oneErrorLine(many.stderr)).toBe(`blocksparse: error: --threads must be an integer in [1, ${cores}] (the cores of this machine; --oversubscribe allows up to 256) (got 1000)`);
    const over = await runMain(['bench', '--backend', 'cpu', '--threads', '1000', '--oversubscribe']);
    expect(oneErrorLine(over.stderr)).toBe('blocksparse: error: --threads must be an integer in [1, 256] (got 1000)');
    const huge = await runMain(['bench', '--backend', 'cpu', '--features', '65536', '--block-sizes', '32', '--max-memory', '64M']);
    expect(huge.code).toBe(2);
    expect(oneErrorLine(huge.stderr)).toMatch(/^blocksparse: error: kernel benchmark with --features 65536 and batch \d+ needs about 32 GiB of memory, over the budget of 64 MiB \(raise it with --max-memory/);
  });
});

describe('hostile and careless input: tensors', () => {
  it('every backend tensor is checked against the budget before it is allocated', async () => {
    const backend = await getBackend('cpu', { threads: 1 });
    try {
      const error = withMemoryBudget(2 ** 26, () => {
        try {
          backend.zeros([100000, 100000]);
        } catch (e) {
          return e;
        }
        return undefined;
      });
      expect(error).toBeInstanceOf(ResourceError);
      expect((error as Error).message).toMatch(/^a float32 tensor of shape \[100000, 100000\] needs about 37 GiB of memory, over the budget of 64 MiB/);
      expect(() => backend.zeros([2 ** 16, 2 ** 16 + 1])).toThrow(/more than the 2\^32 one array can hold|over the budget/);
      expect(backend.zeros([4, 4]).shape).toEqual([4, 4]);
    } finally {
      await backend.dispose();
    }
  });
});

describe('hostile and careless input: the last line of defence', () => {
  it('a file-system error that escaped every reader is still one line naming the path (exit 2)', async () => {
    const { main } = await import('../../src/cli/main.js');
    const { Command } = await import('commander');
    // A command whose action fails the way an unguarded fs call would.
    const original = Command.prototype.parseAsync;
    Command.prototype.parseAsync = async function () {
      const error = Object.assign(new Error("EEXIST: file already exists, mkdir '/tmp/f'"), { code: 'EEXIST', syscall: 'mkdir', path: '/tmp/f' });
      throw error;
    };
    const writes: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => writes.push(chunk) > 0) as typeof process.stderr.write;
    try {
      expect(await main(['demo'])).toBe(2);
    } finally {
      process.stderr.write = write;
      Command.prototype.parseAsync = original;
    }
    expect(writes).toEqual(['blocksparse: error: /tmp/f: cannot mkdir: file already exists (EEXIST)\n']);
  });
});
