import { checkMemory } from '../budget.js';
import { checkInteger } from '../check.js';
import { checkCapacity, MAX_BLOCKS } from './build.js';
import { layoutBytes } from './memory.js';
import { ParameterError } from '../errors.js';
import type { CSRGraph } from '../graph/csr.js';
import { wattsStrogatzCSR } from '../graph/watts-strogatz.js';
import { ringLatticeCSR } from '../graph/ring-lattice.js';
import { newmanWattsStrogatzCSR } from '../graph/newman-watts-strogatz.js';
import { connectedWattsStrogatzCSR } from '../graph/connected-watts-strogatz.js';
import { wattsStrogatz2dCSR } from '../graph/watts-strogatz-2d.js';
import { directedWattsStrogatzCSR } from '../graph/directed-watts-strogatz.js';
import { barabasiAlbertCSR } from '../graph/barabasi-albert.js';
import { holmeKimCSR } from '../graph/holme-kim.js';
import { erdosRenyiCSR } from '../graph/erdos-renyi.js';
import { gnmCSR } from '../graph/gnm.js';
import { randomRegularCSR } from '../graph/random-regular.js';
import type { Seed } from '../random.js';
import { layoutFromGraph } from './from-graph.js';
import { denseLayout } from './dense.js';
import { randomLayout } from './random-layout.js';
import { balancedRandomLayout } from './balanced-random.js';
import { bandedLayout } from './banded.js';
import { blockDiagonalLayout } from './block-diagonal.js';
import { bigBirdLayout, fixedLayout, slidingWindowLayout, stridedLayout } from './attention.js';
import { isPresetName, presetLayout } from './presets.js';
import { withoutDiagonal } from './layout-operations.js';
import { BlockLayout, type BlockSize, DEFAULT_BLOCK_SIZE } from './layout.js';

/** A pattern parameter's value as given on the command line or in code. */
export type ParamValue = number | boolean;

/** One parameter of a pattern: its user-facing name (CLI flag / spec key), kind, default and help. */
export interface PatternParam {
  /** Name on the command line (`--<name>`) and in pattern specs; kebab-case. */
  name: string;
  /** The option of the underlying generator it sets (named in that generator's errors). */
  key: string;
  kind: 'integer' | 'number' | 'boolean';
  /** Absent: the parameter is optional and has no value unless given. */
  default?: ParamValue;
  help: string;
}

/** How a pattern handles rectangular shapes. */
export type PatternShape =
  /** defined for any inBlocks x outBlocks */
  | 'rectangular'
  /** square only (sequence patterns) */
  | 'square'
  /** a square graph on max(inBlocks, outBlocks) nodes, cut to the top-left inBlocks x outBlocks */
  | 'cut';

/** The shape and common options every pattern is built with. */
export interface PatternCommon {
  inBlocks: number;
  outBlocks: number;
  blockSize: BlockSize;
  diagonal: boolean;
  seed: Seed;
}

/** A named layout generator with its parameters, as listed by `blocksparse patterns`. */
export interface PatternDefinition {
  name: string;
  aliases: string[];
  summary: string;
  reference?: string;
  shape: PatternShape;
  random: boolean;
  params: PatternParam[];
  /** Builds the layout from the common options and the pattern's own parameter values. */
  build(common: PatternCommon, params: Record<string, ParamValue | undefined>): BlockLayout;
  /**
   * About how large the result is, before building: its present blocks and, for graph patterns,
   * the arcs (twice the undirected edges) of the graph built first. Checked against the memory
   * budget by `buildPattern`; NaN (from parameters the generator will reject) skips the check.
   */
  estimate(common: PatternCommon, params: Record<string, ParamValue | undefined>): SizeEstimate;
}

/** The size of a pattern's result, estimated from its shape and parameters. */
export interface SizeEstimate {
  /** Present blocks of the layout. */
  blocks: number;
  /** Arcs of the intermediate graph (0 for patterns built directly). */
  arcs: number;
}

/** A parameter's value as a number for estimates (NaN when it is not one). */
const num = (value: ParamValue | undefined): number => (typeof value === 'number' ? value : NaN);

