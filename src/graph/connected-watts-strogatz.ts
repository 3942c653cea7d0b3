import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import { checkInteger, checkProbability } from '../check.js';
import { GenerationError } from '../errors.js';
import { type RandomOptions, resolveRng } from '../random.js';
import type { CSRGraph } from './csr.js';
import { checkGraphClass } from './graph-class.js';
import { checkRingParameters } from './lattice-params.js';
import { rewiredCapacity } from './lattice-rewiring.js';
import { checkGraphMemory, edgeSetBytes, graphologyView } from './memory.js';
import { wattsStrogatzCSR } from './watts-strogatz.js';

/** Options of `connectedWattsStrogatz`: those of `wattsStrogatz` plus the number of `tries` (default 100). */
export interface ConnectedWattsStrogatzOptions extends RandomOptions {
  order: number;
  k: number;
  rewireProb: number;
  tries?: number;
}

/**
 * A connected Watts-Strogatz small-world graph [1] as CSR, with networkx's
 * `connected_watts_strogatz_graph` semantics: draw Watts-Strogatz graphs (see `wattsStrogatzCSR`)
 * from one random stream until one is connected, and return it.
 *
 * Parameters:
 * - `order`: number of nodes, an integer >= 3.
 * - `k`: number of nearest neighbours in the ring, an even integer in [2, order - 1].
 * - `rewireProb`: probability of rewiring each edge, a number in [0, 1].
 * - `tries`: how many graphs to draw at most, an integer >= 1 (default 100).
 * - `seed` or `rng`: randomness (see RandomOptions); the same seed gives the same graph.
 *
 * Raises ParameterError for bad parameters, GenerationError if none of the `tries` graphs is
 * connected (networkx raises NetworkXError there), and ResourceError, before anything is generated,
 * when one graph would not fit the memory budget (see setMemoryBudget).
 *
 * [1] D. J. Watts and S. H. Strogatz, Collective dynamics of 'small-world' networks,
 *     Nature 393, 440-442 (1998).
 */
export function connectedWattsStrogatzCSR(options: ConnectedWattsStrogatzOptions): CSRGraph {
  const context = 'connectedWattsStrogatz';
  const { order, k } = checkRingParameters(options.order, options.k, context);
  const rewireProb = checkProbability('rewireProb', options.rewireProb, context);
  const tries = checkInteger('tries', options.tries ?? 100, 1, Number.MAX_SAFE_INTEGER, context);
  const rng = resolveRng(options, context);
  // One try's graph at a time (each is checked again by wattsStrogatzCSR), plus the search's queue and marks.
  checkGraphMemory(context, order, order * k, edgeSetBytes(rewiredCapacity((order * k) / 2, rewireProb)) + 17 * order);
  for (let attempt = 0; attempt < tries; attempt++) {
    const graph = wattsStrogatzCSR({ order, k, rewireProb, rng });
    if (isConnected(graph)) return graph;
  }
  throw new GenerationError(
    `${context}: no connected graph in ${tries} ${tries === 1 ? 'try' : 'tries'} (order=${order}, k=${k}, rewireProb=${rewireProb}); ` +
      'raise tries or k, or lower rewireProb',
  );
}

/**
 * A connected Watts-Strogatz small-world graph as a graphology graph (nodes "0".."order-1"); see
 * `connectedWattsStrogatzCSR` for the model, parameters and errors. `GraphClass` is the graphology
 * class to build (default: undirected Graph).
 */
export function connectedWattsStrogatz(GraphClass: GraphConstructor | undefined, options: ConnectedWattsStrogatzOptions): AbstractGraph {
  const Ctor = checkGraphClass(GraphClass, false, 'connectedWattsStrogatz');
  return graphologyView(Ctor, false, () => connectedWattsStrogatzCSR(options));
}

/** Whether an undirected CSR graph is connected (breadth-first search from node 0). */
function isConnected(graph: CSRGraph): boolean {
  const { order, offsets, targets } = graph;
  if (order === 0) return true;
  const seen = new Uint8Array(order);
  const queue = new Int32Array(order);
  let head = 0;
  let tail = 0;
  queue[tail++] = 0;
  seen[0] = 1;
  while (head < tail) {
    const u = queue[head++];
    for (let i = offsets[u]; i < offsets[u + 1]; i++) {
      const v = targets[i];
      if (seen[v] === 0) {
        seen[v] = 1;
        queue[tail++] = v;
      }
    }
  }
  return tail === order;
}
