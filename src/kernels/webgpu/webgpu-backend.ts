import ndarray, { type NdArray } from 'ndarray';
import type { BlockLayout, BlockSize } from '../../patterns/layout.js';
import { checkBackwardData, checkForward, checkMatmul, checkReadTarget, checkTensor, checkWeightGrad } from '../checks.js';
import type { Backend, BackendStats, GateOptions, HostData, MatmulOptions, Tensor, WeightGradOptions, WeightGradResult, Conv2dBackwardDataOptions, Conv2dOptions, Conv2dWeightGradOptions } from '../types.js';
import { createGPU, describeAdapter, requestAdapter, requestDevice, type AdapterOptions, type AdapterSummary } from './device.js';
import { DeviceGuard } from './device-guard.js';
import { LayoutTableCache } from './layout-tables.js';
import { DeviceMemory } from './memory.js';
import type { Dispatch, PlanContext } from './program.js';
import { BlockProductProgram, blockProductVariant, type BlockProductDirection, type BlockProductVariant, type ConvGather } from './programs/block-product.js';
import { checkConv2d, checkConv2dBackwardData, checkConv2dWeightGrad } from '../conv-checks.js';
import { MatmulProgram, type MatmulShape, type MatmulTileSize } from './programs/matmul.js';
import { ColumnProgram, ElementwiseProgram, RowProgram } from './programs/training-ops.js';
import { WeightGradProgram, type WeightGradOperands } from './programs/weight-grad.js';
import { Runner, type KernelTimes } from './runner.js';
import type { WebGPUTensor } from './tensor.js';
import { installTrainingOps, type TrainingOpMethods } from '../training-op-methods.js';
import type { TrainingOpName, TrainingOps } from '../training-ops.js';
import { runTrainingBatch, runTrainingOp, type TrainingRunContext } from './training-runner.js';
import type { SplitLimits } from './windows.js';

export { probeWebGPU, type AdapterSummary, type WebGPUProbe } from './device.js';

/** Options of `createWebGPUBackend`. */
export interface WebGPUBackendOptions extends AdapterOptions {
  /** Wrap every dispatch in error scopes, so that a WebGPU error rejects the call that caused it (slower). */
  debug?: boolean;
  /** Test hook: a storage-binding limit in bytes below the device's, so that work is split on small shapes. */
  maxBindingBytes?: number;
  /** Test hook: a cap on workgroups per grid dimension below the device's, so that grids are split on small shapes. */
  maxWorkgroups?: number;
  /** Test hook: force the dense matmul's tile edge (default: chosen from the output's size). */
  matmulTile?: MatmulTileSize;
  /** Test hook: split the dense matmul's K into (at most) this many pieces when its rows allow vec4s (default: chosen from the grid's size). */
  matmulSplitK?: number;
  /**
   * false: Dawn drops its bounds clamping of buffer accesses (benchmarks: `blocksparse bench` and
   * bench/gpu.sh use it; a kernel bug could then read or write outside a binding). Default true.
   */
  robustness?: boolean;
  /** Test hook: force the block products' tile variant (default: chosen from the grid's size). */
  blockProductVariant?: BlockProductVariant;
  /** Test hook: at most this many entries per block-product segment (default: from the layout), so that columns are split on small layouts. */
  segmentLimit?: number;
}

/** The backend's counters: BackendStats plus the compute passes dispatched. */
export interface WebGPUStats extends BackendStats {
  dispatches: number;
}

/**
 * The WebGPU kernel backend: WGSL kernels on Dawn. Tensors are GPU buffers; each operation checks
 * its arguments, allocates its outputs, asks its program for the dispatch plan and runs it (one
 * command buffer, resolved once submitted; reads wait for the GPU). A lost device makes every
 * later call reject with DeviceLostError.
 */
