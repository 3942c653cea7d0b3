import { checkInteger, checkOneOf } from '../check.js';
import { ParameterError, ShapeError } from '../errors.js';
import { BlockLayout } from '../patterns/layout.js';
import { measuredEstimate, secondsSince, type TimeEstimate } from '../estimate.js';
import { checkAnalysisMemory } from './resources.js';

/** How the diagonal (self-blocks (c, c)) of each layout is treated: as given, forced on, or removed. */
export type DiagonalMode = 'keep' | 'add' | 'remove';

/** Every diagonal mode. */
export const DIAGONAL_MODES: readonly DiagonalMode[] = ['keep', 'add', 'remove'];

/** Options of `mixingDepth`. */
export interface MixingOptions {
  /** Most steps to run, an integer in [1, 100000] (default 64). */
  maxSteps?: number;
  /**
   * 'keep' (default): the layouts as given. 'add': every self-block (c, c) present, a residual-like
   * path that keeps what a block already depends on (OpenAI's masks include it). 'remove': no
   * self-block at all, so a block's information only moves along off-diagonal blocks.
   */
  diagonal?: DiagonalMode;
  /** Also run 'add' and 'remove' and return them as `withDiagonal` and `withoutDiagonal` (default false). */
  compareDiagonal?: boolean;
  /** Called after each step of the requested mode's run with (steps done, most steps it can take). */
  onProgress?: (done: number, total: number) => void;
  /** Called once after the first step with the time the run will take at most, measured on that step. */
  onEstimate?: (estimate: TimeEstimate) => void;
}

/** How a run ended: every output depends on every input; it provably never will; or maxSteps ran out first. */
export type MixingStatus = 'mixed' | 'never' | 'not-reached';

/** The mixing of one diagonal mode. */
export interface MixingRun {
  diagonal: DiagonalMode;
  /** The first number of steps L after which every output block depends on every input block; null if none was found. */
  depth: number | null;
  status: MixingStatus;
  /**
   * fractions[i]: the fraction of (input block c, output block k) pairs with k depending on c after
   * i + 1 steps. Stops at full mixing, when the sequence provably repeats, or at maxSteps.
   */
  fractions: number[];
  /** Why depth is null, in words (null when mixed). */
  reason: string | null;
}

/** What `mixingDepth` returns: the run of the requested diagonal mode, and with `compareDiagonal` both others. */
export interface MixingResult extends MixingRun {
  /** Number of blocks n (inBlocks = outBlocks). */
  blocks: number;
  /** Number of layouts cycled through (step i uses layouts[i % layers]). */
  layers: number;
  maxSteps: number;
  withDiagonal?: MixingRun;
  withoutDiagonal?: MixingRun;
}

/**
 * How many stacked layers (or recurrent steps) of a block-sparse layout it takes until every
 * output block depends on every input block.
 *
 * Step i applies the 0/1 block matrix M_i of layouts[i % layouts.length] (a single layout is
 * applied at every step), with the diagonal as `diagonal` says. After L steps output block k
 * depends on input block c iff (M_0 M_1 ... M_{L-1})[c, k] = 1 in boolean arithmetic, i.e. some
 * path c = j_0 -> j_1 -> ... -> j_L = k uses a block (j_i, j_{i+1}) of layer i at each step. The
 * result lists the fraction of such (c, k) pairs after each step and the first L at which all n^2
 * pairs are reached (`depth`).
 *
 * depth is null with status 'never' when that provably cannot happen: the block graph (the union
 * of the layers' graphs) is not strongly connected (some input can never reach some output);
 * for a single layout, its graph is periodic (every cycle length a multiple of d > 1, e.g. a
 * bipartite-like layout without the diagonal: the pairs reached alternate and never fill up; a
 * single layout whose graph is strongly connected and aperiodic is primitive, and mixes by step
 * (n - 1)^2 + 1 at the latest, Wielandt's bound); or the sequence of dependency matrices repeats
 * without having been full. Status 'not-reached' means maxSteps ran out first.
 *
 * Relation to OpenAI's `mix_factor(masks, nsamples)` (blocksparse examples/lstm/masks.py): it
 * applies masks[0], masks[1], ... in turn (steps 1..len(masks), no cycling) to one-hot input
 * blocks, over `nsamples` randomly chosen inputs (all n by default), and prints the percentage of
 * outputs reached after each step, stopping at 99.99%. Ours is the same boolean product, taken
 * over every input exactly, as fractions in [0, 1], cycling through the list up to maxSteps, and
 * says at which step (if any) mixing is complete. OpenAI's masks include the identity, which is
 * our 'keep' on such a mask or 'add' on one without.
 *
 * Computed with bitsets: the set of inputs each output depends on is a row of ceil(n / 32) words,
 * and a step ORs, for each output k, the rows of k's input blocks: O(nnz * n / 32) word operations
 * per step (an output with a full input row is set full at once). A single layout with every
 * self-block (the common case, and any layout with diagonal 'add') only grows its sets, so only
 * the bits that are new at each step travel: a banded or ring layout costs a few words per block
 * and step. n = 4,096 blocks (a ring of degree 64, or Watts-Strogatz k = 32) take tens of
 * milliseconds per step on one core.
 *
 * Memory: the dependency sets are n rows of ceil(n / 32) words, five such arrays at most (about
 * 5 n^2 / 8 bytes: 25 GB for n = 200,000), checked against the memory budget (ResourceError naming
 * the layout's size) before anything is allocated.
 *
 * Raises ShapeError for a non-square layout or layouts of different sizes, ParameterError for an
 * empty list or a bad option, ResourceError when the sets would not fit the memory budget.
 */
