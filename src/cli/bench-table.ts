import { formatSeconds, type KernelBenchRow } from '../kernels/bench.js';
import { formatTable } from './table.js';

/**
 * The benchmark rows as an aligned table, with optional extra columns per row (e.g. numpy's time);
 * with the GPU's own times (WebGPU timestamp queries) in three more columns when the rows have them.
 */
export function formatBenchTable(rows: readonly KernelBenchRow[], extra: { header: string[]; cells: (row: KernelBenchRow) => string[] } = { header: [], cells: () => [] }): string {
  const gpu = rows.some((r) => r.gpuSeconds !== null);
  const header = ['product', 'bs', 'density', 'nnz', 'N', 'time', 'GFLOP/s', 'dense time', 'dense GFLOP/s', 'sparse/dense', ...(gpu ? ['GPU time', 'GPU dense', 'GPU sparse/dense'] : []), ...extra.header];
  const gpuCell = (v: number | null, format: (x: number) => string) => (v === null ? '-' : format(v));
  const body = rows.map((r) => [
    r.product, String(r.blockSize), String(r.density), String(r.nnz), String(r.batch),
    formatSeconds(r.seconds), r.gflops.toFixed(1), formatSeconds(r.denseSeconds), r.denseGflops.toFixed(1), r.vsDense.toFixed(3),
    ...(gpu ? [gpuCell(r.gpuSeconds, formatSeconds), gpuCell(r.denseGpuSeconds, formatSeconds), gpuCell(r.gpuVsDense, (x) => x.toFixed(3))] : []),
    ...extra.cells(r),
  ]);
  return formatTable(header, body);
}
