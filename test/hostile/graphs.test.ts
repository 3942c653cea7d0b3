/**
 * Hostile and careless sizes given to the graph generators called directly (issue 9): each
 * generator checks its memory estimate against the budget right after its argument checks, so an
 * oversized graph is a ResourceError naming the generator and its size, raised in milliseconds
 * with nothing allocated; small graphs still work. The graphology forms also count the graphology
 * graph, which costs far more per edge than the CSR. Nothing here allocates more than a few MiB:
 * a 64 MiB budget triggers the refusals.
 */
import Graph from 'graphology';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withMemoryBudget } from '../../src/budget.js';
import { ParameterError, ResourceError } from '../../src/errors.js';
import {
  barabasiAlbert,
  barabasiAlbertCSR,
  connectedWattsStrogatz,
  connectedWattsStrogatzCSR,
  type CSRGraph,
  directedWattsStrogatz,
  directedWattsStrogatzCSR,
  erdosRenyi,
  erdosRenyiCSR,
  fixedFanIn,
  fixedFanInCSR,
  gnm,
  gnmCSR,
  holmeKim,
  holmeKimCSR,
  newmanWattsStrogatz,
  newmanWattsStrogatzCSR,
  randomRegular,
  randomRegularCSR,
  ringLattice,
  ringLatticeCSR,
  wattsStrogatz,
  wattsStrogatz2d,
  wattsStrogatz2dCSR,
  wattsStrogatzCSR,
} from '../../src/graph/index.js';
import { balancedBipartite } from '../../src/graph/fixed-fan-in.js';
import { GRAPHOLOGY_EDGE_BYTES, GRAPHOLOGY_NODE_BYTES } from '../../src/graph/memory.js';
import { catchError } from '../helpers/expect-error.js';

const MiB = 2 ** 20;
const BUDGET = 64 * MiB;

/**
 * Runs `build` under the 64 MiB budget and expects a ResourceError whose message names `names`
 * (the generator and its size), raised within 100 ms with less than 16 MiB of array buffers
 * allocated; returns the message.
 */
function expectRefused(build: () => unknown, ...names: string[]): string {
  const before = process.memoryUsage().arrayBuffers;
  const start = performance.now();
  const error = withMemoryBudget(BUDGET, () => catchError(build));
  const elapsed = performance.now() - start;
  const grown = process.memoryUsage().arrayBuffers - before;
  expect(error).toBeInstanceOf(ResourceError);
  const message = (error as Error).message;
  for (const name of names) expect(message).toContain(name);
  expect(message).toMatch(/needs about .* of memory, over the budget of 64 MiB \(raise it with --max-memory, or setMemoryBudget\(\) in the API\)$/);
  expect(message).not.toContain('\n');
  expect(elapsed).toBeLessThan(100);
  expect(grown).toBeLessThan(16 * MiB);
  return message;
}

/** Runs `build` under the 64 MiB budget and returns its graph (small sizes still work). */
function underBudget<T>(build: () => T): T {
  return withMemoryBudget(BUDGET, build);
}

