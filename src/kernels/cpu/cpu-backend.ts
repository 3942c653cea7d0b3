import os from 'node:os';
import ndarray, { type NdArray } from 'ndarray';
import { checkInteger, checkNumber } from '../../check.js';
import type { BlockLayout } from '../../patterns/layout.js';
import {
  checkActivationKind, checkAddBias, checkBackwardData, checkBlockNormKind, checkBlocks, checkDistinct, checkForward, checkGatherIds, checkHardConcrete,
  checkLayerNorm, checkLayerNormGrad, checkMatmul, checkMatrix, checkSameShape, checkShape, checkSoftmaxCrossEntropy, checkTensor, checkWeightGrad,
  resolveAdam, resolveHardConcrete, resolveSgd, scatterSources,
} from '../checks.js';
import { BackendUnavailableError } from '../errors.js';
import { packHostData } from '../host-data.js';
import type {
  ActivationKind, AdamStepOptions, Backend, BackendStats, BlockNormKind, GateOptions, HardConcreteOptions, HostData, L0PenaltyResult, LayerNormGradResult,
  LayerNormResult, MatmulOptions, SgdStepOptions, SoftmaxCrossEntropyResult, Tensor, WeightGradOptions, WeightGradResult,
} from '../types.js';
import type { KernelExports } from './abi.js';
import { LayoutTableCache } from './layout-tables.js';
import { SharedHeap } from './memory.js';
import { blockProductPlan, matmulPlan, weightGradPlan, type Plan } from './plans.js';
import { ThreadPool } from './pool.js';
import { CpuTensor, type BackendState } from './tensor.js';
import * as ops from './training-ops.js';
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
  /** Test hook: phases with fewer floating-point operations (bytes, for packing) run in the calling thread alone (default 2^20). */
  minParallelFlops?: number;
}

/** The backend's counters: BackendStats plus phases run, and how many of them woke the workers. */
export interface CpuStats extends BackendStats {
  phases: number;
  parallelPhases: number;
  /** Bytes the shared memory has now. */
  memoryBytes: number;
}

const MAX_MEMORY_BYTES = MAX_PAGES * PAGE_BYTES;

/** A tensor's byte offset in the shared memory, 0 for none. */
const offset = (t: Tensor | undefined): number => (t ? (t as CpuTensor).offset : 0);

/**
 * The CPU kernel backend: WebAssembly SIMD kernels (assembly/kernels.ts) on the calling thread and
 * `threads - 1` worker threads, all over one shared WebAssembly memory that holds the tensors.
 * Each product packs its operands into the kernels' streams, then computes, both split into units
 * that the threads take from a shared counter. Products run one at a time, in call order; while
 * one runs the calling thread works on it too, so a product holds the event loop for its share.
 */