const p = (name: string, key: string, kind: PatternParam['kind'], help: string, def?: ParamValue): PatternParam =>
  def === undefined ? { name, key, kind, help } : { name, key, kind, help, default: def };

/** A pattern from a square graph generator; rectangular shapes are cut from the square one. */
function graphPattern(
  name: string,
  aliases: string[],
  summary: string,
  reference: string,
  params: PatternParam[],
  make: (order: number, options: Record<string, unknown>) => CSRGraph,
  arcs: (order: number, values: Record<string, ParamValue | undefined>) => number,
  random = true,
): PatternDefinition {
  return {
    name,
    aliases,
    summary,
    reference,
    shape: 'cut',
    random,
    params,
    estimate(common, values) {
      const order = Math.max(common.inBlocks, common.outBlocks);
      const graphArcs = arcs(order, values);
      return { blocks: graphArcs + (common.diagonal ? order : 0), arcs: graphArcs };
    },
    build(common, values) {
      const order = Math.max(common.inBlocks, common.outBlocks);
      const options: Record<string, unknown> = random ? { seed: common.seed } : {};
      for (const param of params) if (values[param.name] !== undefined) options[param.key] = values[param.name];
      const graph = make(order, options);
      const paramsRecord: Record<string, unknown> = { blocks: order };
      for (const param of params) if (values[param.name] !== undefined) paramsRecord[param.key] = values[param.name];
      paramsRecord.diagonal = common.diagonal;
      const square = layoutFromGraph(graph, {
        blockSize: common.blockSize,
        diagonal: common.diagonal,
        provenance: { generator: name, params: paramsRecord, seed: random ? common.seed : null },
      });
      return cutLayout(square, common.inBlocks, common.outBlocks);
    },
  };
}

/** The top-left inBlocks x outBlocks corner of a square layout; provenance records `cutFrom`. */
export function cutLayout(square: BlockLayout, inBlocks: number, outBlocks: number): BlockLayout {
  if (inBlocks === square.inBlocks && outBlocks === square.outBlocks) return square;
  let count = 0;
  for (let b = 0; b < square.rowPtr[inBlocks]; b++) if (square.colIdx[b] < outBlocks) count++;
  const rows = new Int32Array(count);
  const cols = new Int32Array(count);
  let w = 0;
  for (let c = 0; c < inBlocks; c++) {
    for (let b = square.rowPtr[c]; b < square.rowPtr[c + 1]; b++) {
      const k = square.colIdx[b];
      if (k < outBlocks) {
        rows[w] = c;
        cols[w++] = k;
      }
    }
  }
  const provenance = {
    ...square.provenance,
    params: { ...square.provenance.params, inBlocks, outBlocks, cutFrom: square.inBlocks },
  };
  return BlockLayout.fromPairs({ inBlocks, outBlocks, blockSize: square.blockSize }, rows, cols, { provenance });
}

/** A pattern built by a layout constructor taking {inBlocks, outBlocks, blockSize, diagonal, seed, ...}. */
function layoutPattern(
  name: string,
  aliases: string[],
  summary: string,
  shape: PatternShape,
  random: boolean,
  params: PatternParam[],
  make: (options: Record<string, unknown>) => BlockLayout,
  blocks: (inBlocks: number, outBlocks: number, values: Record<string, ParamValue | undefined>) => number,
  reference?: string,
): PatternDefinition {
  return {
    name,
    aliases,
    summary,
    reference,
    shape,
    random,
    params,
    estimate(common, values) {
      return { blocks: blocks(common.inBlocks, common.outBlocks, values), arcs: 0 };
    },
    build(common, values) {
      const options: Record<string, unknown> = { blockSize: common.blockSize, diagonal: common.diagonal };
      if (shape === 'square') options.blocks = common.inBlocks;
      else {
        options.inBlocks = common.inBlocks;
        options.outBlocks = common.outBlocks;
      }
      if (random) options.seed = common.seed;
      for (const param of params) if (values[param.name] !== undefined) options[param.key] = values[param.name];
      return make(options);
    },
  };
}

