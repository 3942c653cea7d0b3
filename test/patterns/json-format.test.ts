import { describe, expect, it } from 'vitest';
import { FormatError, ParameterError } from '../../src/errors.js';
import {
  LAYOUT_FORMAT,
  LAYOUT_JSON_VERSION,
  MAX_JSON_DEPTH,
  findJSONSyntaxError,
  layoutFromJSON,
  layoutToJSON,
  layoutToJSONString,
  parseLayoutJSON,
  type LayoutJSON,
} from '../../src/patterns/json-format.js';
import { BlockLayout, type Provenance } from '../../src/patterns/layout.js';
import { catchError, expectParameterError } from '../helpers/expect-error.js';

/** The example of the format's documentation. */
const unionProvenance: Provenance = {
  generator: 'union',
  params: {},
  sources: [
    { generator: 'watts-strogatz', params: { p: 0.1, k: 4 }, seed: 7 },
    { generator: 'npy', params: { file: 'mask.npy' } },
  ],
};
const example = BlockLayout.fromPairs({ inBlocks: 4, outBlocks: 6 }, [0, 0, 1, 3, 3], [0, 3, 1, 2, 5], { provenance: unionProvenance });
const exampleText = `{
  "format": "blocksparse-layout",
  "version": 1,
  "inBlocks": 4,
  "outBlocks": 6,
  "blockSize": 32,
  "nnz": 5,
  "rowPtr": [0, 2, 3, 3, 5],
  "colIdx": [0, 3, 1, 2, 5],
  "provenance": {
    "generator": "union",
    "params": {},
    "sources": [
      {"generator": "watts-strogatz", "params": {"k": 4, "p": 0.1}, "seed": 7},
      {"generator": "npy", "params": {"file": "mask.npy"}}
    ]
  }
}
`;

/** A layout from a row-major 0/1 matrix given as strings ("0110"). */
function fromRows(rows: string[], options: { blockSize?: 8 | 16 | 32; provenance?: Provenance } = {}): BlockLayout {
  const r: number[] = [];
  const c: number[] = [];
  rows.forEach((row, i) => [...row].forEach((ch, k) => ch === '1' && (r.push(i), c.push(k))));
  return BlockLayout.fromPairs({ inBlocks: rows.length, outBlocks: rows[0].length, blockSize: options.blockSize }, r, c, {
    provenance: options.provenance,
  });
}

const layouts: Record<string, BlockLayout> = {
  example,
  'one block': fromRows(['1']),
  'no blocks': fromRows(['000', '000']),
  'wide, with empty rows': fromRows(['0000000', '1010011', '0000000'], { blockSize: 8 }),
  'tall, with empty columns': fromRows(['10', '00', '10', '11', '00', '10', '10'], { blockSize: 16 }),
  dense: fromRows(['111', '111', '111']),
  'deep provenance': fromRows(['01', '10'], {
    provenance: {
      generator: 'prune',
      params: { schedule: 'cubic', steps: [1, 2, 3], nested: { a: null, b: [true, 'x', { c: -0.5 }] } },
      seed: 'seed-string',
      sources: [{ generator: 'transpose', params: {}, seed: null, sources: [{ generator: 'dense', params: { n: 2 }, seed: 12 }] }],
    },
  }),
};

