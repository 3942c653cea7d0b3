/**
 * Fuzzing the layout readers: for any input, a reader either returns a valid layout (one that
 * re-serialises and re-parses equal) or throws one of our errors (a BlocksparseError subclass);
 * never a TypeError, RangeError, out-of-memory or hang. * FUZZ_RUNS (default 10000) sets the
 * number of inputs per reader; each reader's runs are shared among its input families.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setMemoryBudget } from '../../src/budget.js';
import { BlocksparseError, FormatError, ResourceError } from '../../src/errors.js';
import { summarize } from '../../src/patterns/summary.js';
import {
  LAYOUT_FORMAT,
  MAX_JSON_DEPTH,
  findJSONSyntaxError,
  layoutFromJSON,
  layoutToJSON,
  layoutToJSONString,
  parseLayoutJSON,
} from '../../src/patterns/json-format.js';
import { BlockLayout, type BlockSize, type Provenance } from '../../src/patterns/layout.js';
import { layoutFromNpy, layoutToNpy } from '../../src/patterns/npy.js';

const FUZZ_RUNS = fuzzRuns();
/** Every reader runs under a small memory budget: huge declared sizes must be refused, not allocated. */
const FUZZ_BUDGET = 256 * 2 ** 20;
beforeAll(() => setMemoryBudget(FUZZ_BUDGET));
afterAll(() => setMemoryBudget(undefined));
/** Per test; generous, the whole file normally takes a few seconds. */
const TIMEOUT_MS = 120_000;

function fuzzRuns(): number {
  const raw = process.env.FUZZ_RUNS;
  if (raw === undefined || raw === '') return 10_000;
  const runs = Number(raw);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`FUZZ_RUNS must be a positive integer (got ${JSON.stringify(raw)})`);
  return runs;
}

/**
 * Runs `read`; returns its layout, or undefined when it threw one of our errors. Anything else
 * fails the property. Stricter than "a BlocksparseError": bad contents must be a FormatError (a
 * ParameterError from BlockLayout.fromCSR would mean the reader missed a check), or a ResourceError
 * for a size over the memory budget.
 */
function readOrOurError(read: () => BlockLayout): BlockLayout | undefined {
  try {
    return read();
  } catch (error) {
    // ResourceError: a size the memory budget refuses (checked before allocating).
    if (error instanceof FormatError || error instanceof ResourceError) return undefined;
    if (error instanceof BlocksparseError) throw new Error(`a ${error.name} instead of a FormatError: ${error.message}`);
    throw error;
  }
}

/** A layout that came out of the JSON reader must write and read back to the same layout and text. */
function checkJSONLayout(layout: BlockLayout): void {
  const text = layoutToJSONString(layout);
  const again = parseLayoutJSON(text);
  if (!again.equals(layout) || layoutToJSONString(again) !== text) throw new Error(`layout does not re-parse equal:\n${text}`);
}

/**
 * No silent repair: a document the reader accepted must be exactly (as JSON data) the canonical
 * document of the layout it produced, so nothing in it was dropped, rounded or reordered.
 */
function checkNothingRepaired(input: unknown, layout: BlockLayout): void {
  expect(JSON.parse(JSON.stringify(input))).toEqual(JSON.parse(JSON.stringify(layoutToJSON(layout))));
}

/** A layout that came out of the npy reader must write and read back to the same layout. */
function checkNpyLayout(layout: BlockLayout): void {
  const again = layoutFromNpy(layoutToNpy(layout), { blockSize: layout.blockSize });
  if (!again.equals(layout)) throw new Error('layout does not re-read equal from .npy');
}

// ---------------------------------------------------------------------------------------------
// Valid layouts

