/*
 * The training operations bench/step.ts times: each operation's inputs on a shape [N, F] (seeded),
 * the timer (the median of measurements, each of as many calls as fill its share of the time,
 * awaiting each call and disposing its result), and the same timer in Python over numpy's
 * equivalents, so that both sides are measured alike.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomValues } from '../src/kernels/bench.js';
import type { ActivationKind, Backend, Tensor } from '../src/kernels/types.js';
import { randomPermutation, resolveRng } from '../src/random.js';
import { PYTHON } from './training-models.js';

/** A batch shape [N, F]. */
export type Shape = readonly [number, number];

/** How long and how often each operation is timed. */
export interface TimingOptions {
  /** Seconds of calls in all per operation and shape (split over the measurements). */
  minSeconds: number;
  /** Measurements; the median is taken. */
  measurements: number;
}

/** One operation ready to time: the call, the shape of its main operand, and the tensors to free afterwards. */
export interface OpInstance {
  run: () => Promise<unknown>;
  shape: readonly number[];
  tensors: Tensor[];
}

/** One training operation as the benchmark runs it. */
export interface OpCase {
  /** The table's name, e.g. "activation gelu". */
  name: string;
  /** numpy has an equivalent (timed by numpyOpTimes under the same name). */
  numpy: boolean;
  /** An element-wise operation with a numpy equivalent: judged by the element-wise targets. */
  elementwise: boolean;
  /** Its inputs on a batch of shape [N, F] (block operations take the same number of values as blocks). */
  make(backend: Backend, shape: Shape): Promise<OpInstance>;
}

const ACTIVATIONS: readonly ActivationKind[] = ['relu', 'gelu', 'tanh', 'sigmoid'];

/** A tensor of `shape`, uniform in [lo, hi), from a seed (the same on every machine). */
function random(backend: Backend, shape: readonly number[], seed: string, lo = -1, hi = 1): Tensor {
  const values = randomValues(shape.reduce((a, b) => a * b, 1), seed);
  for (let i = 0; i < values.length; i++) values[i] = lo + ((values[i] + 1) / 2) * (hi - lo);
  return backend.tensor(values, shape);
}

/** Class labels in [0, classes), seeded, as float32 (what softmaxCrossEntropy takes). */
function labels(backend: Backend, n: number, classes: number, seed: string): Tensor {
  const rng = resolveRng({ seed });
  return backend.tensor(Float32Array.from({ length: n }, () => Math.floor(rng() * classes)), [n]);
}

/** Block size for the block operations on `size` values: 32 when it divides evenly, else 16, else 8. */
export function blockShape(size: number): [number, number, number] {
  const bs = [32, 16, 8].find((b) => size % (b * b) === 0) ?? 8;
  return [Math.max(1, Math.floor(size / (bs * bs))), bs, bs];
}

/** Frees whatever an operation returned: a tensor, or an object of tensors (void for in-place steps). */
export function release(result: unknown): void {
  if (!result || typeof result !== 'object') return;
  if ('dispose' in result && typeof result.dispose === 'function') {
    (result as Tensor).dispose();
    return;
  }
  for (const value of Object.values(result)) release(value);
}

/** A case whose inputs are random tensors of the batch shape (seeded by the op, the shape and the input's index). */
function simple(name: string, inputs: number, call: (backend: Backend, t: Tensor[]) => Promise<unknown>, flags: { numpy?: boolean; elementwise?: boolean } = {}): OpCase {
  return {
    name,
    numpy: flags.numpy ?? false,
    elementwise: flags.elementwise ?? false,
    async make(backend, shape) {
      const tensors = Array.from({ length: inputs }, (_v, i) => random(backend, shape, `${name}:${shape.join('x')}:${i}`));
      return { run: () => call(backend, tensors), shape, tensors };
    },
  };
}

const elementwise = { numpy: true, elementwise: true };

