import os from 'node:os';
import ndarray, { type NdArray } from 'ndarray';
import { checkInteger } from '../../check.js';
import type { BlockLayout } from '../../patterns/layout.js';
import { checkBackwardData, checkForward, checkMatmul, checkReadTarget, checkTensor, checkWeightGrad } from '../checks.js';
import { BackendUnavailableError } from '../errors.js';
import { convWeightShape, type Conv2dGeometry, type ConvShape } from '../conv.js';
import { checkConv2d, checkConv2dBackwardData, checkConv2dWeightGrad } from '../conv-checks.js';
import type { Backend, BackendStats, Conv2dBackwardDataOptions, Conv2dOptions, Conv2dWeightGradOptions, GateOptions, HostData, MatmulOptions, Tensor, WeightGradOptions, WeightGradResult } from '../types.js';
import type { KernelExports } from './abi.js';
import { convProductPlan, convWeightGradPlan } from './conv-plans.js';
import { LayoutTableCache } from './layout-tables.js';
import { PanelCache } from './panel-cache.js';
import { SharedHeap } from './memory.js';
import { blockProductPlan, densePanelBytes, matmulPlan, weightGradPlan, type Plan } from './plans.js';
import { ThreadPool } from './pool.js';
import type { CpuTensor } from './tensor.js';
import { byteOffset as offset, TensorStore } from './tensors.js';
import { settle } from '../settle.js';
import { installTrainingOps, type TrainingOpMethods } from '../training-op-methods.js';
import type { TrainingOpName, TrainingOps } from '../training-ops.js';
import { ARGUMENT_WORDS } from './abi.js';
import { runTrainingBatch, runTrainingOp, type TrainingRunContext } from './training-runner.js';
import { checkWasmSupport, kernelBytes, MAX_PAGES, PAGE_BYTES } from './wasm.js';

export { WorkerError } from './errors.js';
export { OutOfMemoryError } from './memory.js';

/** Options of `createCpuBackend`. */
export interface CpuBackendOptions {
  /** Threads in all, the calling thread included (default os.availableParallelism()). */
  threads?: number;
  /** Use the relaxed-SIMD build (fused multiply-add) where the engine accepts it (default true). */
  relaxed?: boolean;
  /** The most memory tensors, tables and temporaries may take, in bytes (default and maximum 4 GiB, all a 32-bit WebAssembly memory addresses). */
  maxMemoryBytes?: number;
  /** Memory to start with, in bytes (default 16 MiB); it grows as needed up to maxMemoryBytes. */
  initialMemoryBytes?: number;
  /** Test hook: false leaves every unit to the workers (default true: the calling thread works too). */
  callerWorks?: boolean;
  /** Phases with less work than this, in floating-point operations, run in the calling thread alone (default 2^22: below it two threads lose to one on a 2-core machine, the workers' wake-up and join costing ~25 us; a training op's work is its elements times its spec's `cost`). */
  minParallelFlops?: number;
}

/** The backend's counters: BackendStats plus phases run, and how many of them woke the workers. */
export interface CpuStats extends BackendStats {
  phases: number;
  parallelPhases: number;
  /** Bytes the shared memory has now. */
  memoryBytes: number;
  /** Block products that found their weight panels already packed (unchanged weights). */
  panelHits: number;
}

const MAX_MEMORY_BYTES = MAX_PAGES * PAGE_BYTES;

/**
 * The CPU kernel backend: WebAssembly SIMD kernels (assembly/kernels.ts) on the calling thread and
 * `threads - 1` worker threads, all over one shared WebAssembly memory that holds the tensors.
 * Each product packs its operands into the kernels' streams, then computes, both split into units
 * that the threads take from a shared counter. Products run one at a time, in call order; while
 * one runs the calling thread works on it too, so a product holds the event loop for its share.
 * The tensors and the call order are in `TensorStore` (cpu/tensors.ts); every training operation
 * runs through cpu/training-runner.ts, from its spec (training-ops.ts) and its kernel.
 */
