// Numbers as pictures and the CLI print them: the same text in every locale.

/** `n` with thousands separators ("1,234,567"), the same in every locale. */
export function formatCount(n: number): string {
  const sign = n < 0 ? '-' : '';
  const digits = String(Math.abs(Math.round(n)));
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A fraction as a percentage with three significant digits ("12.5%", "0.0312%"); exact 0 and 1 as "0%" and "100%". */
export function formatPercent(fraction: number): string {
  if (fraction <= 0) return '0%';
  if (fraction >= 1) return '100%';
  const percent = fraction * 100;
  let decimals = Math.max(1, 2 - Math.floor(Math.log10(percent)));
  let text = percent.toFixed(decimals);
  // Never round a partial layout up to "100%" or down to "0%".
  while ((Number(text) >= 100 || Number(text) === 0) && decimals < 12) text = percent.toFixed(++decimals);
  return `${text}%`;
}

/**
 * Labels of the ticks 0, step, 2 step, ... in one unit for the whole axis: "20k" when the step is a
 * multiple of 1,000, "1.5M" when it is a multiple of 100,000 and the axis reaches a million, else
 * the full number with thousands separators.
 */
export function formatTicks(values: readonly number[]): string[] {
  const step = values.length > 1 ? values[1] - values[0] : 1;
  const last = values[values.length - 1];
  if (step % 1e5 === 0 && last >= 1e6) return values.map((v) => (v === 0 ? '0' : `${v / 1e6}M`));
  if (step % 1e3 === 0) return values.map((v) => (v === 0 ? '0' : `${v / 1e3}k`));
  return values.map(formatCount);
}
