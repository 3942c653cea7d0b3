import type { BlockLayout } from '../../patterns/layout.js';
import { taps, type Conv2dGeometry, type ConvShape } from '../conv.js';
import type { Task } from './abi.js';
import type { LayoutTables } from './layout-tables.js';
import { GATHER_BYTES, MAX_UNIT_ROWS, perUnit, SPARSE_CHUNK_STEPS, unitRows, UNITS_PER_THREAD, type Plan } from './plans.js';

/*
 * The convolutions' plans (assembly/conv.ts has the kernels; src/kernels/conv.ts the definition).
 * Implicit GEMM: each unit gathers the source rows its taps read into its thread's buffer
 * (GATHER_BYTES), one chunk of the reduction at a time, so the plans need no temporary sized from
 * the input; the packed weight panels (as large as W) are the PanelCache's. How units split the
 * rows or the blocks never changes what a float adds up or in which order: the results are the
 * same bytes on any number of threads.
 */

/** Output positions per chunk of the weight gradient (its gather takes 8 bs chunk bytes of the thread's buffer). */
export const CONV_WEIGHT_GRAD_CHUNK = 128;

/** A convolution's geometry as the kernels' parameters. */
function geometryParams(g: Conv2dGeometry): { kw: number; strideY: number; strideX: number; padY: number; padX: number; dilY: number; dilX: number } {
  return {
    kw: g.kernel[1],
    strideY: g.stride[0],
    strideX: g.stride[1],
    padY: g.padding[0],
    padX: g.padding[1],
    dilY: g.dilation[0],
    dilX: g.dilation[1],
  };
}

/** Operands of conv2d or conv2dBackwardData (byte offsets; gates 0 when absent). */
export interface ConvProductOperands {
  /** True: Y = conv(X, g W); false: dX, the adjoint in X, from dY. */
  forward: boolean;
  layout: BlockLayout;
  tables: LayoutTables;
  geometry: Conv2dGeometry;
  shape: ConvShape;
  /** The activation read: X [N, H, W, C] forward, dY [N, Ho, Wo, K] backward-data. */
  src: number;
  w: number;
  gates: number;
  /** The output: Y [N, Ho, Wo, K] forward, dX [N, H, W, C] backward-data. */
  y: number;
  /** Where the weight panels are (PanelCache, as large as W), and whether they must be packed there first. */
  panels: { offset: number; pack: boolean };
  threads: number;
}

/**
 * conv2d (a unit per output block and range of output positions, its entries from the column
 * view) or conv2dBackwardData (a unit per input block and range of input positions, from the CSR,
 * each reading dY where its taps land on the stride grid): the gated weights into panels (unless
 * cached), then the units. The layout has nnz > 0.
 */
export function convProductPlan(o: ConvProductOperands): Plan {
  const { forward, layout, tables, geometry, shape, threads } = o;
  const bs = layout.blockSize;
  const T = taps(geometry);
  const [C, K] = shape.channels;
  const [rowH, rowW] = forward ? shape.outputSize : shape.inputSize;
  const [srcH, srcW] = forward ? shape.inputSize : shape.outputSize;
  const rows = shape.n * rowH * rowW;
  const segments = forward ? layout.outBlocks : layout.inBlocks;
  const ptr = forward ? tables.colPtr : tables.rowPtr;
  const panelsPer = perUnit(segments, UNITS_PER_THREAD * threads);
  const rowsPerUnit = unitRows(rows, segments, threads);
  const chunk = SPARSE_CHUNK_STEPS / bs;
  // a unit's gathered chunk: its row tiles times the chunk's steps, 16 bytes each
  if (rowsPerUnit > MAX_UNIT_ROWS || rowsPerUnit * chunk * bs * 4 > GATHER_BYTES) throw new Error('conv: a unit does not fit its gather buffer');
  const transposed = forward ? 0 : 1;
  const pack: Task[] = o.panels.pack
    ? [{
        job: 'packConvPanels',
        units: Math.ceil(segments / panelsPer),
        params: { w: o.w, gates: o.gates, bs, taps: T, ptr, blockId: forward ? tables.blockId : 0, transposed, dst: o.panels.offset, segments, perUnit: panelsPer },
      }]
    : [];
  return {
    temporaries: [],
    phases: () => [
      { tasks: pack, flops: 4 * layout.nnz * T * bs * bs },
      {
        tasks: [{
          job: 'conv',
          units: Math.ceil(rows / rowsPerUnit) * segments,
          params: {
            src: o.src, F: forward ? C : K, y: o.y, yFeatures: forward ? K : C, panels: o.panels.offset, ptr, idx: forward ? tables.rowIdx : tables.colIdx,
            bs, taps: T, transposed, rowH, rowW, srcH, srcW, ...geometryParams(geometry), segments, rows, rowsPerUnit, chunk,
          },
        }],
        flops: 2 * rows * layout.nnz * T * bs * bs,
      },
    ],
  };
}

/** Operands of conv2dWeightGrad (byte offsets; gates, weights and dgates 0 when absent). */
export interface ConvWeightGradOperands {
  layout: BlockLayout;
  tables: LayoutTables;
  geometry: Conv2dGeometry;
  shape: ConvShape;
  x: number;
  dy: number;
  dw: number;
  gates: number;
  weights: number;
  dgates: number;
  threads: number;
}

/**
 * The convolution's weight gradient for a layout with nnz > 0: units over the (block, tap) pairs,
 * each summing over every output position in fixed chunks; then, with gates or weights, a pass
 * over the blocks for the gate gradient and the gating.
 */
export function convWeightGradPlan(o: ConvWeightGradOperands): Plan {
  const { layout, tables, geometry, shape, threads } = o;
  const bs = layout.blockSize;
  const nnz = layout.nnz;
  const T = taps(geometry);
  const [C, K] = shape.channels;
  const [outH, outW] = shape.outputSize;
  const [inH, inW] = shape.inputSize;
  const positions = shape.n * outH * outW;
  const pairs = nnz * T;
  const pairsPer = perUnit(pairs, UNITS_PER_THREAD * threads);
  const blocksPer = perUnit(nnz, UNITS_PER_THREAD * threads);
  const chunk = CONV_WEIGHT_GRAD_CHUNK;
  if (8 * bs * chunk > GATHER_BYTES) throw new Error('conv: the weight gradient\'s chunk does not fit its gather buffer');
  const gated = o.gates !== 0 || o.weights !== 0;
  return {
    temporaries: [],
    phases: () => [
      {
        tasks: [{
          job: 'convWeightGrad',
          units: Math.ceil(pairs / pairsPer),
          params: {
            x: o.x, dy: o.dy, C, K, bs, taps: T, positions, outH, outW, inH, inW, ...geometryParams(geometry),
            pairRows: tables.pairRows, pairCols: tables.pairCols, dw: o.dw, pairs, perUnit: pairsPer, chunk,
          },
        }],
        flops: 2 * positions * pairs * bs * bs,
      },
      {
        tasks: gated
          ? [{ job: 'convGateGrad', units: Math.ceil(nnz / blocksPer), params: { dw: o.dw, gates: o.gates, weights: o.weights, dgates: o.dgates, blockFloats: T * bs * bs, nnz, perUnit: blocksPer } }]
          : [],
        flops: 2 * pairs * bs * bs,
      },
    ],
  };
}