/** Every training operation of the Backend, in the table's order. */
export const OP_CASES: readonly OpCase[] = [
  {
    name: 'addBias', numpy: true, elementwise: true,
    async make(backend, [n, f]) {
      const x = random(backend, [n, f], `addBias:${n}x${f}:x`);
      const bias = random(backend, [f], `addBias:${n}x${f}:bias`);
      return { run: () => backend.addBias(x, bias), shape: [n, f], tensors: [x, bias] };
    },
  },
  simple('sumRows', 1, (b, [x]) => b.sumRows(x), { numpy: true }),
  ...ACTIVATIONS.map((kind) => simple(`activation ${kind}`, 1, (b, [x]) => b.activation(kind, x), elementwise)),
  ...ACTIVATIONS.map((kind) => simple(`activationGrad ${kind}`, 2, (b, [x, dy]) => b.activationGrad(kind, x, dy))),
  simple('add', 2, (b, [x, y]) => b.add(x, y), elementwise),
  simple('multiply', 2, (b, [x, y]) => b.multiply(x, y), elementwise),
  {
    name: 'softmaxCrossEntropy', numpy: true, elementwise: false,
    async make(backend, [n, f]) {
      const logits = random(backend, [n, f], `softmaxCrossEntropy:${n}x${f}:logits`, -4, 4);
      const y = labels(backend, n, f, `softmaxCrossEntropy:${n}x${f}:labels`);
      return { run: () => backend.softmaxCrossEntropy(logits, y), shape: [n, f], tensors: [logits, y] };
    },
  },
  {
    name: 'layerNorm', numpy: true, elementwise: false,
    async make(backend, [n, f]) {
      const [x, gamma, beta] = [[n, f], [f], [f]].map((s, i) => random(backend, s, `layerNorm:${n}x${f}:${i}`));
      return { run: () => backend.layerNorm(x, gamma, beta), shape: [n, f], tensors: [x, gamma, beta] };
    },
  },
  {
    name: 'layerNormGrad', numpy: false, elementwise: false,
    async make(backend, [n, f]) {
      const [x, dy, gamma, beta] = [[n, f], [n, f], [f], [f]].map((s, i) => random(backend, s, `layerNormGrad:${n}x${f}:${i}`));
      const forward = await backend.layerNorm(x, gamma, beta);
      forward.y.dispose();
      return { run: () => backend.layerNormGrad(x, dy, gamma, forward.mean, forward.rstd), shape: [n, f], tensors: [x, dy, gamma, beta, forward.mean, forward.rstd] };
    },
  },
  {
    name: 'sgdStep', numpy: false, elementwise: false,
    async make(backend, [n, f]) {
      const param = random(backend, [n, f], `sgdStep:${n}x${f}:param`);
      const grad = random(backend, [n, f], `sgdStep:${n}x${f}:grad`);
      const velocity = backend.zeros([n, f]);
      return { run: () => backend.sgdStep(param, grad, velocity, { lr: 1e-3, momentum: 0.9 }), shape: [n, f], tensors: [param, grad, velocity] };
    },
  },
  {
    name: 'adamStep', numpy: true, elementwise: true,
    async make(backend, [n, f]) {
      const param = random(backend, [n, f], `adamStep:${n}x${f}:param`);
      const grad = random(backend, [n, f], `adamStep:${n}x${f}:grad`);
      const [m, v] = [backend.zeros([n, f]), backend.zeros([n, f])];
      let step = 0;
      return { run: () => backend.adamStep(param, grad, m, v, { lr: 1e-3, step: ++step }), shape: [n, f], tensors: [param, grad, m, v] };
    },
  },
  simple('scale', 1, (b, [x]) => b.scale(x, 0.5), elementwise),
  simple('axpy', 2, (b, [x, y]) => b.axpy(1e-3, x, y), elementwise),
  simple('copy', 1, (b, [x]) => b.copy(x), elementwise),
  simple('fill', 1, (b, [x]) => b.fill(x, 0.25), elementwise),
  ...(['l2', 'max'] as const).map((kind): OpCase => ({
    name: `blockNorms ${kind}`, numpy: false, elementwise: false,
    async make(backend, [n, f]) {
      const shape = blockShape(n * f);
      const w = random(backend, shape, `blockNorms:${n}x${f}`);
      return { run: () => backend.blockNorms(w, kind), shape, tensors: [w] };
    },
  })),
  {
    name: 'gatherBlocks', numpy: false, elementwise: false,
    async make(backend, [n, f]) {
      const shape = blockShape(n * f);
      const w = random(backend, shape, `gatherBlocks:${n}x${f}`);
      const ids = randomPermutation(resolveRng({ seed: `gatherBlocks:${n}x${f}:ids` }), shape[0]);
      return { run: () => backend.gatherBlocks(w, ids), shape, tensors: [w] };
    },
  },
  {
    name: 'scatterBlocks', numpy: false, elementwise: false,
    async make(backend, [n, f]) {
      const shape = blockShape(n * f);
      const src = random(backend, shape, `scatterBlocks:${n}x${f}`);
      const ids = randomPermutation(resolveRng({ seed: `scatterBlocks:${n}x${f}:ids` }), shape[0]);
      return { run: () => backend.scatterBlocks(src, ids, shape[0]), shape, tensors: [src] };
    },
  },
  {
    // The LSTM's cell on N streams of H = F / 4 units: the batch shape is its [N, 4H] gates.
    name: 'lstmCell', numpy: true, elementwise: false,
    async make(backend, [n, f]) {
      const h = Math.max(1, Math.floor(f / 4));
      const [rec, inp, bias, c] = [[n, 4 * h], [n, 4 * h], [4 * h], [n, h]].map((s, i) => random(backend, s, `lstmCell:${n}x${f}:${i}`));
      return { run: () => backend.lstmCell(rec, inp, bias, c), shape: [n, 4 * h], tensors: [rec, inp, bias, c] };
    },
  },
  {
    name: 'lstmCellGrad', numpy: false, elementwise: false,
    async make(backend, [n, f]) {
      const h = Math.max(1, Math.floor(f / 4));
      const [rec, inp, bias, c, dh, dc] = [[n, 4 * h], [n, 4 * h], [4 * h], [n, h], [n, h], [n, h]].map((s, i) => random(backend, s, `lstmCellGrad:${n}x${f}:${i}`));
      const cell = await backend.lstmCell(rec, inp, bias, c);
      cell.h.dispose();
      return { run: () => backend.lstmCellGrad(cell.gates, c, cell.c, dh, dc), shape: [n, 4 * h], tensors: [rec, inp, bias, c, dh, dc, cell.gates, cell.c] };
    },
  },
  simple('sumSquares', 1, (b, [x]) => b.sumSquares(x), { numpy: true }),
  ...(['hardConcreteGates', 'hardConcreteGrad', 'l0Penalty'] as const).map((name): OpCase => ({
    name, numpy: false, elementwise: false,
    async make(backend, [n, f]) {
      const shape = [n * f];
      const logAlpha = random(backend, shape, `${name}:${n}x${f}:logAlpha`, -3, 3);
      const u = random(backend, shape, `${name}:${n}x${f}:u`, 1e-6, 1 - 1e-6);
      const dgates = random(backend, shape, `${name}:${n}x${f}:dgates`);
      const run = name === 'hardConcreteGates' ? () => backend.hardConcreteGates(logAlpha, u)
        : name === 'hardConcreteGrad' ? () => backend.hardConcreteGrad(logAlpha, u, dgates)
        : () => backend.l0Penalty(logAlpha);
      return { run, shape, tensors: [logAlpha, u, dgates] };
    },
  })),
];

