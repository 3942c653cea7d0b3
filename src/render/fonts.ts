import { createRequire } from 'node:module';

/** Font family every picture asks for; PNG rendering loads exactly this font, so output is the same on every machine. */
export const PICTURE_FONT_FAMILY = 'DejaVu Sans';

/** CSS font-family list written into SVGs: DejaVu Sans first, then fonts with similar (wide) metrics. */
export const PICTURE_FONT_STACK = "'DejaVu Sans', Verdana, Geneva, sans-serif";

/**
 * Paths of the DejaVu Sans regular and bold TrueType files of the `dejavu-fonts-ttf` package, resolved
 * through Node's module resolution (so it works wherever the package is installed).
 */
export function pictureFontFiles(): string[] {
  const require = createRequire(import.meta.url);
  return [require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf'), require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf')];
}

// Advance widths (font units, 2048 per em) of DejaVu Sans 2.37 for ASCII 32..126, read from the
// font's hmtx table once; used to lay text out without loading the font for SVG output.
const UNITS_PER_EM = 2048;
const REGULAR_ASCII = [
  651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303, 1303, 1303, 1303, 1303,
  1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 604, 604, 1343, 1141,
  1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799, 690, 799, 1716, 1024, 1024, 1255, 1300,
  1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298, 1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212,
  1212, 1075, 1303, 690, 1303, 1716,
];
const BOLD_ASCII = [
  713, 934, 1067, 1716, 1425, 2052, 1786, 627, 936, 936, 1071, 1716, 778, 850, 778, 748, 1425, 1425, 1425, 1425, 1425, 1425, 1425,
  1425, 1425, 1425, 819, 819, 1716, 1716, 1716, 1188, 2048, 1585, 1561, 1503, 1700, 1399, 1399, 1681, 1714, 762, 762, 1587, 1305,
  2038, 1714, 1741, 1501, 1741, 1577, 1475, 1397, 1663, 1585, 2259, 1579, 1483, 1485, 936, 748, 936, 1716, 1024, 1024, 1382, 1466,
  1214, 1466, 1389, 891, 1466, 1458, 702, 702, 1362, 702, 2134, 1458, 1407, 1466, 1466, 1010, 1219, 979, 1458, 1335, 1892, 1321,
  1335, 1192, 1458, 748, 1458, 1716,
];
const REGULAR_OTHER: Record<string, number> = { '×': 1716, '·': 651, '…': 2048, '→': 1716, '≈': 1716, '–': 1024, '—': 2048, '⁻': 1081 };
const BOLD_OTHER: Record<string, number> = { '×': 1716, '·': 778, '…': 2048, '→': 1716, '≈': 1716, '–': 1024, '—': 2048, '⁻': 1081 };
const SUPERSCRIPT_DIGITS = '⁰¹²³⁴⁵⁶⁷⁸⁹';

/** Width in px of `text` set in DejaVu Sans at `fontSize` px (kerning ignored; unknown characters count as one em). */
export function textWidth(text: string, fontSize: number, bold = false): number {
  const ascii = bold ? BOLD_ASCII : REGULAR_ASCII;
  const other = bold ? BOLD_OTHER : REGULAR_OTHER;
  let units = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code >= 32 && code < 127) units += ascii[code - 32];
    else if (other[ch] !== undefined) units += other[ch];
    else if (SUPERSCRIPT_DIGITS.includes(ch)) units += bold ? 897 : 821;
    else units += UNITS_PER_EM;
  }
  return (units / UNITS_PER_EM) * fontSize;
}

/** `text` cut (with a trailing ellipsis) so that it is at most `maxWidth` px wide at `fontSize`. */
export function fitText(text: string, maxWidth: number, fontSize: number, bold = false): string {
  if (textWidth(text, fontSize, bold) <= maxWidth) return text;
  const chars = Array.from(text);
  let lo = 0;
  let hi = chars.length;
  // Longest prefix that still fits with the ellipsis.
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (textWidth(chars.slice(0, mid).join('') + '…', fontSize, bold) <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return chars.slice(0, lo).join('').trimEnd() + '…';
}