describe('graph generators called directly check their memory first', () => {
  it('wattsStrogatzCSR with order 1e8, k 16: ResourceError naming the generator and order', () => {
    const message = expectRefused(() => wattsStrogatzCSR({ order: 1e8, k: 16, rewireProb: 0.1, seed: 1 }), 'wattsStrogatz with order = 100000000', 'about 1600000000 arcs');
    expect(message).toMatch(/needs about 2\d(\.\d)? GiB/);
    const graph = underBudget(() => wattsStrogatzCSR({ order: 1000, k: 10, rewireProb: 0.1, seed: 1 }));
    expect(graph.targets.length).toBe(10_000);
  });

  it('ringLatticeCSR with order 1e8: ResourceError', () => {
    expectRefused(() => ringLatticeCSR({ order: 1e8, k: 16 }), 'ringLattice with order = 100000000');
    expect(underBudget(() => ringLatticeCSR({ order: 1000, k: 4 })).targets.length).toBe(4000);
  });

  it('newmanWattsStrogatzCSR with order 1e8: ResourceError counting the expected shortcuts', () => {
    expectRefused(() => newmanWattsStrogatzCSR({ order: 1e8, k: 10, shortcutProb: 0.5, seed: 1 }), 'newmanWattsStrogatz with order = 100000000', 'about 1500000000 arcs');
    expect(underBudget(() => newmanWattsStrogatzCSR({ order: 1000, k: 4, shortcutProb: 0.1, seed: 1 })).order).toBe(1000);
  });

  it('connectedWattsStrogatzCSR with order 1e8: ResourceError before the first try', () => {
    expectRefused(() => connectedWattsStrogatzCSR({ order: 1e8, k: 10, rewireProb: 0.1, tries: 1000, seed: 1 }), 'connectedWattsStrogatz with order = 100000000');
    expect(underBudget(() => connectedWattsStrogatzCSR({ order: 1000, k: 6, rewireProb: 0.1, seed: 1 })).targets.length).toBe(6000);
  });

  it('wattsStrogatz2dCSR on a 10000 x 10000 torus: ResourceError naming width and height', () => {
    expectRefused(() => wattsStrogatz2dCSR({ width: 10_000, height: 10_000, radius: 2, rewireProb: 0.1, seed: 1 }), 'wattsStrogatz2d with width = 10000, height = 10000', 'about 1200000000 arcs');
    expect(underBudget(() => wattsStrogatz2dCSR({ width: 30, height: 30, rewireProb: 0.1, seed: 1 })).targets.length).toBe(3600);
  });

  it('directedWattsStrogatzCSR with order 1e8: ResourceError', () => {
    expectRefused(() => directedWattsStrogatzCSR({ order: 1e8, k: 16, rewireProb: 0.1, seed: 1 }), 'directedWattsStrogatz with order = 100000000');
    expect(underBudget(() => directedWattsStrogatzCSR({ order: 1000, k: 4, rewireProb: 0.1, seed: 1 })).targets.length).toBe(4000);
  });

  it('barabasiAlbertCSR with order 1e9, m 2: ResourceError', () => {
    expectRefused(() => barabasiAlbertCSR({ order: 1e9, m: 2, seed: 1 }), 'barabasiAlbert with order = 1000000000', 'about 3999999992 arcs');
    expect(underBudget(() => barabasiAlbertCSR({ order: 1000, m: 2, seed: 1 })).targets.length).toBe(2 * 2 * 998);
  });

  it('holmeKimCSR with order 1e9, m 3: ResourceError', () => {
    expectRefused(() => holmeKimCSR({ order: 1e9, m: 3, triangleProb: 0.5, seed: 1 }), 'holmeKim with order = 1000000000');
    expect(underBudget(() => holmeKimCSR({ order: 1000, m: 3, triangleProb: 0.5, seed: 1 })).targets.length).toBe(2 * 3 * 997);
  });

  it('erdosRenyiCSR: a dense G(n, p) is refused from its expected size, a huge sparse one too', () => {
    // n(n-1)p = 2.0e8 expected arcs; the lists are sized for four standard deviations more.
    expectRefused(() => erdosRenyiCSR({ order: 20_000, probability: 0.5, seed: 1 }), 'erdosRenyi with order = 20000', 'about 2000');
    expectRefused(() => erdosRenyiCSR({ order: 2 ** 27, probability: 1, seed: 1 }), 'erdosRenyi with order = 134217728');
    expectRefused(() => erdosRenyiCSR({ order: 2 ** 27, probability: 1e-6, seed: 1 }), 'erdosRenyi with order = 134217728');
    expect(underBudget(() => erdosRenyiCSR({ order: 1000, probability: 0.01, seed: 1 })).order).toBe(1000);
  });

  it('gnmCSR with 1e9 edges: ResourceError, sparse and dense (complement) alike', () => {
    expectRefused(() => gnmCSR({ order: 1e6, size: 1e9, seed: 1 }), 'gnm with order = 1000000', 'about 2000000000 arcs');
    expectRefused(() => gnmCSR({ order: 10_000, size: 49_000_000, seed: 1 }), 'gnm with order = 10000');
    expect(underBudget(() => gnmCSR({ order: 1000, size: 5000, seed: 1 })).targets.length).toBe(10_000);
  });

  it('randomRegularCSR with order 1e8, degree 6 (and a dense complement): ResourceError', () => {
    expectRefused(() => randomRegularCSR({ order: 1e8, degree: 6, seed: 1 }), 'randomRegular with order = 100000000', 'about 600000000 arcs');
    expectRefused(() => randomRegularCSR({ order: 20_000, degree: 19_990, seed: 1 }), 'randomRegular with order = 20000');
    expect(underBudget(() => randomRegularCSR({ order: 1000, degree: 4, seed: 1 })).targets.length).toBe(4000);
  });

  it('fixedFanInCSR and balancedBipartite with 1e9 arcs: ResourceError naming their sizes', () => {
    expectRefused(() => fixedFanInCSR({ order: 1e8, fanIn: 10, seed: 1 }), 'fixedFanIn with order = 100000000', 'about 1000000000 arcs');
    expectRefused(
      () => balancedBipartite({ sources: 1000, targets: 1e8, fanIn: 10, excludeDiagonal: false, seed: 1 }),
      'balancedBipartite with sources = 1000, targets = 100000000',
    );
    expect(underBudget(() => fixedFanInCSR({ order: 1000, fanIn: 4, seed: 1 })).targets.length).toBe(4000);
    expect(underBudget(() => balancedBipartite({ sources: 100, targets: 300, fanIn: 4, excludeDiagonal: true, seed: 1 })).targets.length).toBe(1200);
  });

  it('parameter errors still come first: an odd k is a ParameterError, not a ResourceError', () => {
    const error = withMemoryBudget(BUDGET, () => catchError(() => wattsStrogatzCSR({ order: 1e8, k: 15, rewireProb: 0.1, seed: 1 })));
    expect(error).toBeInstanceOf(ParameterError);
    expect((error as ParameterError).parameter).toBe('k');
  });
});

