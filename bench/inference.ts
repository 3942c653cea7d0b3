/*
 * The inference study (issue 15): how much faster is a pruned model on block-sparse kernels?
 * For each model kind (the Fashion-MNIST MLP and CNN, the Brown-corpus character LSTM), a dense
 * model is trained (or an existing run taken), pruned after training at each sparsity (block
 * magnitude, `blocksparse prune`) and fine-tuned; then, in the same process and on the same
 * inputs, every model's test figure (accuracy, or bits per character), its batch-1 latency and
 * batch-256 throughput on our CPU backend, against the dense model in ONNX Runtime
 * (onnxruntime-node, CPU execution provider) and, for the MLP, in PyTorch CPU (Debian's
 * python3-torch, when installed). An LSTM's "example" is a stream of --seq characters (each stream
 * from a zero state, as the ONNX model runs it). Timings are medians over rounds of calls, the
 * engines interleaved round by round; every engine gets --threads threads.
 *
 * The toolkit is imported compiled (dist/: run `npm run build` first; `npm run bench:inference`
 * does): run from TypeScript through tsx, every closure is wrapped in a naming helper when it is
 * made, which triples the per-operation overhead, while ONNX Runtime and PyTorch run native code.
 *
 *   npm run bench:inference -- [--models mlp,cnn,lstm] [--sparsity 0.5,0.75,0.9,0.95] [--rounds 11]
 *     [--threads 2] [--json out.json] [--plot prefix (prefix-<model>.svg)] [--quick]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { formatTable } from '../dist/cli/table.js';
import { createCpuBackend } from '../dist/kernels/cpu/cpu-backend.js';
import type { Backend } from '../dist/kernels/types.js';
import { scatterPlot } from '../dist/render/analysis-plots.js';
import { savePlot } from '../dist/render/vega-plot.js';
import { loadModel, type LoadedModel } from '../dist/runs/inference.js';
import { pruneRun, type PruneSummary } from '../dist/runs/pruning.js';
import { runTraining, type TrainingSettings } from '../dist/runs/training.js';
import { loadBrownCorpus } from '../dist/train/data/brown.js';
import { CharVocabulary } from '../dist/train/data/char-vocabulary.js';
import { loadFashionMNIST } from '../dist/train/data/fashion-mnist.js';
import { readWeight } from '../dist/train/export/model-weights.js';
import { modelToOnnx } from '../dist/train/export/onnx.js';
import { Linear } from '../dist/train/layers/linear.js';
import { encodeSafetensors, type SafetensorsTensor } from '../dist/train/safetensors.js';
import { recordStdout } from './record.js';

recordStdout('inference');

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'mlp,cnn,lstm' },
    sparsity: { type: 'string', default: '0.5,0.75,0.9,0.95' },
    rounds: { type: 'string', default: '11' },
    threads: { type: 'string', default: '2' },
    json: { type: 'string' },
    plot: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads);
const rounds = Number(values.rounds);
const sparsities = values.sparsity.split(',').map(Number);
const quick = values.quick;
const work = mkdtempSync(join(os.tmpdir(), 'blocksparse-inference-'));
const log = (m: string) => process.stderr.write(`${m}\n`);
const BATCHES = [1, 256] as const;

/** One model kind of the study: how its dense model is trained, pruned, fed and measured. */
interface Suite {
  name: 'mlp' | 'cnn' | 'lstm';
  description: string;
  settings: TrainingSettings;
  epochs: number;
  finetuneEpochs: number;
  blockSize: 8 | 16 | 32;
  /** Time steps of an LSTM's streams (1 for the others). */
  steps: number;
  /** Whether the figure is accuracy (higher is better) or bits per character. */
  metric: 'accuracy' | 'bpc';
}

const common = { batch: 128, lr: 1e-3, optimizer: 'adam', momentum: 0.9, weightDecay: 0, l0LrScale: 1, sparseInput: false, seed: 1 } as const;
const SUITES: Record<Suite['name'], Suite> = {
  mlp: {
    name: 'mlp', description: 'Fashion-MNIST MLP 784 -> 2048 -> 2048 -> 10', epochs: quick ? 1 : 3, finetuneEpochs: quick ? 1 : 2, blockSize: 32, steps: 1, metric: 'accuracy',
    settings: { ...common, data: 'fashion-mnist', hidden: [2048, 2048], blockSize: 32, ...(quick ? { limit: 2000 } : {}) },
  },
  cnn: {
    name: 'cnn', description: 'Fashion-MNIST CNN, channels 64, 128 (3 x 3 convolutions, one per stage)', epochs: quick ? 1 : 2, finetuneEpochs: 1, blockSize: 16, steps: 1, metric: 'accuracy',
    settings: { ...common, model: 'cnn', data: 'fashion-mnist', channels: [64, 128], depth: 1, blockSize: 16, limit: quick ? 500 : 30000 },
  },
  lstm: {
    name: 'lstm', description: 'Brown-corpus character LSTM, embedding 64, hidden 512', epochs: quick ? 1 : 2, finetuneEpochs: 1, blockSize: 32, steps: 100, metric: 'bpc',
    settings: { ...common, model: 'lstm', data: 'brown', hidden: [512], blockSize: 32, batch: 32, lr: 2e-3, seq: 100, clip: 1, limit: quick ? 20000 : 1_000_000 },
  },
};