const K_PARAM = p('k', 'k', 'integer', 'each block linked to its k nearest ring neighbours (even)', 4);
const P_REWIRE = p('p', 'rewireProb', 'number', 'probability of rewiring each lattice edge', 0.1);

/** Every named pattern, in the order `blocksparse patterns` lists them. */
export const PATTERNS: readonly PatternDefinition[] = [
  graphPattern('watts-strogatz', ['ws'], 'small-world ring lattice with rewired edges', 'Watts & Strogatz 1998, Nature 393:440',
    [K_PARAM, P_REWIRE], (order, o) => wattsStrogatzCSR({ order, ...o } as never), (n, v) => n * num(v.k)),
  graphPattern('ring-lattice', ['ring'], 'ring lattice: each block linked to its k nearest neighbours', 'Watts & Strogatz 1998',
    [K_PARAM], (order, o) => ringLatticeCSR({ order, k: o.k } as never), (n, v) => n * num(v.k), false),
  graphPattern('newman-watts-strogatz', ['nws'], 'ring lattice plus random shortcuts (no edges removed)', 'Newman & Watts 1999, Phys. Lett. A 263:341',
    [K_PARAM, p('p', 'shortcutProb', 'number', 'probability of adding a shortcut per lattice edge', 0.1)],
    (order, o) => newmanWattsStrogatzCSR({ order, ...o } as never), (n, v) => n * num(v.k) * (1 + num(v.p))),
  graphPattern('connected-watts-strogatz', ['cws'], 'Watts-Strogatz, redrawn until connected', 'Watts & Strogatz 1998',
    [K_PARAM, P_REWIRE, p('tries', 'tries', 'integer', 'draws before giving up', 100)],
    (order, o) => connectedWattsStrogatzCSR({ order, ...o } as never), (n, v) => n * num(v.k)),
  graphPattern('watts-strogatz-2d', ['ws2d'], 'Watts-Strogatz on a width x height torus (blocks = width*height)', 'Watts & Strogatz 1998; igraph Watts_Strogatz(dim=2)',
    [p('width', 'width', 'integer', 'torus width (default: the most square factorisation of the block count)'),
      p('radius', 'radius', 'integer', 'link nodes within this lattice distance', 1), P_REWIRE],
    (order, o) => {
      const width = o.width === undefined ? squarestFactor(order) : checkInteger('width', o.width, 1, order);
      if (order % width !== 0) throw new ParameterError('width', `a divisor of the block count ${order}`, width);
      return wattsStrogatz2dCSR({ ...o, width, height: order / width } as never);
    }, (n, v) => n * ((2 * num(v.radius) + 1) ** 2 - 1)),
  graphPattern('directed-watts-strogatz', ['dws'], 'directed ring lattice with rewired targets (asymmetric)', 'Watts & Strogatz 1998, directed variant',
    [K_PARAM, P_REWIRE], (order, o) => directedWattsStrogatzCSR({ order, ...o } as never), (n, v) => n * num(v.k)),
  graphPattern('barabasi-albert', ['ba'], 'scale-free preferential attachment', 'Barabási & Albert 1999, Science 286:509',
    [p('m', 'm', 'integer', 'edges from each new block', 2)], (order, o) => barabasiAlbertCSR({ order, ...o } as never), (n, v) => 2 * n * num(v.m)),
  graphPattern('holme-kim', ['powerlaw-cluster'], 'scale-free with tunable clustering', 'Holme & Kim 2002, Phys. Rev. E 65:026107',
    [p('m', 'm', 'integer', 'edges from each new block', 2), p('p', 'triangleProb', 'number', 'probability of closing a triangle after each edge', 0.5)],
    (order, o) => holmeKimCSR({ order, ...o } as never), (n, v) => 2 * n * num(v.m)),
  graphPattern('erdos-renyi', ['gnp'], 'G(n, p): each pair linked independently', 'Erdős & Rényi 1959; Gilbert 1959',
    [p('p', 'probability', 'number', 'probability of each edge', 0.1)], (order, o) => erdosRenyiCSR({ order, ...o } as never),
    (n, v) => num(v.p) * n * (n - 1)),
  graphPattern('gnm', [], 'G(n, m): exactly m edges, uniformly', 'Erdős & Rényi 1959',
    [p('edges', 'size', 'integer', 'number of edges (required)')], (order, o) => {
      if (o.size === undefined) throw new ParameterError('edges', 'given (the number of edges)', undefined);
      return gnmCSR({ order, ...o } as never);
    }, (_n, v) => 2 * num(v.edges)),
  graphPattern('random-regular', ['regular'], 'random d-regular graph', 'Steger & Wormald 1999',
    [p('degree', 'degree', 'integer', 'degree of every block', 4)], (order, o) => randomRegularCSR({ order, ...o } as never), (n, v) => n * num(v.degree)),
  layoutPattern('dense', [], 'every block present', 'rectangular', false, [], (o) => denseLayout(o as never), (i, o) => i * o),
  layoutPattern('random', [], 'exactly nnz (or density * all) blocks, uniformly', 'rectangular', true,
    [p('nnz', 'nnz', 'integer', 'number of blocks (default: from --density)'), p('density', 'density', 'number', 'fraction of blocks, used when --nnz is absent', 0.1)],
    (o) => randomLayout((o.nnz !== undefined ? { ...o, density: undefined } : o) as never),
    (i, o, v) => (v.nnz !== undefined ? num(v.nnz) : num(v.density) * i * o) + Math.min(i, o)),
  layoutPattern('balanced-random', ['fixed-fan-in', 'br'], 'every output block has exactly fan-in inputs; fan-outs balanced', 'rectangular', true,
    [p('fan-in', 'fanIn', 'integer', 'inputs per output block (counting the diagonal block)', 4)], (o) => balancedRandomLayout(o as never),
    (i, o, v) => o * num(v['fan-in']) + i,
    'OpenAI blocksparse LSTM masks (balanced_random)'),
  layoutPattern('banded', ['band'], 'blocks within bandwidth of the diagonal', 'rectangular', false,
    [p('bandwidth', 'bandwidth', 'integer', 'blocks each side of the diagonal', 1), p('wrap', 'wrap', 'boolean', 'wrap around (circulant; square only)', false)],
    (o) => bandedLayout(o as never), (i, o, v) => (2 * num(v.bandwidth) + 1) * Math.max(i, o)),
  layoutPattern('block-diagonal', ['groups'], 'dense diagonal groups', 'rectangular', false,
    [p('groups', 'groups', 'integer', 'number of groups (divides both block counts)', 2)], (o) => blockDiagonalLayout(o as never),
    (i, o, v) => (i * o) / Math.max(1, num(v.groups))),
  layoutPattern('sliding-window', ['window'], 'attention: each query block sees keys within window', 'square', false,
    [p('window', 'window', 'integer', 'key blocks each side', 1), p('causal', 'causal', 'boolean', 'keys <= query only', false)],
    (o) => slidingWindowLayout(o as never), (n, _o, v) => (2 * num(v.window) + 1) * n, 'Beltagy et al. 2020 (Longformer)'),
  layoutPattern('bigbird', [], 'attention: window + global + random blocks', 'square', true,
    [p('window', 'window', 'integer', 'key blocks each side', 1), p('global', 'globalBlocks', 'integer', 'global blocks', 1),
      p('random', 'randomBlocks', 'integer', 'random key blocks per query block', 1), p('causal', 'causal', 'boolean', 'keys <= query only', false)],
    (o) => bigBirdLayout(o as never), (n, _o, v) => n * (2 * num(v.window) + 1 + num(v.random) + 2 * num(v.global)), 'Zaheer et al. 2020'),
  layoutPattern('fixed', [], 'attention: Sparse Transformer fixed pattern', 'square', false,
    [p('stride', 'stride', 'integer', 'chunk length in blocks', 4), p('summary', 'summary', 'integer', 'summary blocks at the end of each chunk', 1),
      p('causal', 'causal', 'boolean', 'keys <= query only', true)],
    (o) => fixedLayout(o as never), (n, _o, v) => n * (num(v.stride) + num(v.summary) * Math.ceil(n / Math.max(1, num(v.stride)))), 'Child et al. 2019'),
  layoutPattern('strided', [], 'attention: Sparse Transformer strided pattern', 'square', false,
    [p('stride', 'stride', 'integer', 'stride in blocks', 4), p('causal', 'causal', 'boolean', 'keys <= query only', true)],
    (o) => stridedLayout(o as never), (n, _o, v) => n * (num(v.stride) + Math.ceil(n / Math.max(1, num(v.stride)))), 'Child et al. 2019'),
];

