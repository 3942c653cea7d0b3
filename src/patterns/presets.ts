import { checkInteger } from '../check.js';
import { ParameterError } from '../errors.js';
import { barabasiAlbertCSR } from '../graph/barabasi-albert.js';
import { type CSRGraph, hasEdge } from '../graph/csr.js';
import { EdgeSet } from '../graph/edge-set.js';
import { wattsStrogatzCSR } from '../graph/watts-strogatz.js';
import type { RandomOptions, Rng } from '../random.js';
import { balancedRandomLayout } from './balanced-random.js';
import { IntBuffer, MAX_BLOCKS, checkBlockSize, csrFromDistinctPairs, resolveSeed, uniformBelow } from './build.js';
import { denseLayout } from './dense.js';
import { layoutFromGraph } from './from-graph.js';
import { BlockLayout, type BlockSize, type Provenance } from './layout.js';

/*
 * The mask names of OpenAI's block-sparse LSTM experiments (openai/blocksparse,
 * examples/lstm/masks.py; Gray, Radford and Kingma 2017), as square blocks x blocks layouts that
 * always include the diagonal ("plus identity"):
 *
 *   dense          every block.
 *   ws_<m>_<pct>   Watts-Strogatz graph with k = 2m ring neighbours and rewiring probability
 *                  pct/100, plus identity. ws_<m>_0 is the ring lattice: n(2m + 1) blocks.
 *   ba_<m>         Barabási-Albert graph with m edges per new node, plus identity, with the first
 *                  m blocks made fully connected among themselves (a[0:m, 0:m] = 1).
 *   bae_<m>_<e>    ba_<m> plus e extra random edges, each a symmetric pair of blocks: e times, take
 *                  a node of currently lowest degree (column sum, diagonal included; ties broken at
 *                  random) and join it to a uniformly random node it is not yet joined to.
 *   br_<m>         balanced random: fan-in 2m plus identity, i.e. balancedRandomLayout with
 *                  fanIn 2m + 1 and the diagonal (masks.py's balanced_random(n, 2m)).
 *
 * Differences from masks.py, on purpose: the graphs come from our generators (networkx's models,
 * our own seeded streams: the same seed does not give networkx's graph); bae's ties are broken at
 * random as masks.py intends (its sort of (count, index) pairs in fact picks the lowest index);
 * numbers out of range raise instead of looping or failing later. masks.py's legacy old_ba_ and
 * rande_ kinds and its 2-D Watts-Strogatz are not offered.
 */

/** Accepted forms, for error messages. */
const FORMS = 'dense, ws_<m>_<pct>, ba_<m>, bae_<m>_<e>, br_<m> (m, e integers; pct a number in [0, 100])';

const PATTERNS = {
  dense: /^dense$/,
  ws: /^ws_(\d+)_(\d+(?:\.\d+)?)$/,
  ba: /^ba_(\d+)$/,
  bae: /^bae_(\d+)_(\d+)$/,
  br: /^br_(\d+)$/,
} as const;

/** Options of `presetLayout`. */
export interface PresetLayoutOptions extends RandomOptions {
  /** Blocks per side (the masks are square). */
  blocks: number;
  /** Default DEFAULT_BLOCK_SIZE. */
  blockSize?: BlockSize;
}

/** Whether `name` has the form of one of OpenAI's LSTM mask names (dense, ws_<m>_<pct>, ba_<m>, bae_<m>_<e>, br_<m>). */
export function isPresetName(name: string): boolean {
  return typeof name === 'string' && Object.values(PATTERNS).some((pattern) => pattern.test(name));
}

/**
 * The layout of one of OpenAI's LSTM mask names (see the note at the top of presets.ts for what
 * each means): square, `blocks` x `blocks`, diagonal included.
 *
 * Parameters: `name`; `blocks` (>= 1; ws needs 2m <= blocks - 1 and blocks >= 3, ba/bae need
 * 1 <= m <= blocks - 1, br needs 2m + 1 <= blocks, bae needs e <= the number of pairs still
 * unjoined); `seed` or `rng`; `blockSize`.
 *
 * Raises ParameterError naming `pattern` (listing the accepted forms) for a malformed name or
 * numbers out of range, `blocks` for a bad size. Provenance: {generator: 'preset', params: {name,
 * family, blocks, blockSize, m, ...}, seed} (seed null for dense or an rng).
 */