export function mixingDepth(input: BlockLayout | BlockLayout[], options: MixingOptions = {}): MixingResult {
  const context = 'mixingDepth';
  const layouts = Array.isArray(input) ? input : [input];
  if (layouts.length === 0) throw new ParameterError('input', 'a layout or a non-empty list of layouts', input, context);
  for (const layout of layouts) {
    if (!(layout instanceof BlockLayout)) throw new ParameterError('input', 'BlockLayout instances', layout, context);
  }
  const blocks = layouts[0].inBlocks;
  layouts.forEach((layout, i) => {
    if (!layout.isSquare) throw new ShapeError(`${context}: layout ${i} is ${layout.inBlocks} x ${layout.outBlocks}; mixing needs square layouts`);
    if (layout.inBlocks !== blocks) throw new ShapeError(`${context}: layout ${i} has ${layout.inBlocks} blocks, layout 0 has ${blocks}`);
  });
  const maxSteps = checkInteger('maxSteps', options.maxSteps ?? 64, 1, 100_000, context);
  const diagonal = checkOneOf('diagonal', options.diagonal ?? 'keep', DIAGONAL_MODES, context);
  const compare = options.compareDiagonal ?? false;
  if (typeof compare !== 'boolean') throw new ParameterError('compareDiagonal', 'a boolean', compare, context);
  checkMixingMemory(layouts);

  // 'add' is 'keep' when every self-block is present already, 'remove' is 'keep' when none is.
  let selfBlocks = 0;
  for (const layout of layouts) for (let c = 0; c < blocks; c++) if (layout.blockId(c, c) >= 0) selfBlocks++;
  const runs = new Map<DiagonalMode, MixingRun>();
  const run = (mode: DiagonalMode, watch: RunWatch = {}): MixingRun => {
    let same: DiagonalMode = mode;
    if ((mode === 'add' && selfBlocks === blocks * layouts.length) || (mode === 'remove' && selfBlocks === 0)) same = 'keep';
    let result = runs.get(same);
    if (!result) {
      result = mixingRun(layouts, same, maxSteps, watch);
      runs.set(same, result);
    }
    return { ...result, diagonal: mode };
  };
  const main = run(diagonal, { onProgress: options.onProgress, onEstimate: options.onEstimate });
  const result: MixingResult = { blocks, layers: layouts.length, maxSteps, ...main };
  if (compare) {
    result.withDiagonal = run('add');
    result.withoutDiagonal = run('remove');
  }
  return result;
}

/** The layer's graph as in-neighbour lists: inputs of output k are rowIdx[colPtr[k] .. colPtr[k+1]), diagonal as `mode` says. */
interface Layer {
  colPtr: Int32Array;
  rowIdx: Int32Array;
}

