/*
 * The inference study (issue 15): how much faster is a pruned model on block-sparse kernels?
 * A dense Fashion-MNIST MLP is trained (or an existing run taken), pruned after training at each
 * sparsity (block magnitude, `blocksparse prune`) and fine-tuned; then, in the same process and
 * on the same inputs, every model's test accuracy, batch-1 latency and batch-256 throughput on our
 * CPU backend, against the dense model in ONNX Runtime (onnxruntime-node, CPU execution provider)
 * and in PyTorch CPU (Debian's python3-torch, when installed). Timings are medians over rounds of
 * calls, the engines interleaved round by round so that the machine's noise hits them alike; both
 * our backend and ONNX Runtime get --threads threads (PyTorch too).
 *
 *   npm run bench:inference -- [--hidden 2048,2048] [--epochs 5] [--finetune-epochs 2]
 *     [--sparsity 0.5,0.75,0.9,0.95] [--block-size 32] [--run <trained run>] [--rounds 15]
 *     [--threads 2] [--limit N] [--json out.json] [--plot out.svg]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { formatTable } from '../src/cli/table.js';
import { createCpuBackend } from '../src/kernels/cpu/cpu-backend.js';
import type { BlockSize } from '../src/patterns/layout.js';
import { scatterPlot } from '../src/render/analysis-plots.js';
import { savePlot } from '../src/render/vega-plot.js';
import { loadModel, type LoadedModel } from '../src/runs/inference.js';
import { pruneRun } from '../src/runs/pruning.js';
import { runTraining } from '../src/runs/training.js';
import { loadFashionMNIST } from '../src/train/data/fashion-mnist.js';
import { modelToOnnx } from '../src/train/export/onnx.js';
import { readWeight } from '../src/train/export/model-weights.js';
import { Linear } from '../src/train/layers/linear.js';
import { encodeSafetensors, type SafetensorsTensor } from '../src/train/safetensors.js';
import { recordStdout } from './record.js';

recordStdout('inference');

const { values } = parseArgs({
  options: {
    hidden: { type: 'string', default: '2048,2048' },
    epochs: { type: 'string', default: '5' },
    'finetune-epochs': { type: 'string', default: '2' },
    sparsity: { type: 'string', default: '0.5,0.75,0.9,0.95' },
    'block-size': { type: 'string', default: '32' },
    run: { type: 'string' },
    rounds: { type: 'string', default: '15' },
    threads: { type: 'string', default: '2' },
    limit: { type: 'string' },
    json: { type: 'string' },
    plot: { type: 'string' },
  },
});
const threads = Number(values.threads);
const rounds = Number(values.rounds);
const sparsities = values.sparsity.split(',').map(Number);
const BATCHES = [1, 256] as const;
const work = mkdtempSync(join(os.tmpdir(), 'blocksparse-inference-'));
const log = (m: string) => process.stderr.write(`${m}\n`);

process.stdout.write(`node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}); ${threads} threads for every engine; onnxruntime-node ${ort.env.versions.node}\n`);

// 1. The dense model: trained here, or the run given.
let source = values.run;
if (source === undefined) {
  source = join(work, 'dense');
  const hidden = values.hidden.split(',').map(Number);
  const trained = await runTraining(
    {
      out: source, epochs: Number(values.epochs), backend: 'cpu',
      settings: {
        data: 'fashion-mnist', hidden, blockSize: 32, batch: 128, lr: 1e-3, optimizer: 'adam', momentum: 0.9, weightDecay: 0, l0LrScale: 1, sparseInput: false, seed: 1,
        ...(values.limit ? { limit: Number(values.limit) } : {}),
      },
    },
    { log, onEpoch: (m) => log(`  dense epoch ${m.epoch + 1}: test accuracy ${'testAccuracy' in m ? (100 * m.testAccuracy).toFixed(2) : '?'}%`) },
  );
  process.stdout.write(`dense MLP 784 -> ${hidden.join(' -> ')} -> 10 trained ${values.epochs} epochs (Adam lr 1e-3, batch 128): test accuracy ${(100 * (trained.summary as { testAccuracy: number }).testAccuracy).toFixed(2)}%\n`);
}

// 2. Pruned after training, each level fine-tuned.
const pruned = await pruneRun(
  { run: source, sparsities, finetuneEpochs: Number(values['finetune-epochs']), out: join(work, 'pruned'), blockSize: Number(values['block-size']) as BlockSize, backend: 'cpu' },
  { log, onLevel: (l) => log(`  sparsity ${l.sparsity}: ${(100 * l.pruned).toFixed(2)}% pruned, ${l.finetuned === null ? '-' : (100 * l.finetuned).toFixed(2)}% fine-tuned`) },
);
process.stdout.write(`pruned after training (block magnitude, blocks of up to ${values['block-size']}: the input layer in blocks of 16, 784 = 49 x 16), each level fine-tuned ${pruned.finetuneEpochs} epochs with its layouts fixed\n`);

// 3. The engines, on the same inputs.
const test = loadFashionMNIST({ split: 'test' });
const inputs = test.images.subarray(0, 256 * test.features);
const backend = await createCpuBackend({ threads });
const dense = await loadModel(source, { backend });
const levels: { sparsity: number; model: LoadedModel; accuracy: number }[] = [];
for (const level of pruned.levels) levels.push({ sparsity: level.sparsity, model: await loadModel(level.dir, { backend }), accuracy: level.finetuned ?? level.pruned });

/** A timed engine: one call on a batch of `rows` examples. */
interface Engine {
  name: string;
  call: (rows: number) => Promise<unknown>;
}

