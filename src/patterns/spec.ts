import { ParameterError } from '../errors.js';
import type { Seed } from '../random.js';
import { BLOCK_SIZES, type BlockLayout, type BlockSize } from './layout.js';
import { isPresetName } from './presets.js';
import { buildPattern, findPattern, type BuildPatternOptions, type ParamValue } from './registry.js';

/** The keys every spec may hold, whatever the pattern. */
const COMMON_KEYS = ['blocks', 'in-blocks', 'out-blocks', 'block-size', 'seed', 'diagonal'];

/** A pattern spec parsed from text: the pattern name and its build options. */
export interface PatternSpec {
  name: string;
  options: BuildPatternOptions;
}

/**
 * Parses "<pattern>[:key=value,key=value...]", e.g. "watts-strogatz:blocks=256,k=8,p=0.1,seed=1"
 * or "ws_4_10:blocks=64". Keys are the CLI option names without dashes: blocks, in-blocks,
 * out-blocks, block-size, seed, diagonal (true/false), and the pattern's own parameters
 * (numbers, or true/false for switches). `defaults` fill keys the spec leaves out.
 *
 * Raises ParameterError naming the key for a key given twice ("k=4,k=6"), a key the pattern does
 * not take (listing the ones it does), or a bad value; and for an unknown pattern name. The
 * parameters are kept in an object without a prototype, so no key ("__proto__") can reach one.
 */
export function parsePatternSpec(text: string, defaults: BuildPatternOptions = {}): PatternSpec {
  const colon = text.indexOf(':');
  const name = (colon < 0 ? text : text.slice(0, colon)).trim();
  if (name === '') throw new ParameterError('spec', 'of the form <pattern>[:key=value,...]', text);
  const allowed = [...COMMON_KEYS, ...(isPresetName(name) && !isPatternName(name) ? [] : findPattern(name).params.map((param) => param.name))];
  const params: Record<string, ParamValue | undefined> = Object.create(null);
  Object.assign(params, defaults.params ?? {});
  const options: BuildPatternOptions = { ...defaults, params };
  const shapeGiven = { blocks: false, inOut: false };
  const seen = new Set<string>();
  if (colon >= 0 && text.slice(colon + 1).trim() !== '') {
    for (const part of text.slice(colon + 1).split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new ParameterError('spec', `key=value pairs after the colon (in ${JSON.stringify(text)})`, part);
      const key = part.slice(0, eq).trim();
      const raw = part.slice(eq + 1).trim();
      if (!allowed.includes(key)) {
        throw new ParameterError(key, `a key of a ${name} spec: one of ${allowed.join(', ')}`, raw, 'spec');
      }
      if (seen.has(key)) throw new ParameterError(key, 'given once (it is given twice)', raw, 'spec');
      seen.add(key);
      const value = parseValue(raw);
      switch (key) {
        case 'blocks':
          options.blocks = integerValue(key, value);
          shapeGiven.blocks = true;
          break;
        case 'in-blocks':
          options.inBlocks = integerValue(key, value);
          shapeGiven.inOut = true;
          break;
        case 'out-blocks':
          options.outBlocks = integerValue(key, value);
          shapeGiven.inOut = true;
          break;
        case 'block-size': {
          const size = integerValue(key, value);
          if (!BLOCK_SIZES.includes(size as BlockSize)) throw new ParameterError('block-size', 'one of 8, 16, 32', raw);
          options.blockSize = size as BlockSize;
          break;
        }
        case 'seed':
          options.seed = (typeof value === 'number' ? value : raw) as Seed;
          break;
        case 'diagonal':
          if (typeof value !== 'boolean') throw new ParameterError('diagonal', 'true or false', raw);
          options.diagonal = value;
          break;
        default:
          if (typeof value === 'string') throw new ParameterError(key, 'a number, or true/false', raw);
          params[key] = value;
      }
    }
  }
  // A spec's own shape replaces the default shape rather than mixing with it.
  if (shapeGiven.blocks && !shapeGiven.inOut) {
    delete options.inBlocks;
    delete options.outBlocks;
  }
  if (shapeGiven.inOut && !shapeGiven.blocks) delete options.blocks;
  return { name, options };
}

/** Builds the layout a spec describes. */
export function buildPatternSpec(text: string, defaults: BuildPatternOptions = {}): BlockLayout {
  const spec = parsePatternSpec(text, defaults);
  return buildPattern(spec.name, spec.options);
}

/** Whether `name` is a registered pattern name or alias (rather than a preset). */
function isPatternName(name: string): boolean {
  try {
    findPattern(name);
    return true;
  } catch {
    return false;
  }
}

function parseValue(raw: string): ParamValue | string {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  const n = Number(raw);
  return raw !== '' && Number.isFinite(n) ? n : raw;
}

function integerValue(key: string, value: ParamValue | string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ParameterError(key, 'an integer', value);
  return value;
}
