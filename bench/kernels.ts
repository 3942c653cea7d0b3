/*
 * Kernel benchmark (issue 4): for C = K = 4096, block sizes 8/16/32, densities 1 to 0.05 and
 * batches 64 and 512, on the chosen backend: time, GFLOP/s over present blocks, the ratio to our
 * dense matmul on the same backend, and the ratio to numpy's dense matmul (Debian's python3-numpy
 * with OpenBLAS) measured in the same run. Then the CPU targets: at block 32, density 0.1, batch
 * 512 the forward product takes at most 0.30 x numpy's dense time, and time(d)/time(1) <= 1.3 d.
 *
 *   npm run bench:kernels -- [--backend cpu|webgpu|auto] [--products forward,backward-data,weight-gradient]
 *                            [--features 4096] [--min-time 0.5] [--samples 5] [--statistic min|median]
 *                            [--json out.json] [--no-numpy]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { benchCases, FULL_BENCH_GRID, runKernelBench, type BenchProduct, type KernelBenchRow } from '../dist/kernels/bench.js';
import { getBackend, type BackendChoice } from '../dist/kernels/get-backend.js';
import { formatBenchTable } from '../dist/cli/bench-table.js';
import { recordStdout } from './record.js';

recordStdout('kernels');

const PYTHON = '/usr/bin/python3';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'auto' },
    products: { type: 'string', default: FULL_BENCH_GRID.products.join(',') },
    'block-sizes': { type: 'string', default: FULL_BENCH_GRID.blockSizes.join(',') },
    densities: { type: 'string', default: FULL_BENCH_GRID.densities.join(',') },
    batches: { type: 'string', default: FULL_BENCH_GRID.batches.join(',') },
    features: { type: 'string', default: String(FULL_BENCH_GRID.features) },
    'min-time': { type: 'string', default: '0.5' },
    samples: { type: 'string', default: '5' },
    statistic: { type: 'string', default: 'min' },
    threads: { type: 'string' },
    json: { type: 'string' },
    'no-numpy': { type: 'boolean', default: false },
  },
});
const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);
const grid = {
  products: list(values.products!) as BenchProduct[],
  blockSizes: list(values['block-sizes']!).map(Number) as (8 | 16 | 32)[],
  densities: list(values.densities!).map(Number),
  batches: list(values.batches!).map(Number),
  features: Number(values.features),
};
const cases = benchCases(grid);

/** numpy's dense time (median seconds) per product and batch, measured by Debian's python3-numpy; null without it. */
function numpyTimes(): Map<string, number> | null {
  if (values['no-numpy'] || !existsSync(PYTHON)) return null;
  const shapes = [...new Set(cases.map((c) => `${c.product}:${c.batch}`))].map((key) => key.split(':'));
  const script = `
import json, sys, time
import numpy as np
rng = np.random.default_rng(0)
f = ${grid.features}
out = {}
for product, n in ${JSON.stringify(shapes)}:
    n = int(n)
    x = rng.standard_normal((n, f), dtype=np.float32)
    dy = rng.standard_normal((n, f), dtype=np.float32)
    w = rng.standard_normal((f, f), dtype=np.float32)
    run = {'forward': lambda: x @ w, 'backward-data': lambda: dy @ w.T, 'weight-gradient': lambda: x.T @ dy}[product]
    run()
    calls, times = 1, []
    while len(times) < ${Number(values.samples)}:
        t = time.perf_counter()
        for _ in range(calls): run()
        s = time.perf_counter() - t
        if s < ${Number(values['min-time'])} / ${Number(values.samples)} and calls < 65536:
            calls *= 2
            continue
        times.append(s / calls)
    out[product + ':' + str(n)] = min(times) if '${values.statistic}' == 'min' else sorted(times)[len(times) // 2]
print(json.dumps({'times': out, 'numpy': np.__version__}))
`;
  const run = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8' });
  if (run.status !== 0) {
    process.stderr.write(`numpy timing failed (ratios to numpy omitted): ${run.stderr.trim().split('\n').pop()}\n`);
    return null;
  }
  const parsed = JSON.parse(run.stdout) as { times: Record<string, number>; numpy: string };
  return new Map(Object.entries(parsed.times));
}

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
process.stdout.write(`node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'unknown'}); load average (1, 5, 15 min) at start: ${load()}\n`);
// numpy before and after ours (never at the same time), the faster of the two as the baseline.
const numpyBefore = numpyTimes();
// Without Dawn's bounds clamping (benchmarks only; the tests run the kernels with it).
const backend = await getBackend(values.backend as BackendChoice, { threads: values.threads ? Number(values.threads) : undefined, webgpu: { robustness: false } });
process.stdout.write(`backend: ${backend.description}\nC = K = ${grid.features}, random layouts (dense at density 1), float32; each time the ${values.statistic === 'min' ? 'fastest' : 'median'} of ${values.samples} measurements (ours and numpy alike)\n`);
let rows: KernelBenchRow[];
try {
  rows = await runKernelBench(backend, cases, {
    minSeconds: Number(values['min-time']),
    samples: Number(values.samples),
    statistic: values.statistic as 'median' | 'min',
    onRow: (r) => process.stderr.write(`  ${r.product} bs${r.blockSize} d=${r.density} N=${r.batch}: ${(r.seconds * 1e3).toFixed(2)} ms\n`),
  });
} finally {
  await backend.dispose();
}
const numpyAfter = numpyBefore && numpyTimes();
const numpy = numpyBefore && numpyAfter && new Map([...numpyBefore].map(([key, s]) => [key, Math.min(s, numpyAfter.get(key) ?? s)]));
if (numpy) process.stdout.write(`numpy dense matmul (${PYTHON}, OpenBLAS) measured before and after ours in this run; the faster of the two is the baseline\n`);
const numpyOf = (r: KernelBenchRow) => numpy?.get(`${r.product}:${r.batch}`);
process.stdout.write(formatBenchTable(rows, numpy ? {
  header: ['numpy dense', 'sparse/numpy'],
  cells: (r) => [`${(numpyOf(r)! * 1e3).toPrecision(3)} ms`, (r.seconds / numpyOf(r)!).toFixed(3)],
} : undefined));