describe('layoutToJSONString', () => {
  it('writes the documented example exactly', () => {
    expect(layoutToJSONString(example)).toBe(exampleText);
  });

  it.each(Object.entries(layouts))('round-trips %s (blocks, block size, provenance, bytes)', (_, layout) => {
    const text = layoutToJSONString(layout);
    const back = parseLayoutJSON(text);
    expect(back.equals(layout)).toBe(true);
    expect(back.blockSize).toBe(layout.blockSize);
    expect(back.provenance).toEqual(JSON.parse(JSON.stringify(layout.provenance)));
    expect(layoutToJSONString(back)).toBe(text);
    expect(text.endsWith('}\n')).toBe(true);
    // layoutFromJSON on the plain object agrees with parsing the text.
    expect(layoutFromJSON(layoutToJSON(layout)).equals(layout)).toBe(true);
  });

  it('gives the same bytes for equal layouts built differently (pair order, params key order)', () => {
    const a = BlockLayout.fromPairs({ inBlocks: 3, outBlocks: 3 }, [2, 0, 1, 0], [2, 1, 0, 0], {
      provenance: { generator: 'g', params: { alpha: 1, beta: { y: 2, x: 1 } }, seed: 3 },
    });
    const b = BlockLayout.fromPairs({ inBlocks: 3, outBlocks: 3 }, [0, 0, 1, 2], [0, 1, 0, 2], {
      provenance: { seed: 3, params: { beta: { x: 1, y: 2 }, alpha: 1 }, generator: 'g' },
    });
    expect(layoutToJSONString(a)).toBe(layoutToJSONString(b));
  });

  it('packs long arrays onto lines of at most 100 characters', () => {
    const n = 64;
    const rows = Array.from({ length: n }, (_, i) => i);
    const layout = BlockLayout.fromPairs({ inBlocks: n, outBlocks: n }, rows, rows);
    const text = layoutToJSONString(layout);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    expect(text).toContain('  "colIdx": [\n    0, 1, 2,');
    expect(parseLayoutJSON(text).equals(layout)).toBe(true);
  });

  it('turns typed arrays in params into arrays and drops undefined values, as JSON.stringify would', () => {
    const layout = fromRows(['1'], {
      provenance: { generator: 'g', params: { degrees: Int32Array.of(3, 1), unset: undefined }, seed: undefined },
    });
    const doc = layoutToJSON(layout);
    expect(doc.provenance).toEqual({ generator: 'g', params: { degrees: [3, 1] } });
    expect(Object.keys(doc.provenance)).toEqual(['generator', 'params']);
  });

  it.each([
    ['NaN in params', { generator: 'g', params: { p: NaN } }, 'layout.provenance.params.p'],
    ['a function in params', { generator: 'g', params: { f: () => 1 } }, 'layout.provenance.params.f'],
    ['a Date in params', { generator: 'g', params: { when: new Date(0) } }, 'layout.provenance.params.when'],
    ['an empty generator', { generator: '', params: {} }, 'layout.provenance.generator'],
    ['an infinite seed', { generator: 'g', params: {}, seed: Infinity }, 'layout.provenance.seed'],
    ['an unknown provenance key', { generator: 'g', params: {}, note: 'x' }, 'layout.provenance.note'],
  ])('refuses to write provenance with %s (ParameterError naming it)', (_, provenance, parameter) => {
    const layout = fromRows(['1'], { provenance: provenance as unknown as Provenance });
    expectParameterError(() => layoutToJSONString(layout), parameter);
  });

  it('refuses cyclic params instead of overflowing the stack', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const layout = fromRows(['1'], { provenance: { generator: 'g', params: cyclic } });
    expect(() => layoutToJSON(layout)).toThrow(ParameterError);
  });
});

describe('parseLayoutJSON', () => {
  it('accepts a byte-order mark and keeps a "__proto__" key in params as data', () => {
    const text = exampleText.replace('"params": {},', '"params": {"__proto__": {"polluted": true}},');
    const layout = parseLayoutJSON('\ufeff' + text);
    expect(Object.getPrototypeOf(layout.provenance.params)).toBe(Object.prototype);
    expect(Object.keys(layout.provenance.params)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(layoutToJSONString(layout)).toContain('"params": {"__proto__": {"polluted": true}}');
  });

  it('says where text that is not JSON goes wrong', () => {
    const error = catchError(() => parseLayoutJSON('{\n  "format": "blocksparse-layout",\n  "version": 1,,\n}'));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).field).toBe('json');
    expect((error as FormatError).message).toBe(
      'not valid JSON: unexpected ",", expected a property name in double quotes at line 3, column 16 (offset 51)',
    );
    expect(catchError(() => parseLayoutJSON(''))).toMatchObject({ field: 'json', message: expect.stringMatching(/end of input/) });
    expect(catchError(() => parseLayoutJSON('{"a": 1} x'))).toMatchObject({ field: 'json', message: expect.stringMatching(/after the JSON value at line 1, column 10/) });
  });

  it('rejects a non-string argument with ParameterError', () => {
    expect(() => parseLayoutJSON(42 as unknown as string)).toThrow(ParameterError);
  });
});

/** The documented example as a fresh plain object, edited by `edit`. */
function edited(edit: (doc: Record<string, any>) => void): Record<string, any> {
  const doc = JSON.parse(exampleText) as Record<string, any>;
  edit(doc);
  return doc;
}

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

function nestedSources(depth: number): Record<string, unknown> {
  let p: Record<string, unknown> = { generator: 'leaf', params: {} };
  for (let i = 0; i < depth; i++) p = { generator: 'op', params: {}, sources: [p] };
  return p;
}

