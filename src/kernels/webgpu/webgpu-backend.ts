import ndarray, { type NdArray } from 'ndarray';
import { BlocksparseError, ShapeError } from '../../errors.js';
import type { BlockLayout, BlockSize } from '../../patterns/layout.js';
import { BackendUnavailableError, DeviceLostError } from '../errors.js';
import { checkBackwardData, checkForward, checkMatmul, checkShape, checkTensor, checkWeightGrad } from '../shapes.js';
import {
  checkActivationKind, checkAddBias, checkBlockNormKind, checkBlocks, checkDistinct, checkGatherIds, checkHardConcrete, checkLayerNorm, checkLayerNormGrad,
  checkMatrix, checkSameShape, checkSoftmaxCrossEntropy, resolveAdam, resolveHardConcrete, resolveSgd, scatterSources, type HardConcreteParams,
} from '../training-op-checks.js';
import type {
  ActivationKind, AdamStepOptions, Backend, BackendStats, BlockNormKind, GateOptions, HardConcreteOptions, HostData, L0PenaltyResult, LayerNormGradResult,
  LayerNormResult, MatmulOptions, SgdStepOptions, SoftmaxCrossEntropyResult, Tensor, WeightGradOptions, WeightGradResult,
} from '../types.js';
import { checkNumber } from '../../check.js';
import {
  ACTIVATION_CODES, ColumnOp, ColumnProgram, ElementwiseOp, ElementwiseProgram, RowOp, RowProgram, type TrainingOpValues,
} from './programs/training-ops.js';
import { BufferUsage, createGPU, describeAdapter, MAP_MODE_READ, requestAdapter, type AdapterOptions, type AdapterSummary } from './device.js';
import { WebGPUError } from './errors.js';
import { LayoutTableCache } from './layout-tables.js';
import { BlockProductProgram, type BlockProductDirection } from './programs/block-product.js';
import { MatmulProgram, matmulTileFor, matmulVectorizable, type MatmulTileSize } from './programs/matmul.js';
import { WeightGradProgram } from './programs/weight-grad.js';
import { Runner, type BufferBinding, type Dispatch, type KernelTimes } from './runner.js';
import { packHostData } from '../host-data.js';
import { bufferBytes, WebGPUTensor } from './tensor.js';
import { bufferWindow, ranges, unitsPerWindow, wholeBuffer, type SplitLimits } from './windows.js';

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
}

/** The backend's counters: BackendStats plus the compute passes dispatched. */
export interface WebGPUStats extends BackendStats {
  dispatches: number;
}

const STORAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref?.());

/** Rounds `value` down to a multiple of `step` when at least `step`, else to a multiple of `minStep`. */
function roundChunk(value: number, total: number, step: number, minStep: number): number {
  if (value >= total) return total;
  if (value >= step) return Math.floor(value / step) * step;
  return Math.floor(value / minStep) * minStep;
}

/**
 * The WebGPU kernel backend: WGSL kernels on Dawn. Tensors are GPU buffers; each product
 * encodes its passes into one command buffer and resolves once it is submitted (reads wait for
 * the GPU). A lost device makes every later call reject with DeviceLostError.
 */