/**
 * Seconds per call of `run` (the median of `measurements`): one warm-up call, then measurements
 * each of as many calls as fill minSeconds / measurements, every call awaited and its result
 * freed, and the backend synchronised at the end of each measurement (a GPU's queue drained).
 * numpyOpTimes times numpy the same way.
 */
export async function timeOp(backend: Backend, run: () => Promise<unknown>, options: TimingOptions): Promise<number> {
  const once = async (): Promise<void> => release(await run());
  await once();
  await backend.sync();
  const share = options.minSeconds / options.measurements;
  let calls = 1;
  const times: number[] = [];
  while (times.length < options.measurements) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) await once();
    await backend.sync();
    const seconds = (performance.now() - start) / 1000;
    if (seconds < share && calls < 1 << 16) {
      calls = Math.min(1 << 16, Math.max(calls * 2, Math.ceil((calls * share) / Math.max(seconds, 1e-6))));
      continue;
    }
    times.push(seconds / calls);
  }
  return median(times);
}

/** The median (the upper one of an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** numpy's times: seconds per call by `<op>@<N>x<F>`, and numpy's version. */
export interface NumpyTimes {
  version: string;
  times: Map<string, number>;
}

/** The key of an operation and shape in NumpyTimes. */
export const numpyKey = (op: string, [n, f]: Shape): string => `${op}@${n}x${f}`;

/**
 * numpy's equivalents, float32, each timed as timeOp times ours (time.perf_counter, median).
 * The operation names are OP_CASES' (those with numpy: true).
 */
