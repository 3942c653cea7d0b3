import { formatSeconds, type KernelBenchRow } from '../kernels/bench.js';
import { formatTable } from './table.js';

/** The benchmark rows as an aligned table, with optional extra columns per row (e.g. numpy's time). */
export function formatBenchTable(rows: readonly KernelBenchRow[], extra: { header: string[]; cells: (row: KernelBenchRow) => string[] } = { header: [], cells: () => [] }): string {
  const header = ['product', 'bs', 'density', 'nnz', 'N', 'time', 'GFLOP/s', 'dense time', 'dense GFLOP/s', 'sparse/dense', ...extra.header];
  const body = rows.map((r) => [
    r.product, String(r.blockSize), String(r.density), String(r.nnz), String(r.batch),
    formatSeconds(r.seconds), r.gflops.toFixed(1), formatSeconds(r.denseSeconds), r.denseGflops.toFixed(1), r.vsDense.toFixed(3),
    ...extra.cells(r),
  ]);
  return formatTable(header, body);
}