export class WebGPUBackend implements Backend {
  readonly name = 'webgpu' as const;
  readonly description: string;
  readonly adapter: AdapterSummary;
  readonly device: GPUDevice;
  /** The limits that decide how work is split. */
  readonly limits: SplitLimits;
  #gpu: GPU | null;
  readonly #runner: Runner;
  readonly #tables: LayoutTableCache;
  readonly #buffers = new Set<GPUBuffer>();
  readonly #collected = new FinalizationRegistry<GPUBuffer>((buffer) => {
    if (this.#buffers.delete(buffer)) buffer.destroy();
  });
  readonly #lostSignal: Promise<never>;
  readonly #matmulTile: MatmulTileSize | undefined;
  /** Bound where a kernel's optional operand is absent: one for read-only bindings, one for writable ones. */
  readonly #dummyRead: GPUBuffer;
  readonly #dummyWrite: GPUBuffer;
  /** Absent outputs of the training ops (three writable bindings must be three buffers). */
  readonly #dummyOutputs: GPUBuffer[];
  readonly #elementwise = new ElementwiseProgram();
  readonly #rows = new RowProgram();
  readonly #columns = new ColumnProgram();
  #lost: DeviceLostError | null = null;
  #pendingError: WebGPUError | null = null;
  #disposed = false;

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
    this.#runner = new Runner(device, { debug: options.debug });
    this.#tables = new LayoutTableCache(device);
    this.#dummyRead = device.createBuffer({ size: 16, usage: BufferUsage.STORAGE, label: 'absent operand' });
    this.#dummyWrite = device.createBuffer({ size: 16, usage: BufferUsage.STORAGE, label: 'absent output' });
    this.#dummyOutputs = [0, 1, 2].map((i) => device.createBuffer({ size: 16, usage: BufferUsage.STORAGE, label: `absent training-op output ${i}` }));
    this.#lostSignal = device.lost.then((info) => {
      this.#lost ??= new DeviceLostError(info.reason ?? 'unknown', info.message || 'the GPU device is gone');
      throw this.#lost;
    });
    this.#lostSignal.catch(() => undefined);
    device.onuncapturederror = (event: GPUUncapturedErrorEvent) => {
      const kind = event.error.constructor.name.replace(/^GPU|Error$/g, '').replace('OutOfMemory', 'out-of-memory').toLowerCase();
      this.#pendingError ??= new WebGPUError(kind || 'uncaptured', event.error.message);
    };
  }

  /** Counts of layout uploads, pipeline compilations and dispatches so far (for tests and benchmarks). */
  get stats(): WebGPUStats {
    return { layoutUploads: this.#tables.uploads, compilations: this.#runner.counts.compilations, dispatches: this.#runner.counts.dispatches };
  }

  /** Throws when the backend cannot take work: disposed, device lost, or an earlier uncaptured WebGPU error. */
  #check(): void {
    if (this.#disposed) throw new DeviceLostError('destroyed', 'the backend was disposed');
    if (this.#lost) throw this.#lost;
    const pending = this.#pendingError;
    if (pending) {
      this.#pendingError = null;
      throw pending;
    }
  }

  /** Awaits a GPU promise, but rejects with DeviceLostError as soon as the device is lost (never hangs on a dead device). */
  async #await<T>(promise: Promise<T>): Promise<T> {
    promise.catch(() => undefined);
    try {
      return await Promise.race([promise, this.#lostSignal]);
    } catch (error) {
      // A rejection caused by a loss can come just before the loss is reported.
      await Promise.race([this.#lostSignal.catch(() => undefined), sleep(100)]);
      if (this.#lost) throw this.#lost;
      if (error instanceof BlocksparseError) throw error;
      throw new WebGPUError('internal', (error as Error).message);
    }
  }

  #dummy(buffer: GPUBuffer): BufferBinding {
    return { buffer, offset: 0, size: buffer.size };
  }

  #allocate(shape: readonly number[], what: string): WebGPUTensor {
    const size = checkShape(shape);
    const bytes = bufferBytes(size);
    if (bytes > this.device.limits.maxBufferSize) {
      throw new ShapeError(`${what} [${shape.join(', ')}] takes ${4 * size} bytes, more than the device's maxBufferSize (${this.device.limits.maxBufferSize})`);
    }
    const buffer = this.device.createBuffer({ size: bytes, usage: STORAGE, label: what });
    return this.#track(shape, buffer);
  }

  #track(shape: readonly number[], buffer: GPUBuffer): WebGPUTensor {
    this.#buffers.add(buffer);
    const tensor = new WebGPUTensor(this, shape, buffer, (t) => {
      this.#buffers.delete(t.buffer);
      this.#collected.unregister(t);
    });
    this.#collected.register(tensor, buffer, tensor);
    return tensor;
  }

  tensor(data: HostData, shape?: readonly number[]): Tensor {
    this.#check();
    const packed = packHostData(data, shape);
    const bytes = bufferBytes(packed.values.length);
    if (bytes > this.device.limits.maxBufferSize) {
      throw new ShapeError(`a tensor of shape [${packed.shape.join(', ')}] exceeds the device's maxBufferSize (${this.device.limits.maxBufferSize} bytes)`);
    }
    const buffer = this.device.createBuffer({ size: bytes, usage: STORAGE, mappedAtCreation: true, label: 'tensor' });
    new Float32Array(buffer.getMappedRange()).set(packed.values);
    buffer.unmap();
    return this.#track(packed.shape, buffer);
  }

  zeros(shape: readonly number[]): Tensor {
    this.#check();
    return this.#allocate(shape, 'zeros');
  }

  async read(tensor: Tensor): Promise<Float32Array> {
    this.#check();
    checkTensor(this, tensor, 'tensor');
    const source = tensor as WebGPUTensor;
    const out = new Float32Array(source.size);
    if (source.size === 0) return out;
    // After every operation called before (they may still wait for a pipeline to compile).
    await this.#await(this.#runner.submitted());
    this.#check();
    checkTensor(this, tensor, 'tensor');
    const bytes = 4 * source.size;
    const staging = this.device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'read' });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(source.buffer, 0, staging, 0, bytes);
      this.device.queue.submit([encoder.finish()]);
      await this.#await(staging.mapAsync(MAP_MODE_READ));
      out.set(new Float32Array(staging.getMappedRange(), 0, source.size));
      staging.unmap();
    } finally {
      staging.destroy();
    }
    this.#check();
    return out;
  }

  async readNdarray(tensor: Tensor): Promise<NdArray<Float32Array>> {
    return ndarray(await this.read(tensor), [...tensor.shape]);
  }

  async forward(layout: BlockLayout, x: Tensor, w: Tensor, options: GateOptions = {}): Promise<Tensor> {
    this.#check();
    const n = checkForward(this, layout, x, w, options.gates);
    return this.#blockProduct('forward', layout, n, x as WebGPUTensor, w as WebGPUTensor, options.gates as WebGPUTensor | undefined);
  }

  async backwardData(layout: BlockLayout, dy: Tensor, w: Tensor, options: GateOptions = {}): Promise<Tensor> {
    this.#check();
    const n = checkBackwardData(this, layout, dy, w, options.gates);
    return this.#blockProduct('backward-data', layout, n, dy as WebGPUTensor, w as WebGPUTensor, options.gates as WebGPUTensor | undefined);
  }

  /**
   * Forward (per output block column) or backward-data (per input block row), split over batch
   * rows, weight-block ranges and segments when a binding or the grid would exceed the limits.
   */
  async #blockProduct(direction: BlockProductDirection, layout: BlockLayout, n: number, a: WebGPUTensor, w: WebGPUTensor, gates?: WebGPUTensor): Promise<Tensor> {
    const bs = layout.blockSize;
    const forward = direction === 'forward';
    const inWidth = forward ? layout.inFeatures : layout.outFeatures;
    const outWidth = forward ? layout.outFeatures : layout.inFeatures;
    const segments = forward ? layout.outBlocks : layout.inBlocks;
    const out = this.#allocate([n, outWidth], direction);
    const tables = this.#tables.get(layout);
    const program = new BlockProductProgram(bs);
    const limits = this.limits;
    const tm = program.tileRows;
    const rowChunk = roundChunk(Math.min(unitsPerWindow(n, 4 * Math.max(inWidth, outWidth), limits, 'batch row'), limits.maxWorkgroups * tm), n, tm, 1);
    const blockChunk = unitsPerWindow(Math.max(layout.nnz, 1), 4 * bs * bs, limits, `${bs} x ${bs} weight block`);
    const tableWindow = wholeBuffer(tables.buffer, limits, 'the layout tables');
    const gateBinding = gates ? wholeBuffer(gates.buffer, limits, 'the gates').binding : this.#dummy(this.#dummyRead);
    const blockRanges = layout.nnz === 0 ? [[0, 0] as [number, number]] : ranges(layout.nnz, blockChunk);
    const dispatches: Dispatch[] = [];
    for (const [r0, r1] of ranges(n, rowChunk)) {
      const aWindow = bufferWindow(a.buffer, r0 * inWidth, (r1 - r0) * inWidth, limits);
      const outWindow = bufferWindow(out.buffer, r0 * outWidth, (r1 - r0) * outWidth, limits);
      blockRanges.forEach(([b0, b1], pass) => {
        const wWindow = bufferWindow(w.buffer, b0 * bs * bs, (b1 - b0) * bs * bs, limits);
        for (const [s0, s1] of ranges(segments, limits.maxWorkgroups)) {
          dispatches.push({
            program,
            buffers: [tableWindow.binding, aWindow.binding, wWindow.binding, gateBinding, outWindow.binding],
            uniforms: [
              r1 - r0, inWidth / 4, aWindow.first / 4, outWidth / 4, outWindow.first / 4, wWindow.first / 4,
              forward ? tables.forwardPtr : tables.backwardPtr, forward ? tables.forwardEntries : tables.backwardEntries,
              s0, b0, b1, pass > 0 ? 1 : 0, forward ? 0 : 1, gates ? 1 : 0,
            ],
            workgroups: program.grid(s1 - s0, r1 - r0),
          });
        }
      });
    }
    await this.#await(this.#runner.run(dispatches));
    return out;
  }

  async weightGrad(layout: BlockLayout, x: Tensor, dy: Tensor, options: WeightGradOptions = {}): Promise<WeightGradResult> {
    this.#check();
    const n = checkWeightGrad(this, layout, x, dy, options.gates, options.weights);
    const bs = layout.blockSize as BlockSize;
    const nnz = layout.nnz;
    const dw = this.#allocate([nnz, bs, bs], 'weight gradient');
    const dgates = options.weights ? this.#allocate([nnz], 'gate gradient') : undefined;
    if (nnz === 0) return dgates ? { dw, dgates } : { dw };
    const gates = options.gates as WebGPUTensor | undefined;
    const weights = options.weights as WebGPUTensor | undefined;
    const program = new WeightGradProgram(bs);
    const limits = this.limits;
    const C = layout.inFeatures;
    const K = layout.outFeatures;
    const tables = this.#tables.get(layout);
    const tableWindow = wholeBuffer(tables.buffer, limits, 'the layout tables');
    const gateBinding = gates ? wholeBuffer(gates.buffer, limits, 'the gates').binding : this.#dummy(this.#dummyRead);
    const dgateBinding = dgates ? wholeBuffer(dgates.buffer, limits, 'the gate gradient').binding : this.#dummy(this.#dummyWrite);
    const rowChunk = unitsPerWindow(n, 4 * Math.max(C, K), limits, 'batch row');
    const blockChunk = Math.min(unitsPerWindow(nnz, 4 * bs * bs, limits, `${bs} x ${bs} weight block`), limits.maxWorkgroups);
    const dispatches: Dispatch[] = [];
    ranges(n, rowChunk).forEach(([r0, r1], pass) => {
      const xWindow = bufferWindow((x as WebGPUTensor).buffer, r0 * C, (r1 - r0) * C, limits);
      const dyWindow = bufferWindow((dy as WebGPUTensor).buffer, r0 * K, (r1 - r0) * K, limits);
      for (const [b0, b1] of ranges(nnz, blockChunk)) {
        const dwWindow = bufferWindow(dw.buffer, b0 * bs * bs, (b1 - b0) * bs * bs, limits);
        const wWindow = weights ? bufferWindow(weights.buffer, b0 * bs * bs, (b1 - b0) * bs * bs, limits) : null;
        dispatches.push({
          program,
          buffers: [
            tableWindow.binding, xWindow.binding, dyWindow.binding, gateBinding,
            wWindow ? wWindow.binding : this.#dummy(this.#dummyRead), dwWindow.binding, dgateBinding,
          ],
          uniforms: [
            r1 - r0, C / 4, xWindow.first / 4, K / 4, dyWindow.first / 4, dwWindow.first / 4, (wWindow?.first ?? 0) / 4,
            tables.pairs, b0, pass > 0 ? 1 : 0, gates ? 1 : 0, weights ? 1 : 0,
          ],
          workgroups: [b1 - b0, 1, 1],
        });
      }
    });
    await this.#await(this.#runner.run(dispatches));
    return dgates ? { dw, dgates } : { dw };
  }

  async matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Promise<Tensor> {
    this.#check();
    const transposeA = options.transposeA ?? false;
    const transposeB = options.transposeB ?? false;
    const [m, k, n] = checkMatmul(this, a, b, transposeA, transposeB);
    const out = this.#allocate([m, n], 'matmul');
    if (m === 0 || n === 0 || k === 0) return out;
    const vectorized = matmulVectorizable(m, k, n, transposeA, transposeB);
    const tile = this.#matmulTile ?? matmulTileFor(m, n);
    const program = new MatmulProgram(tile, vectorized);
    const limits = this.limits;
    const minStep = vectorized ? 4 : 1;
    // Chunk each dimension so that every operand's window (rows of full stored length) fits.
    const fit = (rowLength: number, what: string) => unitsPerWindow(Number.MAX_SAFE_INTEGER, 4 * rowLength, limits, what);
    let mc = Math.min(m, limits.maxWorkgroups * tile, fit(n, 'row of C'));
    if (!transposeA) mc = Math.min(mc, fit(k, 'row of A'));
    let nc = Math.min(n, limits.maxWorkgroups * tile);
    if (transposeB) nc = Math.min(nc, fit(k, 'row of B'));
    let kc = k;
    if (transposeA) kc = Math.min(kc, fit(m, 'row of A'));
    if (!transposeB) kc = Math.min(kc, fit(n, 'row of B'));
    mc = roundChunk(mc, m, tile, minStep);
    nc = roundChunk(nc, n, tile, minStep);
    kc = roundChunk(kc, k, 16, minStep);
    if (mc < 1 || nc < 1 || kc < 1) {
      throw new ShapeError(`matmul ${m} x ${k} x ${n}: the operands cannot be split to fit the device's maxStorageBufferBindingSize (${limits.maxBindingBytes})`);
    }
    const A = (a as WebGPUTensor).buffer;
    const B = (b as WebGPUTensor).buffer;
    const dispatches: Dispatch[] = [];
    for (const [m0, m1] of ranges(m, mc)) {
      for (const [n0, n1] of ranges(n, nc)) {
        const cWindow = bufferWindow(out.buffer, m0 * n + n0, (m1 - m0 - 1) * n + (n1 - n0), limits);
        ranges(k, kc).forEach(([k0, k1], pass) => {
          const aWindow = transposeA
            ? bufferWindow(A, k0 * m + m0, (k1 - k0 - 1) * m + (m1 - m0), limits)
            : bufferWindow(A, m0 * k + k0, (m1 - m0 - 1) * k + (k1 - k0), limits);
          const bWindow = transposeB
            ? bufferWindow(B, n0 * k + k0, (n1 - n0 - 1) * k + (k1 - k0), limits)
            : bufferWindow(B, k0 * n + n0, (k1 - k0 - 1) * n + (n1 - n0), limits);
          dispatches.push({
            program,
            buffers: [aWindow.binding, bWindow.binding, cWindow.binding],
            uniforms: [
              m1 - m0, n1 - n0, k1 - k0, transposeA ? m : k, aWindow.first, transposeB ? k : n, bWindow.first, n, cWindow.first,
              pass > 0 ? 1 : 0, transposeA ? 1 : 0, transposeB ? 1 : 0,
            ],
            workgroups: program.grid(m1 - m0, n1 - n0),
          });
        });
      }
    }
    await this.#await(this.#runner.run(dispatches));
    return out;
  }

  /**
   * Runs training-op dispatches: `inputs` bound to a .. e and `outputs` to o0 .. o2 (absent ones to
   * dummies), each tensor bound whole. `units` are elements, rows or columns of `program`.
   */
  async #trainingOp(
    program: ElementwiseProgram | RowProgram | ColumnProgram, units: number, values: TrainingOpValues,
    inputs: (Tensor | null)[], outputs: Tensor[],
  ): Promise<void> {
    const dispatches = this.#trainingDispatches(program, units, values, inputs, outputs);
    await this.#await(this.#runner.run(dispatches));
  }

  #trainingDispatches(
    program: ElementwiseProgram | RowProgram | ColumnProgram, units: number, values: TrainingOpValues,
    inputs: (Tensor | null)[], outputs: Tensor[],
  ): Dispatch[] {
    if (units === 0) return [];
    const bind = (t: Tensor | null | undefined, dummy: GPUBuffer): BufferBinding =>
      t ? wholeBuffer((t as WebGPUTensor).buffer, this.limits, `a tensor of shape [${t.shape.join(', ')}] (an operand of the ${program.key} kernels)`).binding : this.#dummy(dummy);
    const buffers = [...[0, 1, 2, 3, 4].map((i) => bind(inputs[i], this.#dummyRead)), ...[0, 1, 2].map((i) => bind(outputs[i], this.#dummyOutputs[i]))];
    return program.dispatches(buffers, units, values, this.limits.maxWorkgroups);
  }

  /** A small temporary GPU buffer holding `values` (block maps), destroyed by the caller after submission. */
  #upload(values: Float32Array): WebGPUTensor {
    return this.tensor(values, [values.length]) as WebGPUTensor;
  }

  /** An elementwise op writing a new tensor of x's shape. */
  async #map(values: TrainingOpValues, x: Tensor, inputs: (Tensor | null)[], what: string): Promise<Tensor> {
    const out = this.#allocate(x.shape, what);
    await this.#trainingOp(this.#elementwise, x.size, values, inputs, [out]);
    return out;
  }

  async addBias(x: Tensor, bias: Tensor): Promise<Tensor> {
    this.#check();
    const [, width] = checkAddBias(this, x, bias);
    return this.#map({ op: ElementwiseOp.addBias, count: x.size, width }, x, [x, bias], 'addBias');
  }

  async sumRows(x: Tensor): Promise<Tensor> {
    this.#check();
    const [n, width] = checkMatrix(this, x, 'x', 'sumRows');
    const out = this.#allocate([width], 'sumRows');
    await this.#trainingOp(this.#columns, width, { op: ColumnOp.sum, count: width, width, rows: n, floats: [1] }, [x], [out]);
    return out;
  }

  async activation(kind: ActivationKind, x: Tensor): Promise<Tensor> {
    this.#check();
    checkActivationKind(kind);
    checkTensor(this, x, 'x');
    return this.#map({ op: ElementwiseOp.activation, count: x.size, flag: ACTIVATION_CODES[kind] }, x, [x], kind);
  }

  async activationGrad(kind: ActivationKind, x: Tensor, dy: Tensor): Promise<Tensor> {
    this.#check();
    checkActivationKind(kind);
    checkSameShape(this, x, 'x', dy, 'dy', 'activationGrad');
    return this.#map({ op: ElementwiseOp.activationGrad, count: x.size, flag: ACTIVATION_CODES[kind] }, x, [x, dy], `${kind} gradient`);
  }

  async softmaxCrossEntropy(logits: Tensor, labels: Tensor): Promise<SoftmaxCrossEntropyResult> {
    this.#check();
    const [n, k] = checkSoftmaxCrossEntropy(this, logits, labels);
    const dlogits = this.#allocate([n, k], 'dlogits');
    const loss = this.#allocate([1], 'loss');
    const correct = this.#allocate([1], 'correct');
    const rowLoss = this.#allocate([n], 'row losses');
    const rowHits = this.#allocate([n], 'row hits');
    try {
      await this.#await(this.#runner.run([
        ...this.#trainingDispatches(this.#rows, n, { op: RowOp.softmaxCrossEntropy, count: n, width: k, floats: [1 / n, NaN] }, [logits, labels], [dlogits, rowLoss, rowHits]),
        ...this.#trainingDispatches(this.#columns, 1, { op: ColumnOp.sum, count: 1, width: 1, rows: n, floats: [1 / n] }, [rowLoss], [loss]),
        ...this.#trainingDispatches(this.#columns, 1, { op: ColumnOp.sum, count: 1, width: 1, rows: n, floats: [1] }, [rowHits], [correct]),
      ]));
    } finally {
      rowLoss.dispose();
      rowHits.dispose();
    }
    return { loss, dlogits, correct };
  }

  async layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Promise<LayerNormResult> {
    this.#check();
    const [n, width] = checkLayerNorm(this, x, gamma, beta, eps);
    const y = this.#allocate([n, width], 'layerNorm');
    const mean = this.#allocate([n], 'layerNorm mean');
    const rstd = this.#allocate([n], 'layerNorm rstd');
    await this.#trainingOp(this.#rows, n, { op: RowOp.layerNorm, count: n, width, floats: [eps] }, [x, gamma, beta], [y, mean, rstd]);
    return { y, mean, rstd };
  }

  async layerNormGrad(x: Tensor, dy: Tensor, gamma: Tensor, mean: Tensor, rstd: Tensor): Promise<LayerNormGradResult> {
    this.#check();
    const [n, width] = checkLayerNormGrad(this, x, dy, gamma, mean, rstd);
    const dx = this.#allocate([n, width], 'layerNorm dx');
    const dgamma = this.#allocate([width], 'layerNorm dgamma');
    const dbeta = this.#allocate([width], 'layerNorm dbeta');
    await this.#await(this.#runner.run([
      ...this.#trainingDispatches(this.#rows, n, { op: RowOp.layerNormGrad, count: n, width }, [x, dy, gamma, mean, rstd], [dx]),
      ...this.#trainingDispatches(this.#columns, width, { op: ColumnOp.layerNormParams, count: width, width, rows: n }, [x, dy, mean, rstd], [dgamma, dbeta]),
    ]));
    return { dx, dgamma, dbeta };
  }

  async sgdStep(param: Tensor, grad: Tensor, velocity: Tensor | null, options: SgdStepOptions): Promise<void> {
    this.#check();
    const h = resolveSgd(this, param, grad, velocity, options);
    const outputs = velocity ? [param, velocity] : [param];
    await this.#trainingOp(this.#elementwise, param.size, { op: ElementwiseOp.sgd, count: param.size, flag: h.nesterov ? 1 : 0, floats: [h.lr, h.momentum, h.weightDecay] }, [grad], outputs);
  }

  async adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, options: AdamStepOptions): Promise<void> {
    this.#check();
    const h = resolveAdam(this, param, grad, m, v, options);
    await this.#trainingOp(this.#elementwise, param.size, {
      op: ElementwiseOp.adam, count: param.size, floats: [h.beta1, h.beta2, h.eps, h.l2, h.decay, h.stepSize, h.bias2Sqrt, 1 - h.beta1, 1 - h.beta2],
    }, [grad], [param, m, v]);
  }

  async scale(x: Tensor, s: number): Promise<Tensor> {
    this.#check();
    checkTensor(this, x, 'x');
    checkNumber('s', s, -Number.MAX_VALUE, Number.MAX_VALUE, 'scale');
    return this.#map({ op: ElementwiseOp.scale, count: x.size, floats: [s] }, x, [x], 'scale');
  }

  async axpy(alpha: number, x: Tensor, y: Tensor): Promise<void> {
    this.#check();
    checkNumber('alpha', alpha, -Number.MAX_VALUE, Number.MAX_VALUE, 'axpy');
    checkSameShape(this, x, 'x', y, 'y', 'axpy');
    checkDistinct('axpy', [[y, 'y']], [[x, 'x']]);
    await this.#trainingOp(this.#elementwise, x.size, { op: ElementwiseOp.axpy, count: x.size, floats: [alpha] }, [x], [y]);
  }

  async copy(x: Tensor): Promise<Tensor> {
    this.#check();
    checkTensor(this, x, 'x');
    return this.#map({ op: ElementwiseOp.copy, count: x.size }, x, [x], 'copy');
  }

  async fill(x: Tensor, value: number): Promise<void> {
    this.#check();
    checkTensor(this, x, 'x');
    if (typeof value !== 'number') checkNumber('value', value, -Infinity, Infinity, 'fill');
    await this.#trainingOp(this.#elementwise, x.size, { op: ElementwiseOp.fill, count: x.size, floats: [value] }, [], [x]);
  }

  async blockNorms(w: Tensor, kind: BlockNormKind): Promise<Tensor> {
    this.#check();
    checkBlockNormKind(kind);
    const [nnz, per] = checkBlocks(this, w, 'w', 'blockNorms');
    const out = this.#allocate([nnz], 'block norms');
    await this.#trainingOp(this.#rows, nnz, { op: RowOp.blockNorm, count: nnz, width: per, flag: kind === 'l2' ? 0 : 1 }, [w], [out]);
    return out;
  }

  /** out block j = src block sources[j] (or zeros for -1); sources travel as float32, exact below 2^24. */
  async #gather(src: Tensor, sources: Int32Array, per: number, shape: number[], what: string): Promise<Tensor> {
    if (src.shape[0] > 2 ** 24) throw new ShapeError(`${what}: ${src.shape[0]} blocks; the WebGPU backend gathers at most 2^24`);
    const out = this.#allocate(shape, what);
    if (out.size === 0) return out;
    const map = this.#upload(Float32Array.from(sources));
    try {
      await this.#trainingOp(this.#elementwise, out.size, { op: ElementwiseOp.gather, count: out.size, width: per }, [src, map], [out]);
    } finally {
      map.dispose();
    }
    return out;
  }

  async gatherBlocks(w: Tensor, ids: Int32Array): Promise<Tensor> {
    this.#check();
    const [nnz, per] = checkBlocks(this, w, 'w', 'gatherBlocks');
    checkGatherIds(ids, nnz);
    return this.#gather(w, ids, per, [ids.length, ...w.shape.slice(1)], 'gatherBlocks');
  }

  async scatterBlocks(src: Tensor, ids: Int32Array, nnzOut: number): Promise<Tensor> {
    this.#check();
    const [m, per] = checkBlocks(this, src, 'src', 'scatterBlocks');
    const sources = scatterSources(ids, m, nnzOut);
    return this.#gather(src, sources, per, [nnzOut, ...src.shape.slice(1)], 'scatterBlocks');
  }

  /** The hard-concrete uniforms: flag 1 with noise; p0 beta, p1 gamma, p2 zeta, p3 the L0 shift. */
  #hardConcreteValues(op: number, nnz: number, h: HardConcreteParams, noise: boolean): TrainingOpValues {
    return { op, count: nnz, flag: noise ? 1 : 0, floats: [h.beta, h.gamma, h.zeta, h.shift] };
  }

  async hardConcreteGates(logAlpha: Tensor, u: Tensor | null, options: HardConcreteOptions = {}): Promise<Tensor> {
    this.#check();
    const nnz = checkHardConcrete(this, 'hardConcreteGates', logAlpha, u);
    const h = resolveHardConcrete(options, 'hardConcreteGates');
    return this.#map(this.#hardConcreteValues(ElementwiseOp.hardConcreteGates, nnz, h, u !== null), logAlpha, [logAlpha, u], 'gates');
  }

  async hardConcreteGrad(logAlpha: Tensor, u: Tensor | null, dgates: Tensor, options: HardConcreteOptions = {}): Promise<Tensor> {
    this.#check();
    const nnz = checkHardConcrete(this, 'hardConcreteGrad', logAlpha, u, dgates);
    const h = resolveHardConcrete(options, 'hardConcreteGrad');
    return this.#map(this.#hardConcreteValues(ElementwiseOp.hardConcreteGrad, nnz, h, u !== null), logAlpha, [logAlpha, u, dgates], 'dlogAlpha');
  }

  async l0Penalty(logAlpha: Tensor, options: HardConcreteOptions = {}): Promise<L0PenaltyResult> {
    this.#check();
    const nnz = checkHardConcrete(this, 'l0Penalty', logAlpha, null);
    const h = resolveHardConcrete(options, 'l0Penalty');
    const value = this.#allocate([1], 'L0 penalty');
    const grad = this.#allocate([nnz], 'L0 penalty gradient');
    if (nnz === 0) return { value, grad }; // new buffers are zeros
    const probabilities = this.#allocate([nnz], 'gate probabilities');
    try {
      await this.#await(this.#runner.run([
        ...this.#trainingDispatches(this.#elementwise, nnz, this.#hardConcreteValues(ElementwiseOp.l0, nnz, h, false), [logAlpha], [grad, probabilities]),
        ...this.#trainingDispatches(this.#columns, 1, { op: ColumnOp.sum, count: 1, width: 1, rows: nnz, floats: [1] }, [probabilities], [value]),
      ]));
    } finally {
      probabilities.dispose();
    }
    return { value, grad };
  }

  async sync(): Promise<void> {
    this.#check();
    await this.#await(this.device.queue.onSubmittedWorkDone());
    this.#check();
  }

  /**
   * Runs `body` and measures the GPU time of every compute pass it dispatches (timestamp queries;
   * `gpuMs` is null when the adapter lacks them), waiting for the GPU at the end.
   */
  async timeKernels<T>(body: () => Promise<T>): Promise<{ result: T; times: KernelTimes }> {
    this.#check();
    this.#runner.beginProfile();
    let result: T;
    try {
      result = await body();
      await this.sync();
    } catch (error) {
      this.#runner.endProfile().catch(() => undefined);
      throw error;
    }
    return { result, times: await this.#await(this.#runner.endProfile()) };
  }

  /**
   * Test hook: destroys the device, as a driver reset would, and waits (at most `timeoutMs`) until
   * the loss is reported; from then on every call rejects with DeviceLostError.
   */
  async loseDevice(timeoutMs = 5000): Promise<void> {
    this.device.destroy();
    await Promise.race([this.#lostSignal.catch(() => undefined), sleep(timeoutMs)]);
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const buffer of this.#buffers) buffer.destroy();
    this.#buffers.clear();
    this.#tables.destroy();
    this.#dummyRead.destroy();
    this.#dummyWrite.destroy();
    for (const buffer of this.#dummyOutputs) buffer.destroy();
    this.device.onuncapturederror = null;
    this.device.destroy();
    // Dawn keeps Node's event loop alive while its GPU object is referenced.
    this.#gpu = null;
  }

  /** Whether the backend still holds its GPU instance (false once disposed). */
  get alive(): boolean {
    return this.#gpu !== null && !this.#disposed && this.#lost === null;
  }
}

/**
 * The WebGPU backend on the best adapter Dawn finds (`powerPreference`; a CPU fallback adapter
 * such as lavapipe unless `allowFallbackAdapter` is false). Requests the timestamp-query feature
 * when the adapter has it, and the adapter's largest binding and buffer sizes. Throws
 * BackendUnavailableError, saying why, when there is no usable adapter.
 */
export async function createWebGPUBackend(options: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
  const gpu = await createGPU();
  const { adapter, summary } = await requestAdapter(gpu, options);
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const a = adapter.limits;
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
        maxBufferSize: a.maxBufferSize,
        maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
        minStorageBufferOffsetAlignment: a.minStorageBufferOffsetAlignment,
      },
      label: 'blocksparse',
    });
  } catch (error) {
    throw new BackendUnavailableError(`WebGPU: the adapter ${summary.description || summary.device} refused a device: ${(error as Error).message}`);
  }
  return new WebGPUBackend(gpu, device, summary, options);
}
