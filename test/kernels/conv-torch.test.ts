import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCpuBackend, type CpuBackend } from '../../src/kernels/cpu/cpu-backend.js';
import { convOutputSize, resolveConv2d, type Conv2dParams, type ConvShape } from '../../src/kernels/conv.js';
import { referenceConvBackwardData, referenceConvForward, referenceConvWeightGrad } from '../../src/kernels/reference-conv.js';
import { BlockLayout } from '../../src/patterns/layout.js';
import { randomLayout } from '../../src/patterns/random-layout.js';
import { resolveRng } from '../../src/random.js';
import { PYTHON, runPythonJSON, skipCrossCheckInFastTier } from '../helpers/python.js';
import { expectWithinBound } from './conformance.js';

/*
 * The block-sparse convolution against PyTorch's torch.nn.functional.conv2d with the equivalent
 * masked dense weight, weight[k bs + q, c bs + p, i, j] = g_b W_b[i, j, p, q] (zero where the
 * layout has no block), on the input permuted to NCHW: the output, the input gradient and the
 * weight gradient (torch's dense weight gradient read back per present block, times its gate, and
 * its inner product with W_b for the gate gradient), for L = sum(Y * R). PyTorch computes in
 * float64 here; ours is float32 within the accumulation bound of conformance.ts. When Debian's
 * python3-torch is installed a disagreement fails; without it the test says it skipped.
 */

/** The script: stdin the case as JSON; stdout PyTorch's results, or {"missing": "..."} when torch does not import. */
const TORCH_CONV = `
import json, sys
d = json.load(sys.stdin)
try:
    import torch
except ImportError as e:
    print(json.dumps({'missing': str(e)}))
    sys.exit(0)
N, H, W, C, K, bs, kh, kw = (d[k] for k in ('N', 'H', 'W', 'C', 'K', 'bs', 'kh', 'kw'))
nnz = len(d['rows'])
blocks = torch.tensor(d['w'], dtype=torch.float64).reshape(nnz, kh, kw, bs, bs)
gates = torch.tensor(d['gates'], dtype=torch.float64)
weight = torch.zeros(K, C, kh, kw, dtype=torch.float64)
for b, (c, k) in enumerate(zip(d['rows'], d['cols'])):
    weight[k * bs:(k + 1) * bs, c * bs:(c + 1) * bs] = gates[b] * blocks[b].permute(3, 2, 0, 1)
weight.requires_grad_()
x = torch.tensor(d['x'], dtype=torch.float64).reshape(N, H, W, C).permute(0, 3, 1, 2).contiguous().requires_grad_()
y = torch.nn.functional.conv2d(x, weight, stride=d['stride'], padding=d['padding'], dilation=d['dilation'])
r = torch.tensor(d['r'], dtype=torch.float64).reshape(y.shape[0], y.shape[2], y.shape[3], K).permute(0, 3, 1, 2)
(y * r).sum().backward()
dw, dg = [], []
for b, (c, k) in enumerate(zip(d['rows'], d['cols'])):
    g_b = weight.grad[k * bs:(k + 1) * bs, c * bs:(c + 1) * bs].permute(2, 3, 1, 0)  # [kh, kw, p, q]
    dw.append((gates[b] * g_b).flatten())
    dg.append(float((blocks[b] * g_b).sum()))
print(json.dumps({
    'y': y.detach().permute(0, 2, 3, 1).flatten().tolist(),
    'dx': x.grad.permute(0, 2, 3, 1).flatten().tolist(),
    'dw': torch.cat(dw).tolist() if dw else [],
    'dg': dg,
}))
`;

interface TorchCase {
  name: string;
  layout: BlockLayout;
  params: Conv2dParams;
  n: number;
  inputSize: [number, number];
}

const CASES: TorchCase[] = [
  {
    name: '3x3, stride 2, padding 1, bs 8, a layout with empty rows and columns, N=2, 7x5',
    layout: BlockLayout.fromPairs({ inBlocks: 3, outBlocks: 4, blockSize: 8 }, [0, 0, 2, 2], [1, 3, 0, 3]),
    params: { kernel: 3, stride: 2, padding: 1 },
    n: 2,
    inputSize: [7, 5],
  },
  {
    name: '[3, 5] kernel, stride [2, 1], padding [1, 2], dilation [2, 1], bs 16, random 2x3, N=1, 9x6',
    layout: randomLayout({ inBlocks: 2, outBlocks: 3, density: 0.5, blockSize: 16, seed: 3 }),
    params: { kernel: [3, 5], stride: [2, 1], padding: [1, 2], dilation: [2, 1] },
    n: 1,
    inputSize: [9, 6],
  },
];