function layerOf(layout: BlockLayout, mode: DiagonalMode): Layer {
  const { colPtr, rowIdx } = layout.columns();
  if (mode === 'keep') return { colPtr, rowIdx };
  const n = layout.outBlocks;
  const outPtr = new Int32Array(n + 1);
  const out = new Int32Array(rowIdx.length + (mode === 'add' ? n : 0));
  let w = 0;
  for (let k = 0; k < n; k++) {
    for (let i = colPtr[k]; i < colPtr[k + 1]; i++) if (rowIdx[i] !== k) out[w++] = rowIdx[i];
    if (mode === 'add') out[w++] = k;
    outPtr[k + 1] = w;
  }
  return { colPtr: outPtr, rowIdx: out.subarray(0, w) };
}

/**
 * Bytes a mixing run needs at most: five arrays of n * ceil(n / 32) words (the monotone run's
 * state, deltas and their word lists; the general run's state, next state and a replay's two),
 * and the layers' in- and out-neighbour lists.
 */
export function mixingBytes(blocks: number, nnz: number): number {
  const words = Math.ceil(blocks / 32);
  return 20 * blocks * words + 64 * blocks + 24 * nnz;
}

/** Checks that mixing depth over `layouts` fits the memory budget (ResourceError otherwise), before any work. */
export function checkMixingMemory(layouts: BlockLayout[]): void {
  const n = layouts[0].inBlocks;
  let nnz = n;
  for (const layout of layouts) nnz += layout.nnz;
  checkAnalysisMemory('mixing depth', layouts[0], mixingBytes(n, nnz), n * Math.ceil(n / 32));
}

/** Progress and estimate callbacks of one run. */
interface RunWatch {
  onProgress?: (done: number, total: number) => void;
  onEstimate?: (estimate: TimeEstimate) => void;
}

/**
 * Reports each step; after the first one, the estimate: that step's time times
 * the most steps the run can take (`bound`).
 */
function stepWatcher(watch: RunWatch, bound: number): (step: number) => void {
  const start = performance.now();
  return (step) => {
    if (step === 1 && watch.onEstimate) watch.onEstimate(measuredEstimate(secondsSince(start), 1, bound, 'steps', 1, bound > 1));
    watch.onProgress?.(step, bound);
  };
}

function mixingRun(layouts: BlockLayout[], mode: DiagonalMode, maxSteps: number, watch: RunWatch = {}): MixingRun {
  const n = layouts[0].inBlocks;
  const layers = layouts.map((layout) => layerOf(layout, mode));
  const period = layers.length;
  const { obstacle: structure, depthBound } = structuralObstacle(layers, n);
  const words = (n + 31) >>> 5;
  const total = n * n;
  const lastMask = n % 32 === 0 ? 0xffff_ffff : (1 << n % 32) - 1;
  const fractions: number[] = [];
  if (period === 1 && hasEverySelfBlock(layers[0], n)) {
    // With every self-block the run ends by the step that reaches the farthest pair.
    const bound = depthBound === null ? maxSteps : Math.min(maxSteps, Math.max(1, depthBound));
    return monotoneRun(layers[0], mode, maxSteps, structure, n, words, stepWatcher(watch, bound));
  }
  const stepDone = stepWatcher(watch, maxSteps);
  const hashes: number[] = [];

  let state: Uint32Array = identityRows(n, words);
  let next: Uint32Array = new Uint32Array(n * words);
  let full = new Uint8Array(n).fill(n === 1 ? 1 : 0); // full[k]: row k has all n bits (the identity's, when n = 1)
  let nextFull = new Uint8Array(n);
  for (let step = 1; step <= maxSteps; step++) {
    const count = applyLayer(layers[(step - 1) % period], state, next, full, nextFull, n, words, lastMask);
    [state, next] = [next, state];
    [full, nextFull] = [nextFull, full];
    fractions.push(count / total);
    stepDone(step);
    if (count === total) return { diagonal: mode, depth: step, status: 'mixed', fractions, reason: null };
    // A repeated (state, phase) means the sequence cycles from there on without ever being full.
    const hash = hashRows(state);
    hashes.push(hash);
    for (let earlier = step - period; earlier >= 1; earlier -= period) {
      if (hashes[earlier - 1] !== hash) continue;
      if (!sameRows(replay(layers, earlier, n, words, lastMask), state)) continue;
      const because = structure ?? 'the sequence of dependency matrices';
      return {
        diagonal: mode,
        depth: null,
        status: 'never',
        fractions,
        reason: `never fully mixed: ${because}${structure ? '' : ' is periodic'} (after ${step} steps the dependencies repeat those after ${earlier})`,
      };
    }
  }
  if (structure) return { diagonal: mode, depth: null, status: 'never', fractions, reason: `never fully mixed: ${structure}` };
  const bound = period === 1 ? `; the layout is primitive, so it mixes by step (n - 1)^2 + 1 = ${(n - 1) ** 2 + 1} at the latest (Wielandt)` : '';
  return { diagonal: mode, depth: null, status: 'not-reached', fractions, reason: `not fully mixed within maxSteps = ${maxSteps}${bound}` };
}