const provenanceFields = {
  generator: fc.string({ minLength: 1, maxLength: 10 }),
  params: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }) as fc.Arbitrary<Record<string, unknown>>,
  seed: fc.oneof(fc.integer(), fc.string({ maxLength: 6 }), fc.constant(null)),
};
const required = { requiredKeys: ['generator', 'params'] as ('generator' | 'params')[] };
const withSources = (inner: fc.Arbitrary<Provenance>): fc.Arbitrary<Provenance> =>
  fc.record({ ...provenanceFields, sources: fc.array(inner, { maxLength: 2 }) }, required);
const leafProvenance: fc.Arbitrary<Provenance> = fc.record(provenanceFields, required);
/** Provenances with up to two levels of sources (bounded, to keep generation cheap). */
const provenanceArb: fc.Arbitrary<Provenance> = fc.oneof(leafProvenance, withSources(leafProvenance), withSources(withSources(leafProvenance)));

const layoutArb: fc.Arbitrary<BlockLayout> = fc
  .record({
    inBlocks: fc.integer({ min: 1, max: 9 }),
    outBlocks: fc.integer({ min: 1, max: 9 }),
    blockSize: fc.constantFrom<BlockSize>(8, 16, 32),
    density: fc.constantFrom(0, 0.1, 0.5, 1),
    provenance: provenanceArb,
  })
  .chain(({ inBlocks, outBlocks, blockSize, density, provenance }) =>
    fc
      .array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: inBlocks * outBlocks, maxLength: inBlocks * outBlocks })
      .map((draws) => {
        const rows: number[] = [];
        const cols: number[] = [];
        draws.forEach((u, i) => u < density && (rows.push(Math.floor(i / outBlocks)), cols.push(i % outBlocks)));
        return BlockLayout.fromPairs({ inBlocks, outBlocks, blockSize }, rows, cols, { provenance });
      }),
  );

// ---------------------------------------------------------------------------------------------
// JSON reader

/** Values that tend to break readers. */
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 0.5, 2 ** 31, 2 ** 31 - 1, 2 ** 31 - 2, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, 5e-324, null, true, false, '', '1', [], {}),
  fc.integer({ min: -3, max: 12 }),
  // Near-valid numbers: fractions and tiny offsets of small integers.
  fc.tuple(fc.integer({ min: -1, max: 10 }), fc.constantFrom(0.5, 1e-9, -1e-9, 0.25)).map(([n, f]) => n + f),
  fc.double(),
  fc.string({ maxLength: 6 }),
  fc.jsonValue({ maxDepth: 2 }),
  fc.integer({ min: 1, max: 600 }).map((depth) => {
    let v: unknown = 0;
    for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { x: v };
    return v;
  }),
  fc.array(fc.integer({ min: -2, max: 12 }), { maxLength: 12 }),
);

const topKeys = ['format', 'version', 'inBlocks', 'outBlocks', 'blockSize', 'nnz', 'rowPtr', 'colIdx', 'provenance', 'extra', '__proto__'];
const provenanceKeys = ['generator', 'params', 'seed', 'sources', 'note'];

type Doc = Record<string, any>;
type Mutation = (doc: Doc) => void;

