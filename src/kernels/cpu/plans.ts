import type { BlockLayout } from '../../patterns/layout.js';
import type { Task } from './abi.js';
import type { Phase } from './jobs.js';
import type { LayoutTables } from './layout-tables.js';

/*
 * The products' plans: how each product splits into phases of tasks (jobs.ts runs them) and which
 * temporaries it packs its operands into. A plan only computes offsets and counts; the backend
 * allocates what it asks for, runs its phases in order and frees the temporaries.
 */

/** Rows per unit of the block products at most (a multiple of 4: row tiles). */
export const MAX_UNIT_ROWS = 128;
/** Reduction steps per chunk of the sparse products (chunk = REDUCTION_STEPS / bs blocks). */
export const SPARSE_CHUNK_STEPS = 256;
/** Reduction steps per chunk of the dense product. */
export const DENSE_CHUNK_STEPS = 256;
/** Batch rows per chunk of the weight gradient. */
export const WEIGHT_GRAD_CHUNK_ROWS = 128;
/** Bytes of each thread's gather buffer: a unit's row tiles of one chunk (sparseUnit). */
export const GATHER_BYTES = MAX_UNIT_ROWS * SPARSE_CHUNK_STEPS * 4;

/** Units to aim for per thread, so that threads finishing early find more work. */
export const UNITS_PER_THREAD = 8;

/** A product's plan: the temporaries it needs (bytes each), and its phases given their offsets. */
export interface Plan {
  temporaries: number[];
  phases(temps: number[]): Phase[];
}

/** Items per unit so that `count` items make about `target` units (at least `minimum` items each). */
export function perUnit(count: number, target: number, minimum = 1): number {
  return Math.max(minimum, Math.ceil(count / Math.max(1, target)));
}

/** Rows per unit (a multiple of 4, at most MAX_UNIT_ROWS) so that rows x columns units give every thread several. */
export function unitRows(rows: number, columns: number, threads: number): number {
  let r = MAX_UNIT_ROWS;
  while (r > 4 && Math.ceil(rows / r) * columns < UNITS_PER_THREAD * threads) r >>= 1;
  return Math.min(r, Math.ceil(rows / 4) * 4);
}

/** Row-tile packing of a row-major [rows, features] matrix (or, transposed, of a [features, rows] one) into dst. */
function packRowTilesTask(src: number, rows: number, features: number, transposed: boolean, dst: number, threads: number): Task {
  const tiles = Math.ceil(rows / 4);
  const per = perUnit(tiles, UNITS_PER_THREAD * threads);
  const units = Math.ceil(tiles / per);
  return transposed
    ? { job: 'packColumnTiles', units, params: { src, rows, features, dst, tiles, perUnit: per } }
    : { job: 'packRowTiles', units, params: { src, rows, features, stride: features, dst, tiles, perUnit: per } };
}

/** Bytes of the row tiles of `rows` rows of `features` features. */
const rowTileBytes = (rows: number, features: number): number => Math.ceil(rows / 4) * features * 16;

/** Operands of a block product (byte offsets; gates 0 when absent). */
export interface BlockProductOperands {
  /** True: forward Y = X·W; false: backward-data dX = dY·Wᵀ. */
  forward: boolean;
  layout: BlockLayout;
  tables: LayoutTables;
  /** Batch rows N. */
  rows: number;
  /** The activation read: X [N, C] forward, dY [N, K] backward-data. */
  x: number;
  w: number;
  gates: number;
  /** The output: Y [N, K] forward, dX [N, C] backward-data. */
  y: number;
  /** Where the weight panels are (PanelCache), and whether they must be packed there first. */
  panels: { offset: number; pack: boolean };
  threads: number;
}

/**
 * Forward (a unit per output block and row range, its inputs from the column view) or
 * backward-data (a unit per input block and row range, from the CSR): pack the activation into
 * row tiles and the gated weights into panels, then the products. The layout has nnz > 0.
 */
export function blockProductPlan(o: BlockProductOperands): Plan {
  const { forward, layout, tables, rows, threads } = o;
  const bs = layout.blockSize;
  const nnz = layout.nnz;
  const F = forward ? layout.inFeatures : layout.outFeatures;
  const yFeatures = forward ? layout.outFeatures : layout.inFeatures;
  const segments = forward ? layout.outBlocks : layout.inBlocks;
  const ptr = forward ? tables.colPtr : tables.rowPtr;
  const panelsPer = perUnit(segments, UNITS_PER_THREAD * threads);
  const panelUnits = Math.ceil(segments / panelsPer);
  const rowsPerUnit = unitRows(rows, segments, threads);
  const panels = o.panels.offset;
  const packPanels: Task[] = !o.panels.pack
    ? []
    : forward
      ? [{ job: 'packForward', units: panelUnits, params: { w: o.w, gates: o.gates, bs, colPtr: ptr, blockId: tables.blockId, dst: panels, segments, perUnit: panelsPer } }]
      : [{ job: 'packBackward', units: panelUnits, params: { w: o.w, gates: o.gates, bs, rowPtr: ptr, dst: panels, segments, perUnit: panelsPer } }];
  return {
    temporaries: [rowTileBytes(rows, F)],
    phases: ([xi]) => [
      {
        tasks: [...packPanels, packRowTilesTask(o.x, rows, F, false, xi, threads)],
        flops: 4 * ((o.panels.pack ? nnz * bs * bs : 0) + rows * F),
      },
      {
        tasks: [{
          job: 'sparse',
          units: Math.ceil(rows / rowsPerUnit) * segments,
          params: { xi, F, y: o.y, yFeatures, panels, ptr, idx: forward ? tables.rowIdx : tables.colIdx, bs, segments, rows, rowsPerUnit, chunk: SPARSE_CHUNK_STEPS / bs },
        }],
        flops: 2 * rows * nnz * bs * bs,
      },
    ],
  };
}

