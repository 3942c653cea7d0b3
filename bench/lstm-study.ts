/*
 * The small-world LSTM study (issue 12): character-level language models of the Brown corpus, a
 * dense LSTM against Watts-Strogatz, Barabási-Albert, random and banded block-sparse LSTMs about
 * 3x wider with about the same number of weights, each over several seeds: test bits per character
 * (mean ± sd), the representation probe's accuracy (trained and untrained), weights, seconds per
 * epoch and characters per second; validation bits per character after every epoch (a plot next
 * to the record); the recurrent layouts through the analysis tools. See src/runs/lstm-study.ts.
 *
 *   npm run bench:lstm-study -- [--epochs 3] [--seeds 3] [--train-chars 600000|all] [--validation-chars 200000|all]
 *                               [--test-chars all] [--hidden 768] [--speed-only] [--speed-batches 30] [--speed-rounds 3]
 *
 * After the study (or alone with --speed-only) it measures the training speed of the dense and the
 * Watts-Strogatz model apart, in alternating rounds of the same batches (the study's own
 * characters per second come from runs minutes apart on a shared machine).
 *                               [--backend auto|cpu|webgpu] [--json out.json] [--plot out.svg]
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { formatTable, formatValue } from '../dist/cli/table.js';
import { getBackend, type BackendChoice } from '../dist/kernels/get-backend.js';
import { linePlot } from '../dist/render/analysis-plots.js';
import { savePlot } from '../dist/render/vega-plot.js';
import { analyseLstmLayouts, defaultLstmStudy, measureLstmSpeed, runLstmStudy, summarizeLstmStudy } from '../dist/runs/lstm-study.js';
import { loadBrownCorpus, type BrownCorpus } from '../dist/train/data/brown.js';
import { CharVocabulary } from '../dist/train/data/char-vocabulary.js';

/** The corpus's vocabulary size (85 for the Brown corpus). */
const vocabularySize = (corpus: BrownCorpus) => CharVocabulary.fromCorpus(corpus).size;
import { recordStdout } from './record.js';