const ours = (name: string, model: LoadedModel): Engine => ({ name, call: (rows) => model.predict(inputs.subarray(0, rows * 784), rows) });
const onnxSession = async (model: LoadedModel): Promise<ort.InferenceSession> =>
  ort.InferenceSession.create(await modelToOnnx(model.model), { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
const ortDense = await onnxSession(dense);
const ortPruned = await onnxSession(levels.find((l) => l.sparsity === 0.9)?.model ?? levels[levels.length - 1].model);
const inOrt = (name: string, session: ort.InferenceSession): Engine => ({
  name,
  call: async (rows) => {
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', inputs.slice(0, rows * 784), [rows, 784]) });
    return out[session.outputNames[0]].data;
  },
});

// ONNX Runtime must compute what we compute (the export's check, here on the trained model).
{
  const ourLogits = (await dense.predict(inputs.subarray(0, 4 * 784), 4)).logits;
  const theirs = (await inOrt('', ortDense).call(4)) as Float32Array;
  const worst = ourLogits.reduce((w, v, i) => Math.max(w, Math.abs(v - theirs[i]) / (1 + Math.abs(v))), 0);
  if (!(worst < 1e-4)) throw new Error(`ONNX Runtime's logits differ from ours by ${worst}`);
}

const engines: Engine[] = [
  inOrt('ONNX Runtime dense', ortDense),
  ours('ours dense', dense),
  ...levels.map((l) => ours(`ours ${l.sparsity}`, l.model)),
  inOrt(`ONNX Runtime ${levels.find((l) => l.sparsity === 0.9) ? 0.9 : levels[levels.length - 1].sparsity} (zeros)`, ortPruned),
];

/** Median seconds per call of each engine at `rows`, the engines interleaved round by round. */
async function time(rows: number): Promise<Map<string, number>> {
  const calls = Math.max(1, Math.round(2000 / rows));
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

const timings = new Map<number, Map<string, number>>();
for (const rows of BATCHES) timings.set(rows, await time(rows));

// 4. PyTorch CPU on the dense weights (w<i> [in, out], b<i>), when Debian's python3-torch is installed.
let torch: { version: string; seconds: Map<number, number> } | null = null;
try {
  execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
  const tensors: [string, SafetensorsTensor][] = [];
  let i = 0;
  for (const layer of dense.model.layers) {
    if (!(layer instanceof Linear)) continue;
    const w = await readWeight(layer);
    tensors.push([`w${i}`, { dtype: 'F32', shape: [layer.inFeatures, layer.outFeatures], data: w.values }]);
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
  const ourLogits = (await dense.predict(inputs.subarray(0, 4 * 784), 4)).logits;
  const worst = out.logits.flat().reduce((w, v, j) => Math.max(w, Math.abs(v - ourLogits[j]) / (1 + Math.abs(v))), 0);
  if (!(worst < 1e-4)) throw new Error(`PyTorch's logits differ from ours by ${worst}`);
  torch = { version: out.torch, seconds: new Map(out.results.map((r) => [r.batch, r.seconds])) };
} catch (error) {
  if ((error as { code?: string }).code !== undefined || String(error).includes('import torch')) log(`PyTorch: not measured (${String(error).split('\n')[0]})`);
  else throw error;
}

// 5. The table: accuracy, parameters, latency and throughput, speed-ups over ONNX Runtime dense.
const ortName = 'ONNX Runtime dense';
const rows: string[][] = [];
const points: { series: string; x: number; y: number; label: string }[] = [];
const record: Record<string, unknown>[] = [];
const accuracyOf = (name: string): number | null => {
  if (name === 'ours dense' || name === ortName || name.startsWith('PyTorch')) return pruned.dense;
  const level = levels.find((l) => name === `ours ${l.sparsity}`);
  if (level) return level.accuracy;
  const zeros = levels.find((l) => name.startsWith(`ONNX Runtime ${l.sparsity}`));
  return zeros ? zeros.accuracy : null;
};
const parametersOf = (name: string): number | null => {
  const level = levels.find((l) => name === `ours ${l.sparsity}` || name.startsWith(`ONNX Runtime ${l.sparsity}`));
  return level ? pruned.levels.find((p) => p.sparsity === level.sparsity)!.parameters : pruned.parameters;
};
const names = [...engines.map((e) => e.name), ...(torch ? [`PyTorch ${torch.version} dense`] : [])];
const secondsOf = (name: string, batch: number): number => (name.startsWith('PyTorch') ? torch!.seconds.get(batch)! : timings.get(batch)!.get(name)!);
for (const name of names) {
  const accuracy = accuracyOf(name);
  const [lat, thr] = [secondsOf(name, 1), secondsOf(name, 256)];
  const [ortLat, ortThr] = [secondsOf(ortName, 1), secondsOf(ortName, 256)];
  rows.push([
    name, accuracy === null ? '-' : `${(100 * accuracy).toFixed(2)} %`, String(parametersOf(name)),
    `${(lat * 1e3).toFixed(3)}`, `${(ortLat / lat).toFixed(2)}x`, `${Math.round(256 / thr)}`, `${(ortThr / thr).toFixed(2)}x`,
  ]);
  record.push({ name, accuracy, parameters: parametersOf(name), batch1Seconds: lat, batch256Seconds: thr, batch1SpeedUp: ortLat / lat, batch256SpeedUp: ortThr / thr });
  if (accuracy !== null) points.push({ series: name.startsWith('ours') ? 'ours (CPU backend)' : name.startsWith('PyTorch') ? 'PyTorch CPU' : 'ONNX Runtime', x: ortThr / thr, y: 100 * accuracy, label: name });
}
process.stdout.write(`\n${formatTable(['model', 'test accuracy', 'parameters', 'batch 1 ms', 'vs ORT dense', 'batch 256 examples/s', 'vs ORT dense'], rows)}`);

// 6. The targets.
const target = levels.find((l) => l.sparsity === 0.9);
if (target) {
  const name = 'ours 0.9';
  const drop = 100 * (pruned.dense - target.accuracy);
  const speed256 = secondsOf(ortName, 256) / secondsOf(name, 256);
  const speed1 = secondsOf(ortName, 1) / secondsOf(name, 1);
  process.stdout.write('\ntargets at 90% block sparsity (fine-tuned):\n');
  process.stdout.write(`  accuracy within 1 point of dense: ${drop >= 0 ? '-' : '+'}${Math.abs(drop).toFixed(2)} points: ${drop <= 1 ? 'met' : 'missed'}\n`);
  process.stdout.write(`  batch 256 >= 4x ONNX Runtime dense: ${speed256.toFixed(2)}x: ${speed256 >= 4 ? 'met' : 'missed'}\n`);
  process.stdout.write(`  batch 1 >= 2x ONNX Runtime dense: ${speed1.toFixed(2)}x: ${speed1 >= 2 ? 'met' : 'missed'}\n`);
}

if (values.plot) {
  await savePlot(values.plot, scatterPlot(points, { title: 'Fashion-MNIST MLP: accuracy against batch-256 speed-up over ONNX Runtime dense', x: 'speed-up over ONNX Runtime dense (batch 256)', y: 'test accuracy (%)' }));
  process.stdout.write(`plot: ${values.plot}\n`);
}
if (values.json) writeFileSync(values.json, `${JSON.stringify({ source, prune: pruned, results: record }, null, 2)}\n`);

for (const l of levels) await l.model.dispose();
await dense.dispose();
await ortDense.release();
await ortPruned.release();
await backend.dispose();
rmSync(work, { recursive: true, force: true });