/** A timed engine: one call on `rows` examples. */
interface Engine {
  name: string;
  call: (rows: number) => Promise<unknown>;
}

/** Median seconds per call of each engine at `rows`, the engines interleaved round by round. */
async function timeEngines(engines: readonly Engine[], rows: number, work: number): Promise<Map<string, number>> {
  const calls = Math.max(1, Math.round(work / rows));
  for (const e of engines) for (let i = 0; i < calls; i++) await e.call(rows);
  const samples = new Map(engines.map((e) => [e.name, [] as number[]]));
  for (let r = 0; r < rounds; r++) {
    for (const e of engines) {
      const start = performance.now();
      for (let i = 0; i < calls; i++) await e.call(rows);
      samples.get(e.name)!.push((performance.now() - start) / 1000 / calls);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return new Map([...samples].map(([name, xs]) => [name, median(xs)]));
}

/** The largest relative difference of two logit arrays. */
function worstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(a[i])));
  return worst;
}

/** Inputs for the suite: 256 images [256, 784], or 256 streams of `steps` characters laid out [steps, 256] (time-major). */
function suiteInputs(suite: Suite): Float32Array {
  if (suite.metric === 'accuracy') return Float32Array.from(loadFashionMNIST({ split: 'test', limit: 256 }).images);
  const corpus = loadBrownCorpus();
  const vocabulary = CharVocabulary.fromCorpus(corpus);
  const text = vocabulary.encode(corpus.test.slice(0, 256 * suite.steps));
  // Stream n is the n-th run of `steps` characters; row t * 256 + n holds its character t.
  const out = new Float32Array(256 * suite.steps);
  for (let n = 0; n < 256; n++) for (let t = 0; t < suite.steps; t++) out[t * 256 + n] = text[n * suite.steps + t];
  return out;
}

/** `rows` examples of the suite's inputs, laid out as our model takes them. */
function examples(suite: Suite, inputs: Float32Array, rows: number): Float32Array {
  if (suite.steps === 1) return inputs.subarray(0, rows * 784);
  const out = new Float32Array(rows * suite.steps);
  for (let t = 0; t < suite.steps; t++) out.set(inputs.subarray(t * 256, t * 256 + rows), t * rows);
  return out;
}

/** Our model on `rows` examples: the logits (an LSTM's streams each from a zero state). */
async function ours(model: LoadedModel, suite: Suite, x: Float32Array, rows: number): Promise<Float32Array> {
  if (suite.steps === 1) return (await model.predict(x, rows)).logits;
  const backend = model.backend;
  model.resetState();
  const input = backend.tensor(x, [rows * suite.steps, 1]);
  const out = await model.model.forward(input, { training: false, steps: suite.steps });
  const logits = Float32Array.from(await backend.read(out));
  input.dispose();
  out.dispose();
  return logits;
}

/** The same in ONNX Runtime. */
async function inOrt(session: ort.InferenceSession, suite: Suite, x: Float32Array, rows: number): Promise<Float32Array> {
  const shape = suite.steps === 1 ? [rows, 784] : [suite.steps, rows, 1];
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(x), shape) });
  return out[session.outputNames[0]].data as Float32Array;
}