export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  readonly description: string;
  readonly threads: number;
  /** Whether the kernels use relaxed SIMD (fused multiply-add). */
  readonly relaxed: boolean;
  readonly #heap: SharedHeap;
  readonly #pool: ThreadPool;
  readonly #tables: LayoutTableCache;
  readonly #state: BackendState = { disposed: false };
  readonly #collected = new FinalizationRegistry<number>((offset) => {
    if (!this.#state.disposed) this.#heap.free(offset);
  });
  readonly #compilations: number;
  #tail: Promise<unknown> = Promise.resolve();

  /** Use `createCpuBackend`. */
  constructor(heap: SharedHeap, pool: ThreadPool, relaxed: boolean, compilations: number) {
    this.#heap = heap;
    this.#pool = pool;
    this.#tables = new LayoutTableCache(heap);
    this.relaxed = relaxed;
    this.threads = pool.threads;
    this.#compilations = compilations;
    this.description = `CPU: ${this.threads} thread${this.threads === 1 ? '' : 's'}, WebAssembly SIMD${relaxed ? ' (relaxed: fused multiply-add)' : ''}`;
  }

  /** Counts of layout uploads, compilations and jobs so far (for tests and benchmarks). */
  get stats(): CpuStats {
    return {
      layoutUploads: this.#tables.uploads,
      compilations: this.#compilations,
      phases: this.#pool.phases,
      parallelPhases: this.#pool.parallelPhases,
      memoryBytes: this.#heap.capacityBytes,
    };
  }

  /** Throws when the backend cannot take work: disposed, or a worker failed. */
  #check(): void {
    if (this.#state.disposed) throw new BackendUnavailableError('the cpu backend was disposed');
    if (this.#pool.failure) throw this.#pool.failure;
  }

  #allocate(shape: readonly number[]): CpuTensor {
    const size = checkShape(shape);
    const offset = this.#heap.alloc(4 * size);
    const tensor = new CpuTensor(this, this.#state, shape, offset, (t) => {
      this.#collected.unregister(t);
      if (!this.#state.disposed) this.#heap.free(t.offset);
    });
    if (offset !== 0) this.#collected.register(tensor, offset, tensor);
    return tensor;
  }

  /** Runs `body` after every product called before it, with `operands` kept alive until it ends. */
  #exclusive<T>(operands: (Tensor | undefined)[], body: () => Promise<T>): Promise<T> {
    const pinned = operands.filter((t): t is CpuTensor => t !== undefined) as CpuTensor[];
    for (const t of pinned) t.pin();
    const result = this.#tail.then(() => {
      this.#check();
      return body();
    });
    const done = result.finally(() => {
      for (const t of pinned) t.unpin();
    });
    this.#tail = done.catch(() => undefined);
    return done;
  }

  tensor(data: HostData, shape?: readonly number[]): Tensor {
    this.#check();
    const packed = packHostData(data, shape);
    const tensor = this.#allocate(packed.shape);
    if (tensor.size > 0) this.#heap.f32.set(packed.values, tensor.offset / 4);
    return tensor;
  }

  zeros(shape: readonly number[]): Tensor {
    this.#check();
    const tensor = this.#allocate(shape);
    this.#fillZero(tensor);
    return tensor;
  }

  #fillZero(tensor: CpuTensor): void {
    if (tensor.size > 0) this.#heap.f32.fill(0, tensor.offset / 4, tensor.offset / 4 + tensor.size);
  }

  async read(tensor: Tensor): Promise<Float32Array> {
    this.#check();
    checkTensor(this, tensor, 'tensor');
    // After every operation called before it (an in-place step may still be queued).
    await this.#tail;
    this.#check();
    checkTensor(this, tensor, 'tensor');
    const t = tensor as CpuTensor;
    return t.size === 0 ? new Float32Array(0) : this.#heap.f32.slice(t.offset / 4, t.offset / 4 + t.size);
  }

  async readNdarray(tensor: Tensor): Promise<NdArray<Float32Array>> {
    return ndarray(await this.read(tensor), [...tensor.shape]);
  }

  async forward(layout: BlockLayout, x: Tensor, w: Tensor, options: GateOptions = {}): Promise<Tensor> {
    this.#check();
    const n = checkForward(this, layout, x, w, options.gates);
    return this.#exclusive([x, w, options.gates], () => this.#blockProduct(true, layout, n, x, w, options.gates));
  }

  async backwardData(layout: BlockLayout, dy: Tensor, w: Tensor, options: GateOptions = {}): Promise<Tensor> {
    this.#check();
    const n = checkBackwardData(this, layout, dy, w, options.gates);
    return this.#exclusive([dy, w, options.gates], () => this.#blockProduct(false, layout, n, dy, w, options.gates));
  }

  async #blockProduct(forward: boolean, layout: BlockLayout, n: number, x: Tensor, w: Tensor, gates?: Tensor): Promise<Tensor> {
    const out = this.#allocate([n, forward ? layout.outFeatures : layout.inFeatures]);
    if (layout.nnz === 0) {
      this.#fillZero(out);
      return out;
    }
    const tables = this.#tables.get(layout);
    await this.#run(blockProductPlan({ forward, layout, tables, rows: n, x: offset(x), w: offset(w), gates: offset(gates), y: out.offset, threads: this.threads }), [out]);
    return out;
  }

  /** Runs a product's plan: allocates its temporaries, runs its phases in order, frees them; disposes `outputs` when it fails. */
  async #run(plan: Plan, outputs: (Tensor | undefined)[]): Promise<void> {
    const temps: number[] = [];
    try {
      for (const bytes of plan.temporaries) temps.push(this.#heap.alloc(bytes));
      for (const phase of plan.phases(temps)) await this.#pool.run(phase);
    } catch (error) {
      for (const t of outputs) t?.dispose();
      throw error;
    } finally {
      for (const at of temps) this.#heap.free(at);
    }
  }

  async weightGrad(layout: BlockLayout, x: Tensor, dy: Tensor, options: WeightGradOptions = {}): Promise<WeightGradResult> {
    this.#check();
    const n = checkWeightGrad(this, layout, x, dy, options.gates, options.weights);
    const { gates, weights } = options;
    return this.#exclusive([x, dy, gates, weights], async () => {
      const bs = layout.blockSize;
      const dw = this.#allocate([layout.nnz, bs, bs]);
      const dgates = weights ? this.#allocate([layout.nnz]) : undefined;
      const result = dgates ? { dw, dgates } : { dw };
      if (layout.nnz === 0) return result;
      const tables = this.#tables.get(layout);
      const operands = { x: offset(x), dy: offset(dy), dw: dw.offset, gates: offset(gates), weights: offset(weights), dgates: offset(dgates) };
      await this.#run(weightGradPlan({ layout, tables, rows: n, ...operands, threads: this.threads }), [dw, dgates]);
      return result;
    });
  }

  async matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Promise<Tensor> {
    this.#check();
    const transposeA = options.transposeA ?? false;
    const transposeB = options.transposeB ?? false;
    const [m, k, n] = checkMatmul(this, a, b, transposeA, transposeB);
    return this.#exclusive([a, b], async () => {
      const out = this.#allocate([m, n]);
      if (m === 0 || n === 0) return out;
      if (k === 0) {
        this.#fillZero(out);
        return out;
      }
      await this.#run(matmulPlan({ m, k, n, a: offset(a), b: offset(b), transposeA, transposeB, c: out.offset, threads: this.threads }), [out]);
      return out;
    });
  }

  /** Runs a training operation (plain loops in the calling thread) after every call queued before it. */
  #queueOp<T>(operands: (Tensor | null | undefined)[], body: () => T): Promise<T> {
    return this.#exclusive(operands.map((t) => t ?? undefined), async () => body());
  }

  /** A queued training operation that writes one new tensor of `shape`: `body` gets the float32 view and its element index. */
  async #produce(operands: (Tensor | null | undefined)[], shape: readonly number[], body: (f: Float32Array, out: number) => void): Promise<Tensor> {
    return (await this.#produceAll(operands, [shape], (f, [out]) => body(f, out)))[0];
  }

  /** A queued training operation that writes new tensors of `shapes` (allocated in order): `body` gets their element indices. */
  #produceAll(operands: (Tensor | null | undefined)[], shapes: (readonly number[])[], body: (f: Float32Array, outs: number[]) => void): Promise<Tensor[]> {
    return this.#queueOp(operands, () => {
      const outs = shapes.map((shape) => this.#allocate(shape));
      body(this.#heap.f32, outs.map((t) => this.#at(t)));
      return outs;
    });
  }

  /** Element index of a tensor in the heap's float32 view. */
  #at(t: Tensor | null): number {
    return t ? (t as CpuTensor).offset / 4 : -1;
  }

  async addBias(x: Tensor, bias: Tensor): Promise<Tensor> {
    this.#check();
    const [n, width] = checkAddBias(this, x, bias);
    return this.#produce([x, bias], [n, width], (f, out) => ops.addBias(f, this.#at(x), this.#at(bias), out, n, width));
  }

  async sumRows(x: Tensor): Promise<Tensor> {
    this.#check();
    const [n, width] = checkMatrix(this, x, 'x', 'sumRows');
    return this.#produce([x], [width], (f, out) => ops.sumRows(f, this.#at(x), out, n, width));
  }

  async activation(kind: ActivationKind, x: Tensor): Promise<Tensor> {
    this.#check();
    checkActivationKind(kind);
    checkTensor(this, x, 'x');
    return this.#produce([x], x.shape, (f, out) => ops.activation(f, kind, this.#at(x), out, x.size));
  }

  async activationGrad(kind: ActivationKind, x: Tensor, dy: Tensor): Promise<Tensor> {
    this.#check();
    checkActivationKind(kind);
    checkSameShape(this, x, 'x', dy, 'dy', 'activationGrad');
    return this.#produce([x, dy], x.shape, (f, out) => ops.activationGrad(f, kind, this.#at(x), this.#at(dy), out, x.size));
  }

  async softmaxCrossEntropy(logits: Tensor, labels: Tensor): Promise<SoftmaxCrossEntropyResult> {
    this.#check();
    const [n, k] = checkSoftmaxCrossEntropy(this, logits, labels);
    const [loss, dlogits, correct] = await this.#produceAll([logits, labels], [[1], [n, k], [1]], (f, [l, d, c]) =>
      ops.softmaxCrossEntropy(f, this.#at(logits), this.#at(labels), l, d, c, n, k));
    return { loss, dlogits, correct };
  }

  async layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Promise<LayerNormResult> {
    this.#check();
    const [n, width] = checkLayerNorm(this, x, gamma, beta, eps);
    const [y, mean, rstd] = await this.#produceAll([x, gamma, beta], [[n, width], [n], [n]], (f, [yAt, meanAt, rstdAt]) =>
      ops.layerNorm(f, this.#at(x), this.#at(gamma), this.#at(beta), eps, yAt, meanAt, rstdAt, n, width));
    return { y, mean, rstd };
  }

  async layerNormGrad(x: Tensor, dy: Tensor, gamma: Tensor, mean: Tensor, rstd: Tensor): Promise<LayerNormGradResult> {
    this.#check();
    const [n, width] = checkLayerNormGrad(this, x, dy, gamma, mean, rstd);
    const [dx, dgamma, dbeta] = await this.#produceAll([x, dy, gamma, mean, rstd], [[n, width], [width], [width]], (f, outs) =>
      ops.layerNormGrad(f, this.#at(x), this.#at(dy), this.#at(gamma), this.#at(mean), this.#at(rstd), outs[0], outs[1], outs[2], n, width));
    return { dx, dgamma, dbeta };
  }

  async sgdStep(param: Tensor, grad: Tensor, velocity: Tensor | null, options: SgdStepOptions): Promise<void> {
    this.#check();
    const h = resolveSgd(this, param, grad, velocity, options);
    return this.#queueOp([param, grad, velocity], () => ops.sgdStep(this.#heap.f32, this.#at(param), this.#at(grad), this.#at(velocity), param.size, h));
  }

  async adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, options: AdamStepOptions): Promise<void> {
    this.#check();
    const h = resolveAdam(this, param, grad, m, v, options);
    return this.#queueOp([param, grad, m, v], () => ops.adamStep(this.#heap.f32, this.#at(param), this.#at(grad), this.#at(m), this.#at(v), param.size, h));
  }

  async scale(x: Tensor, s: number): Promise<Tensor> {
    this.#check();
    checkTensor(this, x, 'x');
    checkNumber('s', s, -Number.MAX_VALUE, Number.MAX_VALUE, 'scale');
    return this.#produce([x], x.shape, (f, out) => ops.scale(f, this.#at(x), s, out, x.size));
  }

  async axpy(alpha: number, x: Tensor, y: Tensor): Promise<void> {
    this.#check();
    checkNumber('alpha', alpha, -Number.MAX_VALUE, Number.MAX_VALUE, 'axpy');
    checkSameShape(this, x, 'x', y, 'y', 'axpy');
    checkDistinct('axpy', [[y, 'y']], [[x, 'x']]);
    return this.#queueOp([x, y], () => ops.axpy(this.#heap.f32, alpha, this.#at(x), this.#at(y), x.size));
  }

  async copy(x: Tensor): Promise<Tensor> {
    this.#check();
    checkTensor(this, x, 'x');
    return this.#queueOp([x], () => {
      const out = this.#allocate(x.shape);
      if (x.size > 0) this.#heap.f32.copyWithin(this.#at(out), this.#at(x), this.#at(x) + x.size);
      return out;
    });
  }

  async fill(x: Tensor, value: number): Promise<void> {
    this.#check();
    checkTensor(this, x, 'x');
    if (typeof value !== 'number') checkNumber('value', value, -Infinity, Infinity, 'fill');
    return this.#queueOp([x], () => {
      if (x.size > 0) this.#heap.f32.fill(value, this.#at(x), this.#at(x) + x.size);
    });
  }

  async blockNorms(w: Tensor, kind: BlockNormKind): Promise<Tensor> {
    this.#check();
    checkBlockNormKind(kind);
    const [nnz, per] = checkBlocks(this, w, 'w', 'blockNorms');
    return this.#produce([w], [nnz], (f, out) => ops.blockNorms(f, kind, this.#at(w), out, nnz, per));
  }

  async gatherBlocks(w: Tensor, ids: Int32Array): Promise<Tensor> {
    this.#check();
    const [nnz, per] = checkBlocks(this, w, 'w', 'gatherBlocks');
    checkGatherIds(ids, nnz);
    const sources = ids.slice();
    return this.#produce([w], [sources.length, ...w.shape.slice(1)], (f, out) => ops.gatherBlocks(f, this.#at(w), sources, out, per));
  }

  async scatterBlocks(src: Tensor, ids: Int32Array, nnzOut: number): Promise<Tensor> {
    this.#check();
    const [m, per] = checkBlocks(this, src, 'src', 'scatterBlocks');
    const sources = scatterSources(ids, m, nnzOut);
    return this.#produce([src], [nnzOut, ...src.shape.slice(1)], (f, out) => ops.gatherBlocks(f, this.#at(src), sources, out, per));
  }

  async hardConcreteGates(logAlpha: Tensor, u: Tensor | null, options: HardConcreteOptions = {}): Promise<Tensor> {
    this.#check();
    const nnz = checkHardConcrete(this, 'hardConcreteGates', logAlpha, u);
    const h = resolveHardConcrete(options, 'hardConcreteGates');
    return this.#produce([logAlpha, u], [nnz], (f, out) => ops.hardConcreteGates(f, this.#at(logAlpha), this.#at(u), out, nnz, h));
  }

  async hardConcreteGrad(logAlpha: Tensor, u: Tensor | null, dgates: Tensor, options: HardConcreteOptions = {}): Promise<Tensor> {
    this.#check();
    const nnz = checkHardConcrete(this, 'hardConcreteGrad', logAlpha, u, dgates);
    const h = resolveHardConcrete(options, 'hardConcreteGrad');
    return this.#produce([logAlpha, u, dgates], [nnz], (f, out) => ops.hardConcreteGrad(f, this.#at(logAlpha), this.#at(u), this.#at(dgates), out, nnz, h));
  }

  async l0Penalty(logAlpha: Tensor, options: HardConcreteOptions = {}): Promise<L0PenaltyResult> {
    this.#check();
    const nnz = checkHardConcrete(this, 'l0Penalty', logAlpha, null);
    const h = resolveHardConcrete(options, 'l0Penalty');
    const [value, grad] = await this.#produceAll([logAlpha], [[1], [nnz]], (f, [valueAt, gradAt]) => ops.l0Penalty(f, this.#at(logAlpha), valueAt, gradAt, nnz, h));
    return { value, grad };
  }

  async sync(): Promise<void> {
    this.#check();
    await this.#tail;
    this.#check();
  }

  /** Test hook: the next unit a worker takes throws there, as a crashing worker would. */
  injectWorkerFault(): void {
    this.#pool.injectFault();
  }

  async dispose(): Promise<void> {
    if (this.#state.disposed) return;
    const tail = this.#tail;
    this.#state.disposed = true;
    await tail;
    this.#tables.close();
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
  const minParallelFlops = options.minParallelFlops === undefined ? 2 ** 20 : checkInteger('minParallelFlops', options.minParallelFlops, 0, Number.MAX_SAFE_INTEGER, context);
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