/** Whether every output k has itself among its inputs. */
function hasEverySelfBlock(layer: Layer, n: number): boolean {
  const { colPtr, rowIdx } = layer;
  for (let k = 0; k < n; k++) {
    let found = false;
    for (let i = colPtr[k]; i < colPtr[k + 1] && !found; i++) found = rowIdx[i] === k;
    if (!found) return false;
  }
  return true;
}

/**
 * The run of one layer whose every self-block is present. Then the dependency sets only grow
 * (T_L is contained in T_{L+1}), and T_{L+1}[k] = T_L[k] OR (the bits new at step L in the rows
 * of k's inputs): only the new bits travel, kept as sparse lists of (word, bits) per row. For a
 * banded or ring layout that is a few words per block and step instead of n / 32 (rows with many
 * new words are ORed whole; full rows are skipped, and a row with a full input becomes full). A
 * step that adds nothing is a fixed point: the run ends there.
 */
function monotoneRun(
  layer: Layer,
  mode: DiagonalMode,
  maxSteps: number,
  structure: string | null,
  n: number,
  words: number,
  stepDone: (step: number) => void,
): MixingRun {
  const { colPtr, rowIdx } = layer;
  const total = n * n;
  const fractions: number[] = [];
  const state = identityRows(n, words);
  // New bits of each row, dense (delta[k * words + w]) and as the list of its nonzero words
  // (deltaWord[deltaPtr[k] .. deltaPtr[k+1])): short lists are ORed through the list, long ones directly.
  let delta: Uint32Array = identityRows(n, words);
  let deltaPtr = new Int32Array(n + 1);
  let deltaWord = new Int32Array(n * words);
  let nextDelta: Uint32Array = new Uint32Array(n * words);
  let nextPtr = new Int32Array(n + 1);
  let nextWord = new Int32Array(n * words);
  for (let k = 0; k < n; k++) {
    deltaWord[k] = k >>> 5;
    deltaPtr[k + 1] = k + 1;
  }
  const row = new Uint32Array(words);
  const ones = new Uint32Array(words).fill(0xffff_ffff);
  ones[words - 1] = n % 32 === 0 ? 0xffff_ffff : (1 << n % 32) - 1;
  const rowCount = new Int32Array(n).fill(1); // bits set in each row of state
  const wasFull = new Uint8Array(n); // rows full before this step
  const denseFrom = words >>> 2;
  let count = n;
  for (let step = 1; step <= maxSteps; step++) {
    for (let k = 0; k < n; k++) wasFull[k] = rowCount[k] === n ? 1 : 0;
    let entries = 0;
    for (let k = 0; k < n; k++) {
      const out = k * words;
      nextPtr[k] = entries;
      if (wasFull[k]) continue; // nothing to add
      let fromFull = false;
      for (let i = colPtr[k]; i < colPtr[k + 1] && !fromFull; i++) fromFull = wasFull[rowIdx[i]] === 1;
      if (fromFull) row.set(ones);
      else {
        row.fill(0);
        for (let i = colPtr[k]; i < colPtr[k + 1]; i++) {
          const j = rowIdx[i];
          const first = deltaPtr[j];
          const last = deltaPtr[j + 1];
          if (j === k || first === last) continue;
          const base = j * words;
          if (last - first > denseFrom) {
            for (let w = 0; w < words; w++) row[w] |= delta[base + w];
          } else {
            for (let e = first; e < last; e++) {
              const w = deltaWord[e];
              row[w] |= delta[base + w];
            }
          }
        }
      }
      for (let w = 0; w < words; w++) {
        const added = row[w] & ~state[out + w];
        if (added !== 0) {
          nextWord[entries++] = w;
          nextDelta[out + w] = added;
          const bits = popcount(added);
          rowCount[k] += bits;
          count += bits;
        }
      }
    }
    nextPtr[n] = entries;
    // Apply after the sweep, so that every row read the previous step's sets; clear the old deltas.
    for (let k = 0; k < n; k++) {
      const out = k * words;
      for (let e = nextPtr[k]; e < nextPtr[k + 1]; e++) state[out + nextWord[e]] |= nextDelta[out + nextWord[e]];
      for (let e = deltaPtr[k]; e < deltaPtr[k + 1]; e++) delta[out + deltaWord[e]] = 0;
    }
    [delta, nextDelta] = [nextDelta, delta];
    [deltaPtr, nextPtr] = [nextPtr, deltaPtr];
    [deltaWord, nextWord] = [nextWord, deltaWord];
    fractions.push(count / total);
    stepDone(step);
    if (count === total) return { diagonal: mode, depth: step, status: 'mixed', fractions, reason: null };
    if (entries === 0) {
      const because = structure ?? 'the dependencies stopped growing';
      return { diagonal: mode, depth: null, status: 'never', fractions, reason: `never fully mixed: ${because} (step ${step} added no dependency)` };
    }
  }
  if (structure) return { diagonal: mode, depth: null, status: 'never', fractions, reason: `never fully mixed: ${structure}` };
  const bound = `; the layout is primitive, so it mixes by step (n - 1)^2 + 1 = ${(n - 1) ** 2 + 1} at the latest (Wielandt)`;
  return { diagonal: mode, depth: null, status: 'not-reached', fractions, reason: `not fully mixed within maxSteps = ${maxSteps}${bound}` };
}

