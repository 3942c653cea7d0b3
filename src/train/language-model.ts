/**
 * Character-level language models: an embedding of the characters, a stack of LSTMs whose
 * recurrent (and optionally input) weights are block-sparse, and a dense output layer giving one
 * logit per character.
 */
import { checkInteger, checkNumber, checkOneOf } from '../check.js';
import { ParameterError } from '../errors.js';
import type { Backend } from '../kernels/types.js';
import { repeatColumns } from '../patterns/layout-operations.js';
import { BLOCK_SIZES, BlockLayout, DEFAULT_BLOCK_SIZE, type BlockSize } from '../patterns/layout.js';
import type { Seed } from '../random.js';
import { MAX_CHAR_VOCABULARY_SIZE } from './data/char-vocabulary.js';
import type { L0GateOptions } from './layers/block-sparse-linear.js';
import { Embedding } from './layers/embedding.js';
import type { Layer } from './layers/layer.js';
import { Linear } from './layers/linear.js';
import { LSTM } from './layers/lstm.js';
import { Sequential } from './layers/sequential.js';
import { requestLayout, type LayoutFactory } from './model.js';
import { checkModelMemory, type LayerShape, type SparseShape } from './model-memory.js';

/** The default embedding width of `buildCharLSTM`. */
export const DEFAULT_EMBEDDING = 64;
/** The most hidden units of one LSTM (the layer's limit). */
export const MAX_LSTM_HIDDEN = 2 ** 22;

/** Options of `buildCharLSTM`. */
export interface CharLSTMOptions {
  /** V: the characters (the embedding's rows and the output's logits), an integer in [1, 65536] (a CharVocabulary's size). */
  symbols: number;
  /** E: the embedding's features (default 64). */
  embedding?: number;
  /** Hidden units of each LSTM, in order (at least one); multiples of the block size with `layout`. */
  hidden: readonly number[];
  /** Block size of the block-sparse weights (default 32). */
  blockSize?: BlockSize;
  /**
   * The layout of each LSTM's recurrent weights (role 'recurrent', index i for the i-th LSTM:
   * hidden/bs x hidden/bs blocks, shared by the four gates, or hidden/bs x 4 hidden/bs, each gate
   * with its own blocks) and, with `sparseInput`, of its input weights (role 'input'). Without it
   * every weight is dense.
   */
  layout?: LayoutFactory;
  /** Make each LSTM's input weights block-sparse too (needs `layout`, and `embedding` a multiple of the block size). Default false. */
  sparseInput?: boolean;
  /** Hard-concrete L0 gates on every block-sparse weight (needs `layout`). */
  l0?: L0GateOptions;
  /** Added to each LSTM's initial forget-gate bias (default 1; see LSTMOptions.forgetBias). */
  forgetBias?: number;
  /** Seed of the initial weights (layer i is seeded with "<seed>#layer<i>", as buildMLP does); default 0. */
  seed?: Seed;
}

/** `CharLSTMOptions` checked, with their defaults. */
export interface CheckedCharLSTMOptions {
  symbols: number;
  embedding: number;
  hidden: readonly number[];
  blockSize: BlockSize;
  forgetBias: number;
  sparseInput: boolean;
  seed: Seed;
}

/**
 * The checks `buildCharLSTM` makes of its options before it asks for any layout (ParameterError
 * naming the option, see there), for callers that check settings before reading their data.
 */
export function checkCharLSTMOptions(options: CharLSTMOptions, context = 'buildCharLSTM'): CheckedCharLSTMOptions {
  if (typeof options !== 'object' || options === null) throw new ParameterError('options', 'an object {symbols, hidden, ...}', options, context);
  const symbols = checkInteger('symbols', options.symbols, 1, MAX_CHAR_VOCABULARY_SIZE, context);
  const embedding = checkInteger('embedding', options.embedding ?? DEFAULT_EMBEDDING, 1, 2 ** 24, context);
  const hidden = options.hidden;
  if (!Array.isArray(hidden) || hidden.length === 0) throw new ParameterError('hidden', 'a non-empty list of widths', hidden, context);
  hidden.forEach((h, i) => checkInteger(`hidden[${i}]`, h, 1, MAX_LSTM_HIDDEN, context));
  const blockSize = checkOneOf('blockSize', options.blockSize ?? DEFAULT_BLOCK_SIZE, BLOCK_SIZES, context);
  const forgetBias = checkNumber('forgetBias', options.forgetBias ?? 1, -1e6, 1e6, context);
  const sparseInput = options.sparseInput ?? false;
  const factory = options.layout;
  if (options.l0 && !factory) throw new ParameterError('layout', "given with l0 (the gates live on block-sparse weights; use the 'dense' pattern to learn a layout from all blocks)", undefined, context);
  if (sparseInput && !factory) throw new ParameterError('layout', 'given with sparseInput (the input weights need a layout)', undefined, context);
  if (factory) {
    const bad = hidden.findIndex((h) => h % blockSize !== 0);
    if (bad >= 0) throw new ParameterError('hidden', `widths that are multiples of the block size ${blockSize}`, `${hidden.join(',')} (${hidden[bad]} is not)`, context);
  }
  if (sparseInput && embedding % blockSize !== 0) throw new ParameterError('embedding', `a multiple of the block size ${blockSize} with sparseInput`, embedding, context);
  return { symbols, embedding, hidden, blockSize, forgetBias, sparseInput, seed: options.seed ?? 0 };
}

