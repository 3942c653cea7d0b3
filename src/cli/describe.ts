import type { BlockLayout } from '../patterns/layout.js';
import type { LayoutSummary } from '../patterns/summary.js';
import { describeProvenance } from '../patterns/provenance.js';
import { formatPercent } from '../render/number-format.js';
import { printable } from '../printable.js';

// Names and provenance come from files: every line printed here passes through printable(), so a
// file cannot put control characters (terminal escapes, extra lines) into the output.

/** One line: "watts-strogatz k=4 ...: 64 x 64 blocks of 32 x 32, 320 blocks (7.81%)"; control characters escaped. */
export function describeLayoutLine(layout: BlockLayout): string {
  return `${printable(describeProvenance(layout.provenance))}: ${layout.inBlocks} x ${layout.outBlocks} blocks of ${layout.blockSize} x ${layout.blockSize}, ${layout.nnz} blocks (${formatPercent(layout.density)})`;
}

const stats = (s: { min: number; mean: number; max: number }): string => `min ${s.min}, mean ${s.mean.toFixed(2)}, max ${s.max}`;

/** The summary as aligned human-readable lines, one per field; control characters in the title and values escaped. */
export function formatSummary(summary: LayoutSummary, title?: string): string {
  const rows: [string, string][] = [
    ['shape', `${summary.inBlocks} x ${summary.outBlocks} blocks of ${summary.blockSize} x ${summary.blockSize} (${summary.inFeatures} -> ${summary.outFeatures} features)`],
    ['blocks', `${summary.nnz} of ${summary.inBlocks * summary.outBlocks} (${formatPercent(summary.density)}), ${summary.parameters} weights`],
    ['in-degree', `${stats(summary.inDegree)} (input blocks per output block)`],
    ['out-degree', `${stats(summary.outDegree)} (output blocks per input block)`],
    ['symmetric', summary.symmetric ? 'yes' : 'no'],
    ['diagonal', `${summary.diagonalBlocks} of ${Math.min(summary.inBlocks, summary.outBlocks)} blocks`],
    ['empty', `${summary.emptyRows} input blocks feed nothing, ${summary.emptyColumns} output blocks are fed by nothing`],
    ['provenance', describeProvenance(summary.provenance)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${printable(v)}`);
  return (title ? `${printable(title)}\n` : '') + lines.join('\n') + '\n';
}