/** Rows of the identity: before any step, block k depends on itself only. */
function identityRows(n: number, words: number): Uint32Array {
  const rows = new Uint32Array(n * words);
  for (let k = 0; k < n; k++) rows[k * words + (k >>> 5)] = 1 << (k & 31);
  return rows;
}

/**
 * next[k] = OR of state[j] over the inputs j of output k in `layer`; returns the number of set
 * bits. A full input row makes the output row full at once.
 */
function applyLayer(
  layer: Layer,
  state: Uint32Array,
  next: Uint32Array,
  full: Uint8Array,
  nextFull: Uint8Array,
  n: number,
  words: number,
  lastMask: number,
): number {
  const { colPtr, rowIdx } = layer;
  let count = 0;
  next.fill(0);
  for (let k = 0; k < n; k++) {
    const out = k * words;
    let isFull = false;
    for (let i = colPtr[k]; i < colPtr[k + 1]; i++) {
      if (full[rowIdx[i]]) {
        isFull = true;
        break;
      }
    }
    if (isFull) {
      next.fill(0xffff_ffff, out, out + words - 1);
      next[out + words - 1] = lastMask;
      nextFull[k] = 1;
      count += n;
      continue;
    }
    for (let i = colPtr[k]; i < colPtr[k + 1]; i++) {
      const from = rowIdx[i] * words;
      for (let w = 0; w < words; w++) next[out + w] |= state[from + w];
    }
    let bits = 0;
    for (let w = 0; w < words; w++) bits += popcount(next[out + w]);
    nextFull[k] = bits === n ? 1 : 0;
    count += bits;
  }
  return count;
}

/** The state after `steps` steps, recomputed from the identity (to confirm a repeat that the hashes suggest). */
function replay(layers: Layer[], steps: number, n: number, words: number, lastMask: number): Uint32Array {
  let state: Uint32Array = identityRows(n, words);
  let next: Uint32Array = new Uint32Array(n * words);
  let full = new Uint8Array(n).fill(n === 1 ? 1 : 0);
  let nextFull = new Uint8Array(n);
  for (let step = 1; step <= steps; step++) {
    applyLayer(layers[(step - 1) % layers.length], state, next, full, nextFull, n, words, lastMask);
    [state, next] = [next, state];
    [full, nextFull] = [nextFull, full];
  }
  return state;
}