/** The most square factorisation's smaller side: the largest divisor of n that is <= sqrt(n). */
function squarestFactor(n: number): number {
  for (let w = Math.floor(Math.sqrt(n)); w > 1; w--) if (n % w === 0) return w;
  return 1;
}

/** Finds a pattern by name or alias; raises ParameterError listing the names when unknown. */
export function findPattern(name: string): PatternDefinition {
  const found = PATTERNS.find((d) => d.name === name || d.aliases.includes(name));
  if (!found) {
    throw new ParameterError('pattern', `one of ${PATTERNS.map((d) => d.name).join(', ')}, or an OpenAI preset (dense, ws_<m>_<pct>, ba_<m>, bae_<m>_<e>, br_<m>)`, name);
  }
  return found;
}

/** Options for building a pattern by name: shape, block size, diagonal, seed and the pattern's own parameters. */
export interface BuildPatternOptions {
  blocks?: number;
  inBlocks?: number;
  outBlocks?: number;
  blockSize?: BlockSize;
  diagonal?: boolean;
  seed?: Seed;
  params?: Record<string, ParamValue | undefined>;
}

/** Builds a layout from a pattern name (or an OpenAI preset name) and its parameters. */
export function buildPattern(name: string, options: BuildPatternOptions): BlockLayout {
  const { inBlocks, outBlocks } = resolveShape(options);
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const seed = options.seed ?? 0;
  const diagonal = options.diagonal ?? true;
  const definition = PATTERNS.find((d) => d.name === name || d.aliases.includes(name));
  if (!definition && isPresetName(name)) {
    if (inBlocks !== outBlocks) throw new ParameterError('outBlocks', `equal to inBlocks (${inBlocks}) for preset ${name}`, outBlocks);
    const unknown = Object.keys(options.params ?? {}).filter((key) => options.params![key] !== undefined);
    if (unknown.length) throw new ParameterError(unknown[0], `absent: preset ${name} takes no parameters`, options.params![unknown[0]]);
    checkPresetMemory(name, inBlocks);
    const layout = presetLayout(name, { blocks: inBlocks, blockSize, seed });
    return diagonal ? layout : withoutDiagonal(layout);
  }
  if (!definition) return findPattern(name) as never; // raises, listing the names
  if (definition.shape === 'square' && inBlocks !== outBlocks) {
    throw new ParameterError('outBlocks', `equal to inBlocks (${inBlocks}): ${definition.name} is square only`, outBlocks);
  }
  const values: Record<string, ParamValue | undefined> = {};
  const given = options.params ?? {};
  for (const key of Object.keys(given)) {
    if (given[key] !== undefined && !definition.params.some((param) => param.name === key)) {
      const names = definition.params.map((param) => param.name);
      throw new ParameterError(key, names.length ? `one of ${definition.name}'s parameters: ${names.join(', ')}` : `absent: ${definition.name} takes no parameters`, given[key]);
    }
  }
  for (const param of definition.params) values[param.name] = given[param.name] ?? param.default;
  try {
    checkPatternMemory(definition, { inBlocks, outBlocks, blockSize, diagonal, seed }, values);
    return definition.build({ inBlocks, outBlocks, blockSize, diagonal, seed }, values);
  } catch (error) {
    throw renameParameter(error, definition);
  }
}

