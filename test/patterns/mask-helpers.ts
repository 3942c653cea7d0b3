import type { BlockLayout } from '../../src/patterns/layout.js';

/** A layout's 0/1 mask as nested arrays [inBlocks][outBlocks] (easy to compare and to read in a diff). */
export function maskRows(layout: BlockLayout): number[][] {
  const mask = layout.toMask();
  const rows: number[][] = [];
  for (let c = 0; c < layout.inBlocks; c++) rows.push(Array.from(mask.subarray(c * layout.outBlocks, (c + 1) * layout.outBlocks)));
  return rows;
}

/** The transpose of a nested-array mask. */
export function transposeRows(rows: number[][]): number[][] {
  if (rows.length === 0) return [];
  return rows[0].map((_, k) => rows.map((row) => row[k]));
}

/** A nested-array mask from a predicate on (row, column). */
export function maskFrom(rows: number, cols: number, present: (c: number, k: number) => boolean): number[][] {
  return Array.from({ length: rows }, (_, c) => Array.from({ length: cols }, (_, k) => (present(c, k) ? 1 : 0)));
}

/** Parses a compact picture: one string per row, '1'/'x' present, '0'/'.' absent, spaces ignored. */
export function picture(...lines: string[]): number[][] {
  return lines.map((line) => [...line.replace(/\s+/g, '')].map((ch) => (ch === '1' || ch === 'x' ? 1 : 0)));
}

/** Sorted copy of a degree array, for comparing degree multisets. */
export function sortedDegrees(degrees: Int32Array): number[] {
  return Array.from(degrees).sort((a, b) => a - b);
}