// The training operations' methods are installed from the runner (training-op-methods.ts).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface WebGPUBackend extends TrainingOpMethods {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class WebGPUBackend implements Backend {
  static {
    installTrainingOps(WebGPUBackend.prototype, (backend: WebGPUBackend, name, args) => runTrainingOp(backend.#trainingContext(), name, args));
  }

  readonly name = 'webgpu' as const;
  readonly description: string;
  readonly adapter: AdapterSummary;
  readonly device: GPUDevice;
  /** The limits that decide how work is split. */
  readonly limits: SplitLimits;
  #gpu: GPU | null;
  readonly #guard: DeviceGuard;
  readonly #memory: DeviceMemory;
  readonly #runner: Runner;
  readonly #tables: LayoutTableCache;
  readonly #context: PlanContext;
  readonly #matmulTile: MatmulTileSize | undefined;
  readonly #matmulSplitK: number | undefined;
  readonly #variant: BlockProductVariant | undefined;
  readonly #training: TrainingRunContext;

  /** Use `createWebGPUBackend`. */
  constructor(gpu: GPU, device: GPUDevice, adapter: AdapterSummary, options: WebGPUBackendOptions = {}) {
    this.#gpu = gpu;
    this.device = device;
    this.adapter = adapter;
    this.description = describeAdapter(adapter);
    const deviceLimit = device.limits.maxStorageBufferBindingSize;
    this.limits = {
      maxBindingBytes: options.maxBindingBytes ? Math.min(options.maxBindingBytes, deviceLimit) : deviceLimit,
      offsetAlignment: device.limits.minStorageBufferOffsetAlignment,
      maxWorkgroups: Math.min(options.maxWorkgroups ?? Infinity, device.limits.maxComputeWorkgroupsPerDimension),
    };
    this.#matmulTile = options.matmulTile;
    this.#matmulSplitK = options.matmulSplitK;
    this.#variant = options.blockProductVariant;
    this.#runner = new Runner(device, { debug: options.debug });
    this.#tables = new LayoutTableCache(device, options.segmentLimit);
    this.#memory = new DeviceMemory(device, this);
    this.#context = { limits: this.limits, absentRead: this.#memory.absentRead, absentWrites: this.#memory.absentWrites };
    this.#guard = new DeviceGuard(device);
    this.#training = {
      backend: this, memory: this.#memory, context: this.#context, elementwise: new ElementwiseProgram(), rows: new RowProgram(), columns: new ColumnProgram(),
      run: (...plans) => this.#run(...plans),
    };
  }

  /** Counts of layout uploads, pipeline compilations and dispatches so far (for tests and benchmarks). */
  get stats(): WebGPUStats {
    return { layoutUploads: this.#tables.uploads, compilations: this.#runner.counts.compilations, dispatches: this.#runner.counts.dispatches };
  }

  /** Runs the plans' dispatches in order, in one command buffer. */
  #run(...plans: Dispatch[][]): Promise<void> {
    return this.#guard.await(this.#runner.run(plans.flat()));
  }

  tensor(data: HostData, shape?: readonly number[]): Tensor {
    this.#guard.check();
    return this.#memory.upload(data, shape);
  }

  zeros(shape: readonly number[]): Tensor {
    this.#guard.check();
    return this.#memory.allocate(shape, 'zeros');
  }

  /** WebGPU buffers start zeroed: the same as zeros. */
  empty(shape: readonly number[]): Tensor {
    this.#guard.check();
    return this.#memory.allocate(shape, 'empty');
  }

  async read(tensor: Tensor, into?: Float32Array): Promise<Float32Array> {
    this.#guard.check();
    checkTensor(this, tensor, 'tensor');
    checkReadTarget(tensor, into);
    if (tensor.size === 0) return into ?? new Float32Array(0);
    // After every operation called before (they may still wait for a pipeline to compile).
    await this.#guard.await(this.#runner.submitted());
    this.#guard.check();
    checkTensor(this, tensor, 'tensor');
    const out = await this.#memory.read(tensor as WebGPUTensor, this.#guard, into);
    this.#guard.check();
    return out;
  }

  async readNdarray(tensor: Tensor, into?: Float32Array): Promise<NdArray<Float32Array>> {
    return ndarray(await this.read(tensor, into), [...tensor.shape]);
  }

  async forward(layout: BlockLayout, x: Tensor, w: Tensor, options: GateOptions = {}): Promise<Tensor> {
    this.#guard.check();
    const n = checkForward(this, layout, x, w, options.gates);
    return this.#blockProduct('forward', layout, n, x as WebGPUTensor, w as WebGPUTensor, options.gates as WebGPUTensor | undefined);
  }

  async backwardData(layout: BlockLayout, dy: Tensor, w: Tensor, options: GateOptions = {}): Promise<Tensor> {
    this.#guard.check();
    const n = checkBackwardData(this, layout, dy, w, options.gates);
    return this.#blockProduct('backward-data', layout, n, dy as WebGPUTensor, w as WebGPUTensor, options.gates as WebGPUTensor | undefined);
  }

  async conv2d(layout: BlockLayout, x: Tensor, w: Tensor, options: Conv2dOptions): Promise<Tensor> {
    this.#guard.check();
    const { geometry, shape } = checkConv2d(this, layout, x, w, options, options.gates);
    const conv: ConvGather = { geometry, sourceSize: shape.inputSize, resultSize: shape.outputSize };
    return this.#blockProduct('forward', layout, shape.n, x as WebGPUTensor, w as WebGPUTensor, options.gates as WebGPUTensor | undefined, conv);
  }

  async conv2dBackwardData(layout: BlockLayout, dy: Tensor, w: Tensor, options: Conv2dBackwardDataOptions): Promise<Tensor> {
    this.#guard.check();
    const { geometry, shape } = checkConv2dBackwardData(this, layout, dy, w, options, options.inputSize, options.gates);
    const conv: ConvGather = { geometry, sourceSize: shape.outputSize, resultSize: shape.inputSize };
    return this.#blockProduct('backward-data', layout, shape.n, dy as WebGPUTensor, w as WebGPUTensor, options.gates as WebGPUTensor | undefined, conv);
  }

  /** A block product, or with `conv` a convolution (n images of conv.resultSize positions). */
  async #blockProduct(direction: BlockProductDirection, layout: BlockLayout, n: number, a: WebGPUTensor, w: WebGPUTensor, gates?: WebGPUTensor, conv?: ConvGather): Promise<Tensor> {
    const width = direction === 'forward' ? layout.outFeatures : layout.inFeatures;
    const out = this.#memory.allocate(conv ? [n, ...conv.resultSize, width] : [n, width], direction);
    const tables = this.#tables.get(layout);
    const segments = direction === 'forward' ? tables.forward : tables.backward;
    const rows = conv ? n * conv.resultSize[0] * conv.resultSize[1] : n;
    const program = new BlockProductProgram(layout.blockSize, this.#variant ?? blockProductVariant(layout.blockSize, segments.segments, rows), Boolean(conv));
    const scratchSize = BlockProductProgram.scratchElements({ direction, layout, n, tables, conv }, this.#context);
    const scratch = scratchSize > 0 ? this.#memory.allocate([scratchSize], 'split-column scratch') : undefined;
    try {
      await this.#run(program.plan({ direction, layout, n, tables, conv, a, w, gates, out, scratch }, this.#context));
    } finally {
      // Safe once submitted: the buffer is released after the queued work.
      scratch?.dispose();
    }
    return out;
  }

  async weightGrad(layout: BlockLayout, x: Tensor, dy: Tensor, options: WeightGradOptions = {}): Promise<WeightGradResult> {
    this.#guard.check();
    const n = checkWeightGrad(this, layout, x, dy, options.gates, options.weights);
    return this.#weightGrad(layout, n, x, dy, options);
  }

  async conv2dWeightGrad(layout: BlockLayout, x: Tensor, dy: Tensor, options: Conv2dWeightGradOptions): Promise<WeightGradResult> {
    this.#guard.check();
    const { geometry, shape } = checkConv2dWeightGrad(this, layout, x, dy, options, options.gates, options.weights);
    return this.#weightGrad(layout, shape.n, x, dy, options, { geometry, sourceSize: shape.inputSize, resultSize: shape.outputSize });
  }

  /** A weight gradient, or with `conv` a convolution's (n images). */
  async #weightGrad(layout: BlockLayout, n: number, x: Tensor, dy: Tensor, options: WeightGradOptions, conv?: ConvGather): Promise<WeightGradResult> {
    const bs = layout.blockSize as BlockSize;
    const kernel = conv ? [...conv.geometry.kernel] : [];
    const dw = this.#memory.allocate([layout.nnz, ...kernel, bs, bs], 'weight gradient');
    const dgates = options.weights ? this.#memory.allocate([layout.nnz], 'gate gradient') : undefined;
    if (layout.nnz === 0) return dgates ? { dw, dgates } : { dw };
    const operands: WeightGradOperands = {
      layout, n, tables: this.#tables.get(layout), x: x as WebGPUTensor, dy: dy as WebGPUTensor, conv,
      gates: options.gates as WebGPUTensor | undefined, weights: options.weights as WebGPUTensor | undefined, dw, dgates,
    };
    await this.#run(new WeightGradProgram(bs, Boolean(conv)).plan(operands, this.#context));
    return dgates ? { dw, dgates } : { dw };
  }

  async matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Promise<Tensor> {
    this.#guard.check();
    const transposeA = options.transposeA ?? false;
    const transposeB = options.transposeB ?? false;
    const [m, k, n] = checkMatmul(this, a, b, transposeA, transposeB);
    const c = this.#memory.allocate([m, n], 'matmul');
    const shape: MatmulShape = { m, k, n, transposeA, transposeB, splitK: this.#matmulSplitK };
    const program = MatmulProgram.forShape(shape, this.#matmulTile);
    const scratchSize = program.scratchElements(shape, this.#context);
    const scratch = scratchSize > 0 ? this.#memory.allocate([scratchSize], 'split-K scratch') : undefined;
    try {
      await this.#run(program.plan({ ...shape, a: a as WebGPUTensor, b: b as WebGPUTensor, c, scratch }, this.#context));
    } finally {
      // Safe once submitted: the buffer is released after the queued work.
      scratch?.dispose();
    }
    return c;
  }

  async batch<N extends TrainingOpName>(name: N, calls: readonly Parameters<TrainingOps<Tensor>[N]>[]): Promise<Awaited<ReturnType<TrainingOps<Tensor>[N]>>[]> {
    return (await runTrainingBatch(this.#trainingContext(), name, calls)) as Awaited<ReturnType<TrainingOps<Tensor>[N]>>[];
  }

  /** The training runner's context, once the backend is known to take work. */
  #trainingContext(): TrainingRunContext {
    this.#guard.check();
    return this.#training;
  }

  async sync(): Promise<void> {
    this.#guard.check();
    await this.#guard.await(this.device.queue.onSubmittedWorkDone());
    this.#guard.check();
  }

  /**
   * Runs `body` and measures the GPU time of every compute pass it dispatches (timestamp queries;
   * `gpuMs` is null when the adapter lacks them), waiting for the GPU at the end.
   */
  async timeKernels<T>(body: () => Promise<T>): Promise<{ result: T; times: KernelTimes }> {
    this.#guard.check();
    this.#runner.beginProfile();
    let result: T;
    try {
      result = await body();
      await this.sync();
    } catch (error) {
      this.#runner.endProfile().catch(() => undefined);
      throw error;
    }
    return { result, times: await this.#guard.await(this.#runner.endProfile()) };
  }

  /**
   * Test hook: destroys the device, as a driver reset would, and waits (at most `timeoutMs`) until
   * the loss is reported; from then on every call rejects with DeviceLostError.
   */
  async loseDevice(timeoutMs = 5000): Promise<void> {
    this.device.destroy();
    await this.#guard.lost(timeoutMs);
  }

  async dispose(): Promise<void> {
    if (!this.#gpu) return;
    this.#guard.dispose();
    this.#memory.destroy();
    this.#tables.destroy();
    this.device.destroy();
    // Dawn keeps Node's event loop alive while its GPU object is referenced.
    this.#gpu = null;
  }

  /** Whether the backend still holds its GPU instance (false once disposed). */
  get alive(): boolean {
    return this.#gpu !== null && this.#guard.usable;
  }
}

/**
 * The WebGPU backend on the best adapter Dawn finds (`powerPreference`; a CPU fallback adapter
 * such as lavapipe unless `allowFallbackAdapter` is false). Requests the timestamp-query feature
 * when the adapter has it, and the adapter's largest binding and buffer sizes. Throws
 * BackendUnavailableError, saying why, when there is no usable adapter.
 */
export async function createWebGPUBackend(options: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
  const gpu = await createGPU({ robustness: options.robustness });
  const { adapter, summary } = await requestAdapter(gpu, options);
  const device = await requestDevice(adapter, summary);
  return new WebGPUBackend(gpu, device, summary, options);
}
