import { ParameterError } from '../errors.js';
import type { Seed } from '../random.js';
import { BlockLayout } from '../patterns/layout.js';
import { type AnalysisInput, analysisGraph } from './adapter.js';
import { averageClustering, transitivity, triangleCount } from './clustering.js';
import { connectedComponents, stronglyConnectedComponents } from './components.js';
import { degreeStats } from './degrees.js';
import { diameter } from './diameter.js';
import { mixingDepth, checkMixingMemory } from './mixing.js';
import { averageShortestPathLength, sampledAveragePathLength, type DisconnectedMode } from './paths.js';
import { omega, sigma } from './small-world.js';
import { spectralGap } from './spectral.js';
import type { TimeEstimate } from '../estimate.js';

/** One metric's outcome: a number for tables (null when undefined for this input) and the full result. */
export interface MetricValue {
  value: number | null;
  /** Short note shown beside the value (e.g. "estimate ± 0.01", "12 unreachable pairs"). */
  note?: string;
  /** The metric function's whole result (JSON-serialisable). */
  details?: unknown;
}

/** What a metric is computed with. */
export interface MetricContext {
  input: AnalysisInput;
  seed: Seed;
  disconnected: DisconnectedMode;
  /** Sources for sampled path length. */
  samples: number;
  /** Worker threads for path searches (default: the cores). */
  workers?: number;
  /** Called as work completes, for a progress bar. */
  onProgress?: (done: number, total: number) => void;
  /** Called with the metric's time measured on a first slice of its work (metrics with `measured`). */
  onEstimate?: (estimate: TimeEstimate) => void;
}

/** A named metric for `inspect --metrics` and `compare`. */
export interface MetricDefinition {
  name: string;
  label: string;
  description: string;
  /** Rough cost in edge visits for a graph of n nodes and m arcs; a fallback for metrics that do not measure their time. */
  cost(n: number, m: number): number;
  /** Whether compute() reports a time estimate measured on its own first slice of work (through onEstimate). */
  measured?: boolean;
  /** Checks, without computing, that the metric on `input` fits the memory budget (for metrics whose memory can exceed the graph's many times). */
  checkResources?(input: AnalysisInput): void;
  /** Computes the metric on the context's graph. */
  compute(context: MetricContext): Promise<MetricValue>;
}

// Edge visits per second of the bit-parallel searches, per thread, measured roughly on a 2-core
// machine; only used for "this will take about ..." messages.
const VISITS_PER_SECOND = 1.5e9;

const apl = (details: Awaited<ReturnType<typeof averageShortestPathLength>>): MetricValue => ({
  value: Number.isFinite(details.value) ? details.value : null,
  note: [details.exact ? '' : `estimate ± ${details.standardError!.toPrecision(2)}`, details.unreachablePairs > 0 ? `over reachable pairs; ${details.unreachablePairs} unreachable` : '']
    .filter(Boolean).join('; ') || undefined,
  details,
});

const layoutOnly = (input: AnalysisInput, metric: string): BlockLayout => {
  if (!(input instanceof BlockLayout)) throw new ParameterError('metrics', `${metric} only for layouts`, metric);
  return input;
};

const mixingMetric = (name: string, diagonal: 'keep' | 'add' | 'remove', description: string): MetricDefinition => ({
  name,
  label: name === 'mixing-depth' ? 'mixing depth' : `mixing depth (${diagonal} diagonal)`,
  description,
  cost: (n, m) => (m * n) / 32 * Math.log2(n + 2),
  measured: true,
  checkResources: (input) => checkMixingMemory([layoutOnly(input, name)]),
  async compute({ input, onProgress, onEstimate }) {
    const result = mixingDepth(layoutOnly(input, name), { diagonal, onProgress, onEstimate });
    return { value: result.depth, note: result.depth === null ? (result.reason ?? result.status) : undefined, details: result };
  },
});

