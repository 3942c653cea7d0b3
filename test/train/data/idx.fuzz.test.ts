/**
 * Fuzzing the IDX reader: for any bytes, plain or gzipped, with headers that claim any shape,
 * decodeIdx under a small memory budget either returns an array whose data matches its shape or
 * throws one of our errors (FormatError for malformed bytes, ResourceError for sizes past the
 * budget or a stream inflating past its header); never a TypeError, RangeError or out-of-memory.
 * FUZZ_RUNS (default 10000) sets the number of inputs per property.
 */
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { withMemoryBudget } from '../../../src/budget.js';
import { FormatError, ResourceError } from '../../../src/errors.js';
import { decodeIdx, IDX_TYPE_CODES } from '../../../src/train/data/idx.js';

const FUZZ_RUNS = Number(process.env.FUZZ_RUNS || 10_000);
const TIMEOUT_MS = 120_000;
const BUDGET = 16 * 2 ** 20;

/** Decodes `bytes` under the small budget; undefined when one of our errors was thrown. */
function decodeOrOurError(bytes: Uint8Array): ReturnType<typeof decodeIdx> | undefined {
  try {
    return withMemoryBudget(BUDGET, () => decodeIdx(bytes, {}, 'fuzzed IDX'));
  } catch (error) {
    if (error instanceof FormatError || error instanceof ResourceError) return undefined;
    throw error;
  }
}

/** An IDX header of a known type code and 1 to 4 dimensions of any uint32 size, then `payload` bytes. */
const idxBytes = fc
  .record({
    code: fc.constantFrom(...Object.values(IDX_TYPE_CODES), 0x00, 0x0a),
    dims: fc.array(fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 0xffffffff })), { minLength: 0, maxLength: 4 }),
    payload: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 200_000 })),
  })
  .map(({ code, dims, payload }) => {
    const out = new Uint8Array(4 + 4 * dims.length + payload);
    const view = new DataView(out.buffer);
    out[2] = code;
    out[3] = dims.length;
    dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
    return out;
  });

describe('decodeIdx fuzzed', () => {
  it('plain or gzipped headers claiming any shape: an array matching its shape, or our error', () => {
    fc.assert(
      fc.property(idxBytes, fc.boolean(), (bytes, gzip) => {
        const array = decodeOrOurError(gzip ? gzipSync(bytes) : bytes);
        if (array) expect(array.data.length).toBe(array.shape.reduce((a, b) => a * b, 1));
      }),
      { numRuns: Math.max(1, Math.floor(FUZZ_RUNS / 10)) },
    );
  }, TIMEOUT_MS);

  it('arbitrary bytes, and a gzip magic followed by arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.boolean(), (bytes, magic) => {
        decodeOrOurError(magic ? Uint8Array.of(0x1f, 0x8b, ...bytes) : bytes);
      }),
      { numRuns: FUZZ_RUNS },
    );
  }, TIMEOUT_MS);
});
