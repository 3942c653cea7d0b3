import { checkInteger } from '../check.js';
import type { CSRGraph } from '../graph/csr.js';
import { type RandomOptions, type Rng, type Seed, resolveRng } from '../random.js';
import { type AnalysisInput, analysisGraph } from './adapter.js';
import { averageClustering, transitivity } from './clustering.js';
import { UndirectedOnlyError } from './errors.js';
import { averageShortestPathLength } from './paths.js';
import { type TimeEstimate } from '../estimate.js';
import { latticeReference, randomReference } from './references.js';

/** Options of `sigma` and `omega`. */
export interface SmallWorldOptions extends RandomOptions {
  /** Swap rounds per edge for the reference graphs, an integer >= 0 (sigma: 100, omega: 5, as networkx). */
  niter?: number;
  /** Number of reference graphs, an integer >= 1 (default 10). */
  nrand?: number;
  /** Worker threads for the path lengths (see averageShortestPathLength; small graphs use the calling thread). */
  workers?: number;
  /** Called after the input's path length and after each reference graph with (graphs done, nrand + 1). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Called with time estimates: early, the input's path-length time (from its first batch of
   * sources) times the nrand + 1 graphs; then, from the first reference graph's time, the whole.
   */
  onEstimate?: (estimate: TimeEstimate) => void;
}

/** One random reference of `sigma`: its seed (regenerate it with randomReference(graph, {niter, seed})), transitivity and average path length. */
export interface SigmaReference {
  seed: number;
  C: number;
  L: number;
}

/** One pair of references of `omega`: the random one (niter * 2 rounds) with its path length, the lattice one with its average clustering. */
export interface OmegaReference {
  randomSeed: number;
  L: number;
  latticeSeed: number;
  C: number;
}

interface SmallWorldBase {
  /** The coefficient. NaN or Infinity (null in JSON) when a denominator is 0 (e.g. no triangles in any reference). */
  value: number;
  /** Clustering of the input (transitivity for sigma, average clustering for omega; see `clustering`). */
  C: number;
  /** Average shortest path length of the input. */
  L: number;
  /** Mean average shortest path length of the random references. */
  Lr: number;
  nrand: number;
  niter: number;
  /** The seed the references were drawn from (drawn at random and reported when none was given); null when an `rng` was given. */
  seed: Seed | null;
}

/** The small-world coefficient sigma = (C / Cr) / (L / Lr) and what it was computed from. */
export interface SigmaResult extends SmallWorldBase {
  coefficient: 'sigma';
  /** networkx's sigma uses transitivity (global clustering) for C and Cr. */
  clustering: 'transitivity';
  /** Mean transitivity of the random references. */
  Cr: number;
  references: SigmaReference[];
}

/** The small-world coefficient omega = Lr / L - C / Cl and what it was computed from. */
export interface OmegaResult extends SmallWorldBase {
  coefficient: 'omega';
  /** networkx's omega uses average clustering for C and Cl. */
  clustering: 'average clustering';
  /** The largest average clustering among the input and its lattice references (networkx's Cl). */
  Cl: number;
  references: OmegaReference[];
}

/** Either coefficient's result (plain JSON-serialisable data). */
export type SmallWorldResult = SigmaResult | OmegaResult;

/**
 * The small-world coefficient sigma = (C / Cr) / (L / Lr) of an undirected graph, as networkx's
 * `sigma` (Humphries et al. 2006 [1], Humphries and Gurney 2008 [2]).
 *
 * C is the transitivity (networkx's sigma uses `transitivity`, the global clustering, not the
 * average local clustering) and L the average shortest path length of the graph; Cr and Lr are
 * their means over `nrand` random references `randomReference(graph, {niter})` (degree-preserving
 * double-edge swaps that keep the graph connected). sigma > 1 is commonly read as small-world.
 *
 * Each reference gets its own seed drawn from `seed` (or `rng`), reported in `references`, so any
 * reference can be rebuilt. Same seed, same result; networkx's stream differs, so results agree
 * with networkx's in distribution, not value for value.
 *
 * Parameters: `niter` (integer >= 0, default 100), `nrand` (integer >= 1, default 10), `seed` or
 * `rng`, `workers` (for the path lengths).
 *
 * Raises UndirectedOnlyError for a directed graph, DisconnectedGraphError for a disconnected one
 * (networkx: NetworkXError from average_shortest_path_length), ParameterError from
 * randomReference (fewer than 4 nodes, no two disjoint edges) or for bad options.
 *
 * [1] M. D. Humphries, K. Gurney and T. J. Prescott, The brainstem reticular formation is a
 *     small-world, not scale-free, network, Proc. R. Soc. B 273, 503-511 (2006).
 * [2] M. D. Humphries and K. Gurney, Network 'small-world-ness': a quantitative method for
 *     determining canonical network equivalence, PLoS One 3, e0002051 (2008).
 */
