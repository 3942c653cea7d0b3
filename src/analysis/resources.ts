import { checkMemory } from '../budget.js';
import type { CSRGraph } from '../graph/csr.js';
import { BlockLayout } from '../patterns/layout.js';

/** What a metric is computed on, for resource messages: a layout by its shape, a graph by its size. */
export type ResourceSubject = BlockLayout | CSRGraph | { order: number; size?: number };

/**
 * The input in words: "a 1000000 x 1000000-block layout" for a layout, "a graph of 4096 nodes and
 * 65536 arcs" for a CSR graph (graphology graphs by their order and size).
 */
export function describeSubject(subject: ResourceSubject): string {
  if (subject instanceof BlockLayout) return `a ${subject.inBlocks} x ${subject.outBlocks}-block layout`;
  const arcs = 'targets' in subject && subject.targets instanceof Int32Array ? subject.targets.length : (subject as { size?: number }).size;
  return `a graph of ${subject.order} nodes${arcs === undefined ? '' : ` and ${arcs} arcs`}`;
}

/**
 * Checks, before allocating, that `metric` on `subject` fits the memory budget with about `bytes`
 * (its largest single typed array holding `elements`); ResourceError otherwise, e.g. "mixing depth
 * on a 1000000 x 1000000-block layout needs about 568 GiB of memory, over the budget of 12 GiB ...".
 */
export function checkAnalysisMemory(metric: string, subject: ResourceSubject, bytes: number, elements?: number): void {
  checkMemory(`${metric} on ${describeSubject(subject)}`, bytes, elements === undefined ? {} : { elements });
}

/** Bytes of a CSR graph of `order` nodes and `arcs` arcs (offsets and targets, 32-bit). */
export function csrBytes(order: number, arcs: number): number {
  return 4 * (order + 1) + 4 * arcs;
}

/**
 * The subject to name in messages for a metric's input (an AnalysisInput: typed `unknown` here, as
 * adapter.ts imports this file): the layout itself, else its graph.
 */
export function subjectOf(input: unknown, graph: CSRGraph): ResourceSubject {
  return input instanceof BlockLayout ? input : graph;
}
