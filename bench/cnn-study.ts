/*
 * The CNN study (issue 14): on Fashion-MNIST, a dense CNN against block-sparse CNNs with about the
 * same weights that are wider or deeper, with Watts-Strogatz and random channel layouts, each over
 * several seeds: test accuracy (mean ± sd), weights and seconds per epoch (src/runs/cnn-study.ts).
 *
 *   npm run bench:cnn-study -- [--epochs 2] [--seeds 3] [--limit N] [--backend auto|cpu|webgpu] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { formatTable } from '../dist/cli/table.js';
import { getBackend, type BackendChoice } from '../dist/kernels/get-backend.js';
import { defaultCnnStudy, runCnnStudy, summarizeCnnStudy } from '../dist/runs/cnn-study.js';
import { loadFashionMNIST } from '../dist/train/data/fashion-mnist.js';
import { recordStdout } from './record.js';

recordStdout('cnn-study');

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '2' },
    seeds: { type: 'string', default: '3' },
    limit: { type: 'string' },
    backend: { type: 'string', default: 'auto' },
    json: { type: 'string' },
  },
});
const config = defaultCnnStudy({ epochs: Number(values.epochs), seeds: Number(values.seeds) });
const data = {
  train: loadFashionMNIST({ split: 'train', ...(values.limit ? { limit: Number(values.limit) } : {}) }),
  test: loadFashionMNIST({ split: 'test' }),
};
const backend = await getBackend(values.backend as BackendChoice);
process.stdout.write(`node ${process.version}, ${os.availableParallelism()} cores; backend: ${backend.description}\n`);
process.stdout.write(`Fashion-MNIST: ${data.train.n} training, ${data.test.n} test examples; ${config.epochs} epochs, Adam lr ${config.lr}, batch ${config.batchSize}, blocks of ${config.blockSize}, seeds ${config.seeds.join(', ')}\n`);
process.stdout.write('3 x 3 convolutions (padding 1), channel norm, ReLU, 2 x 2 max pooling between stages, global average pooling, a dense classifier; the stem from the one input channel is dense\n');
for (const m of config.models) {
  process.stdout.write(`  ${m.name}: channels ${m.channels.join(', ')}, ${m.depth} convolution(s) per stage, ${m.pattern ? `${m.pattern} layouts at density ${m.density.toFixed(4)}` : 'dense'}\n`);
}
const runs = await runCnnStudy(backend, config, data, (r) =>
  process.stderr.write(`  ${r.model} seed ${r.seed}: test accuracy ${(100 * r.testAccuracy).toFixed(2)}%, ${r.parameters} weights (${r.convWeights} in the convolutions after the stem), ${r.secondsPerEpoch.toFixed(1)} s/epoch\n`));
await backend.dispose();
const summary = summarizeCnnStudy(runs);
process.stdout.write(formatTable(['model', 'test accuracy (mean ± sd)', 'weights', 'conv weights', 's / epoch', 'seeds'],
  summary.map((s) => [s.model, `${(100 * s.accuracy.mean).toFixed(2)} ± ${(100 * s.accuracy.sd).toFixed(2)} %`, String(s.parameters), String(s.convWeights), s.secondsPerEpoch.toFixed(1), String(s.seeds)])));
const dense = summary[0];
process.stdout.write('\ntarget: the wider or the deeper sparse CNN at least matches the dense one within the seeds\' spread:\n');
for (const s of summary.slice(1)) {
  const gap = s.accuracy.mean - dense.accuracy.mean;
  const spread = Math.max(dense.accuracy.sd, s.accuracy.sd);
  process.stdout.write(`  ${s.model}: ${gap >= 0 ? '+' : ''}${(100 * gap).toFixed(2)} points against ${dense.model} (spread ${(100 * spread).toFixed(2)}): ${gap >= -spread ? 'matches' : 'below'}\n`);
}
if (values.json) writeFileSync(values.json, `${JSON.stringify({ config, summary, runs }, null, 2)}\n`);