/** Every metric, in the order tables show them. */
export const METRICS: readonly MetricDefinition[] = [
  {
    name: 'components', label: 'components', description: 'connected components (weak; strong ones noted for directed layouts)',
    cost: (n, m) => n + m,
    async compute({ input }) {
      const weak = connectedComponents(input);
      const graph = analysisGraph(input);
      const strong = graph.directed ? stronglyConnectedComponents(input) : null;
      const { labels: _w, ...weakJSON } = weak;
      const strongJSON = strong ? (({ labels: _s, ...rest }) => rest)(strong) : null;
      return { value: weak.count, note: strong && strong.count > 1 ? `directed: ${strong.count} strongly connected components` : undefined, details: { weak: weakJSON, strong: strongJSON } };
    },
  },
  {
    name: 'degree-sd', label: 'degree sd', description: 'standard deviation of the degree (in-degree for directed layouts): the spread',
    cost: (n, m) => n + m,
    async compute({ input }) {
      const stats = degreeStats(input);
      return { value: stats.directed ? stats.inDegree.sd : stats.degree.sd, details: stats };
    },
  },
  {
    name: 'path-length', label: 'path length', description: 'average shortest path length, exact (bit-parallel BFS from every block)',
    cost: (n, m) => (n * m) / 32,
    measured: true,
    async compute({ input, disconnected, workers, onProgress, onEstimate }) {
      return apl(await averageShortestPathLength(input, { disconnected, workers, onProgress, onEstimate }));
    },
  },
  {
    name: 'path-length-sampled', label: 'path length (sampled)', description: 'average shortest path length estimated from random sources, with its standard error',
    cost: (_n, m) => 256 * m,
    measured: true,
    async compute({ input, disconnected, workers, seed, samples, onProgress, onEstimate }) {
      return apl(await sampledAveragePathLength(input, { sources: Math.min(samples, analysisGraph(input).order), seed, disconnected, workers, onProgress, onEstimate }));
    },
  },
  {
    name: 'diameter', label: 'diameter', description: 'longest shortest path (exact; bounding-diameters method)',
    cost: (n, m) => 20 * (n + m),
    measured: true,
    async compute({ input, workers, onProgress, onEstimate }) {
      const result = await diameter(input, { workers, onProgress, onEstimate });
      return { value: result.value, details: result };
    },
  },
  {
    name: 'clustering', label: 'clustering', description: 'average local clustering, zeros counted (networkx)',
    cost: (_n, m) => m * 8,
    async compute({ input }) {
      return { value: averageClustering(input) };
    },
  },
  {
    name: 'transitivity', label: 'transitivity', description: '3 x triangles / connected triples (undirected layouts)',
    cost: (_n, m) => m * 8,
    async compute({ input }) {
      return { value: transitivity(input) };
    },
  },
  {
    name: 'triangles', label: 'triangles', description: 'number of triangles (undirected layouts)',
    cost: (_n, m) => m * 8,
    async compute({ input }) {
      return { value: triangleCount(input).total };
    },
  },
  {
    name: 'spectral-gap', label: 'spectral gap', description: '1 - max(|lambda2|, |lambda_min|) of the normalised adjacency: how fast a random walk mixes',
    cost: (n, m) => 200 * (n + m),
    async compute({ input, seed }) {
      const result = spectralGap(input, { seed });
      return { value: result.gap, note: result.converged ? undefined : 'not converged', details: result };
    },
  },
  mixingMetric('mixing-depth', 'keep', 'stacked layers until every output block depends on every input block (the layout as given)'),
  mixingMetric('mixing-depth-with-diagonal', 'add', 'mixing depth with every diagonal block added (a residual path)'),
  mixingMetric('mixing-depth-without-diagonal', 'remove', 'mixing depth with the diagonal blocks removed'),
  {
    name: 'sigma', label: 'sigma', description: 'small-world sigma = (C/Cr)/(L/Lr) against 10 degree-preserving random references (networkx defaults: niter 100)',
    cost: (n, m) => 10 * ((n * m) / 32 + 100 * m * 20),
    measured: true,
    async compute({ input, seed, workers, onProgress, onEstimate }) {
      const result = await sigma(input, { seed, workers, onProgress, onEstimate });
      return { value: Number.isFinite(result.value) ? result.value : null, details: result };
    },
  },
  {
    name: 'omega', label: 'omega', description: 'small-world omega = Lr/L - C/Cl against random and lattice references (networkx defaults: niter 5)',
    cost: (n, m) => 10 * ((n * m) / 32 + 10 * m * 20),
    measured: true,
    async compute({ input, seed, workers, onProgress, onEstimate }) {
      const result = await omega(input, { seed, workers, onProgress, onEstimate });
      return { value: Number.isFinite(result.value) ? result.value : null, details: result };
    },
  },
];

/** Metrics computed when none are named: everything cheap enough for thousands of blocks. */
export const DEFAULT_METRICS = ['components', 'degree-sd', 'path-length', 'diameter', 'clustering', 'transitivity', 'spectral-gap', 'mixing-depth'];

/** Looks metrics up by name ("all" for every one); raises ParameterError naming an unknown one and listing the names. */
export function resolveMetrics(names: readonly string[]): MetricDefinition[] {
  if (names.length === 1 && names[0] === 'all') return [...METRICS];
  return names.map((name) => {
    const found = METRICS.find((metric) => metric.name === name);
    if (!found) throw new ParameterError('metrics', `names from: ${METRICS.map((m) => m.name).join(', ')} (or all)`, name);
    return found;
  });
}

/**
 * A rough time estimate in seconds for a metric on a graph, from its cost model (for metrics that
 * do not measure their own time; see MetricDefinition.measured).
 */
export function estimateSeconds(metric: MetricDefinition, n: number, m: number, threads: number): number {
  return metric.cost(n, m) / VISITS_PER_SECOND / Math.max(1, threads);
}
