// The colours of layout pictures and how a density shades between them.

/** How a density shade maps the fraction of present blocks: logarithmic (default) or linear. */
export type DensityScale = 'log' | 'linear';

/** Colours other than the two block colours (not options: they keep pictures consistent). */
export const PICTURE_COLORS = {
  background: '#ffffff',
  text: '#1f2328',
  secondaryText: '#57606a',
  frame: '#8c959f',
  grid: '#ffffff',
} as const;

/** Lightest shade used for a pixel with any block present, so single blocks stay visible. */
const LOG_SHADE_FLOOR = 0.2;

/**
 * The shade in [0, 1] (0 = absent colour, 1 = present colour) of a pixel in which `fraction` of the
 * blocks are present. Linear: the fraction itself. Log: 0 for none, else LOG_SHADE_FLOOR at
 * `scaleFloor` rising linearly in log(fraction) to 1 at 1.
 */
export function densityShade(fraction: number, scale: DensityScale, scaleFloor: number): number {
  if (fraction <= 0) return 0;
  if (scale === 'linear') return Math.min(1, fraction);
  if (fraction >= 1) return 1;
  const t = Math.log(fraction / scaleFloor) / Math.log(1 / scaleFloor);
  return LOG_SHADE_FLOOR + (1 - LOG_SHADE_FLOOR) * Math.min(1, Math.max(0, t));
}

/** The [r, g, b] colour of shade `t` in [0, 1]: linear in sRGB from `absent` (0) to `present` (1). */
export function shadeColor(t: number, present: string, absent: string): [number, number, number] {
  const p = parseHex(present);
  const a = parseHex(absent);
  return [0, 1, 2].map((i) => Math.round(a[i] + (p[i] - a[i]) * t)) as [number, number, number];
}

/** '#rrggbb' of an [r, g, b] colour. */
export function hexColor(rgb: readonly number[]): string {
  return '#' + rgb.map((v) => v.toString(16).padStart(2, '0')).join('');
}

function parseHex(color: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16)) as [number, number, number];
}