function deepSources(depth: number): Doc {
  let p: Doc = { generator: 'leaf', params: {} };
  for (let i = 0; i < depth; i++) p = { generator: 'op', params: {}, sources: [p] };
  return p;
}

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom(...topKeys).map((key): Mutation => (doc) => delete doc[key]),
  fc.tuple(fc.constantFrom(...topKeys), nastyValue).map(([key, value]): Mutation => (doc) => Object.defineProperty(doc, key, { value, enumerable: true, configurable: true, writable: true })),
  fc.tuple(fc.constantFrom('rowPtr', 'colIdx'), fc.nat(), nastyValue).map(([key, at, value]): Mutation => (doc) => {
    if (Array.isArray(doc[key]) && doc[key].length > 0) doc[key][at % doc[key].length] = value;
  }),
  fc.tuple(fc.constantFrom('rowPtr', 'colIdx'), fc.nat(), fc.oneof(fc.integer({ min: -1, max: 10 }), fc.constantFrom(0.5, -0.5, 1e-6))).map(([key, at, delta]): Mutation => (doc) => {
    if (Array.isArray(doc[key]) && doc[key].length > 0) doc[key][at % doc[key].length] += delta;
  }),
  // An entry set relative to its neighbour: equal, one less (decreasing rowPtr, unsorted or repeated columns), one more.
  fc.tuple(fc.constantFrom('rowPtr', 'colIdx'), fc.nat(), fc.integer({ min: -2, max: 1 })).map(([key, at, delta]): Mutation => (doc) => {
    const a = doc[key];
    if (Array.isArray(a) && a.length > 1) {
      const i = 1 + (at % (a.length - 1));
      a[i] = a[i - 1] + delta;
    }
  }),
  fc.tuple(fc.constantFrom('rowPtr', 'colIdx'), fc.constantFrom('pop', 'push', 'shift', 'reverse', 'swap', 'dup')).map(([key, op]): Mutation => (doc) => {
    const a = doc[key];
    if (!Array.isArray(a)) return;
    if (op === 'pop') a.pop();
    else if (op === 'push') a.push(a.length);
    else if (op === 'shift') a.shift();
    else if (op === 'reverse') a.reverse();
    else if (op === 'swap' && a.length > 1) [a[0], a[a.length - 1]] = [a[a.length - 1], a[0]];
    else if (op === 'dup' && a.length > 0) a.splice(0, 0, a[0]);
  }),
  fc.constantFrom(...provenanceKeys).map((key): Mutation => (doc) => {
    if (doc.provenance && typeof doc.provenance === 'object') delete doc.provenance[key];
  }),
  fc.tuple(fc.constantFrom(...provenanceKeys), nastyValue).map(([key, value]): Mutation => (doc) => {
    if (doc.provenance && typeof doc.provenance === 'object') doc.provenance[key] = value;
  }),
  fc.integer({ min: MAX_JSON_DEPTH - 2, max: MAX_JSON_DEPTH + 40 }).map((depth): Mutation => (doc) => (doc.provenance = deepSources(depth))),
);

/** Text edits of a valid document: characters inserted, deleted or replaced, truncation, huge nesting. */
const textEditArb = fc.oneof(
  {
    arbitrary: fc
      .tuple(fc.nat(), fc.nat({ max: 8 }), fc.string({ unit: fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '0', '9', '-', '.', 'e', 'n', ' ', '\\', 'x', '\n'), maxLength: 4 }))
      .map(([at, remove, insert]) => (text: string) => {
        const i = at % (text.length + 1);
        return text.slice(0, i) + insert + text.slice(i + remove);
      }),
    weight: 6,
  },
  { arbitrary: fc.nat().map((at) => (text: string) => text.slice(0, at % (text.length + 1))), weight: 2 },
  // Nesting far deeper than any recursive reader's stack would survive (rarely: it costs milliseconds).
  {
    arbitrary: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constantFrom(1000, 12_000)).chain((depth) =>
      fc.constantFrom(
        (text: string) => text.replace('"params": ', `"params": {"a": ${'['.repeat(depth)}${']'.repeat(depth)}}, "x": `),
        (text: string) => text.replace('"params": ', `"params": ${'['.repeat(depth)}`),
      ),
    ),
    weight: 1,
  },
  {
    arbitrary: fc.constantFrom('"nnz": 1e400', '"inBlocks": 2147483647', '"inBlocks": 1.0000000000000001', '"blockSize": 32.0', '"version": 1e0').map(
      (replacement) => (text: string) => text.replace(new RegExp(`"${replacement.split('"')[1]}": [^,\\n]*`), replacement),
    ),
    weight: 1,
  },
);

/**
 * Reads `text` with the JSON reader and checks the outcome; with `scanner`, also that
 * findJSONSyntaxError agrees with JSON.parse.
 */