// The targets (CPU; the issue sets none for lavapipe), printed as met or missed.
const lines: string[] = [];
// The issue sets these targets for the CPU backend; other backends' lines are for information.
const verdict = (ok: boolean) => (backend.name !== 'cpu' ? 'no target on this backend' : ok ? 'met' : 'MISSED');
const target = rows.find((r) => r.product === 'forward' && r.blockSize === 32 && r.density === 0.1 && r.batch === 512);
if (target && numpy) {
  const ratio = target.seconds / numpyOf(target)!;
  lines.push(`target forward bs32 d=0.1 N=512: ${(target.seconds * 1e3).toFixed(1)} ms = ${ratio.toFixed(3)} x numpy dense (${(numpyOf(target)! * 1e3).toFixed(1)} ms); target <= 0.30: ${verdict(ratio <= 0.3)}`);
}
for (const r of rows) {
  if (r.density === 1 || r.density < 0.05) continue;
  const full = rows.find((o) => o.product === r.product && o.blockSize === r.blockSize && o.batch === r.batch && o.density === 1);
  if (!full) continue;
  const ratio = r.seconds / full.seconds;
  lines.push(`proportionality ${r.product} bs${r.blockSize} N=${r.batch} d=${r.density}: time(d)/time(1) = ${ratio.toFixed(3)}, 1.3 d = ${(1.3 * r.density).toFixed(3)}: ${verdict(ratio <= 1.3 * r.density)}`);
}
process.stdout.write(`${lines.join('\n')}\nload average at end: ${load()}\n`);
if (values.json) writeFileSync(values.json, `${JSON.stringify({ backend: backend.description, grid, rows, numpy: numpy ? Object.fromEntries(numpy) : null }, null, 2)}\n`);