recordStdout('lstm-study');

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '3' },
    seeds: { type: 'string', default: '3' },
    'train-chars': { type: 'string' },
    'validation-chars': { type: 'string' },
    'test-chars': { type: 'string' },
    hidden: { type: 'string' },
    backend: { type: 'string', default: 'auto' },
    json: { type: 'string' },
    plot: { type: 'string' },
    'speed-only': { type: 'boolean', default: false },
    'speed-batches': { type: 'string', default: '30' },
    'speed-rounds': { type: 'string', default: '3' },
  },
});
const chars = (text: string | undefined) => (text === undefined ? undefined : text === 'all' ? null : Number(text));
const config = defaultLstmStudy({
  epochs: Number(values.epochs),
  seeds: Number(values.seeds),
  ...(values['train-chars'] !== undefined ? { trainCharacters: chars(values['train-chars']) } : {}),
  ...(values['validation-chars'] !== undefined ? { validationCharacters: chars(values['validation-chars']) } : {}),
  ...(values['test-chars'] !== undefined ? { testCharacters: chars(values['test-chars']) } : {}),
  ...(values.hidden ? { hidden: Number(values.hidden) } : {}),
});
const corpus = loadBrownCorpus();
const backend = await getBackend(values.backend as BackendChoice);
const started = performance.now();
process.stdout.write(`node ${process.version}, ${os.availableParallelism()} cores; backend: ${backend.description}\n`);
process.stdout.write(
  `Brown corpus: ${corpus.train.length} training characters (${config.trainCharacters ?? 'all'} per epoch), ${corpus.validation.length} validation (${config.validationCharacters ?? 'all'} after each epoch), ${corpus.test.length} test (${config.testCharacters ?? 'all'} at the end)\n` +
  `${config.epochs} epochs, T = ${config.steps}, B = ${config.batchSize}, Adam lr ${config.lr}, clip ${config.clip}, embedding ${config.embedding}, blocks of ${config.blockSize}, seeds ${config.seeds.join(', ')}; probe: ${config.probe.maxPassagesPerFile} passages per file\n`,
);
if (!values['speed-only']) {
  const runs = await runLstmStudy(backend, config, corpus, (r) =>
    process.stderr.write(`  ${r.model} seed ${r.seed}: test ${r.testBpc.toFixed(3)} bpc, probe ${(100 * r.probeAccuracy).toFixed(1)}% (untrained ${(100 * r.untrainedProbeAccuracy).toFixed(1)}%), ${r.weights} weights, ${r.secondsPerEpoch.toFixed(0)} s/epoch\n`));
  const summary = summarizeLstmStudy(runs);
  const pm = (v: { mean: number; sd: number }, digits: number, scale = 1) => `${(scale * v.mean).toFixed(digits)} ± ${(scale * v.sd).toFixed(digits)}`;
  process.stdout.write(formatTable(
    ['model', 'hidden', 'weights', 'test bpc (mean ± sd)', 'probe % (trained)', 'probe % (untrained)', 'chars / s', 's / epoch', 'seeds'],
    summary.map((s) => [s.model, String(s.hidden), String(s.weights), pm(s.testBpc, 3), pm(s.probeAccuracy, 1, 100), pm(s.untrainedProbeAccuracy, 1, 100), s.charactersPerSecond.toFixed(0), s.secondsPerEpoch.toFixed(0), String(s.seeds)]),
  ));
  process.stdout.write(`probe majority baseline: ${(100 * summary[0].probeBaseline).toFixed(1)}%\n`);
  process.stdout.write(`\nvalidation bits per character after each epoch (mean over seeds):\n`);
  process.stdout.write(formatTable(['model', ...summary[0].validationBpc.map((_v, e) => `epoch ${e + 1}`)], summary.map((s) => [s.model, ...s.validationBpc.map((v) => v.toFixed(3))])));
  const layouts = await analyseLstmLayouts(runs);
  process.stdout.write(`\nrecurrent layouts (first seed; the square layout the four gates share):\n`);
  const metricNames = Object.keys(layouts[0]?.metrics ?? {});
  process.stdout.write(formatTable(['layout', 'nnz', 'density', ...metricNames],
    layouts.map((row) => [row.name, String(row.summary.nnz), row.summary.density.toFixed(3), ...metricNames.map((m) => formatValue(row.metrics[m].value) + (row.metrics[m].note ? '*' : ''))])));
  const notes = layouts.flatMap((row) => Object.entries(row.metrics).filter(([, v]) => v.note).map(([k, v]) => `* ${row.name} ${k}: ${v.note}`));
  if (notes.length) process.stdout.write(`${notes.join('\n')}\n`);

  // The outcome, stated either way: the best sparse model against the dense one, by more than the seeds' spread or not.
  const dense = summary.find((s) => s.model === 'dense');
  const sparse = summary.filter((s) => s.model !== 'dense').sort((a, b) => a.testBpc.mean - b.testBpc.mean);
  if (dense && sparse.length > 0) {
    const best = sparse[0];
    const gap = dense.testBpc.mean - best.testBpc.mean;
    const spread = Math.max(dense.testBpc.sd, best.testBpc.sd);
    const verdict = gap <= 0 ? `not lower (${(-gap).toFixed(3)} higher): the wider sparse LSTM does not win at this scale`
      : dense.seeds < 2 || best.seeds < 2 ? `lower by ${gap.toFixed(3)} (one seed: no spread to judge it by)`
      : gap > spread ? `lower by ${gap.toFixed(3)}, more than the seeds' spread (sd ${spread.toFixed(3)})`
      : `lower by ${gap.toFixed(3)}, within the seeds' spread (sd ${spread.toFixed(3)}): not shown at this scale`;
    process.stdout.write(`\noutcome: ${best.model} ${best.testBpc.mean.toFixed(3)} against dense ${dense.testBpc.mean.toFixed(3)} bpc: ${verdict}\n`);
  }
  if (values.plot) {
    await savePlot(values.plot, linePlot(summary.flatMap((s) => s.validationBpc.map((y, e) => ({ series: s.model, x: e + 1, y }))), { title: 'validation bits per character (mean over seeds)', x: 'epoch', y: 'bits per character' }));
    process.stdout.write(`plot: ${values.plot}\n`);
  }
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ config, summary, runs: runs.map(({ recurrentLayout, ...r }) => ({ ...r, recurrentNnz: recurrentLayout?.nnz ?? null })) }, null, 2)}\n`);
}

// The training speed, dense against Watts-Strogatz at the same weight count, measured apart.
const speeds = await measureLstmSpeed(backend, config, vocabularySize(corpus), { names: ['dense', 'watts-strogatz'], batches: Number(values['speed-batches']), rounds: Number(values['speed-rounds']) });
await backend.dispose();
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
process.stdout.write(`\ntraining speed at the same weight count: ${values['speed-rounds']} alternating rounds of ${values['speed-batches']} batches of ${config.steps} x ${config.batchSize} characters each (training steps only)\n`);
process.stdout.write(formatTable(['model', 'hidden', 'weights', 'chars / s (each round)', 'median'], speeds.map((r) => [r.model, String(r.hidden), String(r.weights), r.charactersPerSecond.map((v) => v.toFixed(0)).join(', '), median(r.charactersPerSecond).toFixed(0)])));
const [denseSpeed, wsSpeed] = speeds.map((r) => median(r.charactersPerSecond));
const speedRatio = wsSpeed / denseSpeed;
process.stdout.write(`watts-strogatz / dense characters per second: ${speedRatio.toFixed(3)}x (target 0.8x: ${speedRatio >= 0.8 ? 'met' : 'MISSED'})\n`);
process.stdout.write(`\ntime: ${((performance.now() - started) / 60000).toFixed(1)} min\n`);