/** As checkPatternMemory, for an OpenAI preset: about (2m + 2) blocks per row (all of them for dense). */
function checkPresetMemory(name: string, blocks: number): void {
  const m = Number(/^[a-z]+_(\d+)/.exec(name)?.[1] ?? NaN);
  const perRow = name === 'dense' ? blocks : 2 * m + 2;
  const total = blocks * perRow;
  if (!Number.isFinite(total) || total > MAX_BLOCKS) return;
  checkMemory(`preset ${name} with blocks ${blocks} (a layout of about ${total} blocks)`, 4 * (blocks + 1) + 16 * total);
}

/** "blocks 64" for a square shape, "in-blocks 4, out-blocks 6" otherwise (the CLI's option and spec key names). */
function shapeText(inBlocks: number, outBlocks: number): string {
  return inBlocks === outBlocks ? `blocks ${inBlocks}` : `in-blocks ${inBlocks}, out-blocks ${outBlocks}`;
}

/**
 * Checks, before generating, that a pattern's graph and layout fit the memory budget (from the
 * pattern's size estimate): ResourceError naming the pattern, its shape and the budget otherwise.
 * A graph pattern whose layout would exceed the 2^31 - 1 blocks a layout holds raises
 * ParameterError; layout patterns check their exact counts themselves, so an estimate past that
 * (or NaN, from parameters the generator will reject) is left to them.
 */
