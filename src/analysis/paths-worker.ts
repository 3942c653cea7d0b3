/**
 * Worker-thread entry of the bit-parallel BFS sweep (started by worker-pool.ts). Like the calling
 * thread, it takes batches of sources from the shared counter until none are left, writing
 * per-source outputs and its totals into shared memory, and posts a message after each batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MultiSourceBFS, searchOneBatch, type SweepWorkerData, type SweepWorkerMessage } from './bfs-bitparallel.js';

const data = workerData as SweepWorkerData;
const forward = { order: data.order, directed: data.directed, offsets: data.offsets, targets: data.targets };
const reverse = data.reverseOffsets
  ? { order: data.order, directed: data.directed, offsets: data.reverseOffsets, targets: data.reverseTargets! }
  : forward;
const bfs = new MultiSourceBFS(forward, reverse, data.words);
while (searchOneBatch(bfs, data)) parentPort!.postMessage({ kind: 'progress' } satisfies SweepWorkerMessage);
