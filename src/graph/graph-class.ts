import type { GraphConstructor } from 'graphology-types';
import { ParameterError } from '../errors.js';

/**
 * Checks the `GraphClass` argument of a generator's graphology form: undefined (a default Graph of
 * the model's type) or a graphology constructor; a directed model needs a class that takes
 * directed edges. Returns it.
 */
export function checkGraphClass(GraphClass: unknown, directed: boolean, context: string): GraphConstructor | undefined {
  if (GraphClass === undefined) return undefined;
  if (!isGraphConstructor(GraphClass)) {
    throw new ParameterError('GraphClass', 'a graphology Graph constructor or undefined', GraphClass, context);
  }
  const Ctor = GraphClass as GraphConstructor;
  if (directed && new Ctor().type === 'undirected') {
    throw new ParameterError('GraphClass', 'a directed or mixed graph class (the model is directed)', 'an undirected class', context);
  }
  return Ctor;
}

/** Whether `value` looks like a graphology Graph class (the test of graphology-utils' isGraphConstructor). */
function isGraphConstructor(value: unknown): boolean {
  if (typeof value !== 'function') return false;
  const prototype = (value as { prototype?: Record<string, unknown> }).prototype;
  return (
    typeof prototype === 'object' &&
    prototype !== null &&
    typeof prototype.addUndirectedEdgeWithKey === 'function' &&
    typeof prototype.dropNode === 'function'
  );
}