export function presetLayout(name: string, options: PresetLayoutOptions): BlockLayout {
  const context = 'presetLayout';
  if (!isPresetName(name)) throw new ParameterError('pattern', `an OpenAI mask name: ${FORMS}`, name, context);
  const blocks = checkInteger('blocks', options.blocks, 1, MAX_BLOCKS, context);
  const blockSize = checkBlockSize(options.blockSize, context);
  const bad = (allowed: string): ParameterError => new ParameterError('pattern', `${allowed} for ${blocks} blocks (forms: ${FORMS})`, name, context);
  const base = { name, blocks, blockSize };

  if (PATTERNS.dense.test(name)) {
    const layout = denseLayout({ inBlocks: blocks, blockSize });
    return layout.withProvenance({ generator: 'preset', params: { ...base, family: 'dense' }, seed: null });
  }
  const { rng, seed } = resolveSeed(options, context);
  let match = PATTERNS.ws.exec(name);
  if (match) {
    const m = Number(match[1]);
    const pct = Number(match[2]);
    if (m < 1 || 2 * m > blocks - 1 || blocks < 3) throw bad('ws_<m>_<pct> with 1 <= m and 2m <= blocks - 1');
    if (pct > 100) throw bad('ws_<m>_<pct> with pct in [0, 100]');
    const graph = wattsStrogatzCSR({ order: blocks, k: 2 * m, rewireProb: pct / 100, rng });
    const provenance: Provenance = { generator: 'preset', params: { ...base, family: 'ws', m, k: 2 * m, pct, rewireProb: pct / 100 }, seed };
    return layoutFromGraph(graph, { blockSize, diagonal: true, provenance });
  }
  if ((match = PATTERNS.br.exec(name))) {
    const m = Number(match[1]);
    if (m < 1 || 2 * m + 1 > blocks) throw bad('br_<m> with 1 <= m and 2m + 1 <= blocks');
    const layout = balancedRandomLayout({ inBlocks: blocks, blockSize, fanIn: 2 * m + 1, diagonal: true, rng });
    return layout.withProvenance({ generator: 'preset', params: { ...base, family: 'br', m, fanIn: 2 * m + 1 }, seed });
  }
  const extended = PATTERNS.bae.exec(name);
  match = extended ?? PATTERNS.ba.exec(name)!;
  const m = Number(match[1]);
  const extra = extended ? Number(extended[2]) : 0;
  if (m < 1 || m > blocks - 1) throw bad(`${extended ? 'bae_<m>_<e>' : 'ba_<m>'} with 1 <= m <= blocks - 1`);
  const graph = barabasiAlbertCSR({ order: blocks, m, rng });
  const params = extended ? { ...base, family: 'bae', m, extra } : { ...base, family: 'ba', m };
  const { rows, cols } = barabasiAlbertBlocks(graph, m, extra, rng, bad);
  const csr = csrFromDistinctPairs(blocks, blocks, rows.data, cols.data, rows.length);
  return BlockLayout.fromCSR({ inBlocks: blocks, outBlocks: blocks, blockSize, ...csr, provenance: { generator: 'preset', params, seed } });
}

/**
 * The blocks of ba_<m> / bae_<m>_<e> from a Barabási-Albert graph: its edges both ways, the
 * identity, the first m nodes joined pairwise, then `extra` symmetric pairs each at a lowest-degree
 * node (random among ties) and a uniformly random node it is not yet joined to.
 */
