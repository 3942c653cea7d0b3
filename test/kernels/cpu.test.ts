import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ParameterError } from '../../src/errors.js';
import { BackendUnavailableError, TensorError } from '../../src/kernels/errors.js';
import type { Tensor } from '../../src/kernels/types.js';
import { createCpuBackend, OutOfMemoryError, WorkerError, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import { referenceBackwardData, referenceForward, referenceMatmul, referenceWeightGrad } from '../../src/kernels/reference.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { resolveRng } from '../../src/random.js';
import { backendConformance, expectWithinBound } from './conformance.js';
import { opsConformance } from './ops-conformance.js';
import { cpuBackendsForTests, CPU_THREAD_VARIANTS } from '../helpers/cpu.js';

/*
 * The CPU backend: WebAssembly SIMD kernels on the calling thread and worker threads over one
 * shared memory. The conformance suite runs on two threads with every phase split across them
 * (minParallelFlops 0), and again on the plain-SIMD build; then what is particular to this
 * backend: results that do not depend on the thread count, memory growth and its limit, tensor
 * lifetimes, and a worker that fails.
 */

backendConformance('cpu', () => createCpuBackend({ threads: 2, minParallelFlops: 0 }), true);
backendConformance('cpu (plain SIMD)', () => createCpuBackend({ threads: 2, minParallelFlops: 0, relaxed: false }), true);
opsConformance('cpu', () => createCpuBackend({ threads: 2, minParallelFlops: 0 }), true);

const rng = resolveRng({ seed: 'cpu-backend' });
const random = (size: number) => Float32Array.from({ length: size }, () => rng() * 2 - 1);
const abs = (a: ArrayLike<number>) => Float64Array.from(a as ArrayLike<number>, Math.abs);

describe('cpu backend', () => {
  const make = cpuBackendsForTests();
  let one: CpuBackend;
  let two: CpuBackend;
  let workersOnly: CpuBackend;
  beforeAll(async () => {
    one = await make(CPU_THREAD_VARIANTS.one);
    two = await make(CPU_THREAD_VARIANTS.two);
    // every unit on the worker: what a worker computes is checked on its own
    workersOnly = await make(CPU_THREAD_VARIANTS.workersOnly);
  });

  it('describes its threads and instruction set', () => {
    expect(one.description).toMatch(/^CPU: 1 thread, WebAssembly SIMD/);
    expect(two.description).toMatch(/^CPU: 2 threads, WebAssembly SIMD/);
    expect(two.description.includes('relaxed')).toBe(two.relaxed);
    expect(two.name).toBe('cpu');
    expect(two.stats.compilations).toBe(1);
  });

  it('gives identical results on 1 and 2 threads, and from the workers alone, within the bound of the reference', async () => {
    for (const bs of [8, 16, 32] as const) {
      const layout = randomLayout({ inBlocks: 6, outBlocks: 5, density: 0.5, blockSize: bs, seed: bs });
      const n = 45;
      const C = layout.inFeatures;
      const K = layout.outFeatures;
      const x = random(n * C);
      const w = random(layout.nnz * bs * bs);
      const dy = random(n * K);
      const g = random(layout.nnz);
      const outputs = [];
      for (const b of [one, two, workersOnly]) {
        const parallel = b.stats.parallelPhases;
        const X = b.tensor(x, [n, C]);
        const W = b.tensor(w, [layout.nnz, bs, bs]);
        const DY = b.tensor(dy, [n, K]);
        const G = b.tensor(g, [layout.nnz]);
        const grads = await b.weightGrad(layout, X, DY, { gates: G, weights: W });
        outputs.push({
          y: await b.read(await b.forward(layout, X, W, { gates: G })),
          dx: await b.read(await b.backwardData(layout, DY, W, { gates: G })),
          dw: await b.read(grads.dw),
          dg: await b.read(grads.dgates!),
          c: await b.read(await b.matmul(X, DY, { transposeA: true })),
        });
        expect(b.stats.parallelPhases - parallel, b.description).toBe(b.threads === 1 ? 0 : 8);
      }
      const [first, ...others] = outputs;
      for (const other of others) expect(other).toEqual(first);
      expectWithinBound(first.y, referenceForward(layout, x, n, w, g), referenceForward(layout, abs(x), n, abs(w), abs(g)), C, `forward bs${bs}`);
      expectWithinBound(first.dx, referenceBackwardData(layout, dy, n, w, g), referenceBackwardData(layout, abs(dy), n, abs(w), abs(g)), K, `backward-data bs${bs}`);
      const ref = referenceWeightGrad(layout, x, dy, n, g, w);
      const refAbs = referenceWeightGrad(layout, abs(x), abs(dy), n, abs(g), abs(w));
      expectWithinBound(first.dw, ref.dw, refAbs.dw, n, `weight-gradient bs${bs}`);
      expectWithinBound(first.dg, ref.dgates!, refAbs.dgates!, n + bs * bs, `gate gradient bs${bs}`);
      expectWithinBound(first.c, referenceMatmul(x, [n, C], dy, [n, K], true, false), referenceMatmul(abs(x), [n, C], abs(dy), [n, K], true, false), n, `matmul bs${bs}`);
    }
  });

  it('gives the training operations the same bytes on 1 and 2 threads, from the workers alone, and from the plain-SIMD build', async () => {
    // Sizes of several units (8192 elements each), so that threads split them and partial sums meet.
    const plain = await make({ threads: 2, minParallelFlops: 0, relaxed: false });
    try {
      const [n, f] = [300, 131];
      const x = random(n * f);
      const dy = random(n * f);
      const bias = random(f);
      const labels = Float32Array.from({ length: n }, (_, i) => (i * 7) % f);
      const outputs: Buffer[] = [];
      for (const b of [one, two, workersOnly, plain]) {
        const parallel = b.stats.parallelPhases;
        const X = b.tensor(x, [n, f]);
        const DY = b.tensor(dy, [n, f]);
        const G = b.tensor(bias, [f]);
        const ln = await b.layerNorm(X, G, G);
        const lg = await b.layerNormGrad(X, DY, G, ln.mean, ln.rstd);
        const ce = await b.softmaxCrossEntropy(X, b.tensor(labels, [n]));
        const p = b.tensor(x, [n, f]);
        const [m, v] = [b.zeros([n, f]), b.zeros([n, f])];
        await b.adamStep(p, DY, m, v, { lr: 0.01, step: 1 });
        const read = (t: Tensor) => b.read(t);
        const results = {
          bias: await read(await b.addBias(X, G)),
          sums: await read(await b.sumRows(X)),
          activations: await Promise.all((['relu', 'gelu', 'tanh', 'sigmoid'] as const).map(async (kind) => [await read(await b.activation(kind, X)), await read(await b.activationGrad(kind, X, DY))])),
          ln: [await read(ln.y), await read(ln.mean), await read(ln.rstd), await read(lg.dx), await read(lg.dgamma), await read(lg.dbeta)],
          ce: [await read(ce.loss), await read(ce.dlogits), await read(ce.correct)],
          adam: [await read(p), await read(m), await read(v)],
          l0: await read((await b.l0Penalty(b.tensor(x, [n * f]))).value),
          lstm: await lstmOps(b, x, dy),
        };
        // Compared as bytes (toEqual walks typed arrays element by element: seconds at these sizes).
        const arrays = [results.bias, results.sums, ...results.activations.flat(), ...results.ln, ...results.ce, ...results.adam, results.l0, ...results.lstm];
        outputs.push(Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
        if (b.threads > 1 && b !== workersOnly) expect(b.stats.parallelPhases - parallel, b.description).toBeGreaterThan(10);
      }
      const [first, ...others] = outputs;
      for (const other of others) expect(other.equals(first)).toBe(true);
    } finally {
      await plain.dispose();
    }
  });

  it('packs unchanged weights once, and packs again after any in-place write to the weights or the gates', async () => {
    const layout = randomLayout({ inBlocks: 4, outBlocks: 3, density: 0.6, blockSize: 8, seed: 7 });
    const n = 9;
    const x = random(n * layout.inFeatures);
    const dy = random(n * layout.outFeatures);
    const w = random(layout.nnz * 64);
    const g = random(layout.nnz);
    const b = two;
    const X = b.tensor(x, [n, layout.inFeatures]);
    const DY = b.tensor(dy, [n, layout.outFeatures]);
    const W = b.tensor(w, [layout.nnz, 8, 8]);
    const G = b.tensor(g, [layout.nnz]);
    const expectForward = async (weights: Float32Array, gates: Float32Array | undefined, what: string) => {
      const y = await b.read(await b.forward(layout, X, W, gates ? { gates: G } : {}));
      const ref = referenceForward(layout, x, n, weights, gates);
      const refAbs = referenceForward(layout, abs(x), n, abs(weights), gates ? abs(gates) : undefined);
      expectWithinBound(y, ref, refAbs, layout.inFeatures, what);
    };
    const hits = b.stats.panelHits;
    await expectForward(w, undefined, 'first forward');
    await expectForward(w, undefined, 'second forward');
    await b.read(await b.backwardData(layout, DY, W));
    await b.read(await b.backwardData(layout, DY, W));
    expect(b.stats.panelHits - hits).toBe(2);
    // an optimiser step writes W in place: the next product must see the new weights
    const grad = random(w.length);
    await b.sgdStep(W, b.tensor(grad, [layout.nnz, 8, 8]), null, { lr: 0.5 });
    const stepped = Float32Array.from(w, (v, i) => Math.fround(v - Math.fround(0.5 * grad[i])));
    await expectForward(stepped, undefined, 'forward after sgdStep');
    expect(b.stats.panelHits - hits).toBe(2);
    await expectForward(stepped, g, 'gated forward');
    await b.fill(G, 0.5);
    await expectForward(stepped, new Float32Array(layout.nnz).fill(0.5), 'gated forward after fill(gates)');
    await expectForward(stepped, new Float32Array(layout.nnz).fill(0.5), 'gated forward again');
    expect(b.stats.panelHits - hits).toBe(3);
    W.dispose();
  });

  it('caches a dense B operand from its second use at the same version (plain and transposed), and packs again after an in-place write', async () => {
    const b = two;
    const [m, k, n] = [5, 24, 40];
    const a = random(m * k);
    const w = random(k * n);
    const A = b.tensor(a, [m, k]);
    const W = b.tensor(w, [k, n]);
    const expected = (weights: Float32Array) => {
      const c = new Float64Array(m * n);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) c[i * n + j] += a[i * k + t] * weights[t * n + j];
      return c;
    };
    const check = async (weights: Float32Array, what: string) => {
      const c = await b.read(await b.matmul(A, W));
      expected(weights).forEach((v, i) => expect(Math.abs(c[i] - v), `${what} [${i}]`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
    };
    const hits = b.stats.panelHits;
    await check(w, 'first (packs into a temporary)');
    await check(w, 'second (packs into the cache)');
    expect(b.stats.panelHits - hits).toBe(0);
    await check(w, 'third (cached)');
    expect(b.stats.panelHits - hits).toBe(1);
    // dy W^T: another kind of panel, cached from its own second use.
    const DY = b.tensor(random(m * n), [m, n]);
    for (let i = 0; i < 3; i++) (await b.matmul(DY, W, { transposeB: true })).dispose();
    expect(b.stats.panelHits - hits).toBe(2);
    // An in-place write bumps the version: the next product packs the new weights.
    const grad = random(w.length);
    await b.sgdStep(W, b.tensor(grad, [k, n]), null, { lr: 0.5 });
    const stepped = Float32Array.from(w, (v, i) => Math.fround(v - Math.fround(0.5 * grad[i])));
    await check(stepped, 'after sgdStep');
    expect(b.stats.panelHits - hits).toBe(2);
    await check(stepped, 'after sgdStep, again (cached)');
    expect(b.stats.panelHits - hits).toBe(3);
    W.dispose();
  });

  it('gives cached weight panels back when memory runs out, and packs again when needed', async () => {
    const layout = randomLayout({ inBlocks: 8, outBlocks: 8, density: 1, blockSize: 32, seed: 3 });
    const x = random(4 * layout.inFeatures);
    const w = random(layout.nnz * 1024);
    /** How many 64 KiB tensors fit after a forward product (with `forward`) or without one. */
    const fill = async (forward: boolean) => {
      const b = await make({ threads: 1, maxMemoryBytes: 4 * 2 ** 20, initialMemoryBytes: 4 * 2 ** 20 });
      try {
        const X = b.tensor(x, [4, layout.inFeatures]);
        const W = b.tensor(w, [layout.nnz, 32, 32]);
        const y = forward ? await b.read(await b.forward(layout, X, W)) : null;
        let count = 0;
        const held: Tensor[] = [];
        for (;;) {
          try {
            held.push(b.zeros([16384]));
            count++;
          } catch (error) {
            expect(error).toBeInstanceOf(OutOfMemoryError);
            break;
          }
        }
        for (const t of held.splice(0, 8)) t.dispose(); // room for the panels (256 KiB) and the product's temporaries
        if (y) {
          // the panels were given back: the next product packs them again, correctly
          expect(await b.read(await b.forward(layout, X, W))).toEqual(y);
        }
        return count;
      } finally {
        await b.dispose();
      }
    };
    expect(await fill(true)).toBe(await fill(false));
  });

  it('runs a batch as one phase of the pool: Adam over many parameters wakes the workers once', async () => {
    const params = [3, 8000, 20000, 5].map((n) => two.tensor(random(n), [n]));
    const calls = params.map((p) => [p, two.tensor(random(p.size), [p.size]), two.zeros([p.size]), two.zeros([p.size]), { lr: 0.1, step: 1 }] as [Tensor, Tensor, Tensor, Tensor, { lr: number; step: number }]);
    const [phases, parallel] = [two.stats.phases, two.stats.parallelPhases];
    await two.batch('adamStep', calls);
    expect(two.stats.phases - phases).toBe(1);
    expect(two.stats.parallelPhases - parallel).toBe(1);
  });

  it('grows its memory beyond the initial size, keeping what it holds', async () => {
    const b = await make({ threads: 2, initialMemoryBytes: 2 ** 20 });
    const start = b.stats.memoryBytes;
    const small = random(1000);
    const kept = b.tensor(small, [1000]);
    const big = new Float32Array(3 * 2 ** 20 / 4 + 13).map((_, i) => i % 1001); // 3 MiB and a bit
    const t = b.tensor(big, [big.length]);
    expect(b.stats.memoryBytes).toBeGreaterThan(start);
    const back = await b.read(t);
    expect(back.length).toBe(big.length);
    expect(back.every((v, i) => v === big[i])).toBe(true);
    expect(await b.read(kept)).toEqual(small);
    // a product whose temporaries grow the memory again, on both threads
    const layout = randomLayout({ inBlocks: 8, density: 1, blockSize: 32, seed: 3 });
    const n = 130;
    const x = random(n * 256);
    const w = random(64 * 1024);
    const before = b.stats.memoryBytes;
    const y = await b.read(await b.forward(layout, b.tensor(x, [n, 256]), b.tensor(w, [64, 32, 32])));
    expect(b.stats.memoryBytes).toBeGreaterThan(before);
    expectWithinBound(y, referenceForward(layout, x, n, w), referenceForward(layout, abs(x), n, abs(w)), 256, 'forward after growth');
  });

  it('raises OutOfMemoryError naming maxMemoryBytes, and keeps working after it', async () => {
    const b = await make({ threads: 1, maxMemoryBytes: 2 * 2 ** 20 });
    expect(() => b.zeros([1024, 1024])).toThrow(OutOfMemoryError);
    expect(() => b.zeros([1024, 1024])).toThrow(/maxMemoryBytes/);
    // operands fit, the product's temporaries do not: the product rejects
    const layout = randomLayout({ inBlocks: 16, density: 1, blockSize: 32, seed: 1 });
    const W = b.tensor(random(256 * 1024), [256, 32, 32]); // 1 MiB
    const X = b.tensor(random(16 * 512), [16, 512]);
    await expect(b.forward(layout, X, W)).rejects.toThrow(OutOfMemoryError);
    W.dispose();
    expect(Array.from(await b.read(b.tensor(new Float32Array([1, 2, 3]), [3])))).toEqual([1, 2, 3]);
    await expect(createCpuBackend({ maxMemoryBytes: 1000 })).rejects.toThrow(ParameterError);
  });

  it('rejects bad options with ParameterError naming them', async () => {
    await expect(createCpuBackend({ threads: 0 })).rejects.toThrow(/threads/);
    await expect(createCpuBackend({ threads: 1.5 })).rejects.toThrow(ParameterError);
  });

  it('keeps a tensor disposed during a product until the product ends, and refuses it afterwards', async () => {
    const layout = randomLayout({ inBlocks: 4, density: 0.75, blockSize: 16, seed: 2 });
    const n = 20;
    const x = random(n * 64);
    const w = random(layout.nnz * 256);
    const X = two.tensor(x, [n, 64]);
    const W = two.tensor(w, [layout.nnz, 16, 16]);
    const pending = two.forward(layout, X, W);
    X.dispose();
    W.dispose();
    // memory freed now would be handed out again here
    const other = two.tensor(random(n * 64 + layout.nnz * 256), [n * 64 + layout.nnz * 256]);
    expectWithinBound(await two.read(await pending), referenceForward(layout, x, n, w), referenceForward(layout, abs(x), n, abs(w)), 64, 'forward of disposed operands');
    expect(X.disposed).toBe(true);
    await expect(two.read(X)).rejects.toThrow(TensorError);
    await expect(two.forward(layout, X, W)).rejects.toThrow(/X was disposed/);
    other.dispose();
  });

  it('after dispose, refuses work and reports its tensors disposed', async () => {
    const b = await make({ threads: 2 });
    const t = b.tensor(new Float32Array([1, 2]), [2]);
    await b.dispose();
    expect(t.disposed).toBe(true);
    expect(() => b.zeros([2])).toThrow(BackendUnavailableError);
    await expect(b.matmul(t, t)).rejects.toThrow(BackendUnavailableError);
    await b.dispose(); // twice is fine
  });

  it('rejects a product whose worker fails, instead of waiting for it, and every call after it', async () => {
    const b = await make({ threads: 2, minParallelFlops: 0, callerWorks: false });
    const X = b.tensor(random(8 * 8), [8, 8]);
    expect(Array.from(await b.read(await b.matmul(X, X)))).toHaveLength(64);
    b.injectWorkerFault();
    await expect(b.matmul(X, X)).rejects.toThrow(WorkerError);
    await expect(b.matmul(X, X)).rejects.toThrow(/worker 1 failed: injected fault/);
    await expect(b.sync()).rejects.toThrow(WorkerError);
    expect(() => b.tensor(new Float32Array(1), [1])).toThrow(WorkerError);
    await b.dispose();
  });

  it('does not keep the process alive when a backend is not disposed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cpu-backend-'));
    try {
      const script = join(dir, 'leak.mts');
      const backendUrl = new URL('../../src/kernels/cpu/cpu-backend.ts', import.meta.url).href;
      writeFileSync(script, [
        `import { createCpuBackend } from ${JSON.stringify(backendUrl)};`,
        'const b = await createCpuBackend({ threads: 2, minParallelFlops: 0 });',
        'const x = b.tensor(new Float32Array(64).fill(1), [8, 8]);',
        'const y = await b.read(await b.matmul(x, x));',
        'console.log(y[0]);',
      ].join('\n'));
      const root = fileURLToPath(new URL('../..', import.meta.url));
      const out = execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: root, timeout: 30_000, encoding: 'utf8' });
      expect(out.trim()).toBe('8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The LSTM's operations on a cell of 2 x 4800 units (two units of 8192 items or more), their results read. */
async function lstmOps(b: CpuBackend, x: Float32Array, dy: Float32Array): Promise<Float32Array[]> {
  const [n, H] = [2, 4800];
  const rec = b.tensor(x.subarray(0, n * 4 * H), [n, 4 * H]);
  const inp = b.tensor(dy.subarray(0, n * 4 * H), [n, 4 * H]);
  const bias = b.tensor(x.subarray(1, 1 + 4 * H), [4 * H]);
  const c0 = b.tensor(dy.subarray(2, 2 + n * H), [n, H]);
  const cell = await b.lstmCell(rec, inp, bias, c0);
  const grad = await b.lstmCellGrad(cell.gates, c0, cell.c, c0, cell.h);
  const index = Int32Array.from({ length: 3 * n }, (_, i) => (i * 5) % n);
  const rows = await b.gatherRows(rec, index);
  const scattered = await b.scatterAddRows(rows, index, n);
  const squares = await b.sumSquares(rec);
  return Promise.all([cell.h, cell.c, cell.gates, grad.dz, grad.dcPrev, rows, scattered, squares].map((t) => b.read(t)));
}