/**
 * A character-level language model: Sequential([Embedding(V, E), LSTM(E, H1), LSTM(H1, H2), ...,
 * Linear(Hk, V)]). Its input is a column of character indices [T N, 1] (time-major, as
 * sequenceBatches gives them, with ForwardMode.steps = T), its output V logits per row. Each LSTM's
 * recurrent weights are block-sparse on the layout the factory gives (role 'recurrent'), its
 * input weights too with `sparseInput` (role 'input'); the embedding and the output layer stay
 * dense. The layouts are asked for and the model's memory (`checkModelMemory`) checked before any
 * weight is allocated. ParameterError names the option: `hidden` (empty, or a width that is not a
 * multiple of the block size with a layout), `embedding` (not a multiple with sparseInput),
 * `layout` (missing with l0 or sparseInput, or a factory's layout of another shape, naming both).
 */
export function buildCharLSTM(backend: Backend, options: CharLSTMOptions): Sequential {
  const context = 'buildCharLSTM';
  const { symbols, embedding, hidden, blockSize, forgetBias, sparseInput, seed } = checkCharLSTMOptions(options, context);
  const factory = options.layout;
  // Check the dense weights' memory first, then ask for the layouts and check again with their blocks.
  const l0 = options.l0 !== undefined;
  const inputs = hidden.map((_, i) => (i === 0 ? embedding : hidden[i - 1]));
  const pending = (rows: number, h: number): SparseShape => ({ inBlocks: rows / blockSize, outBlocks: (4 * h) / blockSize, blockSize, nnz: 0 });
  const held = ({ inBlocks, outBlocks, nnz }: BlockLayout): SparseShape => ({ inBlocks, outBlocks, blockSize, nnz });
  const shapes = (layouts: { input: BlockLayout | null; recurrent: BlockLayout | null }[] | null): LayerShape[] => [
    { kind: 'embedding', symbols, features: embedding },
    ...hidden.map((h, i): LayerShape => {
      const planned = layouts?.[i];
      const input = !sparseInput ? null : planned?.input ? held(planned.input) : pending(inputs[i], h);
      const recurrent = !factory ? null : planned?.recurrent ? held(planned.recurrent) : pending(h, h);
      return { kind: 'lstm', inFeatures: inputs[i], hidden: h, input, recurrent, l0 };
    }),
    { kind: 'linear', inFeatures: hidden[hidden.length - 1], outFeatures: symbols, bias: true },
  ];
  checkModelMemory(shapes(null));
  const layouts = hidden.map((h, i) => {
    if (!factory) return { input: null, recurrent: null };
    const request = (role: 'input' | 'recurrent', rows: number, what: string): BlockLayout => {
      const layout = requestLayout(factory, { index: i, role, inBlocks: rows / blockSize, outBlocks: h / blockSize, blockSize }, what, context, true);
      // The layer holds a square layout repeated for the four gates.
      return layout.outBlocks === h / blockSize ? repeatColumns(layout, 4) : layout;
    };
    return {
      input: sparseInput ? request('input', inputs[i], `the input weights of LSTM ${i}`) : null,
      recurrent: request('recurrent', h, `the recurrent weights of LSTM ${i}`),
    };
  });
  checkModelMemory(shapes(layouts));

  const layers: Layer[] = [];
  const seedOf = (i: number) => `${seed}#layer${i}`;
  try {
    layers.push(new Embedding(backend, symbols, embedding, { seed: seedOf(0) }));
    hidden.forEach((h, i) => {
      const { input, recurrent } = layouts[i];
      layers.push(new LSTM(backend, inputs[i], h, {
        seed: seedOf(layers.length), forgetBias,
        ...(recurrent ? { recurrentLayout: recurrent } : {}),
        ...(input ? { inputLayout: input } : {}),
        ...(options.l0 ? { l0: options.l0 } : {}),
      }));
    });
    layers.push(new Linear(backend, hidden[hidden.length - 1], symbols, { seed: seedOf(layers.length) }));
    return new Sequential(layers);
  } catch (error) {
    for (const layer of layers) layer.dispose();
    throw error;
  }
}

/**
 * The square layout an LSTM's gates share, when they do: for a layout of inBlocks x 4 K blocks
 * whose four column groups [g K, (g + 1) K) hold the same blocks (as `repeatColumns(square, 4)`
 * gives, and as stays so until pruning, regrowth or L0 treat the gates' blocks apart), the
 * inBlocks x K layout of those blocks, with the provenance of the layout that was repeated (or
 * {generator: 'gate-shared', sources: [the layout's]} when it was not made by repeatColumns);
 * null otherwise (also when outBlocks is not a multiple of 4).
 */
export function gateSharedLayout(layout: BlockLayout): BlockLayout | null {
  if (!(layout instanceof BlockLayout)) throw new ParameterError('layout', 'a BlockLayout', layout, 'gateSharedLayout');
  const { inBlocks, outBlocks, rowPtr, colIdx } = layout;
  if (outBlocks % 4 !== 0) return null;
  const k = outBlocks / 4;
  const rows: number[] = [];
  const cols: number[] = [];
  for (let c = 0; c < inBlocks; c++) {
    const start = rowPtr[c];
    const count = rowPtr[c + 1] - start;
    if (count % 4 !== 0) return null;
    const per = count / 4;
    // Sorted columns: gate g's blocks of row c are entries [g per, (g + 1) per) of the row.
    for (let j = 0; j < per; j++) {
      const col = colIdx[start + j];
      if (col >= k) return null;
      for (let g = 1; g < 4; g++) if (colIdx[start + g * per + j] !== g * k + col) return null;
      rows.push(c);
      cols.push(col);
    }
  }
  const source = layout.provenance;
  const provenance = source.generator === 'repeat-columns' && source.sources?.length === 1 ? source.sources[0] : { generator: 'gate-shared', params: { gates: 4 }, sources: [source] };
  return BlockLayout.fromPairs({ inBlocks, outBlocks: k, blockSize: layout.blockSize }, Int32Array.from(rows), Int32Array.from(cols), { provenance });
}
