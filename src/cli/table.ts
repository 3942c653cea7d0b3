import { printable } from '../printable.js';

/**
 * A plain aligned text table, or a GitHub-flavoured markdown table. Cells may hold text from files
 * (layout names, provenance): control characters are escaped (printable()), one line per row.
 */
export function formatTable(rawHeader: string[], rawRows: string[][], markdown = false): string {
  const header = rawHeader.map((cell) => printable(cell));
  const rows = rawRows.map((row) => row.map((cell) => printable(cell ?? '')));
  if (markdown) {
    const escape = (cell: string) => cell.replace(/\|/g, '\\|');
    const lines = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.map(escape).join(' | ')} |`);
    return `${lines.join('\n')}\n`;
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  // Numbers right-aligned, text left-aligned.
  const numeric = header.map((_h, i) => rows.length > 0 && rows.every((r) => /^([-+]?[\d.]|-$)/.test(r[i] ?? '')));
  const line = (cells: string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** A metric value for a table: 4 significant digits, integers as they are, "-" for null. */
export function formatValue(value: number | null): string {
  if (value === null || Number.isNaN(value)) return '-';
  if (Number.isInteger(value)) return String(value);
  return Number(value.toPrecision(4)).toString();
}
