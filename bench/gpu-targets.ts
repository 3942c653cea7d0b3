/*
 * The GPU targets of issue 13, judged on the rows of the GPU kit's benchmark (bench/gpu-bench.ts):
 * the sparse forward at bs 32, density 0.1, C = K = 4096 against our dense matmul of the same shape
 * (N = 512 and 4096), and our dense 4096^3 matmul against the GPU's fp32 peak and against cuBLAS
 * (PyTorch, TF32 off) when PyTorch with CUDA is present. Pure functions, so the judging is tested
 * on made-up rows without a GPU (test/bench/gpu-kit.test.ts).
 */
import type { KernelBenchRow } from '../src/kernels/bench.js';

/** A target's outcome: met, missed, or not judged (a software adapter, a row not in the grid, no peak or no peer). */
export type Verdict = 'met' | 'MISSED' | 'not judged';

/** One judged target, with the figures behind the verdict. */
export interface TargetResult {
  /** What the target asks, e.g. "sparse forward bs32 d=0.1 C=K=4096 N=512: GPU time <= 0.15x our dense". */
  target: string;
  verdict: Verdict;
  /** The measured figures, or why the target is not judged. */
  detail: string;
}

/** The peer's times (bench/gpu-torch.py's JSON): PyTorch's fp32 dense matmul X[N, F] @ W[F, F], TF32 off. */
export interface PeerTimes {
  /** "PyTorch". */
  name: string;
  /** torch.__version__. */
  version: string;
  /** torch.cuda.get_device_name(0). */
  device: string;
  features: number;
  /** Seconds per call by CUDA events (the GPU's time), keyed by N as a string. */
  gpuSeconds: Record<string, number>;
  /** Seconds per call by the host clock around the same calls and a synchronize, keyed by N. */
  seconds: Record<string, number>;
}

/** An fp32 (non-tensor-core) peak by GPU name: the first pattern that matches the name wins. */
export interface Fp32Peak {
  pattern: RegExp;
  /** Peak fp32 TFLOP/s at boost clock (NVIDIA's data sheets). */
  tflops: number;
  label: string;
}

/** The fp32 peaks the kit knows, most specific first (NVIDIA's data sheets, boost clock, no sparsity). */
export const FP32_PEAKS: readonly Fp32Peak[] = [
  { pattern: /H100.*PCIe/i, tflops: 51.2, label: 'H100 PCIe' },
  { pattern: /H100.*NVL|H200.*NVL/i, tflops: 60, label: 'H100/H200 NVL' },
  { pattern: /GH200/i, tflops: 67, label: 'GH200' },
  { pattern: /H100|H800/i, tflops: 66.9, label: 'H100 SXM' },
  { pattern: /H200/i, tflops: 66.9, label: 'H200 SXM' },
  { pattern: /A100/i, tflops: 19.5, label: 'A100' },
];

