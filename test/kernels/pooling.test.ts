import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import type { Pool2dParams } from '../../src/kernels/pool.js';
import type { Tensor } from '../../src/kernels/types.js';
import { resolveRng } from '../../src/random.js';
import { hasTorch, runPythonJSON } from '../helpers/python.js';
import { FAST_TIER } from '../helpers/tier.js';
import { cpuBackendsForTests, CPU_THREAD_VARIANTS } from '../helpers/cpu.js';

/*
 * Pooling on the CPU backend beyond the conformance suite (ops-conformance.ts, both backends):
 * the same bytes on 1 and 2 threads, from the workers alone and from the plain-SIMD build; NaN
 * and infinities as PyTorch treats them; and PyTorch's max_pool2d, avg_pool2d and
 * adaptive_avg_pool2d with their gradients (NCHW there) when Debian's python3-torch is installed,
 * where a disagreement fails.
 */

const rng = resolveRng({ seed: 'pooling' });
const random = (size: number) => Float32Array.from({ length: size }, () => rng() * 2 - 1);
/** Small integers: windows full of ties. */
const tied = (size: number) => Float32Array.from({ length: size }, () => Math.floor(rng() * 3) - 1);
const sizeOf = (shape: readonly number[]) => shape.reduce((a, c) => a * c, 1);

