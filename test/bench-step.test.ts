import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { blockShape, median, OP_CASES } from '../bench/step-ops.js';
import { FAST_TIER } from './helpers/tier.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const QUICK_SHAPES = ['[4, 64]', '[16, 256]'];

/** Runs `npm run bench:step -- --quick` (no record; without numpy in the fast tier, which runs no Python). */
function runQuick(): { status: number | null; stdout: string; stderr: string } {
  const args = ['--import', 'tsx', 'bench/step.ts', '--quick', '--shapes', '4x64,16x256', ...(FAST_TIER ? ['--no-numpy'] : [])];
  const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 50_000, env: { ...process.env, BLOCKSPARSE_BENCH_RECORD: '0' } });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('bench:step', () => {
  it('picks the block shape of the block operations and takes medians', () => {
    expect(blockShape(32 * 2048)).toEqual([64, 32, 32]);
    expect(blockShape(4 * 64)).toEqual([1, 16, 16]);
    expect(blockShape(64)).toEqual([1, 8, 8]);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(3);
  });

  it('--quick times every training operation on every shape, the smallest calls, and prints the targets', () => {
    const { status, stdout, stderr } = runQuick();
    expect(status, stderr).toBe(0);
    // The operations table: op, shape, ours (us), numpy (us), ours/numpy.
    const rows = stdout.split('\n').map((line) => /^(\S.*?)\s{2,}(\[[\d, ]+\])\s+(\S+)\s+(\S+)\s+(\S+)$/.exec(line)).filter((m): m is RegExpExecArray => m !== null);
    expect(rows).toHaveLength(OP_CASES.length * QUICK_SHAPES.length);
    for (const op of OP_CASES) {
      const mine = rows.filter((m) => m[1] === op.name);
      expect(mine, op.name).toHaveLength(QUICK_SHAPES.length);
      for (const [, , , ours, numpy, ratio] of mine) {
        expect(Number(ours), `${op.name} ours`).toBeGreaterThan(0);
        if (op.numpy && !FAST_TIER) {
          expect(Number(numpy), `${op.name} numpy`).toBeGreaterThan(0);
          expect(Number(ratio), `${op.name} ratio`).toBeGreaterThan(0);
        } else {
          expect([numpy, ratio]).toEqual(['-', '-']);
        }
      }
    }
    // Element-wise shapes as given; block operations as [nnz, bs, bs].
    expect(rows.filter((m) => m[1] === 'add').map((m) => m[2])).toEqual(QUICK_SHAPES);
    expect(rows.filter((m) => m[1] === 'gatherBlocks').map((m) => m[2])).toEqual(['[1, 16, 16]', '[4, 32, 32]']);
    // The per-call section: five calls, each a positive time.
    for (const call of ['forward, 4 x 4 blocks of 32, N = 32', 'forward, 1 x 1 block of 8, N = 1', 'activation relu [1, 8]', 'addBias [1, 8]', 'adamStep [8]']) {
      const match = new RegExp(`^${call.replace(/[[\]]/g, '\\$&')}\\s+([\\d.]+)$`, 'm').exec(stdout);
      expect(match, call).not.toBeNull();
      expect(Number(match![1])).toBeGreaterThan(0);
    }
    // The targets: six lines; the per-call one judged, the others not measured in --quick.
    const targets = stdout.slice(stdout.indexOf('\ntargets'));
    expect(targets.match(/^ {2}\S/gm)).toHaveLength(6);
    expect(targets).toMatch(/per-call time of the smallest product and operations at most 30 us: largest [\d.]+ us \(.+\): (met|MISSED)/);
    expect(targets).toContain('element-wise ops on [32, 2048] at most 2x numpy\'s time: not measured ([32, 2048] not in --shapes)');
    expect(targets.match(/not measured \(--quick\)/g)).toHaveLength(3);
  });
});