function checkPatternMemory(definition: PatternDefinition, common: PatternCommon, values: Record<string, ParamValue | undefined>): void {
  const { inBlocks, outBlocks } = common;
  const estimate = definition.estimate(common, values);
  const blocks = Math.ceil(Math.max(0, estimate.blocks));
  const arcs = Math.ceil(Math.max(0, estimate.arcs));
  if (!Number.isFinite(blocks) || !Number.isFinite(arcs)) return;
  const order = Math.max(inBlocks, outBlocks);
  if (arcs > 0) checkCapacity(blocks, inBlocks === outBlocks ? 'blocks' : 'inBlocks', definition.name);
  else if (blocks > MAX_BLOCKS) return;
  // The graph's CSR and the generator's temporaries; the layout and one copy (diagonal, cut).
  // Graph patterns build the square order x order layout first; others the layout itself.
  const bytes = arcs > 0 ? 4 * (order + 1) + 16 * arcs + 2 * layoutBytes(order, blocks) : 2 * layoutBytes(inBlocks, blocks);
  const parts = arcs > 0 ? `a graph of about ${arcs} arcs and a layout of about ${blocks} blocks` : `a layout of about ${blocks} blocks`;
  checkMemory(`${definition.name} with ${shapeText(inBlocks, outBlocks)} (${parts})`, bytes);
}

/** Re-raises a generator's ParameterError under the pattern's parameter name (e.g. rewireProb -> p). */
function renameParameter(error: unknown, definition: PatternDefinition): unknown {
  if (!(error instanceof ParameterError)) return error;
  const param = definition.params.find((candidate) => candidate.key === error.parameter);
  const name = param ? param.name : error.parameter === 'order' ? 'blocks' : undefined;
  if (!name) return error;
  return new ParameterError(name, error.allowed, error.value, definition.name);
}

function resolveShape(options: BuildPatternOptions): { inBlocks: number; outBlocks: number } {
  if (options.blocks !== undefined) {
    if (options.inBlocks !== undefined || options.outBlocks !== undefined) {
      throw new ParameterError('blocks', 'given alone: use either blocks or inBlocks/outBlocks', options.blocks);
    }
    const blocks = checkInteger('blocks', options.blocks, 1);
    return { inBlocks: blocks, outBlocks: blocks };
  }
  if (options.inBlocks === undefined) throw new ParameterError('blocks', 'given (or inBlocks and outBlocks)', undefined);
  const inBlocks = checkInteger('inBlocks', options.inBlocks, 1);
  const outBlocks = checkInteger('outBlocks', options.outBlocks ?? inBlocks, 1);
  return { inBlocks, outBlocks };
}
