/**
 * The architecture of an MLP trained elsewhere, which a state dict does not carry: its widths, its
 * activation and the block size its masks are read in. `parseMlpArch` reads the text form the CLI
 * takes (`--arch mlp:784,1024,1024,10`).
 */
import { checkInteger, checkOneOf } from '../../check.js';
import { ParameterError } from '../../errors.js';
import type { ActivationKind } from '../../kernels/types.js';
import { BLOCK_SIZES, DEFAULT_BLOCK_SIZE, type BlockSize } from '../../patterns/layout.js';
import { ACTIVATIONS } from '../layers/activation.js';

/** The most features of one layer (Linear's limit). */
const MAX_WIDTH = 2 ** 24;
/** The most hidden layers an arch may list. */
export const MAX_MLP_HIDDEN_LAYERS = 1024;

/**
 * An MLP: Linear(inputs -> hidden[0]), activation, ..., Linear(hidden[last] -> classes); with no
 * hidden widths, one Linear(inputs -> classes). `blockSize` is the block size masked weights are
 * read in (a mask must be constant on its blocks).
 */
export interface MlpArch {
  readonly inputs: number;
  readonly hidden: readonly number[];
  readonly classes: number;
  readonly activation: ActivationKind;
  readonly blockSize: BlockSize;
}

/** The grammar parseMlpArch reads, for messages. */
export const MLP_ARCH_SYNTAX = `mlp:<inputs>,<hidden>,...,<classes>[:activation=${ACTIVATIONS.join('|')}][:block=${BLOCK_SIZES.join('|')}] (e.g. mlp:784,1024,1024,10)`;

/**
 * The arch `arch` checked (ParameterError naming `arch.inputs`, `arch.hidden[1]`, `arch.classes`,
 * `arch.activation` or `arch.blockSize`): widths integers in [1, 2^24], at most
 * MAX_MLP_HIDDEN_LAYERS hidden ones, an activation of ACTIVATIONS, a block size of BLOCK_SIZES.
 */
export function checkMlpArch(arch: MlpArch, context = 'checkMlpArch'): MlpArch {
  if (typeof arch !== 'object' || arch === null) throw new ParameterError('arch', 'an object {inputs, hidden, classes, activation, blockSize}', arch, context);
  const inputs = checkInteger('arch.inputs', arch.inputs, 1, MAX_WIDTH, context);
  const classes = checkInteger('arch.classes', arch.classes, 1, MAX_WIDTH, context);
  if (!Array.isArray(arch.hidden) || arch.hidden.length > MAX_MLP_HIDDEN_LAYERS) throw new ParameterError('arch.hidden', `a list of at most ${MAX_MLP_HIDDEN_LAYERS} widths`, arch.hidden, context);
  const hidden = arch.hidden.map((h, i) => checkInteger(`arch.hidden[${i}]`, h, 1, MAX_WIDTH, context));
  const activation = checkOneOf('arch.activation', arch.activation, ACTIVATIONS, context);
  const blockSize = checkOneOf('arch.blockSize', arch.blockSize, BLOCK_SIZES, context);
  return { inputs, hidden, classes, activation, blockSize };
}

/** The widths of an arch's layers in order: inputs, the hidden widths, classes. */
export function mlpWidths(arch: MlpArch): number[] {
  return [arch.inputs, ...arch.hidden, arch.classes];
}

/**
 * The MLP described by `text`: `mlp:` then the widths (inputs, hidden..., classes; at least two),
 * comma-separated, then optional `:activation=relu|gelu|tanh` (default relu) and `:block=8|16|32`
 * (default 32), each at most once: `mlp:784,1024,1024,10:activation=gelu:block=16`. ParameterError
 * naming `arch` (with the syntax) for any other text, or the field out of range (checkMlpArch).
 */
export function parseMlpArch(text: string): MlpArch {
  const context = 'parseMlpArch';
  const fail = (why: string): never => {
    throw new ParameterError('arch', `${MLP_ARCH_SYNTAX}; ${why}`, text, context);
  };
  if (typeof text !== 'string') return fail('not a string');
  const [kind, widthText, ...options] = text.split(':');
  if (kind !== 'mlp') fail('it must start with "mlp:"');
  if (widthText === undefined || !/^\d+(,\d+)+$/.test(widthText)) fail('the widths must be two or more comma-separated integers');
  const widths = widthText.split(',').map(Number);
  let activation: ActivationKind = 'relu';
  let blockSize: BlockSize = DEFAULT_BLOCK_SIZE;
  const seen = new Set<string>();
  for (const option of options) {
    const match = /^(activation|block)=(.+)$/.exec(option);
    if (!match) return fail(`"${option}" is not activation=... or block=...`);
    const [, key, value] = match;
    if (seen.has(key)) fail(`${key} is given twice`);
    seen.add(key);
    if (key === 'activation') {
      if (!(ACTIVATIONS as readonly string[]).includes(value)) fail(`the activation "${value}" is not one of ${ACTIVATIONS.join(', ')}`);
      activation = value as ActivationKind;
    } else {
      if (!(BLOCK_SIZES as readonly number[]).includes(Number(value)) || !/^\d+$/.test(value)) fail(`the block size "${value}" is not one of ${BLOCK_SIZES.join(', ')}`);
      blockSize = Number(value) as BlockSize;
    }
  }
  return checkMlpArch({ inputs: widths[0], hidden: widths.slice(1, -1), classes: widths[widths.length - 1], activation, blockSize }, context);
}