describe('graphology forms also count the graphology graph', () => {
  it('every graphology form refuses an oversized graph before generating it', () => {
    const cases: [string, () => unknown][] = [
      ['wattsStrogatz', () => wattsStrogatz(undefined, { order: 1e8, k: 16, rewireProb: 0.1, seed: 1 })],
      ['ringLattice', () => ringLattice(undefined, { order: 1e8, k: 16 })],
      ['newmanWattsStrogatz', () => newmanWattsStrogatz(undefined, { order: 1e8, k: 10, shortcutProb: 0.5, seed: 1 })],
      ['connectedWattsStrogatz', () => connectedWattsStrogatz(undefined, { order: 1e8, k: 10, rewireProb: 0.1, seed: 1 })],
      ['wattsStrogatz2d', () => wattsStrogatz2d(undefined, { width: 10_000, height: 10_000, rewireProb: 0.1, seed: 1 })],
      ['directedWattsStrogatz', () => directedWattsStrogatz(undefined, { order: 1e8, k: 16, rewireProb: 0.1, seed: 1 })],
      ['barabasiAlbert', () => barabasiAlbert(undefined, { order: 1e9, m: 2, seed: 1 })],
      ['holmeKim', () => holmeKim(undefined, { order: 1e9, m: 3, triangleProb: 0.5, seed: 1 })],
      ['erdosRenyi', () => erdosRenyi(undefined, { order: 20_000, probability: 0.5, seed: 1 })],
      ['gnm', () => gnm(undefined, { order: 1e6, size: 1e9, seed: 1 })],
      ['randomRegular', () => randomRegular(undefined, { order: 1e8, degree: 6, seed: 1 })],
      ['fixedFanIn', () => fixedFanIn(undefined, { order: 1e8, fanIn: 10, seed: 1 })],
    ];
    for (const [name, build] of cases) expectRefused(build, `${name} with `, 'and its graphology graph of about');
  });

  it('a graph whose CSR fits but whose graphology graph does not is refused (100k nodes, k = 10)', () => {
    // CSR: about 16 MiB; graphology: 100k nodes and 500k edges at 400 bytes each, about 229 MiB.
    expect(underBudget(() => wattsStrogatzCSR({ order: 100_000, k: 10, rewireProb: 0.1, seed: 1 })).targets.length).toBe(1_000_000);
    const message = expectRefused(() => wattsStrogatz(undefined, { order: 100_000, k: 10, rewireProb: 0.1, seed: 1 }), 'wattsStrogatz with order = 100000 (a graph of about 1000000 arcs and its graphology graph of about 500000 edges)');
    expect(GRAPHOLOGY_NODE_BYTES * 100_000 + GRAPHOLOGY_EDGE_BYTES * 500_000).toBeGreaterThan(BUDGET);
    expect(message).toMatch(/needs about 2\d\d MiB/);
    // A directed class receives each undirected edge as two arcs: twice the edges.
    expectRefused(() => wattsStrogatz(Graph.DirectedGraph, { order: 100_000, k: 10, rewireProb: 0.1, seed: 1 }), 'graphology graph of about 1000000 edges');
  });

  it('small graphology graphs still work under the budget', () => {
    const graph = underBudget(() => wattsStrogatz(undefined, { order: 1000, k: 4, rewireProb: 0.1, seed: 1 }));
    expect(graph.order).toBe(1000);
    expect(graph.size).toBe(2000);
    const directed = underBudget(() => fixedFanIn(undefined, { order: 500, fanIn: 3, seed: 1 }));
    expect(directed.size).toBe(1500);
  });
});

