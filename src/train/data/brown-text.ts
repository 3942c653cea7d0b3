/**
 * The plain text of one tagged Brown corpus file (Form C: tokens `word/tag`). The normalisation,
 * which gives the figures in docs/language-models.md ("Text data"):
 * - a paragraph is a run of non-blank lines; blank (or whitespace-only) lines separate paragraphs;
 * - each line (a sentence, or a headline) is split at whitespace into tokens, and each token is cut
 *   at its last '/': the word before it is kept, the tag dropped (so "1/2/cd" gives "1/2");
 * - the quote tokens `` and '' both become "; every other word is kept as it is;
 * - a line's words are joined by single spaces, a paragraph's lines by single spaces, and each
 *   paragraph ends with "\n" (so the text has no blank lines and no trailing spaces).
 */
import { FormatError } from '../../errors.js';

/** The plain text of a tagged Brown file's content `raw`; FormatError naming `id` and the line for a token without a tag or without a word. */
export function brownFileToText(raw: string, id = 'file'): string {
  const paragraphs: string[] = [];
  let sentences: string[] = [];
  const lines = raw.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line.length === 0) {
      if (sentences.length > 0) paragraphs.push(sentences.join(' ') + '\n');
      sentences = [];
      continue;
    }
    sentences.push(line.split(/\s+/).map((token) => wordOf(token, id, n + 1)).join(' '));
  }
  if (sentences.length > 0) paragraphs.push(sentences.join(' ') + '\n');
  return paragraphs.join('');
}

/** The word of a `word/tag` token, with the quote tokens mapped to '"'. */
function wordOf(token: string, id: string, line: number): string {
  const slash = token.lastIndexOf('/');
  if (slash <= 0 || slash === token.length - 1) {
    throw new FormatError(`Brown corpus ${id}, line ${line}: token ${JSON.stringify(token)} is not word/tag`, 'token');
  }
  const word = token.slice(0, slash);
  return word === '``' || word === "''" ? '"' : word;
}