export async function sigma(input: AnalysisInput, options: SmallWorldOptions = {}): Promise<SigmaResult> {
  const context = 'sigma';
  const niter = checkInteger('niter', options.niter ?? 100, 0, Number.MAX_SAFE_INTEGER, context);
  const nrand = checkInteger('nrand', options.nrand ?? 10, 1, Number.MAX_SAFE_INTEGER, context);
  const graph = undirectedInput(input, context);
  const { rng, seed } = referenceStream(options, context);
  const watch = referenceWatch(options, nrand);
  const pathOptions = { workers: options.workers };
  // The input's own values first: a disconnected graph fails before any reference is built.
  const L = (await averageShortestPathLength(graph, { ...pathOptions, onEstimate: watch.inputEstimate })).value;
  const C = transitivity(graph);
  watch.inputDone();
  const references: SigmaReference[] = [];
  for (let i = 0; i < nrand; i++) {
    const referenceSeed = drawSeed(rng);
    const reference = randomReference(graph, { niter, seed: referenceSeed });
    const Lref = (await averageShortestPathLength(reference, pathOptions)).value;
    references.push({ seed: referenceSeed, C: transitivity(reference), L: Lref });
    watch.referenceDone(i + 1);
  }
  const Cr = mean(references.map((r) => r.C));
  const Lr = mean(references.map((r) => r.L));
  return { coefficient: 'sigma', clustering: 'transitivity', value: C / Cr / (L / Lr), C, L, Cr, Lr, nrand, niter, seed, references };
}

/**
 * The small-world coefficient omega = Lr / L - C / Cl of an undirected graph, as networkx's
 * `omega` (Telesford et al. 2011 [1]): near 0 for a small-world graph, near -1 for a lattice,
 * near 1 for a random graph.
 *
 * C is the average clustering (networkx's `average_clustering`, zeros counted) and L the average
 * shortest path length of the graph. For each of `nrand` rounds, as networkx: a random reference
 * `randomReference(graph, {niter: 2 * niter})` gives one path length (Lr is their mean), and a
 * lattice reference `latticeReference(graph, {niter})` one average clustering; Cl is the largest
 * of C and those lattice clusterings (networkx takes the maximum, not the mean).
 *
 * Seeding, parameters (`niter` default 5, `nrand` default 10) and errors: as `sigma`. The value
 * is NaN when Cl = 0 (no triangles anywhere; networkx raises ZeroDivisionError there).
 *
 * [1] Q. K. Telesford, K. E. Joyce, S. Hayasaka, J. H. Burdette and P. J. Laurienti, The ubiquity
 *     of small-world networks, Brain Connectivity 1, 367-375 (2011).
 */
export async function omega(input: AnalysisInput, options: SmallWorldOptions = {}): Promise<OmegaResult> {
  const context = 'omega';
  const niter = checkInteger('niter', options.niter ?? 5, 0, Number.MAX_SAFE_INTEGER, context);
  const nrand = checkInteger('nrand', options.nrand ?? 10, 1, Number.MAX_SAFE_INTEGER, context);
  const graph = undirectedInput(input, context);
  const { rng, seed } = referenceStream(options, context);
  const watch = referenceWatch(options, nrand);
  const pathOptions = { workers: options.workers };
  const L = (await averageShortestPathLength(graph, { ...pathOptions, onEstimate: watch.inputEstimate })).value;
  const C = averageClustering(graph);
  watch.inputDone();
  const references: OmegaReference[] = [];
  let Cl = C;
  for (let i = 0; i < nrand; i++) {
    const randomSeed = drawSeed(rng);
    const random = randomReference(graph, { niter: niter * 2, seed: randomSeed });
    const Lref = (await averageShortestPathLength(random, pathOptions)).value;
    const latticeSeed = drawSeed(rng);
    const Cref = averageClustering(latticeReference(graph, { niter, seed: latticeSeed }));
    if (Cref > Cl) Cl = Cref;
    references.push({ randomSeed, L: Lref, latticeSeed, C: Cref });
    watch.referenceDone(i + 1);
  }
  const Lr = mean(references.map((r) => r.L));
  return { coefficient: 'omega', clustering: 'average clustering', value: Lr / L - C / Cl, C, L, Cl, Lr, nrand, niter, seed, references };
}

/** Progress over the nrand + 1 graphs, and the estimates (see SmallWorldOptions.onEstimate). */
function referenceWatch(options: SmallWorldOptions, nrand: number) {
  const start = performance.now();
  let inputSeconds = 0;
  let referenceStart = start;
  const total = nrand + 1;
  return {
    inputEstimate: options.onEstimate
      ? (e: TimeEstimate) => options.onEstimate!({ ...e, seconds: e.seconds * total, total: e.total * total })
      : undefined,
    inputDone(): void {
      inputSeconds = (performance.now() - start) / 1000;
      referenceStart = performance.now();
      options.onProgress?.(1, total);
    },
    referenceDone(done: number): void {
      if (done === 1 && options.onEstimate) {
        const reference = (performance.now() - referenceStart) / 1000;
        options.onEstimate({ seconds: inputSeconds + reference * nrand, done: 1, total: nrand, unit: 'reference graphs' });
      }
      options.onProgress?.(done + 1, total);
    },
  };
}

function undirectedInput(input: AnalysisInput, context: string): CSRGraph {
  const graph = analysisGraph(input);
  if (graph.directed) throw new UndirectedOnlyError(context);
  return graph;
}

/** The stream the per-reference seeds are drawn from, and the seed to report (drawn when none was given). */
function referenceStream(options: RandomOptions, context: string): { rng: Rng; seed: Seed | null } {
  if (options.rng !== undefined || options.seed !== undefined) {
    const rng = resolveRng(options, context);
    return { rng, seed: options.seed ?? null };
  }
  const seed = Math.floor(Math.random() * 2 ** 32);
  return { rng: resolveRng({ seed }, context), seed };
}

/** A 32-bit seed for one reference graph. */
function drawSeed(rng: Rng): number {
  return Math.floor(rng() * 2 ** 32);
}

function mean(values: number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}
