/*
 * The study (issue 5): on Fashion-MNIST, a dense MLP against block-sparse MLPs with about the
 * same parameter count but wider hidden layers (Watts-Strogatz, Barabási-Albert, random and
 * banded layouts, a magnitude-pruned and an L0-learned model), each over several seeds: test
 * accuracy (mean ± sd), parameters and seconds per epoch; then the hidden-to-hidden layouts,
 * generated and learned, compared with the analysis tools.
 *
 *   npm run bench:study -- [--epochs 3] [--seeds 3] [--limit N] [--backend auto|cpu|webgpu] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { formatTable, formatValue } from '../dist/cli/table.js';
import { getBackend, type BackendChoice } from '../dist/kernels/get-backend.js';
import { loadFashionMNIST } from '../dist/train/data/fashion-mnist.js';
import { analyseStudyLayouts, defaultStudy, runStudy, summarizeStudy } from '../dist/runs/study.js';
import { recordStdout } from './record.js';

recordStdout('study');

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '3' },
    seeds: { type: 'string', default: '3' },
    limit: { type: 'string' },
    backend: { type: 'string', default: 'auto' },
    json: { type: 'string' },
  },
});
const config = defaultStudy({ epochs: Number(values.epochs), seeds: Number(values.seeds) });
const data = {
  train: loadFashionMNIST({ split: 'train', ...(values.limit ? { limit: Number(values.limit) } : {}) }),
  test: loadFashionMNIST({ split: 'test' }),
};
const backend = await getBackend(values.backend as BackendChoice);
process.stdout.write(`node ${process.version}, ${os.availableParallelism()} cores; backend: ${backend.description}\n`);
process.stdout.write(`Fashion-MNIST: ${data.train.n} training, ${data.test.n} test examples; ${config.epochs} epochs, Adam lr ${config.lr}, batch ${config.batchSize}, blocks of ${config.blockSize}, seeds ${config.seeds.join(', ')}\n`);
const runs = await runStudy(backend, config, data, (r) =>
  process.stderr.write(`  ${r.model} seed ${r.seed}: test accuracy ${(100 * r.testAccuracy).toFixed(2)}%, ${r.parameters} parameters, ${r.secondsPerEpoch.toFixed(1)} s/epoch\n`));
await backend.dispose();
const summary = summarizeStudy(runs);
process.stdout.write(formatTable(['model', 'test accuracy (mean ± sd)', 'parameters', 's / epoch', 'seeds'],
  summary.map((s) => [s.model, `${(100 * s.accuracy.mean).toFixed(2)} ± ${(100 * s.accuracy.sd).toFixed(2)} %`, String(s.parameters), s.secondsPerEpoch.toFixed(1), String(s.seeds)])));
const layouts = await analyseStudyLayouts(runs);
process.stdout.write(`\nhidden-to-hidden layouts (first seed; pruned and L0 as learned):\n`);
const metricNames = Object.keys(layouts[0]?.metrics ?? {});
process.stdout.write(formatTable(['layout', 'nnz', 'density', ...metricNames],
  layouts.map((row) => [row.name, String(row.summary.nnz), row.summary.density.toFixed(3), ...metricNames.map((m) => formatValue(row.metrics[m].value) + (row.metrics[m].note ? '*' : ''))])));
const notes = layouts.flatMap((row) => Object.entries(row.metrics).filter(([, v]) => v.note).map(([k, v]) => `* ${row.name} ${k}: ${v.note}`));
if (notes.length) process.stdout.write(`${notes.join('\n')}\n`);
if (values.json) writeFileSync(values.json, `${JSON.stringify({ config, summary, runs: runs.map(({ hiddenLayout, ...r }) => ({ ...r, hiddenNnz: hiddenLayout?.nnz ?? null })) }, null, 2)}\n`);