describe('block-sparse conv2d against torch.nn.functional.conv2d with the masked dense weight', () => {
  let backend: CpuBackend;
  beforeAll(async () => {
    backend = await createCpuBackend({ threads: 2, minParallelFlops: 0 });
  });
  afterAll(async () => {
    await backend.dispose();
  });
  const rng = resolveRng({ seed: 'conv-torch' });
  const random = (size: number) => Float32Array.from({ length: size }, () => rng() * 2 - 1);
  const abs = (a: ArrayLike<number>) => Float64Array.from(a as ArrayLike<number>, Math.abs);

  for (const c of CASES) {
    it(`${c.name}: output, input gradient, weight and gate gradients (a gate 0 included)`, async (context) => {
      skipCrossCheckInFastTier();
      const { layout, params, n } = c;
      const g = resolveConv2d(params);
      const [H, W] = c.inputSize;
      const shape: ConvShape = { n, inputSize: [H, W], outputSize: convOutputSize(g, [H, W]), channels: [layout.inFeatures, layout.outFeatures] };
      const [Ho, Wo] = shape.outputSize;
      const [C, K] = shape.channels;
      const [kh, kw] = g.kernel;
      const bs = layout.blockSize;
      const x = random(n * H * W * C);
      const w = random(layout.nnz * kh * kw * bs * bs);
      const r = random(n * Ho * Wo * K);
      const gates = random(layout.nnz);
      gates[1] = 0;
      const b = backend;
      const X = b.tensor(x, [n, H, W, C]);
      const Wt = b.tensor(w, [layout.nnz, kh, kw, bs, bs]);
      const G = b.tensor(gates, [layout.nnz]);
      const R = b.tensor(r, [n, Ho, Wo, K]);
      const y = await b.read(await b.conv2d(layout, X, Wt, { ...params, gates: G }));
      const dx = await b.read(await b.conv2dBackwardData(layout, R, Wt, { ...params, gates: G, inputSize: [H, W] }));
      const grads = await b.conv2dWeightGrad(layout, X, R, { ...params, gates: G, weights: Wt });
      const dw = await b.read(grads.dw);
      const dg = await b.read(grads.dgates!);

      const pairs = layout.pairs();
      const torch = runPythonJSON<{ y: number[]; dx: number[]; dw: number[]; dg: number[]; missing?: string }>(TORCH_CONV, JSON.stringify({
        N: n, H, W, C, K, bs, kh, kw, rows: Array.from(pairs.rows), cols: Array.from(pairs.cols),
        w: Array.from(w), gates: Array.from(gates), x: Array.from(x), r: Array.from(r),
        stride: g.stride, padding: g.padding, dilation: g.dilation,
      }));
      if (torch.missing !== undefined) {
        context.skip(`python3-torch is not installed for ${PYTHON} (${torch.missing}; apt-get install python3-torch): the PyTorch cross-check did not run`);
        return;
      }
      const f64 = (a: number[]) => Float64Array.from(a);
      const taps = kh * kw;
      const positions = n * Ho * Wo;
      expectWithinBound(y, f64(torch.y), referenceConvForward(layout, g, shape, abs(x), abs(w), abs(gates)), C * taps, 'conv2d vs torch');
      expectWithinBound(dx, f64(torch.dx), referenceConvBackwardData(layout, g, shape, abs(r), abs(w), abs(gates)), K * taps, 'input gradient vs torch');
      const refAbs = referenceConvWeightGrad(layout, g, shape, abs(x), abs(r), abs(gates), abs(w));
      expectWithinBound(dw, f64(torch.dw), refAbs.dw, positions, 'weight gradient vs torch');
      expectWithinBound(dg, f64(torch.dg), refAbs.dgates!, positions + bs * bs * taps, 'gate gradient vs torch');
      // the cross-check compares something: torch's output is not all zeros
      expect(torch.y.some((v) => Math.abs(v) > 0.1)).toBe(true);
      expect(torch.dg.length).toBe(layout.nnz);
    });
  }
});