// The training operations' methods are installed from the runner (training-op-methods.ts).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface CpuBackend extends TrainingOpMethods {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class CpuBackend implements Backend {
  static {
    installTrainingOps(CpuBackend.prototype, (backend: CpuBackend, name, args) => runTrainingOp(backend.#trainingContext(), name, args));
  }

  readonly name = 'cpu' as const;
  readonly description: string;
  readonly threads: number;
  /** Whether the kernels use relaxed SIMD (fused multiply-add). */
  readonly relaxed: boolean;
  readonly #heap: SharedHeap;
  readonly #pool: ThreadPool;
  readonly #tables: LayoutTableCache;
  readonly #panels: PanelCache;
  readonly #tensors: TensorStore;
  readonly #training: TrainingRunContext;
  readonly #compilations: number;

  /** Use `createCpuBackend`. */
  constructor(heap: SharedHeap, pool: ThreadPool, relaxed: boolean, compilations: number) {
    this.#heap = heap;
    this.#pool = pool;
    this.#tables = new LayoutTableCache(heap);
    this.#panels = new PanelCache(heap);
    this.#tensors = new TensorStore(heap, this, () => this.#check(), (t) => this.#panels.drop(t));
    this.#training = { backend: this, tensors: this.#tensors, pool, args: heap.alloc(4 * ARGUMENT_WORDS) };
    this.relaxed = relaxed;
    this.threads = pool.threads;
    this.#compilations = compilations;
    this.description = `CPU: ${this.threads} thread${this.threads === 1 ? '' : 's'}, WebAssembly SIMD${relaxed ? ' (relaxed: fused multiply-add)' : ''}`;
  }

  /** Counts of layout uploads, compilations and jobs so far (for tests and benchmarks). */
  get stats(): CpuStats {
    return {
      layoutUploads: this.#tables.uploads,
      panelHits: this.#panels.hits,
      compilations: this.#compilations,
      phases: this.#pool.phases,
      parallelPhases: this.#pool.parallelPhases,
      memoryBytes: this.#heap.capacityBytes,
    };
  }

  /** Throws when the backend cannot take work: disposed, or a worker failed. */
  #check(): void {
    if (this.#tensors.disposed) throw new BackendUnavailableError('the cpu backend was disposed');
    if (this.#pool.failure) throw this.#pool.failure;
  }

  tensor(data: HostData, shape?: readonly number[]): Tensor {
    this.#check();
    return this.#tensors.upload(data, shape);
  }

  zeros(shape: readonly number[]): Tensor {
    this.#check();
    return this.#tensors.zeros(shape);
  }

  empty(shape: readonly number[]): Tensor {
    this.#check();
    return this.#tensors.allocate(shape);
  }

  async read(tensor: Tensor, into?: Float32Array): Promise<Float32Array> {
    this.#check();
    checkTensor(this, tensor, 'tensor');
    checkReadTarget(tensor, into);
    // After every operation called before it (an in-place step may still be queued).
    await this.#tensors.settled;
    this.#check();
    checkTensor(this, tensor, 'tensor');
    return this.#tensors.values(tensor as CpuTensor, into);
  }

  async readNdarray(tensor: Tensor, into?: Float32Array): Promise<NdArray<Float32Array>> {
    return ndarray(await this.read(tensor, into), [...tensor.shape]);
  }

  async forward(layout: BlockLayout, x: Tensor, w: Tensor, options: GateOptions = {}): Promise<Tensor> {
    this.#check();
    const n = checkForward(this, layout, x, w, options.gates);
    return this.#tensors.exclusive([x, w, options.gates], () => this.#blockProduct(true, layout, n, x, w, options.gates));
  }

  async backwardData(layout: BlockLayout, dy: Tensor, w: Tensor, options: GateOptions = {}): Promise<Tensor> {
    this.#check();
    const n = checkBackwardData(this, layout, dy, w, options.gates);
    return this.#tensors.exclusive([dy, w, options.gates], () => this.#blockProduct(false, layout, n, dy, w, options.gates));
  }

  #blockProduct(forward: boolean, layout: BlockLayout, n: number, x: Tensor, w: Tensor, gates?: Tensor): Tensor | Promise<Tensor> {
    const out = this.#tensors.allocate([n, forward ? layout.outFeatures : layout.inFeatures]);
    if (layout.nnz === 0) {
      this.#tensors.fillZero(out);
      return out;
    }
    const tables = this.#tables.get(layout);
    const panels = this.#panels.panels(w as CpuTensor, forward ? 'forward' : 'backward', 4 * w.size, layout, gates as CpuTensor | undefined)!;
    return settle(
      () => this.#run(blockProductPlan({ forward, layout, tables, rows: n, x: offset(x), w: offset(w), gates: offset(gates), y: out.offset, panels, threads: this.threads }), [out]),
      (ok) => this.#panels.release(ok),
      () => out,
    );
  }

  /**
   * Runs a product's plan: allocates its temporaries, runs its phases in order, frees them; disposes
   * `outputs` when it fails. Small phases run now in the calling thread: when all of them are, the
   * plan has ended when this returns (undefined); otherwise it returns a promise of its end.
   */
  #run(plan: Plan, outputs: (Tensor | undefined)[]): void | Promise<void> {
    const temps: number[] = [];
    return settle(
      () => {
        for (const bytes of plan.temporaries) temps.push(this.#heap.alloc(bytes));
        const phases = plan.phases(temps);
        let i = 0;
        while (i < phases.length && this.#pool.runNow(phases[i])) i++;
        if (i === phases.length) return;
        return (async () => {
          for (; i < phases.length; i++) await this.#pool.run(phases[i]);
        })();
      },
      (ok) => {
        if (!ok) for (const t of outputs) t?.dispose();
        for (const at of temps) this.#heap.free(at);
      },
      () => undefined,
    );
  }

  async weightGrad(layout: BlockLayout, x: Tensor, dy: Tensor, options: WeightGradOptions = {}): Promise<WeightGradResult> {
    this.#check();
    const n = checkWeightGrad(this, layout, x, dy, options.gates, options.weights);
    const { gates, weights } = options;
    return this.#tensors.exclusive([x, dy, gates, weights], () => {
      const bs = layout.blockSize;
      const dw = this.#tensors.allocate([layout.nnz, bs, bs]);
      const dgates = weights ? this.#tensors.allocate([layout.nnz]) : undefined;
      const result: WeightGradResult = dgates ? { dw, dgates } : { dw };
      if (layout.nnz === 0) return result;
      const tables = this.#tables.get(layout);
      const operands = { x: offset(x), dy: offset(dy), dw: dw.offset, gates: offset(gates), weights: offset(weights), dgates: offset(dgates) };
      return settle(() => this.#run(weightGradPlan({ layout, tables, rows: n, ...operands, threads: this.threads }), [dw, dgates]), () => undefined, () => result);
    });
  }

  async conv2d(layout: BlockLayout, x: Tensor, w: Tensor, options: Conv2dOptions): Promise<Tensor> {
    this.#check();
    const { geometry, shape } = checkConv2d(this, layout, x, w, options, options?.gates);
    return this.#tensors.exclusive([x, w, options.gates], () => this.#convProduct(true, layout, geometry, shape, x, w, options.gates));
  }

  async conv2dBackwardData(layout: BlockLayout, dy: Tensor, w: Tensor, options: Conv2dBackwardDataOptions): Promise<Tensor> {
    this.#check();
    const { geometry, shape } = checkConv2dBackwardData(this, layout, dy, w, options, options?.inputSize, options?.gates);
    return this.#tensors.exclusive([dy, w, options.gates], () => this.#convProduct(false, layout, geometry, shape, dy, w, options.gates));
  }

  /** conv2d (forward) or conv2dBackwardData: implicit GEMM over the gated weights' panels (cached as the block products' are). */
  #convProduct(forward: boolean, layout: BlockLayout, geometry: Conv2dGeometry, shape: ConvShape, src: Tensor, w: Tensor, gates?: Tensor): Tensor | Promise<Tensor> {
    const [C, K] = shape.channels;
    const [h, wd] = forward ? shape.outputSize : shape.inputSize;
    const out = this.#tensors.allocate([shape.n, h, wd, forward ? K : C]);
    if (layout.nnz === 0) {
      this.#tensors.fillZero(out);
      return out;
    }
    const tables = this.#tables.get(layout);
    // A conv weight [nnz, kh, kw, bs, bs] is never a block product's [nnz, bs, bs]: the kinds do not collide.
    const panels = this.#panels.panels(w as CpuTensor, forward ? 'forward' : 'backward', 4 * w.size, layout, gates as CpuTensor | undefined)!;
    return settle(
      () => this.#run(convProductPlan({ forward, layout, tables, geometry, shape, src: offset(src), w: offset(w), gates: offset(gates), y: out.offset, panels, threads: this.threads }), [out]),
      (ok) => this.#panels.release(ok),
      () => out,
    );
  }

  async conv2dWeightGrad(layout: BlockLayout, x: Tensor, dy: Tensor, options: Conv2dWeightGradOptions): Promise<WeightGradResult> {
    this.#check();
    const { geometry, shape } = checkConv2dWeightGrad(this, layout, x, dy, options, options?.gates, options?.weights);
    const { gates, weights } = options;
    return this.#tensors.exclusive([x, dy, gates, weights], () => {
      const dw = this.#tensors.allocate(convWeightShape(layout, geometry));
      const dgates = weights ? this.#tensors.allocate([layout.nnz]) : undefined;
      const result: WeightGradResult = dgates ? { dw, dgates } : { dw };
      if (layout.nnz === 0) return result;
      const tables = this.#tables.get(layout);
      const operands = { x: offset(x), dy: offset(dy), dw: dw.offset, gates: offset(gates), weights: offset(weights), dgates: offset(dgates) };
      return settle(() => this.#run(convWeightGradPlan({ layout, tables, geometry, shape, ...operands, threads: this.threads }), [dw, dgates]), () => undefined, () => result);
    });
  }

  async matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Promise<Tensor> {
    this.#check();
    const transposeA = options.transposeA ?? false;
    const transposeB = options.transposeB ?? false;
    const [m, k, n] = checkMatmul(this, a, b, transposeA, transposeB);
    return this.#tensors.exclusive([a, b], () => {
      const out = this.#tensors.allocate([m, n]);
      if (m === 0 || n === 0) return out;
      if (k === 0) {
        this.#tensors.fillZero(out);
        return out;
      }
      const panels = this.#panels.panels(b as CpuTensor, transposeB ? 'dense-transposed' : 'dense', densePanelBytes(k, n));
      return settle(
        () => this.#run(matmulPlan({ m, k, n, a: offset(a), b: offset(b), transposeA, transposeB, c: out.offset, panels, threads: this.threads }), [out]),
        (ok) => this.#panels.release(ok),
        () => out,
      );
    });
  }

  async batch<N extends TrainingOpName>(name: N, calls: readonly Parameters<TrainingOps<Tensor>[N]>[]): Promise<Awaited<ReturnType<TrainingOps<Tensor>[N]>>[]> {
    return (await runTrainingBatch(this.#trainingContext(), name, calls)) as Awaited<ReturnType<TrainingOps<Tensor>[N]>>[];
  }

  /** The training runner's context, once the backend is known to take work. */
  #trainingContext(): TrainingRunContext {
    this.#check();
    return this.#training;
  }

  async sync(): Promise<void> {
    this.#check();
    await this.#tensors.settled;
    this.#check();
  }

  /** Test hook: the next unit a worker takes throws there, as a crashing worker would. */
  injectWorkerFault(): void {
    this.#pool.injectFault();
  }

  async dispose(): Promise<void> {
    if (this.#tensors.disposed) return;
    await this.#tensors.close();
    this.#tables.close();
    this.#panels.close();
    await this.#pool.close();
  }
}

/**
 * A CPU backend: checks that WebAssembly SIMD and shared memory work, compiles the kernel module
 * once (the relaxed-SIMD build when asked and accepted), and starts `threads - 1` workers.
 * BackendUnavailableError when something is missing; ParameterError for bad options.
 */
export async function createCpuBackend(options: CpuBackendOptions = {}): Promise<CpuBackend> {
  const context = 'createCpuBackend';
  const threads = options.threads === undefined ? Math.max(1, os.availableParallelism()) : checkInteger('threads', options.threads, 1, 256, context);
  const maxMemoryBytes = options.maxMemoryBytes === undefined ? MAX_MEMORY_BYTES : checkInteger('maxMemoryBytes', options.maxMemoryBytes, 4 * PAGE_BYTES, MAX_MEMORY_BYTES, context);
  const initialMemoryBytes = options.initialMemoryBytes === undefined
    ? Math.min(16 * 2 ** 20, maxMemoryBytes)
    : checkInteger('initialMemoryBytes', options.initialMemoryBytes, 0, maxMemoryBytes, context);
  const minParallelFlops = options.minParallelFlops === undefined ? 2 ** 22 : checkInteger('minParallelFlops', options.minParallelFlops, 0, Number.MAX_SAFE_INTEGER, context);
  checkWasmSupport();
  const { bytes, relaxed } = kernelBytes(options.relaxed ?? true);
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bytes);
  } catch (error) {
    throw new BackendUnavailableError(`the cpu backend's kernel module does not compile here: ${(error as Error).message}`);
  }
  const heap = new SharedHeap(maxMemoryBytes, initialMemoryBytes);
  const instance = new WebAssembly.Instance(module, { env: { memory: heap.memory } });
  const pool = await ThreadPool.create(module, heap, instance.exports as unknown as KernelExports, {
    threads,
    callerWorks: options.callerWorks ?? true,
    minParallelFlops,
  });
  return new CpuBackend(heap, pool, relaxed, 1);
}