// [what is wrong, the document, the field, a pattern the message must match]
const invalid: [string, unknown, string, RegExp][] = [
  ['an array instead of an object', [], 'document', /must be a JSON object \(got an array/],
  ['null', null, 'document', /got null/],
  ['a missing format tag', edited((d) => delete d.format), 'format', /missing "format"/],
  ['a wrong format tag', edited((d) => (d.format = 'blocksparse')), 'format', /must be "blocksparse-layout" \(got the string "blocksparse"\)/],
  ['a missing version', edited((d) => delete d.version), 'version', /missing "version" \(this reader supports version 1\)/],
  ['an unsupported version', edited((d) => (d.version = 2)), 'version', /unsupported version 2; this reader supports version 1/],
  ['a string version', edited((d) => (d.version = '1')), 'version', /must be an integer \(got the string "1"\)/],
  ['an unknown field', edited((d) => (d.comment = 'hi')), 'comment', /unknown field "comment"/],
  ['a missing inBlocks', edited((d) => delete d.inBlocks), 'inBlocks', /missing "inBlocks"/],
  ['a fractional inBlocks', edited((d) => (d.inBlocks = 4.5)), 'inBlocks', /must be an integer in \[1, 2147483646\] \(got 4.5\)/],
  ['a negative outBlocks', edited((d) => (d.outBlocks = -6)), 'outBlocks', /must not be negative \(got -6\)/],
  ['a zero outBlocks', edited((d) => (d.outBlocks = 0)), 'outBlocks', /must be an integer in \[1,/],
  ['a huge inBlocks', edited((d) => (d.inBlocks = 1e300)), 'inBlocks', /got 1e\+300/],
  ['a string outBlocks', edited((d) => (d.outBlocks = '6')), 'outBlocks', /got the string "6"/],
  ['a missing blockSize', edited((d) => delete d.blockSize), 'blockSize', /missing "blockSize"/],
  ['an unsupported blockSize', edited((d) => (d.blockSize = 64)), 'blockSize', /one of 8, 16, 32 \(got 64\)/],
  ['a missing nnz', edited((d) => delete d.nnz), 'nnz', /missing "nnz"/],
  ['a negative nnz', edited((d) => (d.nnz = -1)), 'nnz', /must not be negative/],
  ['an nnz that disagrees with rowPtr and colIdx', edited((d) => (d.nnz = 6)), 'nnz', /"nnz" is 6 but rowPtr ends at 5 and colIdx has 5 entries/],
  ['a missing rowPtr', edited((d) => delete d.rowPtr), 'rowPtr', /missing "rowPtr"/],
  ['a rowPtr that is not an array', edited((d) => (d.rowPtr = '0,2,3,3,5')), 'rowPtr', /must be an array/],
  ['a rowPtr of the wrong length', edited((d) => d.rowPtr.pop()), 'rowPtr', /inBlocks \+ 1 = 5 entries \(got 4\)/],
  ['a rowPtr not starting at 0', edited((d) => (d.rowPtr = [1, 2, 3, 3, 5])), 'rowPtr', /must start at 0/],
  ['a decreasing rowPtr', edited((d) => (d.rowPtr = [0, 3, 2, 3, 5])), 'rowPtr', /non-decreasing \(rowPtr\[2\] = 2 < rowPtr\[1\] = 3\)/],
  ['a non-integer in rowPtr', edited((d) => (d.rowPtr[2] = 2.5)), 'rowPtr', /rowPtr\[2\] must be an integer/],
  ['a null in rowPtr', edited((d) => (d.rowPtr[2] = null)), 'rowPtr', /rowPtr\[2\] must be an integer .*got null/],
  ['a rowPtr not ending at nnz', edited((d) => (d.rowPtr[4] = 4)), 'rowPtr', /must end at nnz = 5 \(got rowPtr\[4\] = 4\)/],
  ['a colIdx shorter than nnz', edited((d) => d.colIdx.pop()), 'colIdx', /must have nnz = 5 entries \(got 4\)/],
  ['a missing colIdx', edited((d) => delete d.colIdx), 'colIdx', /missing "colIdx"/],
  ['a column out of range', edited((d) => (d.colIdx[4] = 6)), 'colIdx', /colIdx\[4\] \(row 3\) must be an integer in \[0, 5\] \(got 6\)/],
  ['a negative column', edited((d) => (d.colIdx[0] = -1)), 'colIdx', /colIdx\[0\] \(row 0\) .*got -1/],
  ['a string column', edited((d) => (d.colIdx[0] = '0')), 'colIdx', /got the string "0"/],
  ['a duplicate block', edited((d) => (d.colIdx[1] = 0)), 'colIdx', /duplicate block \(row 0, column 0\) at colIdx\[0\] and colIdx\[1\]/],
  ['an unsorted row', edited((d) => (d.colIdx = [3, 0, 1, 2, 5])), 'colIdx', /sorted ascending within each row; row 0 has colIdx\[1\] = 0 after colIdx\[0\] = 3 \(unsorted rows are rejected/],
  [
    'a duplicate in an unsorted row',
    edited((d) => Object.assign(d, { inBlocks: 1, rowPtr: [0, 3], nnz: 3, colIdx: [3, 1, 3] })),
    'colIdx',
    /duplicate block \(row 0, column 3\) at colIdx\[0\] and colIdx\[2\]/,
  ],
  ['a missing provenance', edited((d) => delete d.provenance), 'provenance', /missing "provenance"/],
  ['a string provenance', edited((d) => (d.provenance = 'union')), 'provenance', /must be an object with "generator" and "params"/],
  ['a numeric generator', edited((d) => (d.provenance.generator = 3)), 'provenance.generator', /must be a non-empty string \(got 3\)/],
  ['missing params', edited((d) => delete d.provenance.params), 'provenance.params', /must be an object \(got nothing\)/],
  ['params that are an array', edited((d) => (d.provenance.params = [1])), 'provenance.params', /must be an object \(got an array/],
  ['an object seed', edited((d) => (d.provenance.seed = { s: 1 })), 'provenance.seed', /a finite number, a string or null \(got an object\)/],
  ['sources that are not an array', edited((d) => (d.provenance.sources = {})), 'provenance.sources', /an array of provenances/],
  ['a bad nested source', edited((d) => (d.provenance.sources[1].generator = null)), 'provenance.sources[1].generator', /non-empty string \(got null\)/],
  ['an unknown provenance field', edited((d) => (d.provenance.note = 'x')), 'provenance.note', /a provenance has only generator, params, seed, sources/],
  [
    'sources nested too deep',
    edited((d) => (d.provenance = nestedSources(MAX_JSON_DEPTH + 1))),
    'provenance' + '.sources[0]'.repeat(MAX_JSON_DEPTH + 1),
    /sources may nest at most 32 levels deep/,
  ],
  ['params nested too deep', edited((d) => (d.provenance.params = { x: nested(40) })), 'provenance.params.x' + '[0]'.repeat(MAX_JSON_DEPTH - 1), /params values may nest at most 32/],
];

describe('layoutFromJSON: every invalid document raises FormatError naming the field', () => {
  it.each(invalid)('%s', (_, doc, field, message) => {
    const error = catchError(() => layoutFromJSON(doc));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).field).toBe(field);
    expect((error as FormatError).message).toMatch(message);
    // The same through the text reader.
    const viaText = catchError(() => parseLayoutJSON(JSON.stringify(doc)));
    expect(viaText).toBeInstanceOf(FormatError);
    expect((viaText as FormatError).field).toBe(field);
  });

  it('accepts the deepest allowed nesting', () => {
    const doc = edited((d) => (d.provenance = nestedSources(MAX_JSON_DEPTH)));
    expect(layoutFromJSON(doc).provenance.generator).toBe('op');
    const params = edited((d) => (d.provenance.params = { x: nested(MAX_JSON_DEPTH - 1) }));
    expect(() => layoutFromJSON(params)).not.toThrow();
  });

  it('reads a hand-written document with an empty layout and no optional provenance fields', () => {
    const doc: LayoutJSON = {
      format: LAYOUT_FORMAT,
      version: LAYOUT_JSON_VERSION,
      inBlocks: 2,
      outBlocks: 3,
      blockSize: 8,
      nnz: 0,
      rowPtr: [0, 0, 0],
      colIdx: [],
      provenance: { generator: 'hand', params: {} },
    };
    const layout = layoutFromJSON(doc);
    expect([layout.inBlocks, layout.outBlocks, layout.blockSize, layout.nnz]).toEqual([2, 3, 8, 0]);
    expect(layout.provenance).toEqual({ generator: 'hand', params: {} });
  });
});

describe('findJSONSyntaxError', () => {
  it.each(['{}', '[]', ' [1, -2.5e+3, "a\\u00e9\\n", true, false, null, {"k": [{}]}] ', '0', '"x"', '-0.0E1'])('accepts %j like JSON.parse', (text) => {
    expect(() => JSON.parse(text)).not.toThrow();
    expect(findJSONSyntaxError(text)).toBeNull();
  });

  it.each([
    ['{"a" 1}', 5, "expected ':'"],
    ['[1 2]', 3, "expected ',' or ']'"],
    ['01', 1, 'after the JSON value'],
    ['[1.]', 3, 'after the decimal point'],
    ['"a\tb"', 2, 'control character'],
    ['{"a": tru}', 6, 'expected a value'],
    ["{'a': 1}", 1, 'property name in double quotes'],
    ['[', 1, 'end of input'],
  ])('locates the error in %j like JSON.parse rejects it', (text, position, problem) => {
    expect(() => JSON.parse(text)).toThrow();
    const found = findJSONSyntaxError(text);
    expect(found?.position).toBe(position);
    expect(found?.problem).toContain(problem);
  });
});
