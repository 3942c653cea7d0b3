import type { CSRGraph } from './csr.js';
import type { EdgeSet } from './edge-set.js';

/**
 * Builds the undirected CSR of a ring lattice after rewiring, without a general edge-list sort.
 * `slotTargets[(j-1)*order + u]` starts as u+j mod order; the lattice edge (u, u+j) is present iff
 * the slot still holds that value (a rewired slot holds some other node, and that edge is in
 * `extra`). `extra` holds every non-lattice edge once as (min, max); `degree` is each node's final
 * degree. `slotTargets = null` means that every lattice edge is present. Rows come out sorted: each row's present lattice neighbours are written in order and
 * merged with its (few, pre-sorted) extra neighbours, so that memory is walked row by row.
 */
export function ringLatticeCSRFrom(order: number, half: number, slotTargets: Int32Array | null, extra: EdgeSet, degree: Int32Array): CSRGraph {
  const n = order;
  const { extraStart, extraTargets } = extraRows(n, extra);
  const offsets = new Int32Array(n + 1);
  for (let u = 0; u < n; u++) offsets[u + 1] = offsets[u] + degree[u];
  const targets = new Int32Array(offsets[n]);
  for (let u = 0; u < n; u++) {
    let w = offsets[u];
    // Lattice neighbours in ascending order: those past n-1 (wrapped), the unwrapped, those below 0 (wrapped).
    const hi = u + half >= n ? n - 1 - u : half;
    if (slotTargets === null) {
      for (let d = n - u; d <= half; d++) targets[w++] = u + d - n;
      for (let d = u < half ? u : half; d >= 1; d--) targets[w++] = u - d;
      for (let d = 1; d <= hi; d++) targets[w++] = u + d;
      for (let d = half; d > u; d--) targets[w++] = u - d + n;
    } else {
      for (let d = n - u; d <= half; d++) if (slotTargets[(d - 1) * n + u] === u + d - n) targets[w++] = u + d - n;
      for (let d = u < half ? u : half; d >= 1; d--) if (slotTargets[(d - 1) * n + u - d] === u) targets[w++] = u - d;
      for (let d = 1; d <= hi; d++) if (slotTargets[(d - 1) * n + u] === u + d) targets[w++] = u + d;
      for (let d = half; d > u; d--) if (slotTargets[(d - 1) * n + u - d + n] === u) targets[w++] = u - d + n;
    }
    // Merge the sorted extras in from the back of the row.
    const start = offsets[u];
    let i = w - 1;
    let e = extraStart[u + 1] - 1;
    const eStart = extraStart[u];
    for (let out = offsets[u + 1] - 1; e >= eStart; out--) {
      const x = extraTargets[e];
      if (i >= start && targets[i] > x) targets[out] = targets[i--];
      else {
        targets[out] = x;
        e--;
      }
    }
  }
  return { order: n, directed: false, offsets, targets };
}

/** The extra edges bucketed by node (both directions), each bucket sorted: a small CSR of its own. */
function extraRows(n: number, extra: EdgeSet): { extraStart: Int32Array; extraTargets: Int32Array } {
  const size = extra.size;
  const extraStart = new Int32Array(n + 1);
  for (let i = 0; i < size; i++) {
    extraStart[extra.sourceAt(i) + 1]++;
    extraStart[extra.targetAt(i) + 1]++;
  }
  for (let u = 0; u < n; u++) extraStart[u + 1] += extraStart[u];
  const extraTargets = new Int32Array(2 * size);
  const cursor = extraStart.slice(0, n);
  for (let i = 0; i < size; i++) {
    const a = extra.sourceAt(i);
    const b = extra.targetAt(i);
    extraTargets[cursor[a]++] = b;
    extraTargets[cursor[b]++] = a;
  }
  for (let u = 0; u < n; u++) {
    for (let i = extraStart[u] + 1, end = extraStart[u + 1]; i < end; i++) {
      const x = extraTargets[i];
      let j = i - 1;
      while (j >= extraStart[u] && extraTargets[j] > x) {
        extraTargets[j + 1] = extraTargets[j];
        j--;
      }
      extraTargets[j + 1] = x;
    }
  }
  return { extraStart, extraTargets };
}
