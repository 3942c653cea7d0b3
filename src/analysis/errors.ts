import { BlocksparseError } from '../errors.js';

/** Which connectivity a metric needs: `weak` (undirected graphs: plain connectivity) or `strong` (directed graphs). */
export type Connectivity = 'weak' | 'strong';

/**
 * A metric that needs every node to reach every other (average path length, eccentricity,
 * diameter) was given a graph that is not connected (undirected) or not strongly connected
 * (directed): some path lengths are infinite. networkx raises NetworkXError here. `components` is
 * the number of connected components (`connectivity: 'weak'`, undirected graphs) or of strongly
 * connected components (`'strong'`, directed graphs).
 */
export class DisconnectedGraphError extends BlocksparseError {
  readonly components: number;
  readonly connectivity: Connectivity;
  constructor(components: number, connectivity: Connectivity, metric: string) {
    const what = connectivity === 'strong' ? 'strongly connected components' : 'connected components';
    const graph = connectivity === 'strong' ? 'digraph is not strongly connected' : 'graph is not connected';
    super('E_DISCONNECTED', `${metric}: the ${graph} (it has ${components} ${what}), so some path lengths are infinite`);
    this.components = components;
    this.connectivity = connectivity;
  }
}

/** A metric is undefined on the graph with no nodes (networkx's NetworkXPointlessConcept). */
export class EmptyGraphError extends BlocksparseError {
  constructor(metric: string) {
    super('E_EMPTY_GRAPH', `${metric} is undefined for the null graph (no nodes)`);
  }
}

/** A metric that networkx defines for undirected graphs only was asked of a directed graph. */
export class UndirectedOnlyError extends BlocksparseError {
  readonly metric: string;
  constructor(metric: string) {
    super(
      'E_UNDIRECTED_ONLY',
      `${metric} is defined for undirected graphs only (networkx raises NetworkXNotImplemented for directed graphs); ` +
        'use undirectedView(graph) from src/analysis/adapter for the underlying undirected graph',
    );
    this.metric = metric;
  }
}
