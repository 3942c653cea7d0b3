import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTorch } from './helpers/python.js';
import { FAST_TIER } from './helpers/tier.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = mkdtempSync(join(tmpdir(), 'bench-conv-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

/** --quick's grid: C = K = 128 (4 x 4 blocks of 32), batch 2, spatial 8 and 5; every product. */
const QUICK = { channels: 128, batch: 2, blockSize: 32, sizes: [8, 5], taps: 9 };
const PRODUCTS = ['forward', 'backward-data', 'weight-gradient'];
/** The densities and the blocks of their layouts: dense 16, round(0.25 16) = 4, round(0.1 16) = 2. */
const DENSITIES = [['1 (dense)', 16], ['0.25', 4], ['0.1', 2]] as const;

/** Runs bench/conv.ts with `args` (no record; without PyTorch in the fast tier, which runs no Python). */
function runConv(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/conv.ts', ...args, ...(FAST_TIER ? ['--no-torch'] : [])], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, BLOCKSPARSE_BENCH_RECORD: '0' },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

interface JsonRow {
  product: string;
  size: number;
  density: number;
  nnz: number;
  flops: number;
  seconds: number;
  gflops: number;
  vsDense: number;
  torchSeconds: number | null;
  vsTorch: number | null;
}

/** Whether `printed` (rounded for the table) agrees with `exact` to within its rounding and 1%. */
const near = (printed: string, exact: number) => Math.abs(Number(printed) - exact) <= Math.max(0.011 * Math.abs(exact), 0.0015);

describe('bench:conv', () => {
  it('--quick times every product at every size and density against our dense conv and PyTorch, and prints the targets', () => {
    const json = join(DIR, 'quick.json');
    const { status, stdout, stderr } = runConv(['--quick', '--products', PRODUCTS.join(','), '--json', json]);
    expect(status, stderr).toBe(0);
    expect(stdout).toMatch(/^node v\d+\.\d+\.\d+, \d+ cores \(.+\); load average at start: [\d. ]+$/m);
    expect(stdout).toMatch(/^backend: CPU: \d+ threads?, WebAssembly SIMD.*--quick: a small grid, short timings$/m);
    expect(stdout).toContain('conv2d 3x3, stride 1, padding 1, NHWC, 128 -> 128 channels, batch 2, blocks of 32, float32; products: forward, backward-data, weight-gradient');
    expect(stdout).toContain('our dense convolution = our conv2d with the dense layout (every block present: the density 1 rows)');

    const torch = !FAST_TIER && hasTorch();
    if (torch) expect(stdout).toMatch(/^pytorch \S+ CPU \(.+\): torch\.nn\.functional\.conv2d .*fp32, NCHW input, dense weight, (\d+) threads? \(ours: \1\), timed after ours the same way$/m);
    else expect(stdout).toMatch(FAST_TIER ? /^pytorch: not measured \(--no-torch\); no ratios to PyTorch$/m : /^pytorch: not measured \(python3-torch not installed: apt-get install python3-torch\); no ratios to PyTorch$/m);

    // The table: product, spatial, density, blocks, ours (ms), GFLOP/s, vs our dense, vs pytorch.
    const rows = stdout.split('\n')
      .map((line) => /^(forward|backward-data|weight-gradient)\s+(\d+)x(\d+)\s+(1 \(dense\)|[\d.]+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null);
    expect(rows.map((m) => `${m[1]} ${m[2]}x${m[3]} ${m[4]} ${m[5]}`)).toEqual(QUICK.sizes.flatMap((size) => PRODUCTS.flatMap((product) => DENSITIES.map(([density, nnz]) => `${product} ${size}x${size} ${density} ${nnz}`))));
    const pytorchTable = new Map(stdout.split('\n')
      .map((line) => /^(forward|backward-data|weight-gradient)\s+(\d+)x\d+\s+([\d.]+)\s+([\d.]+)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [`${m[1]} ${m[2]}`, Number(m[3])]));
    expect(pytorchTable.size).toBe(torch ? PRODUCTS.length * QUICK.sizes.length : 0);

    const record = JSON.parse(readFileSync(json, 'utf8')) as { backend: string; threads: number; rows: JsonRow[]; targets: { what: string; figure: string | null; verdict: string }[] };
    expect(record.backend).toBe('cpu');
    expect(record.rows).toHaveLength(rows.length);
    rows.forEach((m, i) => {
      const [, product, size, , , nnz, ms, gflops, vsDense, vsTorch] = m;
      const row = record.rows[i];
      const what = `${product} ${size} ${m[4]}`;
      expect([row.product, row.size, row.nnz], what).toEqual([product, Number(size), Number(nnz)]);
      // Present blocks only: 2 N Ho Wo nnz bs^2 kh kw (stride 1, padding 1: Ho = Wo = the size).
      expect(row.flops, what).toBe(2 * QUICK.batch * Number(size) ** 2 * Number(nnz) * QUICK.blockSize ** 2 * QUICK.taps);
      expect(row.seconds, what).toBeGreaterThan(0);
      expect(Number(ms), what).toBe(Number((row.seconds * 1e3).toPrecision(4)));
      expect(Number(gflops), what).toBeGreaterThan(0);
      expect(near(gflops, row.flops / (Number(ms) * 1e-3) / 1e9), `${what} GFLOP/s ${gflops} from ${ms} ms`).toBe(true);
      // The ratio to the density 1 row of the same product and size.
      const dense = rows.find((d) => d[1] === product && d[2] === size && d[4] === '1 (dense)')!;
      expect(near(vsDense, Number(ms) / Number(dense[6])), `${what} vs dense ${vsDense}`).toBe(true);
      if (m[4] === '1 (dense)') expect(vsDense).toBe('1.000');
      if (torch) {
        const torchMs = pytorchTable.get(`${product} ${size}`)!;
        expect(torchMs, what).toBeGreaterThan(0);
        expect(near(vsTorch, Number(ms) / torchMs), `${what} vs pytorch ${vsTorch}`).toBe(true);
        expect(row.torchSeconds! * 1e3).toBeCloseTo(torchMs, 1);
      } else {
        expect(vsTorch).toBe('-');
        expect(row.torchSeconds).toBeNull();
      }
    });

    // The targets: density 0.1 against dense, then dense against PyTorch, per size; --quick's shape is not the issue's.
    const targets = stdout.slice(stdout.indexOf('\ntargets:\n') + 1).split('\n').filter((line) => line.startsWith('  '));
    expect(targets).toHaveLength(4);
    expect(record.targets.map((t) => t.what)).toEqual([
      'block-sparse 3x3 forward at density 0.1 at most 0.2x our dense time, 8x8',
      'block-sparse 3x3 forward at density 0.1 at most 0.2x our dense time, 5x5',
      'our dense 3x3 forward within 1.5x of PyTorch CPU\'s time, 8x8',
      'our dense 3x3 forward within 1.5x of PyTorch CPU\'s time, 5x5',
    ]);
    QUICK.sizes.forEach((size, i) => {
      const sparse = rows.find((m) => m[1] === 'forward' && m[2] === String(size) && m[4] === '0.1')!;
      const dense = rows.find((m) => m[1] === 'forward' && m[2] === String(size) && m[4] === '1 (dense)')!;
      expect(targets[i]).toBe(`  ${record.targets[i].what}: ${Number(sparse[8]).toFixed(3)}x (${sparse[6]} against ${dense[6]} ms, 2 of 16 blocks): not judged (not the issue's shape: 256 -> 256 channels, batch 64, 28x28 or 14x14)`);
      if (torch) expect(targets[2 + i]).toMatch(/^ {2}our dense 3x3 forward within 1\.5x of PyTorch CPU's time, \dx\d: [\d.]+x \([\d.]+ against [\d.]+ ms\): not judged \(not the issue's shape/);
      else expect(targets[2 + i]).toMatch(/: not measured \((--no-torch|python3-torch not installed: apt-get install python3-torch)\)$/);
    });
  });

  it('names a bad option and measures nothing', () => {
    const { status, stderr, stdout } = runConv(['--quick', '--block-size', '12']);
    expect(status).toBe(1);
    expect(stderr).toContain('bench:conv: --block-size must be one of 8, 16, 32 (got 12)');
    expect(stdout).toBe('');
  });
});
