import type { AbstractGraph, GraphConstructor } from 'graphology-types';
import { checkInteger, checkProbability } from '../check.js';
import { ParameterError } from '../errors.js';
import { type RandomOptions, resolveRng } from '../random.js';
import { type CSRGraph, csrFromEdges } from './csr.js';
import { EdgeSet } from './edge-set.js';
import { checkGraphClass } from './graph-class.js';
import { MAX_CSR_ENTRIES } from './lattice-params.js';
import { rewireLattice, rewiredCapacity } from './lattice-rewiring.js';
import { checkGraphMemory, edgeSetBytes, graphologyView } from './memory.js';

/** Options of `wattsStrogatz2d`: a `width` x `height` torus, neighbourhood `radius` (default 1), rewiring with `rewireProb`. */
export interface WattsStrogatz2dOptions extends RandomOptions {
  width: number;
  height: number;
  radius?: number;
  rewireProb: number;
}

/**
 * A two-dimensional Watts-Strogatz small-world graph as CSR: the model of Watts and Strogatz [1]
 * on a periodic square lattice, as igraph's `Watts_Strogatz(dim=2, size, nei=radius, p)`.
 *
 * Nodes are the cells of a `width` x `height` torus, node index = row * width + col. Each node is
 * joined to every node within torus Manhattan distance `radius` (degree 2*radius*(radius+1), so
 * 4 for radius 1 and 12 for radius 2). Each lattice edge is then rewired as in `wattsStrogatzCSR`:
 * for each of the radius*(radius+1) forward offsets (dx, dy) in turn (dy = 0..radius, then dx
 * ascending; forward means dy > 0, or dy = 0 and dx > 0) and each node u in index order, with
 * probability `rewireProb` the edge (u, u + (dx, dy)) is replaced by (u, w), w uniform among the
 * nodes that are not u and not already neighbours of u (skipped if u is joined to every other node).
 * The number of edges is kept; the graph stays simple. The rewiring decisions are made by
 * geometric skipping (one random number per rewired edge). The lattice is igraph's; the rewiring
 * rule is networkx's 1-D one (igraph rewires with its own `rewire_edges` rule instead).
 *
 * Parameters:
 * - `width`, `height`: torus size, integers >= 3 (a smaller torus would join a node to the same
 *   neighbour on both sides, a repeated edge).
 * - `radius`: neighbourhood radius, an integer >= 1 with 2*radius + 1 <= min(width, height), so
 *   that the neighbourhood does not wrap onto itself (default 1).
 * - `rewireProb`: probability of rewiring each edge, a number in [0, 1].
 * - `seed` or `rng`: randomness (see RandomOptions); the same seed gives the same graph.
 *
 * Raises ParameterError for anything else, and ResourceError, before anything is generated, when
 * the graph would not fit the memory budget (see setMemoryBudget).
 *
 * [1] D. J. Watts and S. H. Strogatz, Collective dynamics of 'small-world' networks,
 *     Nature 393, 440-442 (1998).
 */
export function wattsStrogatz2dCSR(options: WattsStrogatz2dOptions): CSRGraph {
  const context = 'wattsStrogatz2d';
  const width = checkInteger('width', options.width, 3, MAX_CSR_ENTRIES, context);
  const height = checkInteger('height', options.height, 3, MAX_CSR_ENTRIES, context);
  const radius = checkInteger('radius', options.radius ?? 1, 1, Math.floor((Math.min(width, height) - 1) / 2), context);
  const p = checkProbability('rewireProb', options.rewireProb, context);
  const n = width * height;
  const forward = radius * (radius + 1); // forward offsets = half the degree
  if (n * 2 * forward > MAX_CSR_ENTRIES) {
    throw new ParameterError('width * height', `at most ${Math.floor(MAX_CSR_ENTRIES / (2 * forward))} for radius ${radius}`, n, context);
  }
  const rng = resolveRng(options, context);
  const m = n * forward;
  // The slots (sources and targets), the set of rewired edges, degrees and the CSR's fill cursors.
  checkGraphMemory(context, n, 2 * m, (p > 0 ? edgeSetBytes(rewiredCapacity(m, p)) : 0) + 8 * n, `width = ${width}, height = ${height}`);

  // Forward offsets, and a table from (dx, dy) in [-radius, radius]^2 to the offset index o
  // (forward) or -(o+1) (the reverse of forward offset o).
  const span = 2 * radius + 1;
  const offsetDx = new Int32Array(forward);
  const offsetDy = new Int32Array(forward);
  const offsetOf = new Int32Array(span * span).fill(forward + 1);
  for (let dy = 0, o = 0; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) {
      if (Math.abs(dx) + dy > radius || (dy === 0 && dx <= 0)) continue;
      offsetDx[o] = dx;
      offsetDy[o] = dy;
      offsetOf[(dy + radius) * span + dx + radius] = o;
      offsetOf[(radius - dy) * span + radius - dx] = -(o + 1);
      o++;
    }
  }

  // Slot e = o*n + u holds the lattice edge (u, u + offset o) until rewired (then its target is w).
  const sources = new Int32Array(m);
  const targets = new Int32Array(m);
  for (let o = 0, e = 0; o < forward; o++) {
    for (let row = 0; row < height; row++) {
      const toRow = (row + offsetDy[o]) % height;
      for (let col = 0; col < width; col++, e++) {
        sources[e] = row * width + col;
        targets[e] = toRow * width + ((col + offsetDx[o] + width) % width);
      }
    }
  }

  if (p > 0) {
    const degree = new Int32Array(n).fill(2 * forward);
    const rewired = new EdgeSet(rewiredCapacity(m, p)); // non-lattice edges as (min, max)
    const joined = (u: number, w: number): boolean => {
      const uRow = (u / width) | 0;
      const wRow = (w / width) | 0;
      let dx = w - wRow * width - (u - uRow * width);
      let dy = wRow - uRow;
      if (2 * dx > width) dx -= width;
      else if (2 * dx <= -width) dx += width;
      if (2 * dy > height) dy -= height;
      else if (2 * dy <= -height) dy += height;
      if (Math.abs(dx) + Math.abs(dy) <= radius) {
        const o = offsetOf[(dy + radius) * span + dx + radius];
        if (o >= 0 ? targets[o * n + u] === w : targets[(-o - 1) * n + w] === u) return true;
      }
      return rewired.has(u < w ? u : w, u < w ? w : u);
    };
    rewireLattice(rng, p, { order: n, targets, sources, joined, rewired, degree });
  }
  return csrFromEdges(n, sources, targets, false, m);
}

/**
 * A two-dimensional Watts-Strogatz graph as a graphology graph (nodes "0".."width*height-1",
 * node = row * width + col); see `wattsStrogatz2dCSR` for the model, parameters and errors.
 * `GraphClass` is the graphology class to build (default: undirected Graph).
 */
export function wattsStrogatz2d(GraphClass: GraphConstructor | undefined, options: WattsStrogatz2dOptions): AbstractGraph {
  const Ctor = checkGraphClass(GraphClass, false, 'wattsStrogatz2d');
  return graphologyView(Ctor, false, () => wattsStrogatz2dCSR(options));
}