/** PyTorch CPU's seconds per call at each batch size on a dense MLP, or null without python3-torch. */
async function torchTimes(dense: LoadedModel, backend: Backend, inputs: Float32Array): Promise<{ version: string; seconds: Map<number, number> } | null> {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    log('PyTorch: not measured (python3-torch is not installed)');
    return null;
  }
  const tensors: [string, SafetensorsTensor][] = [];
  let i = 0;
  for (const layer of dense.model.layers) {
    if (!(layer instanceof Linear)) continue;
    tensors.push([`w${i}`, { dtype: 'F32', shape: [layer.inFeatures, layer.outFeatures], data: (await readWeight(layer)).values }]);
    tensors.push([`b${i}`, { dtype: 'F32', shape: [layer.outFeatures], data: Float32Array.from(await backend.read(layer.bias!.value)) }]);
    i++;
  }
  tensors.push(['x', { dtype: 'F32', shape: [256, 784], data: Float32Array.from(inputs) }]);
  const file = join(work, 'dense-torch.safetensors');
  writeFileSync(file, encodeSafetensors(tensors));
  const script = new URL('./inference-torch.py', import.meta.url).pathname;
  const out = JSON.parse(execFileSync('/usr/bin/python3', [script, file, String(threads), BATCHES.join(','), String(rounds)], { encoding: 'utf8' })) as {
    torch: string; results: { batch: number; seconds: number }[]; logits: number[][];
  };
  const worst = worstDifference(out.logits.flat(), (await dense.predict(inputs.subarray(0, 4 * 784), 4)).logits);
  if (!(worst < 1e-4)) throw new Error(`PyTorch's logits differ from ours by ${worst}`);
  return { version: out.torch, seconds: new Map(out.results.map((r) => [r.batch, r.seconds])) };
}