describe('pooling on the cpu backend', () => {
  const make = cpuBackendsForTests();
  let one: CpuBackend;
  let two: CpuBackend;
  beforeAll(async () => {
    one = await make(CPU_THREAD_VARIANTS.one);
    two = await make(CPU_THREAD_VARIANTS.two);
  });

  it('gives the same bytes on 1 and 2 threads, from the workers alone, and from the plain-SIMD build', async () => {
    const workersOnly = await make(CPU_THREAD_VARIANTS.workersOnly);
    const plain = await make({ threads: 2, minParallelFlops: 0, relaxed: false });
    // 35 channels: units of 8192 elements start inside a position, and every position has a
    // single-channel tail; 14 x 14 x 35 x 3 = 20580 elements, several units.
    const shape = [3, 14, 14, 35];
    const x = random(sizeOf(shape));
    const ties = tied(sizeOf(shape));
    const windows: Pool2dParams[] = [{ kernel: 3, stride: 2, padding: 1 }, { kernel: 2 }, { kernel: 3, stride: 1, padding: 1 }];
    const outputs: Buffer[] = [];
    for (const b of [one, two, workersOnly, plain]) {
      const parallel = b.stats.parallelPhases;
      const read = (t: Tensor) => b.read(t);
      const arrays: Float32Array[] = [];
      for (const values of [x, ties]) {
        const X = b.tensor(values, shape);
        for (const params of windows) {
          const y = await b.maxPool2d(X, params);
          const dy = b.tensor(Float32Array.from({ length: y.size }, (_, i) => Math.sin(i)), y.shape);
          arrays.push(await read(y), await read(await b.maxPool2dGrad(X, dy, params)), await read(await b.avgPool2d(X, params)));
          arrays.push(await read(await b.avgPool2dGrad(dy, { ...params, inputSize: [shape[1], shape[2]] })));
        }
        const g = await b.globalAvgPool(X);
        arrays.push(await read(g), await read(await b.globalAvgPoolGrad(g, [shape[1], shape[2]])));
      }
      outputs.push(Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
      if (b.threads > 1 && b !== workersOnly) expect(b.stats.parallelPhases - parallel, b.description).toBeGreaterThan(10);
    }
    const [first, ...others] = outputs;
    for (const other of others) expect(other.equals(first)).toBe(true);
  });

  it('treats NaN and infinities as PyTorch: a NaN in a window gives NaN and takes the gradient (the last NaN), -infinity is a value', async () => {
    for (const b of [one, two]) {
      // One channel, 2 x 4: windows of 2 x 2 at stride 2.
      const x = b.tensor(Float32Array.from([NaN, 1, -Infinity, -Infinity, NaN, 2, -Infinity, -Infinity]), [1, 2, 4, 1]);
      // Five channels (a vector of four and a single one): the same per channel.
      const x5 = b.tensor(Float32Array.from([NaN, 1, -Infinity, -Infinity, NaN, 2, -Infinity, -Infinity].flatMap((v) => [v, v, v, v, v])), [1, 2, 4, 5]);
      const y = Array.from(await b.read(await b.maxPool2d(x, { kernel: 2 })));
      expect(y).toEqual([NaN, -Infinity]);
      expect(Array.from(await b.read(await b.maxPool2d(x5, { kernel: 2 })))).toEqual([...y.flatMap((v) => [v, v, v, v, v])]);
      const dx = Array.from(await b.read(await b.maxPool2dGrad(x, b.tensor(Float32Array.from([3, 5]), [1, 1, 2, 1]), { kernel: 2 })));
      // Window 0: its last NaN (row 1, column 0); window 1 (all -infinity): its first element.
      expect(dx).toEqual([0, 0, 5, 0, 3, 0, 0, 0]);
      const dx5 = await b.read(await b.maxPool2dGrad(x5, b.tensor(Float32Array.from([3, 3, 3, 3, 3, 5, 5, 5, 5, 5]), [1, 1, 2, 5]), { kernel: 2 }));
      expect(Array.from(dx5)).toEqual(dx.flatMap((v) => [v, v, v, v, v]));
    }
  });
});


/** The cases against PyTorch: odd sizes, channels that are no multiple of 4, kernels 2 and 3, strides 1 and 2, padding 0 and 1, random and tied values. */
const TORCH_CASES: { shape: [number, number, number, number]; params: Pool2dParams; ties: boolean }[] = [
  { shape: [2, 5, 7, 3], params: { kernel: 2 }, ties: false },
  { shape: [2, 5, 7, 3], params: { kernel: 2 }, ties: true },
  { shape: [1, 6, 5, 6], params: { kernel: 3, stride: 1, padding: 1 }, ties: true },
  { shape: [2, 7, 7, 5], params: { kernel: 3, stride: 2, padding: 1 }, ties: false },
  { shape: [2, 9, 8, 7], params: { kernel: 3, stride: 2, padding: 1 }, ties: true },
  { shape: [1, 9, 8, 1], params: { kernel: 3, stride: 2 }, ties: false },
  { shape: [2, 5, 6, 4], params: { kernel: [2, 3], stride: [1, 2], padding: [1, 1] }, ties: true },
];

// Not in the fast tier (which runs no Python): there even the import check is left out.
describe.skipIf(FAST_TIER || !hasTorch())('pooling against torch.nn.functional (python3-torch installed: a disagreement fails)', () => {
  let backend: CpuBackend;
  beforeAll(async () => {
    backend = await createCpuBackend({ threads: 2, minParallelFlops: 0 });
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it('max_pool2d, avg_pool2d, adaptive_avg_pool2d to 1 x 1 and their gradients give our values (NCHW there, permuted)', async () => {
    const b = backend;
    const pair = (v: number | readonly [number, number] | undefined, fallback: [number, number]) => (v === undefined ? fallback : typeof v === 'number' ? [v, v] : [...v]);
    const cases = [];
    const ours: Record<string, number[]>[] = [];
    for (const { shape, params, ties } of TORCH_CASES) {
      const x = ties ? tied(sizeOf(shape)) : random(sizeOf(shape));
      const X = b.tensor(x, shape);
      const maxY = await b.maxPool2d(X, params);
      const dy = random(maxY.size);
      const DY = b.tensor(dy, maxY.shape);
      const gdy = random(shape[0] * shape[3]);
      const kernel = pair(params.kernel, [1, 1]);
      cases.push({ shape, kernel, stride: pair(params.stride, kernel as [number, number]), padding: pair(params.padding, [0, 0]), x: Array.from(x), dy: Array.from(dy), gdy: Array.from(gdy) });
      ours.push({
        maxY: Array.from(await b.read(maxY)),
        maxDx: Array.from(await b.read(await b.maxPool2dGrad(X, DY, params))),
        avgY: Array.from(await b.read(await b.avgPool2d(X, params))),
        avgDx: Array.from(await b.read(await b.avgPool2dGrad(DY, { ...params, inputSize: [shape[1], shape[2]] }))),
        globalY: Array.from(await b.read(await b.globalAvgPool(X))),
        globalDx: Array.from(await b.read(await b.globalAvgPoolGrad(b.tensor(gdy, [shape[0], shape[3]]), [shape[1], shape[2]]))),
      });
    }
    const torch = runPythonJSON<Record<string, number[]>[]>(
      `
import json, sys, torch
import torch.nn.functional as F
out = []
for c in json.load(sys.stdin):
    N, H, W, C = c['shape']
    nchw = lambda t, h, w: torch.tensor(t, dtype=torch.float32).reshape(N, h, w, C).permute(0, 3, 1, 2).contiguous()
    nhwc = lambda t: t.permute(0, 2, 3, 1).flatten().tolist()
    r = {}
    for name, pool in (('max', F.max_pool2d), ('avg', F.avg_pool2d)):
        x = nchw(c['x'], H, W).requires_grad_()
        y = pool(x, c['kernel'], c['stride'], c['padding'])
        Ho, Wo = y.shape[2], y.shape[3]
        (y * nchw(c['dy'], Ho, Wo)).sum().backward()
        r[name + 'Y'] = nhwc(y.detach())
        r[name + 'Dx'] = nhwc(x.grad)
    x = nchw(c['x'], H, W).requires_grad_()
    y = F.adaptive_avg_pool2d(x, 1)
    (y * torch.tensor(c['gdy'], dtype=torch.float32).reshape(N, C, 1, 1)).sum().backward()
    r['globalY'] = y.detach().flatten().tolist()
    r['globalDx'] = nhwc(x.grad)
    out.append(r)
print(json.dumps(out))
`,
      JSON.stringify(cases),
    );
    expect(torch.length).toBe(cases.length);
    for (const [i, c] of TORCH_CASES.entries()) {
      const what = `${JSON.stringify(c.params)} on [${c.shape.join(', ')}]${c.ties ? ' (ties)' : ''}`;
      // The maximum is exact.
      expect(ours[i].maxY, `maxY ${what}`).toEqual(torch[i].maxY);
      for (const key of ['maxDx', 'avgY', 'avgDx', 'globalY', 'globalDx']) {
        const [a, t] = [ours[i][key], torch[i][key]];
        expect(a.length, `${key} ${what}`).toBe(t.length);
        // A few float32 roundings of values of order 1; a gradient sent to the wrong maximum is off by a whole dy.
        a.forEach((v, j) => expect(Math.abs(v - t[j]), `${key}[${j}] ${what}: ours ${v}, torch ${t[j]}`).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(t[j]))));
      }
    }
  });
});
