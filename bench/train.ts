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
import os from 'node:os';
import { parseArgs } from 'node:util';
import { getBackend, type BackendChoice } from '../src/kernels/get-backend.js';
import type { BlockSize } from '../src/patterns/layout.js';
import { loadFashionMNIST } from '../src/train/data/fashion-mnist.js';
import { recordStdout } from './record.js';
import { torchDenseSamplesPerSecond, trainEpoch, trainingMlp, weightCount } from './training-models.js';

recordStdout('train');

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

const data = loadFashionMNIST({ split: 'train', limit: samples });
const backend = await getBackend(values.backend as BackendChoice);
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
process.stdout.write(`node ${process.version}, ${os.availableParallelism()} cores; load average at start: ${load()}\n`);
process.stdout.write(`backend: ${backend.description}\n`);
process.stdout.write(`MLP 784 -> ${Array(hiddenLayers).fill(width).join(' -> ')} -> 10, ReLU, Adam, batch ${batchSize}, ${data.n} Fashion-MNIST samples (one epoch); sparse: the ${hiddenLayers - 1} hidden-to-hidden layers block-sparse (random layouts, density ${density}, blocks ${blockSize})\n`);
const results: Record<string, number> = {};
try {
  for (const [name, sparse] of [['dense', false], ['block-sparse', true]] as const) {
    const model = trainingMlp(backend, { width, hiddenLayers, density, blockSize, sparse });
    const { seconds, loss } = await trainEpoch(backend, model, data, batchSize);
    results[name] = data.n / seconds;
    process.stdout.write(`ours ${name}: ${weightCount(model)} weights, ${seconds.toFixed(1)} s, ${results[name].toFixed(0)} samples/s (loss after the epoch ${loss.toFixed(3)})\n`);
    model.dispose();
  }
} finally {
  await backend.dispose();
}
const torch = torchDenseSamplesPerSecond({ width, hiddenLayers, samples, batchSize });
process.stdout.write(`${torch ? torch.line : 'pytorch: python3-torch not installed (apt-get install python3-torch), not compared'}\n`);
const speedup = results['block-sparse'] / results.dense;
process.stdout.write(`block-sparse / dense samples per second: ${speedup.toFixed(2)}x; target >= 4x: ${speedup >= 4 ? 'met' : 'MISSED'}\n`);
if (torch && Number.isFinite(torch.samplesPerSecond)) process.stdout.write(`ours dense / pytorch dense: ${(results.dense / torch.samplesPerSecond).toFixed(2)}\n`);
process.stdout.write(`load average at end: ${load()}\n`);