/** What an adapter says it is (the fields of src/kernels/webgpu's AdapterSummary). */
export interface AdapterIdentity {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

/** CPU implementations of Vulkan or WebGPU, by the names their drivers report. */
const SOFTWARE_NAMES = /lavapipe|llvmpipe|swiftshader/i;

/** Whether an adapter is a software one: a fallback adapter, or lavapipe / llvmpipe / SwiftShader by name. */
export function isSoftwareAdapter(adapter: AdapterIdentity): boolean {
  return adapter.isFallbackAdapter || SOFTWARE_NAMES.test(`${adapter.vendor} ${adapter.architecture} ${adapter.device} ${adapter.description}`);
}

/** Exit statuses of bench/gpu-probe.ts, read by bench/gpu.sh. */
export const PROBE_EXIT = { hardware: 0, software: 10, none: 11, dawnFailed: 12 } as const;

/** Exit statuses of bench/gpu.sh run and of bench/gpu-bench.ts (docs/gpu-benchmark.md lists them). */
export const KIT_EXIT = { ok: 0, usage: 2, missing: 3, software: 4, noAdapter: 5, benchFailed: 6, timeout: 7 } as const;

/** The fp32 peak of the GPU named `gpuName` (nvidia-smi's name or the adapter's description), or null when unknown. */
export function fp32Peak(gpuName: string): Fp32Peak | null {
  return FP32_PEAKS.find((p) => p.pattern.test(gpuName)) ?? null;
}

/** What `judgeTargets` needs besides the rows. */
export interface JudgeOptions {
  /** The adapter is a software one (lavapipe, SwiftShader): nothing is judged. */
  software: boolean;
  /** The GPU's name, for its fp32 peak ('' when unknown). */
  gpuName: string;
  /** PyTorch's times, or null when PyTorch with CUDA is absent (peers only when present, never required). */
  peer: PeerTimes | null;
}

/** C = K of the targets. */
export const TARGET_FEATURES = 4096;
/** The batches of the sparse targets; the dense targets use the last (4096^3). */
export const TARGET_BATCHES: readonly number[] = [512, 4096];

const TFLOPS = (flops: number, seconds: number) => flops / seconds / 1e12;
const fmt = (x: number, digits = 3) => x.toPrecision(digits);

/**
 * Judges issue 13's targets on benchmark rows. Times are the GPU's own (timestamp queries) when the
 * rows carry them, else the wall clock (and the detail says so). A target whose row is not in the
 * grid, whose GPU has no known peak or whose peer is absent is 'not judged'; on a software adapter
 * every target is 'not judged'.
 */
export function judgeTargets(rows: readonly KernelBenchRow[], options: JudgeOptions): TargetResult[] {
  const f = TARGET_FEATURES;
  const results: TargetResult[] = [];
  const add = (target: string, verdict: Verdict, detail: string) => results.push({ target, verdict, detail });
  const judge = (ok: boolean): Verdict => (ok ? 'met' : 'MISSED');
  for (const n of TARGET_BATCHES) {
    const name = `sparse forward bs32 d=0.1 C=K=${f} N=${n}`;
    const timeTarget = `${name}: GPU time <= 0.15x our dense of the same shape`;
    const rateTarget = `${name}: FLOP rate per present block >= 40% of our dense's`;
    const row = rows.find((r) => r.product === 'forward' && r.blockSize === 32 && r.density === 0.1 && r.batch === n && r.features === f);
    if (options.software || !row) {
      const why = options.software ? 'software adapter' : 'not in this grid';
      add(timeTarget, 'not judged', why);
      add(rateTarget, 'not judged', why);
      continue;
    }
    const gpu = row.gpuSeconds !== null && row.denseGpuSeconds !== null;
    const t = gpu ? row.gpuSeconds! : row.seconds;
    const tDense = gpu ? row.denseGpuSeconds! : row.denseSeconds;
    const clock = gpu ? 'GPU time' : 'wall clock (no timestamp queries)';
    const ratio = t / tDense;
    add(timeTarget, judge(ratio <= 0.15), `${clock}: ${fmt(t * 1e3)} ms = ${ratio.toFixed(3)}x our dense ${fmt(tDense * 1e3)} ms`);
    const rate = TFLOPS(row.flops, t);
    const denseRate = TFLOPS(2 * n * f * f, tDense);
    add(rateTarget, judge(rate >= 0.4 * denseRate), `${clock}: ${fmt(rate)} TFLOP/s over ${row.nnz} present blocks = ${(100 * rate / denseRate).toFixed(1)}% of our dense's ${fmt(denseRate)} TFLOP/s`);
  }
  const n = TARGET_BATCHES[TARGET_BATCHES.length - 1];
  const peakTarget = `our dense ${f}x${f}x${f}: >= 40% of fp32 peak`;
  const peerTarget = `our dense ${f}x${f}x${f}: >= 30% of cuBLAS fp32 (PyTorch, TF32 off)`;
  const dense = rows.find((r) => r.product === 'forward' && r.batch === n && r.features === f);
  if (options.software || !dense) {
    const why = options.software ? 'software adapter' : 'not in this grid';
    add(peakTarget, 'not judged', why);
    add(peerTarget, 'not judged', why);
    return results;
  }
  const gpu = dense.denseGpuSeconds !== null;
  const tDense = gpu ? dense.denseGpuSeconds! : dense.denseSeconds;
  const clock = gpu ? 'GPU time' : 'wall clock (no timestamp queries)';
  const rate = TFLOPS(2 * n * f * f, tDense);
  const peak = fp32Peak(options.gpuName);
  if (!peak) add(peakTarget, 'not judged', `unknown peak for "${options.gpuName || 'unnamed GPU'}" (${clock}: ${fmt(rate)} TFLOP/s)`);
  else add(peakTarget, judge(rate >= 0.4 * peak.tflops), `${clock}: ${fmt(tDense * 1e3)} ms, ${fmt(rate)} TFLOP/s = ${(100 * rate / peak.tflops).toFixed(1)}% of ${peak.label}'s ${peak.tflops} TFLOP/s`);
  const peerSeconds = options.peer?.features === f ? options.peer.gpuSeconds[String(n)] : undefined;
  if (!options.peer || peerSeconds === undefined) {
    add(peerTarget, 'not judged', options.peer ? `the peer did not time N=${n}, C=K=${f}` : 'PyTorch with CUDA absent (peers only when present)');
  } else {
    const peerRate = TFLOPS(2 * n * f * f, peerSeconds);
    add(peerTarget, judge(rate >= 0.3 * peerRate), `${clock}: ${fmt(rate)} TFLOP/s = ${(100 * rate / peerRate).toFixed(1)}% of ${options.peer.name} ${options.peer.version}'s ${fmt(peerRate)} TFLOP/s (CUDA events, ${fmt(peerSeconds * 1e3)} ms)`);
  }
  return results;
}

/** The targets as lines: "<target>: <detail>: <verdict>". */
export function formatTargets(results: readonly TargetResult[]): string {
  return results.map((r) => `${r.target}: ${r.detail}: ${r.verdict}\n`).join('');
}
