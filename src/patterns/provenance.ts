import type { Provenance } from './layout.js';

/** One-line description of a provenance: "watts-strogatz k=4 rewireProb=0.1 seed=0", "union of (a) and (b)". */
export function describeProvenance(provenance: Provenance, depth = 0): string {
  const { generator, params, seed, sources } = provenance;
  const shown = Object.entries(params)
    .filter(([key, value]) => !['blocks', 'inBlocks', 'outBlocks', 'blockSize'].includes(key) && value !== undefined && typeof value !== 'object')
    .map(([key, value]) => `${key}=${String(value)}`);
  if (seed !== undefined && seed !== null) shown.push(`seed=${String(seed)}`);
  let text = [generator, ...shown].join(' ');
  if (sources && sources.length > 0) {
    const inner = depth >= 1 ? '...' : sources.map((source) => `(${describeProvenance(source, depth + 1)})`).join(', ');
    text += ` of ${inner}`;
  }
  return text;
}
