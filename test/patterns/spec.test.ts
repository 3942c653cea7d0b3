import { describe, expect, it } from 'vitest';
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
});