function barabasiAlbertBlocks(
  graph: CSRGraph,
  m: number,
  extra: number,
  rng: Rng,
  bad: (allowed: string) => ParameterError,
): { rows: IntBuffer; cols: IntBuffer } {
  const n = graph.order;
  const added = new EdgeSet(m * m + extra); // blocks beyond the graph's edges, as (min, max) pairs
  const degree = new Int32Array(n);
  for (let u = 0; u < n; u++) degree[u] = graph.offsets[u + 1] - graph.offsets[u] + 1; // + diagonal
  for (let u = 0; u < m; u++) {
    for (let v = u + 1; v < m; v++) {
      if (!hasEdge(graph, u, v)) {
        added.add(u, v);
        degree[u]++;
        degree[v]++;
      }
    }
  }
  const joined = (u: number, v: number): boolean =>
    u === v || hasEdge(graph, u, v) || added.has(u < v ? u : v, u < v ? v : u);

  if (extra > 0) {
    const edges = graph.targets.length / 2 + added.size;
    const free = (n * (n - 1)) / 2 - edges;
    if (extra > free) throw bad(`bae_<m>_<e> with e <= ${free} (the pairs not yet joined)`);
    const buckets = new DegreeBuckets(degree);
    for (let t = 0; t < extra; t++) {
      const i = buckets.randomMinimum(rng);
      let j = -1;
      // Rejection is quick: a lowest-degree node is joined to at most the average share of nodes.
      for (let tries = 0; tries < 64 && j < 0; tries++) {
        const candidate = uniformBelow(rng, n);
        if (!joined(i, candidate)) j = candidate;
      }
      if (j < 0) {
        const options = new IntBuffer();
        for (let v = 0; v < n; v++) if (!joined(i, v)) options.push(v);
        j = options.data[uniformBelow(rng, options.length)];
      }
      added.add(i < j ? i : j, i < j ? j : i);
      buckets.increment(i);
      buckets.increment(j);
    }
  }

  const rows = new IntBuffer();
  const cols = new IntBuffer();
  for (let u = 0; u < n; u++) {
    rows.push(u);
    cols.push(u);
    for (let e = graph.offsets[u]; e < graph.offsets[u + 1]; e++) {
      rows.push(u);
      cols.push(graph.targets[e]);
    }
  }
  for (let a = 0; a < added.size; a++) {
    const u = added.sourceAt(a);
    const v = added.targetAt(a);
    rows.push(u);
    cols.push(v);
    rows.push(v);
    cols.push(u);
  }
  return { rows, cols };
}

/**
 * Nodes kept sorted by degree in one array, degree d occupying [start[d], start[d+1]), so that a
 * random node of lowest degree and a degree increment are O(1) (degrees only grow).
 */
class DegreeBuckets {
  #degree: Int32Array;
  #nodes: Int32Array;
  #position: Int32Array;
  #start: Int32Array;
  #min = 0;

  constructor(degree: Int32Array) {
    const n = degree.length;
    this.#degree = degree;
    this.#start = new Int32Array(n + 3);
    for (let u = 0; u < n; u++) this.#start[degree[u] + 1]++;
    for (let d = 0; d < n + 2; d++) this.#start[d + 1] += this.#start[d];
    const fill = this.#start.slice();
    this.#nodes = new Int32Array(n);
    this.#position = new Int32Array(n);
    for (let u = 0; u < n; u++) {
      const p = fill[degree[u]]++;
      this.#nodes[p] = u;
      this.#position[u] = p;
    }
    while (this.#start[this.#min] === this.#start[this.#min + 1]) this.#min++;
  }

  /** A uniformly random node among those of lowest degree. */
  randomMinimum(rng: Rng): number {
    const lo = this.#start[this.#min];
    const count = this.#start[this.#min + 1] - lo;
    return this.#nodes[lo + uniformBelow(rng, count)];
  }

  /** Raises node u's degree by one. */
  increment(u: number): void {
    const d = this.#degree[u];
    const last = this.#start[d + 1] - 1;
    const other = this.#nodes[last];
    const p = this.#position[u];
    this.#nodes[p] = other;
    this.#position[other] = p;
    this.#nodes[last] = u;
    this.#position[u] = last;
    this.#start[d + 1]--;
    this.#degree[u] = d + 1;
    while (this.#start[this.#min] === this.#start[this.#min + 1]) this.#min++;
  }
}
