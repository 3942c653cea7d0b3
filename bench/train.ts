/*
 * Training benchmark (issue 5): samples per second for one training epoch of Fashion-MNIST
 * (Adam, batch 128) of a dense MLP and of an equal-width MLP whose hidden-to-hidden layers are
 * block-sparse at density 1/16, on the chosen backend, and, when Debian's python3-torch is
 * installed, PyTorch on the CPU training the same dense model; all in one run.
 * Target: the block-sparse model trains >= 4x faster per sample than our dense model.
 *
 *   npm run bench:train -- [--backend auto|cpu|webgpu] [--width 2048] [--hidden-layers 4]
 *                          [--density 0.0625] [--block-size 32] [--samples 60000] [--batch 128]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { getBackend, type BackendChoice } from '../src/kernels/get-backend.js';
import type { Backend } from '../src/kernels/types.js';
import type { BlockSize } from '../src/patterns/layout.js';
import { randomLayout } from '../src/patterns/random-layout.js';
import { batches } from '../src/train/data/batches.js';
import { loadFashionMNIST } from '../src/train/data/fashion-mnist.js';
import type { Dataset } from '../src/train/data/dataset.js';
import { Activation } from '../src/train/layers/activation.js';
import { BlockSparseLinear } from '../src/train/layers/block-sparse-linear.js';
import type { Layer } from '../src/train/layers/layer.js';
import { Linear } from '../src/train/layers/linear.js';
import { Sequential } from '../src/train/layers/sequential.js';
import { Adam } from '../src/train/optimizers.js';
import { recordStdout } from './record.js';

recordStdout('train');

const PYTHON = '/usr/bin/python3';
const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'auto' },
    width: { type: 'string', default: '2048' },
    'hidden-layers': { type: 'string', default: '4' },
    density: { type: 'string', default: '0.0625' },
    'block-size': { type: 'string', default: '32' },
    samples: { type: 'string', default: '60000' },
    batch: { type: 'string', default: '128' },
  },
});
const width = Number(values.width);
const hiddenLayers = Number(values['hidden-layers']);
const density = Number(values.density);
const blockSize = Number(values['block-size']) as BlockSize;
const samples = Number(values.samples);
const batchSize = Number(values.batch);

/** 784 -> width (dense), (hiddenLayers - 1) x width -> width (dense or block-sparse), width -> 10 (dense), ReLU between. */
function mlp(backend: Backend, sparse: boolean): Sequential {
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

const weightCount = (model: Sequential) => model.parameters().filter((p) => p.decay).reduce((s, p) => s + p.value.size, 0);

/** One epoch over the dataset: seconds from the first step until the last step's work is done, and the last batch's loss. */
async function epoch(backend: Backend, model: Sequential, data: Dataset): Promise<{ seconds: number; loss: number }> {
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const labelsOf = (y: Uint8Array) => Float32Array.from(y);
  const start = performance.now();
  for (const batch of batches(data, { batchSize, seed: 0, epoch: 0 })) {
    const x = backend.tensor(batch.x, [batch.size, 784]);
    const labels = backend.tensor(labelsOf(batch.y), [batch.size]);
    const logits = await model.forward(x, { training: true });
    const { loss, dlogits, correct } = await backend.softmaxCrossEntropy(logits, labels);
    await model.backward(dlogits);
    await optimizer.step();
    for (const t of [x, labels, logits, loss, dlogits, correct]) t.dispose();
  }
  await backend.sync();
  const seconds = (performance.now() - start) / 1000;
  // The loss after the epoch, on the first batch, as a sanity check that it trained.
  const first = batches(data, { batchSize, shuffle: false }).next().value!;
  const x = backend.tensor(first.x, [first.size, 784]);
  const logits = await model.forward(x, { training: false });
  const labels = backend.tensor(labelsOf(first.y), [first.size]);
  const out = await backend.softmaxCrossEntropy(logits, labels);
  const loss = (await backend.read(out.loss))[0];
  for (const t of [x, labels, logits, out.loss, out.dlogits, out.correct]) t.dispose();
  optimizer.dispose();
  return { seconds, loss };
}

function torchSamplesPerSecond(): { line: string; samplesPerSecond: number } | null {
  if (!existsSync(PYTHON)) return null;
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

const data = loadFashionMNIST({ split: 'train', limit: samples });
const backend = await getBackend(values.backend as BackendChoice);
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
process.stdout.write(`node ${process.version}, ${os.availableParallelism()} cores; load average at start: ${load()}\n`);
process.stdout.write(`backend: ${backend.description}\n`);
process.stdout.write(`MLP 784 -> ${Array(hiddenLayers).fill(width).join(' -> ')} -> 10, ReLU, Adam, batch ${batchSize}, ${data.n} Fashion-MNIST samples (one epoch); sparse: the ${hiddenLayers - 1} hidden-to-hidden layers block-sparse (random layouts, density ${density}, blocks ${blockSize})\n`);
const results: Record<string, number> = {};
try {
  for (const [name, sparse] of [['dense', false], ['block-sparse', true]] as const) {
    const model = mlp(backend, sparse);
    const { seconds, loss } = await epoch(backend, model, data);
    results[name] = data.n / seconds;
    process.stdout.write(`ours ${name}: ${weightCount(model)} weights, ${seconds.toFixed(1)} s, ${results[name].toFixed(0)} samples/s (loss after the epoch ${loss.toFixed(3)})\n`);
    model.dispose();
  }
} finally {
  await backend.dispose();
}
const torch = torchSamplesPerSecond();
process.stdout.write(`${torch ? torch.line : 'pytorch: python3-torch not installed (apt-get install python3-torch), not compared'}\n`);
const speedup = results['block-sparse'] / results.dense;
process.stdout.write(`block-sparse / dense samples per second: ${speedup.toFixed(2)}x; target >= 4x: ${speedup >= 4 ? 'met' : 'MISSED'}\n`);
if (torch && Number.isFinite(torch.samplesPerSecond)) process.stdout.write(`ours dense / pytorch dense: ${(results.dense / torch.samplesPerSecond).toFixed(2)}\n`);
process.stdout.write(`load average at end: ${load()}\n`);