/** Operands of the weight gradient (byte offsets; gates, weights and dgates 0 when absent). */
export interface WeightGradOperands {
  layout: BlockLayout;
  tables: LayoutTables;
  /** Batch rows N. */
  rows: number;
  x: number;
  dy: number;
  dw: number;
  gates: number;
  weights: number;
  dgates: number;
  threads: number;
}

/** The weight gradient of a layout with nnz > 0: X and dY into column groups, then block ranges. */
export function weightGradPlan(o: WeightGradOperands): Plan {
  const { layout, tables, rows, threads } = o;
  const bs = layout.blockSize;
  const nnz = layout.nnz;
  const C = layout.inFeatures;
  const K = layout.outFeatures;
  const groupRows = Math.ceil(perUnit(rows, UNITS_PER_THREAD * threads, 16) / 16) * 16;
  const blocksPer = perUnit(nnz, UNITS_PER_THREAD * threads);
  return {
    temporaries: [4 * rows * C, 4 * rows * K],
    phases: ([xg, dyg]) => [
      {
        tasks: [
          { job: 'packColumnGroups', units: Math.ceil(rows / groupRows), params: { src: o.x, rows, features: C, width: 4, dst: xg, perUnit: groupRows } },
          { job: 'packColumnGroups', units: Math.ceil(rows / groupRows), params: { src: o.dy, rows, features: K, width: 8, dst: dyg, perUnit: groupRows } },
        ],
        flops: 4 * rows * (C + K),
      },
      {
        tasks: [{
          job: 'weightGrad',
          units: Math.ceil(nnz / blocksPer),
          params: {
            xg, dyg, rows, bs, pairRows: tables.pairRows, pairCols: tables.pairCols, dw: o.dw, gates: o.gates, weights: o.weights, dgates: o.dgates,
            nnz, perUnit: blocksPer, chunk: WEIGHT_GRAD_CHUNK_ROWS,
          },
        }],
        flops: 2 * rows * nnz * bs * bs,
      },
    ],
  };
}

/** Operands of the dense product C [m, n] = op(A) [m, k] · op(B) [k, n] (byte offsets). */
export interface MatmulOperands {
  m: number;
  k: number;
  n: number;
  a: number;
  b: number;
  transposeA: boolean;
  transposeB: boolean;
  c: number;
  /** Where op(B)'s panels are cached (PanelCache) and whether they must be packed there first; null: pack into a temporary. */
  panels: { offset: number; pack: boolean } | null;
  threads: number;
}

/** Bytes of the dense product's panels of op(B) [k, n]: column slices of 8, each k rows (32 bytes a row). */
export function densePanelBytes(k: number, n: number): number {
  return Math.ceil(n / 8) * k * 32;
}

/** The dense product (m, n, k > 0): op(A) into row tiles and op(B) into column panels (unless cached), then column groups of 32. */
export function matmulPlan(o: MatmulOperands): Plan {
  const { m, k, n, threads } = o;
  const slices = Math.ceil(n / 8);
  const slicesPer = perUnit(slices, UNITS_PER_THREAD * threads);
  const groups = Math.ceil(n / 32);
  const rowsPerUnit = unitRows(m, groups, threads);
  const cached = o.panels;
  const pack = cached === null || cached.pack;
  return {
    temporaries: cached ? [rowTileBytes(m, k)] : [rowTileBytes(m, k), densePanelBytes(k, n)],
    phases: ([xi, temporaryPanels]) => {
      const panels = cached ? cached.offset : temporaryPanels;
      return [
        {
          tasks: [
            packRowTilesTask(o.a, m, k, o.transposeA, xi, threads),
            ...(pack ? [{ job: 'packDense' as const, units: Math.ceil(slices / slicesPer), params: { b: o.b, depth: k, cols: n, transposeB: o.transposeB ? 1 : 0, dst: panels, slices, perUnit: slicesPer } }] : []),
          ],
          flops: 4 * k * (m + (pack ? n : 0)),
        },
        {
          tasks: [{
            job: 'dense',
            units: Math.ceil(m / rowsPerUnit) * groups,
            params: { xi, depth: k, y: o.c, cols: n, panels, groups, rows: m, rowsPerUnit, chunk: DENSE_CHUNK_STEPS },
          }],
          flops: 2 * m * n * k,
        },
      ];
    },
  };
}