describe('fuzzing generator sizes under a small budget', () => {
  it('any size: a graph within the budget, or a ResourceError/ParameterError before allocating', () => {
    const budget = 8 * MiB;
    const generators: ((order: number, degree: number) => CSRGraph)[] = [
      (order, degree) => wattsStrogatzCSR({ order, k: 2 * degree, rewireProb: 0.5, seed: 1 }),
      (order, degree) => newmanWattsStrogatzCSR({ order, k: 2 * degree, shortcutProb: 0.5, seed: 1 }),
      (order, degree) => directedWattsStrogatzCSR({ order, k: 2 * degree, rewireProb: 0.5, seed: 1 }),
      (order, degree) => barabasiAlbertCSR({ order, m: degree, seed: 1 }),
      (order, degree) => holmeKimCSR({ order, m: degree, triangleProb: 0.5, seed: 1 }),
      (order, degree) => erdosRenyiCSR({ order, probability: Math.min(1, degree / order), seed: 1 }),
      (order, degree) => gnmCSR({ order, size: order * degree, seed: 1 }),
      (order, degree) => randomRegularCSR({ order, degree: 2 * degree, seed: 1 }),
      (order, degree) => fixedFanInCSR({ order, fanIn: degree, seed: 1 }),
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: generators.length - 1 }),
        fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 2 ** 31 })),
        fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 2 ** 20 })),
        (which, order, degree) => {
          const before = process.memoryUsage().arrayBuffers;
          let graph: CSRGraph | undefined;
          try {
            graph = withMemoryBudget(budget, () => generators[which](order, degree));
          } catch (error) {
            expect(error instanceof ResourceError || error instanceof ParameterError).toBe(true);
            expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(4 * budget);
            return;
          }
          expect(4 * (graph.offsets.length + graph.targets.length)).toBeLessThanOrEqual(budget);
        },
      ),
      { numRuns: 300 },
    );
  });
});