function fuzzJSONText(text: string, scanner = true): BlockLayout | undefined {
  const layout = readOrOurError(() => parseLayoutJSON(text));
  if (layout) {
    checkJSONLayout(layout);
    checkNothingRepaired(JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text), layout);
  }
  if (!scanner) return layout;
  let parses = true;
  try {
    JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    parses = false;
  }
  const found = findJSONSyntaxError(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  if ((found === null) !== parses) throw new Error(`findJSONSyntaxError disagrees with JSON.parse on ${JSON.stringify(text.slice(0, 200))}`);
  return layout;
}

function fuzzJSONValue(value: unknown): void {
  const layout = readOrOurError(() => layoutFromJSON(value));
  if (layout) {
    checkJSONLayout(layout);
    checkNothingRepaired(value, layout);
  }
}

describe(`JSON reader (${FUZZ_RUNS} inputs)`, () => {
  // Shares of the reader's runs: [random JSON values, random strings, mutated documents, edited texts].
  const share = (part: number) => Math.max(1, Math.ceil(FUZZ_RUNS * part));

  it(
    'random JSON values and random JS values',
    () => {
      fc.assert(
        fc.property(fc.oneof(fc.jsonValue({ maxDepth: 5 }), fc.anything({ withBigInt: true, withMap: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true, withBoxedValues: true, withDate: true })), (value) => {
          fuzzJSONValue(value);
          let text: string | undefined;
          try {
            text = JSON.stringify(value);
          } catch {
            // BigInt and friends: nothing to parse.
          }
          if (typeof text === 'string') fuzzJSONText(text, false);
        }),
        { numRuns: share(0.2) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'random strings',
    () => {
      const jsonish = fc.string({ unit: fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '0', '1', '-', '.', 'e', 't', 'r', 'u', 'n', 'l', ' ', '\\', 'a'), maxLength: 60 });
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), jsonish, fc.json({ maxDepth: 4 })), (text) => {
          fuzzJSONText(text);
        }),
        { numRuns: share(0.2) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'mutations of valid documents (deleted and changed fields, wrong types, huge numbers, deep nesting)',
    () => {
      fc.assert(
        fc.property(layoutArb, fc.array(mutationArb, { maxLength: 3 }), (layout, mutations) => {
          const doc: Doc = layoutToJSON(layout) as unknown as Doc;
          for (const mutate of mutations) mutate(doc);
          const result = readOrOurError(() => layoutFromJSON(doc));
          if (mutations.length === 0) {
            // Untouched documents must read back as the layout they came from.
            expect(result?.equals(layout)).toBe(true);
            expect(layoutToJSONString(result!)).toBe(layoutToJSONString(layout));
          }
          // The text reader must agree with the value reader on the same document.
          const viaText = readOrOurError(() => parseLayoutJSON(JSON.stringify(doc)));
          if (result) {
            checkJSONLayout(result);
            checkNothingRepaired(doc, result);
            expect(viaText && layoutToJSONString(viaText)).toBe(layoutToJSONString(result));
          }
        }),
        { numRuns: share(0.25) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'huge dimensions (inBlocks, outBlocks up to 2^31 - 1) with tiny nnz, under a 256 MiB budget',
    () => {
      const dimArb = fc.oneof(fc.constantFrom(1, 2, 3, 2 ** 31 - 3, 2 ** 31 - 2, 2 ** 31 - 1, 2 ** 30), fc.integer({ min: 1, max: 2 ** 31 - 1 }));
      const started = Date.now();
      fc.assert(
        fc.property(fc.constantFrom(1, 2, 3), dimArb, fc.array(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { maxLength: 4 }), dimArb, (inBlocks, outBlocks, cols, declaredIn) => {
          // A valid small-row document (cols sorted into row 0), then the same with a huge declared inBlocks.
          const colIdx = [...new Set(cols)].sort((a, b) => a - b);
          const rowPtr = [0, colIdx.length, ...Array(inBlocks - 1).fill(colIdx.length)];
          const doc = { format: LAYOUT_FORMAT, version: 1, inBlocks, outBlocks, blockSize: 32, nnz: colIdx.length, rowPtr, colIdx, provenance: { generator: 'fuzz', params: {} } };
          for (const value of [doc, { ...doc, inBlocks: declaredIn }]) {
            const layout = readOrOurError(() => layoutFromJSON(value));
            if (layout) {
              checkJSONLayout(layout);
              // The summary of a wide layout is O(nnz + inBlocks), whatever outBlocks.
              expect(summarize(layout).nnz).toBe(layout.nnz);
            }
          }
        }),
        { numRuns: Math.max(1, Math.ceil(FUZZ_RUNS * 0.05)) },
      );
      // Quickly: nothing of size outBlocks is built.
      expect(Date.now() - started).toBeLessThan(60_000);
    },
    TIMEOUT_MS,
  );

  it(
    'random small CSR structures (rowPtr, colIdx, nnz drawn freely near the valid range)',
    () => {
      const csrArb = fc
        .record({ inBlocks: fc.integer({ min: 1, max: 4 }), outBlocks: fc.integer({ min: 1, max: 4 }), nnzDelta: fc.constantFrom(0, 0, 0, -1, 1) })
        .chain(({ inBlocks, outBlocks, nnzDelta }) =>
          fc.record({
            inBlocks: fc.constant(inBlocks),
            outBlocks: fc.constant(outBlocks),
            nnzDelta: fc.constant(nnzDelta),
            rowPtr: fc.array(fc.integer({ min: -1, max: 6 }), { minLength: inBlocks, maxLength: inBlocks + 2 }).map((rest) => [0, ...rest]),
            colIdx: fc.array(fc.integer({ min: -1, max: outBlocks }), { maxLength: 7 }),
          }),
        );
      fc.assert(
        fc.property(csrArb, ({ inBlocks, outBlocks, nnzDelta, rowPtr, colIdx }) => {
          const doc = {
            format: LAYOUT_FORMAT,
            version: 1,
            inBlocks,
            outBlocks,
            blockSize: 8,
            nnz: colIdx.length + nnzDelta,
            rowPtr,
            colIdx,
            provenance: { generator: 'fuzz', params: {} },
          };
          fuzzJSONValue(doc);
        }),
        { numRuns: share(0.1) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'text edits of valid documents',
    () => {
      fc.assert(
        fc.property(layoutArb, fc.array(textEditArb, { minLength: 1, maxLength: 3 }), (layout, edits) => {
          let text = layoutToJSONString(layout);
          for (const edit of edits) text = edit(text);
          fuzzJSONText(text);
        }),
        { numRuns: share(0.25) },
      );
    },
    TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------
// npy reader

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

interface DtypeSpec {
  kind: 'b' | 'u' | 'i' | 'f';
  size: 1 | 2 | 4 | 8;
}
const dtypes: DtypeSpec[] = [
  { kind: 'b', size: 1 },
  ...(['u', 'i'] as const).flatMap((kind) => ([1, 2, 4, 8] as const).map((size) => ({ kind, size }))),
  ...([2, 4, 8] as const).map((size) => ({ kind: 'f' as const, size })),
];

/** Writes element `value` of a dtype (an independent little encoder, not the reader's code). */
function putValue(view: DataView, offset: number, dtype: DtypeSpec, little: boolean, value: number): void {
  if (dtype.kind === 'f') {
    if (dtype.size === 2) view.setUint16(offset, value === 1 ? 0x3c00 : value === 0 ? 0 : 0x4000 /* 2.0 */, little);
    else if (dtype.size === 4) view.setFloat32(offset, value, little);
    else view.setFloat64(offset, value, little);
    return;
  }
  if (dtype.size === 1) view.setInt8(offset, value);
  else if (dtype.size === 2) view.setInt16(offset, value, little);
  else if (dtype.size === 4) view.setInt32(offset, value, little);
  else view.setBigInt64(offset, BigInt(value), little);
}

interface NpySpec {
  rows: number;
  cols: number;
  values: number[]; // row-major
  dtype: DtypeSpec;
  order: '<' | '>' | '|';
  fortran: boolean;
  version: 1 | 2 | 3;
}

function headerBytes(dict: string, version: number): Uint8Array {
  const lengthBytes = version === 1 ? 2 : 4;
  const pad = 64 - ((6 + 2 + lengthBytes + dict.length + 1) % 64);
  const header = dict + ' '.repeat(pad) + '\n';
  const out = new Uint8Array(8 + lengthBytes + header.length);
  out.set([...MAGIC, version, 0]);
  for (let i = 0; i < lengthBytes; i++) out[8 + i] = (header.length >>> (8 * i)) & 0xff;
  for (let i = 0; i < header.length; i++) out[8 + lengthBytes + i] = header.charCodeAt(i) & 0xff;
  return out;
}

function encodeNpy(spec: NpySpec): Uint8Array {
  const { rows, cols, values, dtype, fortran, version } = spec;
  const order = dtype.size === 1 ? '|' : spec.order;
  const dict = `{'descr': '${order}${dtype.kind}${dtype.size}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${rows}, ${cols}), }`;
  const head = headerBytes(dict, version);
  const out = new Uint8Array(head.length + rows * cols * dtype.size);
  out.set(head);
  const view = new DataView(out.buffer, head.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const index = fortran ? c * rows + r : r * cols + c;
      putValue(view, index * dtype.size, dtype, order === '<' || order === '|', values[r * cols + c]);
    }
  }
  return out;
}

const npySpecArb: fc.Arbitrary<NpySpec> = fc
  .record({
    rows: fc.integer({ min: 1, max: 7 }),
    cols: fc.integer({ min: 1, max: 7 }),
    dtype: fc.constantFrom(...dtypes),
    order: fc.constantFrom<'<' | '>' | '|'>('<', '>', '|'),
    fortran: fc.boolean(),
    version: fc.constantFrom<1 | 2 | 3>(1, 2, 3),
  })
  .chain((spec) =>
    fc.array(fc.constantFrom(0, 1), { minLength: spec.rows * spec.cols, maxLength: spec.rows * spec.cols }).map((values) => ({ ...spec, values })),
  );

/** Byte-level damage: flips, truncation, extension. */
const byteEditArb = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, xor]) => (bytes: Uint8Array) => {
    const out = bytes.slice();
    if (out.length > 0) out[at % out.length] ^= xor;
    return out;
  }),
  // Flips in the first 140 bytes: magic, version, header length and header text.
  fc.tuple(fc.nat({ max: 139 }), fc.integer({ min: 0, max: 255 })).map(([at, value]) => (bytes: Uint8Array) => {
    const out = bytes.slice();
    if (at < out.length) out[at] = value;
    return out;
  }),
  fc.nat().map((keep) => (bytes: Uint8Array) => bytes.slice(0, keep % (bytes.length + 1))),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((extra) => (bytes: Uint8Array) => Uint8Array.from([...bytes, ...extra])),
);

/** Header dicts assembled from valid and invalid parts, followed by data of a plausible or random length. */
// Each part is mostly valid, so that whole headers are often valid and the reader gets to the data.
const headerPartsArb = fc.record({
  descr: fc.oneof(
    { arbitrary: fc.constantFrom("'|u1'", "'<i4'", "'>f8'", "'|b1'", "'<f2'", "'>u8'", "'<i2'", "'>f4'"), weight: 4 },
    { arbitrary: fc.constantFrom("'<c8'", "'|O'", "'<U3'", "'|S1'", "'|V4'", "'<M8[s]'", "''", "'<i4", '"<i4"', "[('a', '<i4')]", '1', 'None', "'|u1' '|u1'"), weight: 1 },
    { arbitrary: fc.string({ maxLength: 6 }).map((s) => `'${s.replace(/['\\\n]/g, '')}'`), weight: 1 },
  ),
  fortran: fc.oneof(
    { arbitrary: fc.constantFrom('False', 'True'), weight: 4 },
    { arbitrary: fc.constantFrom('0', '1', 'None', "'True'", 'false', 'True()', ''), weight: 1 },
  ),
  shape: fc.oneof(
    { arbitrary: fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 })).map(([r, c]) => `(${r}, ${c})`), weight: 3 },
    {
      arbitrary: fc.array(fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constantFrom(2 ** 31 - 2, 2 ** 31, 1e9, 2 ** 53)), { maxLength: 4 }).map((dims) =>
        dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`,
      ),
      weight: 1,
    },
    {
      arbitrary: fc.constantFrom('(2, 2,)', '[2, 2]', '(2L, 3L)', '((2, 2))', '(2 2)', '(2, 2', '(99999999999999999999999999, 1)', '(1e3, 1)', '(0x2, 2)', '(-0, 1)', '(,)', '()'),
      weight: 1,
    },
  ),
  order: fc.oneof(
    { arbitrary: fc.shuffledSubarray(['descr', 'fortran_order', 'shape'], { minLength: 3, maxLength: 3 }), weight: 3 },
    { arbitrary: fc.shuffledSubarray(['descr', 'fortran_order', 'shape', 'extra'], { minLength: 0, maxLength: 4 }), weight: 1 },
  ),
  quote: fc.constantFrom("'", '"'),
  noise: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 2 },
    { arbitrary: fc.tuple(fc.nat(), fc.string({ unit: 'binary-ascii', maxLength: 3 })), weight: 1 },
  ),
  version: fc.oneof({ arbitrary: fc.constantFrom(1, 2, 3), weight: 5 }, { arbitrary: fc.constantFrom(0, 4, 255), weight: 1 }),
  data: fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: 80 }), weight: 1 },
    { arbitrary: fc.array(fc.constantFrom(0, 1), { maxLength: 80 }).map((a) => Uint8Array.from(a)), weight: 1 },
    // Zeros (0 in every dtype) of exactly the size the header declares, when that can be told.
    { arbitrary: fc.constant('fit' as const), weight: 3 },
  ),
});

/** The data size a header declares, when the shape is a plain (rows, cols) and descr ends in the item size. */
function declaredSize(descr: string, shape: string): number {
  const dims = /^\((\d+), (\d+)\)$/.exec(shape);
  const size = /(\d)'$/.exec(descr);
  if (!dims || !size) return 0;
  const bytes = Number(dims[1]) * Number(dims[2]) * Number(size[1]);
  return bytes <= 4096 ? bytes : 0;
}

type HeaderParts = typeof headerPartsArb extends fc.Arbitrary<infer T> ? T : never;

function assembleNpy(parts: HeaderParts): Uint8Array {
  const q = parts.quote;
  const values: Record<string, string> = { descr: parts.descr, fortran_order: parts.fortran, shape: parts.shape, extra: '1' };
  let dict = `{${parts.order.map((key) => `${q}${key}${q}: ${values[key]}`).join(', ')}, }`;
  if (parts.noise) {
    const [at, text] = parts.noise;
    const i = at % (dict.length + 1);
    dict = dict.slice(0, i) + text + dict.slice(i);
  }
  const head = headerBytes(dict, parts.version);
  const data = parts.data === 'fit' ? new Uint8Array(declaredSize(parts.descr, parts.shape)) : parts.data;
  return Uint8Array.from([...head, ...data]);
}

function fuzzNpy(bytes: Uint8Array, blockSize: BlockSize = 32): BlockLayout | undefined {
  const layout = readOrOurError(() => layoutFromNpy(bytes, { blockSize }));
  if (layout) checkNpyLayout(layout);
  return layout;
}

describe(`npy reader (${FUZZ_RUNS} inputs)`, () => {
  const share = (part: number) => Math.max(1, Math.ceil(FUZZ_RUNS * part));

  it(
    'random bytes, with and without a valid magic string',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), fc.constantFrom(1, 2, 3), (bytes, withMagic, version) => {
          fuzzNpy(withMagic ? Uint8Array.from([...MAGIC, version, 0, ...bytes]) : bytes);
        }),
        { numRuns: share(0.2) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'valid files of every dtype, order and version, read exactly, then damaged',
    () => {
      fc.assert(
        fc.property(npySpecArb, fc.array(byteEditArb, { maxLength: 3 }), fc.constantFrom<BlockSize>(8, 16, 32), (spec, edits, blockSize) => {
          const bytes = encodeNpy(spec);
          if (edits.length === 0) {
            const layout = fuzzNpy(bytes, blockSize);
            expect(layout).toBeDefined();
            expect([layout!.inBlocks, layout!.outBlocks, layout!.blockSize]).toEqual([spec.rows, spec.cols, blockSize]);
            expect(Array.from(layout!.toMask())).toEqual(spec.values);
            return;
          }
          let damaged = bytes;
          for (const edit of edits) damaged = edit(damaged);
          fuzzNpy(damaged, blockSize);
        }),
        { numRuns: share(0.3) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'our own files, damaged',
    () => {
      fc.assert(
        fc.property(layoutArb, fc.array(byteEditArb, { minLength: 1, maxLength: 3 }), (layout, edits) => {
          let bytes = layoutToNpy(layout);
          for (const edit of edits) bytes = edit(bytes);
          fuzzNpy(bytes);
        }),
        { numRuns: share(0.2) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'mutated header dicts',
    () => {
      fc.assert(
        fc.property(headerPartsArb, (parts) => {
          fuzzNpy(assembleNpy(parts));
        }),
        { numRuns: share(0.3) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'huge declared shapes (up to 2^31 - 1 per side) with few data bytes, under a 256 MiB budget',
    () => {
      const dimArb = fc.oneof(fc.constantFrom(1, 2, 2 ** 31 - 2, 2 ** 31 - 1, 2 ** 16), fc.integer({ min: 1, max: 2 ** 31 - 1 }));
      fc.assert(
        fc.property(dimArb, dimArb, fc.uint8Array({ maxLength: 64 }), (rows, cols, data) => {
          const dict = `{'descr': '|u1', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
          fuzzNpy(Uint8Array.from([...headerBytes(dict, 1), ...data]));
        }),
        { numRuns: Math.max(1, Math.ceil(FUZZ_RUNS * 0.05)) },
      );
    },
    TIMEOUT_MS,
  );

  it('mutated header dicts sometimes make valid layouts (the fuzzer reaches the data)', () => {
    // A sanity check on the generator above, so the property is not vacuous.
    const samples = fc.sample(headerPartsArb, { numRuns: 3000, seed: 42 });
    const read = samples.map((parts) => readOrOurError(() => layoutFromNpy(assembleNpy(parts)))).filter((l) => l !== undefined);
    expect(read.length).toBeGreaterThan(0);
  });
});

describe('fuzz inputs reach deep into the JSON reader', () => {
  it('some mutated documents still read, most are rejected', () => {
    const samples = fc.sample(fc.tuple(layoutArb, fc.array(mutationArb, { minLength: 1, maxLength: 2 })), { numRuns: 2000, seed: 7 });
    let accepted = 0;
    for (const [layout, mutations] of samples) {
      const doc = layoutToJSON(layout) as unknown as Doc;
      for (const mutate of mutations) mutate(doc);
      if (readOrOurError(() => layoutFromJSON(doc))) accepted++;
    }
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(samples.length);
    expect(LAYOUT_FORMAT).toBe('blocksparse-layout');
  });
});