const NUMPY_SCRIPT = String.raw`
import json, math, sys, time
import numpy as np
spec = json.loads(sys.argv[1])
f32 = np.float32

def timed(run, min_seconds, measurements):
    run()
    share = min_seconds / measurements
    calls, times = 1, []
    while len(times) < measurements:
        t = time.perf_counter()
        for _ in range(calls):
            run()
        s = time.perf_counter() - t
        if s < share and calls < 65536:
            calls = min(65536, max(calls * 2, math.ceil(calls * share / max(s, 1e-6))))
            continue
        times.append(s / calls)
    times.sort()
    return times[len(times) // 2]

def ops(n, f, rng):
    u = lambda *shape, lo=-1.0, hi=1.0: rng.uniform(lo, hi, shape).astype(f32)
    x, y, b = u(n, f), u(n, f), u(f)
    logits, classes = u(n, f, lo=-4.0, hi=4.0), rng.integers(0, f, n)
    rows = np.arange(n)
    gamma, beta = u(f), u(f)
    z, tmp, acc = np.empty((n, f), f32), np.empty((n, f), f32), u(n, f)
    p, g, m, v = u(n, f), u(n, f), np.zeros((n, f), f32), np.zeros((n, f), f32)
    state = {'step': 0}

    def gelu():
        return 0.5 * x * (1 + np.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))

    def axpy():
        np.multiply(x, f32(1e-3), out=tmp)
        np.add(acc, tmp, out=acc)

    def softmax_cross_entropy():
        top = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - top)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) + top[:, 0] - logits[rows, classes]))
        d = e / s
        d[rows, classes] -= 1
        d /= n
        correct = int((logits.argmax(axis=1) == classes).sum())
        return loss, d, correct

    def layer_norm():
        mean = x.mean(axis=1, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=1, keepdims=True)
        rstd = 1 / np.sqrt(var + f32(1e-5))
        return centred * rstd * gamma + beta, mean, rstd

    def adam():
        # PyTorch's Adam (amsgrad off, no weight decay), in place on p, m, v.
        state['step'] += 1
        t, b1, b2, lr, eps = state['step'], 0.9, 0.999, 1e-3, 1e-8
        np.multiply(m, f32(b1), out=m)
        np.add(m, f32(1 - b1) * g, out=m)
        np.multiply(v, f32(b2), out=v)
        np.add(v, f32(1 - b2) * g * g, out=v)
        denom = np.sqrt(v)
        denom /= f32(math.sqrt(1 - b2 ** t))
        denom += f32(eps)
        np.subtract(p, f32(lr / (1 - b1 ** t)) * m / denom, out=p)

    hq = max(1, f // 4)
    cprev = u(n, hq)

    def lstm_cell():
        # PyTorch's cell from the two projections and the bias: i, f, g, o gates.
        zz = x[:, :4 * hq] + y[:, :4 * hq] + b[:4 * hq]
        ig = 1 / (1 + np.exp(-zz[:, :hq]))
        fg = 1 / (1 + np.exp(-zz[:, hq:2 * hq]))
        gg = np.tanh(zz[:, 2 * hq:3 * hq])
        og = 1 / (1 + np.exp(-zz[:, 3 * hq:]))
        c = fg * cprev + ig * gg
        return og * np.tanh(c), c

    return {
        'lstmCell': lstm_cell,
        'sumSquares': lambda: float(np.dot(x.ravel(), x.ravel())),
        'addBias': lambda: x + b,
        'sumRows': lambda: x.sum(axis=0),
        'activation relu': lambda: np.maximum(x, f32(0)),
        'activation gelu': gelu,
        'activation tanh': lambda: np.tanh(x),
        'activation sigmoid': lambda: 1 / (1 + np.exp(-x)),
        'add': lambda: x + y,
        'multiply': lambda: x * y,
        'softmaxCrossEntropy': softmax_cross_entropy,
        'layerNorm': layer_norm,
        'adamStep': adam,
        'scale': lambda: x * f32(0.5),
        'axpy': axpy,
        'copy': lambda: x.copy(),
        'fill': lambda: z.fill(f32(0.25)),
    }

out = {}
rng = np.random.default_rng(0)
for n, f in spec['shapes']:
    table = ops(n, f, rng)
    for name in spec['ops']:
        out['%s@%dx%d' % (name, n, f)] = timed(table[name], spec['minSeconds'], spec['measurements'])
print(json.dumps({'numpy': np.__version__, 'times': out}))
`;

/**
 * numpy's time of each operation with an equivalent on each shape (Debian's python3-numpy, in
 * /usr/bin/python3), or a reason why there are none (no Python, no numpy, or the script failed).
 */
export function numpyOpTimes(ops: readonly string[], shapes: readonly Shape[], timing: TimingOptions): NumpyTimes | { missing: string } {
  if (!existsSync(PYTHON)) return { missing: `${PYTHON} not found` };
  const probe = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) return { missing: `numpy is not installed for ${PYTHON} (apt-get install python3-numpy)` };
  const spec = JSON.stringify({ ops, shapes, minSeconds: timing.minSeconds, measurements: timing.measurements });
  const run = spawnSync(PYTHON, ['-c', NUMPY_SCRIPT, spec], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) return { missing: `the numpy script failed: ${run.stderr.trim().split('\n').pop()}` };
  const parsed = JSON.parse(run.stdout) as { numpy: string; times: Record<string, number> };
  return { version: parsed.numpy, times: new Map(Object.entries(parsed.times)) };
}