function sameRows(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** FNV-1a over the words (only to find candidate repeats; a match is confirmed exactly). */
function hashRows(rows: Uint32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < rows.length; i++) {
    h = Math.imul(h ^ rows[i], 0x01000193);
  }
  return h >>> 0;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * Why full mixing is impossible, from the graph alone, or null: the union of the layers is not
 * strongly connected; or (one layer) its graph is periodic. With a strongly connected union, also
 * d(., 0) max + d(0, .) max: a bound on every distance, so on the steps a run with every self-block takes.
 */
function structuralObstacle(layers: Layer[], n: number): { obstacle: string | null; depthBound: number | null } {
  // Union graph as out-neighbour lists (arc c -> k for block (c, k)).
  const outPtr = new Int32Array(n + 1);
  for (const { colPtr, rowIdx } of layers) {
    for (let k = 0; k < n; k++) for (let i = colPtr[k]; i < colPtr[k + 1]; i++) outPtr[rowIdx[i] + 1]++;
  }
  for (let c = 0; c < n; c++) outPtr[c + 1] += outPtr[c];
  const outIdx = new Int32Array(outPtr[n]);
  const fill = outPtr.slice(0, n);
  for (const { colPtr, rowIdx } of layers) {
    for (let k = 0; k < n; k++) for (let i = colPtr[k]; i < colPtr[k + 1]; i++) outIdx[fill[rowIdx[i]]++] = k;
  }
  if (outIdx.length === 0) return { obstacle: 'there are no blocks', depthBound: null };
  const forward = bfsLevels(n, outPtr, outIdx);
  const unreached = forward.indexOf(-1);
  if (unreached >= 0) return { obstacle: `the block graph is not strongly connected (input block 0 never reaches output block ${unreached})`, depthBound: null };
  // Reverse reachability to 0 through the in-neighbour lists of the union.
  const inPtr = new Int32Array(n + 1);
  for (let c = 0; c < n; c++) for (let i = outPtr[c]; i < outPtr[c + 1]; i++) inPtr[outIdx[i] + 1]++;
  for (let k = 0; k < n; k++) inPtr[k + 1] += inPtr[k];
  const inIdx = new Int32Array(outIdx.length);
  const inFill = inPtr.slice(0, n);
  for (let c = 0; c < n; c++) for (let i = outPtr[c]; i < outPtr[c + 1]; i++) inIdx[inFill[outIdx[i]]++] = c;
  const backward = bfsLevels(n, inPtr, inIdx);
  const cannot = backward.indexOf(-1);
  if (cannot >= 0) return { obstacle: `the block graph is not strongly connected (input block ${cannot} never reaches output block 0)`, depthBound: null };
  // d(c, k) <= d(c, 0) + d(0, k): with every self-block, all pairs are reached by then.
  let farthestOut = 0;
  let farthestIn = 0;
  for (let v = 0; v < n; v++) {
    if (forward[v] > farthestOut) farthestOut = forward[v];
    if (backward[v] > farthestIn) farthestIn = backward[v];
  }
  const depthBound = farthestOut + farthestIn;
  if (layers.length > 1) return { obstacle: null, depthBound };
  // Period of a strongly connected graph: gcd over arcs u -> v of level(u) + 1 - level(v).
  let period = 0;
  for (let u = 0; u < n; u++) {
    for (let i = outPtr[u]; i < outPtr[u + 1]; i++) period = gcd(period, Math.abs(forward[u] + 1 - forward[outIdx[i]]));
  }
  if (period > 1) {
    return {
      obstacle: `the block graph is periodic with period ${period} (every cycle length is a multiple of ${period}, so after L steps an input reaches only the outputs of one of ${period} classes)`,
      depthBound,
    };
  }
  return { obstacle: null, depthBound };
}

function bfsLevels(n: number, ptr: Int32Array, idx: Int32Array): Int32Array {
  const level = new Int32Array(n).fill(-1);
  const queue = new Int32Array(n);
  level[0] = 0;
  queue[0] = 0;
  for (let head = 0, tail = 1; head < tail; head++) {
    const u = queue[head];
    for (let i = ptr[u]; i < ptr[u + 1]; i++) {
      const v = idx[i];
      if (level[v] < 0) {
        level[v] = level[u] + 1;
        queue[tail++] = v;
      }
    }
  }
  return level;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
