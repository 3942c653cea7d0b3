import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParameterError } from '../../src/errors.js';
import { buildPatternSpec, parsePatternSpec } from '../../src/patterns/spec.js';
import { buildPattern } from '../../src/patterns/registry.js';
import { expectParameterError } from '../helpers/expect-error.js';

describe('pattern specs', () => {
  it('parse the pattern, shape, seed and parameters', () => {
    expect(parsePatternSpec('watts-strogatz:blocks=256,k=8,p=0.1,seed=1')).toEqual({
      name: 'watts-strogatz',
      options: { blocks: 256, seed: 1, params: { k: 8, p: 0.1 } },
    });
    expect(parsePatternSpec('banded:in-blocks=4,out-blocks=6,wrap=false,block-size=16,diagonal=false,seed=abc')).toEqual({
      name: 'banded',
      options: { inBlocks: 4, outBlocks: 6, blockSize: 16, diagonal: false, seed: 'abc', params: { wrap: false } },
    });
    expect(parsePatternSpec('ws_4_10')).toEqual({ name: 'ws_4_10', options: { params: {} } });
  });

  it('take defaults for what they leave out, and their own shape over the default one', () => {
    const spec = parsePatternSpec('ba:m=3', { blocks: 64, seed: 7 });
    expect(spec.options).toEqual({ blocks: 64, seed: 7, params: { m: 3 } });
    expect(parsePatternSpec('dense:in-blocks=3,out-blocks=5', { blocks: 64 }).options.blocks).toBeUndefined();
  });

  it('build the same layout as the registry', () => {
    const a = buildPatternSpec('holme-kim:blocks=100,m=3,p=0.4,seed=9');
    const b = buildPattern('holme-kim', { blocks: 100, seed: 9, params: { m: 3, p: 0.4 } });
    expect(a.equals(b)).toBe(true);
  });

  it('reject malformed text, naming the key', () => {
    const bad: [string, string][] = [
      ['ws:k', 'spec'], [':k=2', 'spec'], ['ws:blocks=1.5', 'blocks'], ['ws:block-size=12', 'block-size'],
      ['ws:diagonal=maybe', 'diagonal'], ['ws:k=eight', 'k'],
    ];
    for (const [text, parameter] of bad) expectParameterError(() => parsePatternSpec(text), parameter);
  });

  it('refuse any key given twice, and any key the pattern does not take (fuzzed), without touching prototypes', () => {
    const prototypeNames = Object.getOwnPropertyNames(Object.prototype);
    const allowed = ['blocks', 'in-blocks', 'out-blocks', 'block-size', 'seed', 'diagonal', 'k', 'p'];
    const keyArb = fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', 'K', 'k ', ' p'),
      fc.string({ minLength: 1, maxLength: 12 }).filter((key) => !/[,=:]/.test(key)),
    );
    fc.assert(
      fc.property(keyArb, fc.constantFrom(...allowed), fc.constantFrom('1', '4', 'true', 'x'), (key, known, value) => {
        const name = key.trim();
        // A known key twice: named, whatever the values.
        const twice = catchParameterError(() => parsePatternSpec(`ws:${known}=${value},${known}=${value}`));
        expect(twice.parameter).toBe(known);
        if (name === '' || allowed.includes(name)) return;
        const unknown = catchParameterError(() => parsePatternSpec(`ws:${key}=${value}`));
        expect(unknown.parameter).toBe(name);
        expect(unknown.message).toContain(allowed.join(', '));
        expect(Object.prototype).not.toHaveProperty('polluted');
        expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(prototypeNames);
      }),
      { numRuns: 500 },
    );
  });
});

function catchParameterError(run: () => unknown): ParameterError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ParameterError);
    return error as ParameterError;
  }
  throw new Error('expected a ParameterError');
}
