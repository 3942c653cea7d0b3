import { checkMemory } from '../budget.js';

/*
 * Memory estimates of layouts, checked against the process-wide budget (src/budget.ts) before
 * anything whose size comes from input is allocated. A layout is two Int32 arrays: rowPtr
 * (inBlocks + 1) and colIdx (nnz); building one usually needs about as much again in temporaries.
 */

/** Bytes of a layout's own arrays: rowPtr (inBlocks + 1 Int32) and colIdx (nnz Int32). */
export function layoutBytes(inBlocks: number, nnz: number): number {
  return 4 * (inBlocks + 1) + 4 * nnz;
}

/** A short description of a layout's size for messages: "1 x 2147483646 blocks, 5 present". */
export function describeLayoutSize(inBlocks: number, outBlocks: number, nnz?: number): string {
  return `${inBlocks} x ${outBlocks} blocks${nnz === undefined ? '' : `, ${nnz} present`}`;
}

/**
 * Checks, before building, that a layout of `inBlocks` x `outBlocks` blocks with (at most) `nnz`
 * present fits the memory budget: its arrays, `copies` times (the result plus the builder's
 * temporaries, default 2), plus `extraBytes`. ResourceError naming `what` and the size otherwise.
 */
export function checkLayoutMemory(what: string, inBlocks: number, outBlocks: number, nnz: number, copies = 2, extraBytes = 0): void {
  checkMemory(`${what} (${describeLayoutSize(inBlocks, outBlocks, nnz)})`, copies * layoutBytes(inBlocks, nnz) + extraBytes, {
    elements: Math.max(inBlocks + 1, nnz),
  });
}

/**
 * Checks that a view with `lengths` Int32 arrays (e.g. a column view: outBlocks + 1, nnz, nnz) of
 * the layout described by `layoutText` fits the budget; ResourceError naming the view otherwise.
 */
export function checkViewMemory(view: string, layoutText: string, lengths: number[]): void {
  const elements = Math.max(...lengths);
  const bytes = 4 * lengths.reduce((sum, n) => sum + n, 0);
  checkMemory(`the ${view} of a layout of ${layoutText}`, bytes, { elements });
}
