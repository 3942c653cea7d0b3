import { batchCalls, CallTensors } from '../training-call-tensors.js';
import { TRAINING_OPS, type TrainingOpName } from '../training-ops.js';
import type { Backend, Tensor } from '../types.js';
import type { DeviceMemory } from './memory.js';
import type { Dispatch, PlanContext } from './program.js';
import type { ColumnProgram, ElementwiseProgram, RowProgram } from './programs/training-ops.js';

/*
 * Every training operation on WebGPU, with no code per operation: the op's spec
 * (training-ops.ts) checks the arguments and describes the call; this allocates the new tensors,
 * uploads index maps, and runs, in one command buffer, the main stage (the elementwise or row
 * program, whose case OP_<name> is the op's kernel) and the sum stage (the column program, one
 * dispatch per sum). A unit of partial sums is one element or row here.
 */

/** What the runner uses of the backend. */
export interface TrainingRunContext {
  readonly backend: Backend;
  readonly memory: DeviceMemory;
  readonly context: PlanContext;
  readonly elementwise: ElementwiseProgram;
  readonly rows: RowProgram;
  readonly columns: ColumnProgram;
  /** Runs the plans' dispatches in order, in one command buffer. */
  run(...plans: Dispatch[][]): Promise<void>;
}

/** Runs training operation `name` with the method's arguments. */
export async function runTrainingOp(gpu: TrainingRunContext, name: TrainingOpName, args: unknown[]): Promise<unknown> {
  return (await runTrainingBatch(gpu, name, [args]))[0];
}

/** Runs training operation `name` once per argument list, every dispatch in one command buffer (`Backend.batch`). */
export async function runTrainingBatch(gpu: TrainingRunContext, name: TrainingOpName, argLists: readonly (readonly unknown[])[]): Promise<unknown[]> {
  const calls = batchCalls(gpu.backend, name, argLists);
  if (calls.length === 0) return [];
  const op = TRAINING_OPS.indexOf(name);
  const made = new CallTensors({ allocate: (shape, what) => gpu.memory.allocate(shape, what), upload: (values) => gpu.backend.tensor(values, [values.length]) });
  return made.run(async () => {
    const plans: Dispatch[][] = [];
    const results: (() => unknown)[] = [];
    for (const call of calls) {
      const reads = made.reads(call);
      const writes = made.writes(call, name);
      const partials = call.partials ? made.temporary([Math.max(1, call.count), call.partials], `${name} partial sums`) : null;
      const values = { op, count: call.count, width: call.width ?? 0, flag: call.flag ?? 0, floats: call.floats ?? [] };
      const program = call.grid === 'elements' ? gpu.elementwise : gpu.rows;
      plans.push(program.plan(call.count, values, reads, partials ? [...writes, partials] : writes, gpu.context));
      const sums: Tensor[] = [];
      if (call.sums) {
        const of = call.sums.of;
        const [source, rows, stride] = of === 'partials' ? [partials!, call.count, call.partials!] : [reads[of.read]!, of.rows, of.width];
        for (const sum of call.sums.into) {
          const out = made.created(sum.shape, name);
          sums.push(out);
          const sumValues = { op: 0, count: sum.count, width: stride, rows, flag: sum.from, floats: [sum.scale] };
          plans.push(gpu.columns.plan(sum.count, sumValues, [source], [out], gpu.context));
        }
      }
      results.push(() => call.result(writes, sums));
    }
    await gpu.run(...plans);
    return results.map((result) => result());
  });
}