/** Trains, prunes and measures one suite; prints its table and targets; returns its records. */
async function runSuite(suite: Suite): Promise<Record<string, unknown>> {
  const started = performance.now();
  const source = join(work, `${suite.name}-dense`);
  await runTraining({ out: source, epochs: suite.epochs, backend: 'cpu', settings: suite.settings }, { log: () => {} });
  const pruned: PruneSummary = await pruneRun(
    { run: source, sparsities, finetuneEpochs: suite.finetuneEpochs, out: join(work, `${suite.name}-pruned`), blockSize: suite.blockSize, backend: 'cpu' },
    { onLevel: (l) => log(`  ${suite.name} sparsity ${l.sparsity}: ${l.pruned.toFixed(4)} pruned, ${l.finetuned?.toFixed(4) ?? '-'} fine-tuned`) },
  );
  const figure = (x: number) => (suite.metric === 'accuracy' ? `${(100 * x).toFixed(2)} %` : `${x.toFixed(3)} bpc`);
  const { settings } = suite;
  process.stdout.write(`\n## ${suite.description}\n`);
  process.stdout.write(`dense: ${suite.epochs} epoch(s) on ${settings.limit ?? 'all'} training ${suite.metric === 'bpc' ? 'characters' : 'examples'} (Adam lr ${settings.lr}, batch ${settings.batch}): test ${figure(pruned.dense)}; `);
  process.stdout.write(`each level pruned after training (blocks of up to ${suite.blockSize}) and fine-tuned ${suite.finetuneEpochs} epoch(s) with its layouts fixed\n`);

  const inputs = suiteInputs(suite);
  const backend = await createCpuBackend({ threads });
  const dense = await loadModel(source, { backend });
  const levels: { sparsity: number; model: LoadedModel; figure: number; parameters: number }[] = [];
  for (const level of pruned.levels) levels.push({ sparsity: level.sparsity, model: await loadModel(level.dir, { backend }), figure: level.finetuned ?? level.pruned, parameters: level.parameters });
  const session = async (model: LoadedModel) =>
    ort.InferenceSession.create(await modelToOnnx(model.model), { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const ortDense = await session(dense);
  // ONNX Runtime must compute what we compute, before anything is timed.
  for (const rows of [1, 4]) {
    const x = examples(suite, inputs, rows);
    const worst = worstDifference(await ours(dense, suite, x, rows), await inOrt(ortDense, suite, x, rows));
    if (!(worst < 1e-4)) throw new Error(`${suite.name}: ONNX Runtime's logits differ from ours by ${worst}`);
  }
  const xs = new Map(BATCHES.map((rows) => [rows, examples(suite, inputs, rows)]));
  const ORT = 'ONNX Runtime dense';
  const engines: Engine[] = [
    { name: ORT, call: (rows) => inOrt(ortDense, suite, xs.get(rows as 1 | 256)!, rows) },
    { name: 'ours dense', call: (rows) => ours(dense, suite, xs.get(rows as 1 | 256)!, rows) },
    ...levels.map((l): Engine => ({ name: `ours ${l.sparsity}`, call: (rows) => ours(l.model, suite, xs.get(rows as 1 | 256)!, rows) })),
  ];
  const timings = new Map<number, Map<string, number>>();
  for (const rows of BATCHES) timings.set(rows, await timeEngines(engines, rows, (suite.name === 'mlp' ? 2000 : suite.name === 'cnn' ? 64 : 256) / suite.steps));
  const torch = suite.name === 'mlp' ? await torchTimes(dense, backend, inputs) : null;

  const names = [...engines.map((e) => e.name), ...(torch ? [`PyTorch ${torch.version} dense`] : [])];
  const seconds = (name: string, rows: number) => (name.startsWith('PyTorch') ? torch!.seconds.get(rows)! : timings.get(rows)!.get(name)!);
  const levelOf = (name: string) => levels.find((l) => name === `ours ${l.sparsity}`);
  const unit = suite.steps === 1 ? 'examples/s' : 'characters/s';
  const rows: string[][] = [];
  const results: Record<string, unknown>[] = [];
  const points: { series: string; x: number; y: number; label: string }[] = [];
  for (const name of names) {
    const level = levelOf(name);
    const value = level ? level.figure : pruned.dense;
    const parameters = level ? level.parameters : pruned.parameters;
    const [one, many] = [seconds(name, 1), seconds(name, 256)];
    const speed1 = seconds(ORT, 1) / one;
    const speed256 = seconds(ORT, 256) / many;
    rows.push([name, figure(value), String(parameters), (one * 1e3).toFixed(3), `${speed1.toFixed(2)}x`, String(Math.round((256 * suite.steps) / many)), `${speed256.toFixed(2)}x`]);
    results.push({ name, [suite.metric]: value, parameters, batch1Seconds: one, batch256Seconds: many, batch1SpeedUp: speed1, batch256SpeedUp: speed256 });
    points.push({ series: name.startsWith('ours') ? 'ours (CPU backend)' : name.startsWith('PyTorch') ? 'PyTorch CPU' : 'ONNX Runtime', x: speed256, y: suite.metric === 'accuracy' ? 100 * value : value, label: name });
  }
  const example = suite.steps === 1 ? 'batch 1' : `1 stream of ${suite.steps}`;
  process.stdout.write(formatTable(['model', suite.metric === 'accuracy' ? 'test accuracy' : 'test bpc', 'parameters', `${example} ms`, 'vs ORT dense', `batch 256 ${unit}`, 'vs ORT dense'], rows));

  const target = levelOf('ours 0.9');
  if (target) {
    const change = suite.metric === 'accuracy' ? 100 * (pruned.dense - target.figure) : target.figure - pruned.dense;
    const speed256 = seconds(ORT, 256) / seconds('ours 0.9', 256);
    const speed1 = seconds(ORT, 1) / seconds('ours 0.9', 1);
    process.stdout.write(`targets at 90% block sparsity (fine-tuned)${suite.name === 'mlp' ? '' : ' (the issue sets them for the MLP; shown for comparison)'}:\n`);
    if (suite.metric === 'accuracy') process.stdout.write(`  within 1 point of dense accuracy: ${change > 0 ? '-' : '+'}${Math.abs(change).toFixed(2)} points: ${change <= 1 ? 'met' : 'missed'}\n`);
    else process.stdout.write(`  bits per character against dense: ${change >= 0 ? '+' : ''}${change.toFixed(3)}\n`);
    process.stdout.write(`  batch 256 >= 4x ONNX Runtime dense: ${speed256.toFixed(2)}x: ${speed256 >= 4 ? 'met' : 'missed'}\n`);
    process.stdout.write(`  ${example} >= 2x ONNX Runtime dense: ${speed1.toFixed(2)}x: ${speed1 >= 2 ? 'met' : 'missed'}\n`);
  }
  process.stdout.write(`(${((performance.now() - started) / 60000).toFixed(1)} min)\n`);
  if (values.plot) {
    const file = `${values.plot}-${suite.name}.svg`;
    const y = suite.metric === 'accuracy' ? 'test accuracy (%)' : 'test bits per character (lower is better)';
    await savePlot(file, scatterPlot(points, { title: `${suite.description}: ${suite.metric} against batch-256 speed-up over ONNX Runtime dense`, x: 'speed-up over ONNX Runtime dense (batch 256)', y }));
    process.stdout.write(`plot: ${file}\n`);
  }
  for (const l of levels) await l.model.dispose();
  await dense.dispose();
  await ortDense.release();
  await backend.dispose();
  return { suite: suite.name, description: suite.description, prune: pruned, results };
}

process.stdout.write(`node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}); ${threads} threads for every engine; onnxruntime-node ${ort.env.versions.node}\n`);
process.stdout.write('timings: medians over rounds, the engines interleaved round by round; the speed-ups are over ONNX Runtime running the dense model\n');
const records: Record<string, unknown>[] = [];
for (const name of values.models.split(',')) {
  const suite = SUITES[name as Suite['name']];
  if (!suite) throw new Error(`--models: unknown model ${name} (mlp, cnn, lstm)`);
  records.push(await runSuite(suite));
}
if (values.json) writeFileSync(values.json, `${JSON.stringify(records, null, 2)}\n`);
rmSync(work, { recursive: true, force: true });
