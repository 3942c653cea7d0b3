/**
 * Text from files (layout names, provenance, file names) is printed only after control characters
 * are escaped, so that a file cannot move the cursor, ring the bell, change the terminal's title or
 * forge extra lines of output.
 */

// C0 controls (tab and newline included), DEL, and C1 controls; U+2028/2029 break lines in some terminals too.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `text` with every control character written as a visible escape (`\n`, `\t`, `\x1b`, `\u2028`). */
export function printable(text: string): string {
  return String(text).replace(CONTROL, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** `text` as one printable line: each line break and the spaces around it become one space, other controls escaped. */
export function oneLine(text: string): string {
  return printable(String(text).replace(/\s*[\r\n\u2028\u2029]+\s*/g, ' ').trim());
}
