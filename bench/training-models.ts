/*
 * What the training benchmarks share (bench/train.ts, bench/step.ts): bench/train's MLP (dense,
 * or with block-sparse hidden-to-hidden layers at a density), one timed epoch of Adam on a data
 * set, the weight count, and PyTorch on the CPU training the same dense MLP (Debian's
 * python3-torch, when installed).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import type { Backend } from '../src/kernels/types.js';
import type { BlockSize } from '../src/patterns/layout.js';
import { randomLayout } from '../src/patterns/random-layout.js';
import { batches } from '../src/train/data/batches.js';
import type { Dataset } from '../src/train/data/dataset.js';
import { Activation } from '../src/train/layers/activation.js';
import { BlockSparseLinear } from '../src/train/layers/block-sparse-linear.js';
import type { Layer } from '../src/train/layers/layer.js';
import { Linear } from '../src/train/layers/linear.js';
import { Sequential } from '../src/train/layers/sequential.js';
import { Adam } from '../src/train/optimizers.js';

/** The Python that runs numpy and PyTorch baselines: Debian's. */
export const PYTHON = '/usr/bin/python3';

/** bench/train's MLP: `hiddenLayers` hidden layers of `width`; with `sparse`, the hidden-to-hidden ones block-sparse. */
export interface TrainingMlpSpec {
  width: number;
  hiddenLayers: number;
  /** Density of the random layouts of the block-sparse layers. */
  density: number;
  blockSize: BlockSize;
  sparse: boolean;
}

/** 784 -> width (dense), (hiddenLayers - 1) x width -> width (dense or block-sparse), width -> 10 (dense), ReLU between. */
export function trainingMlp(backend: Backend, spec: TrainingMlpSpec): Sequential {
  const { width, hiddenLayers, density, blockSize, sparse } = spec;
  const layers: Layer[] = [new Linear(backend, 784, width, { seed: 1 }), new Activation(backend, 'relu', width)];
  for (let i = 1; i < hiddenLayers; i++) {
    const blocks = width / blockSize;
    layers.push(sparse
      ? new BlockSparseLinear(backend, randomLayout({ inBlocks: blocks, density, blockSize, seed: i }), { seed: 10 + i })
      : new Linear(backend, width, width, { seed: 10 + i }));
    layers.push(new Activation(backend, 'relu', width));
  }
  layers.push(new Linear(backend, width, 10, { seed: 99 }));
  return new Sequential(layers);
}

/** The model's weights (parameters with weight decay: biases, gains and gate logits left out). */
export const weightCount = (model: Sequential): number => model.parameters().filter((p) => p.decay).reduce((s, p) => s + p.value.size, 0);

/**
 * One epoch of Adam (lr 1e-3) over the data set in batches of `batchSize` (shuffled with seed 0):
 * the seconds from the first step until the last step's work is done, and the loss after the
 * epoch on the first batch (a sanity check that it trained).
 */
export async function trainEpoch(backend: Backend, model: Sequential, data: Dataset, batchSize: number): Promise<{ seconds: number; loss: number }> {
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const labelsOf = (y: Uint8Array) => Float32Array.from(y);
  const features = data.features;
  try {
    const start = performance.now();
    for (const batch of batches(data, { batchSize, seed: 0, epoch: 0 })) {
      const x = backend.tensor(batch.x, [batch.size, features]);
      const labels = backend.tensor(labelsOf(batch.y), [batch.size]);
      const logits = await model.forward(x, { training: true });
      const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
      await model.backward(dlogits);
      await optimizer.step();
      for (const t of [x, labels, logits, loss, dlogits, correct]) t.dispose();
    }
    await backend.sync();
    const seconds = (performance.now() - start) / 1000;
    const first = batches(data, { batchSize, shuffle: false }).next().value!;
    const x = backend.tensor(first.x, [first.size, features]);
    const logits = await model.forward(x, { training: false });
    const labels = backend.tensor(labelsOf(first.y), [first.size]);
    const out = await backend.softmaxCrossEntropy(logits, labels);
    const loss = (await backend.read(out.loss))[0];
    for (const t of [x, labels, logits, out.loss, out.dlogits, out.correct]) t.dispose();
    return { seconds, loss };
  } finally {
    optimizer.dispose();
  }
}

/** What PyTorch trains: bench/train's dense MLP on `samples` random examples, one epoch. */
export interface TorchDenseSpec {
  width: number;
  hiddenLayers: number;
  samples: number;
  batchSize: number;
}

/** PyTorch's samples per second and a line saying so (NaN when it failed), or null when python3-torch is not installed. */
export interface TorchResult {
  line: string;
  samplesPerSecond: number;
}

/**
 * PyTorch on the CPU (every core) training bench/train's dense MLP for one epoch of random data
 * with Adam: seconds per epoch as samples per second; null without /usr/bin/python3 or torch.
 */
export function torchDenseSamplesPerSecond(spec: TorchDenseSpec): TorchResult | null {
  if (!existsSync(PYTHON)) return null;
  const { width, hiddenLayers, samples, batchSize } = spec;
  const script = `
import sys, time, json
try:
    import torch
except ImportError:
    print(json.dumps(None)); sys.exit(0)
import numpy as np
torch.manual_seed(0)
torch.set_num_threads(${os.availableParallelism()})
width, hidden, n, batch = ${width}, ${hiddenLayers}, ${samples}, ${batchSize}
layers = [torch.nn.Linear(784, width), torch.nn.ReLU()]
for _ in range(hidden - 1):
    layers += [torch.nn.Linear(width, width), torch.nn.ReLU()]
layers += [torch.nn.Linear(width, 10)]
model = torch.nn.Sequential(*layers)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.rand(n, 784)
y = torch.randint(0, 10, (n,))
perm = torch.randperm(n)
start = time.perf_counter()
for i in range(0, n, batch):
    idx = perm[i:i + batch]
    loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "torch": torch.__version__, "threads": torch.get_num_threads()}))
`;
  const run = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8' });
  if (run.status !== 0) return { line: `pytorch: failed (${run.stderr.trim().split('\n').pop()})`, samplesPerSecond: Number.NaN };
  const parsed = JSON.parse(run.stdout) as { seconds: number; torch: string; threads: number } | null;
  if (!parsed) return null;
  const sps = samples / parsed.seconds;
  return { line: `pytorch ${parsed.torch} CPU dense (${parsed.threads} threads): ${parsed.seconds.toFixed(1)} s, ${sps.toFixed(0)} samples/s`, samplesPerSecond: sps };
}
