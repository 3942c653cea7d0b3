import type { Operand } from '../checks.js';
import { TRAINING_OP_SPECS, TRAINING_OPS, type TrainingOpCall, type TrainingOpName } from '../training-ops.js';
import type { Backend, Tensor } from '../types.js';
import type { DeviceMemory } from './memory.js';
import type { Dispatch, PlanContext } from './program.js';
import type { ColumnProgram, ElementwiseProgram, RowProgram } from './programs/training-ops.js';
import type { WebGPUTensor } from './tensor.js';

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

const isShape = (slot: Operand | readonly number[]): slot is readonly number[] => Array.isArray(slot);

/** Runs training operation `name` with the method's arguments. */
export async function runTrainingOp(gpu: TrainingRunContext, name: TrainingOpName, args: unknown[]): Promise<unknown> {
  const spec = TRAINING_OP_SPECS[name] as (owner: Backend, ...args: unknown[]) => TrainingOpCall<unknown>;
  const call = spec(gpu.backend, ...args);
  const op = TRAINING_OPS.indexOf(name);
  const temporaries: Tensor[] = [];
  const created: Tensor[] = [];
  const fresh = (shape: readonly number[], what: string, into: Tensor[]): WebGPUTensor => {
    const t = gpu.memory.allocate(shape, what);
    into.push(t);
    return t;
  };
  try {
    const reads = (call.reads ?? []).map((slot) => {
      if (!(slot instanceof Float32Array)) return slot as Tensor | null;
      const t = gpu.backend.tensor(slot, [slot.length]);
      temporaries.push(t);
      return t;
    });
    const writes = (call.writes ?? []).map((slot) => (isShape(slot) ? fresh(slot, name, created) : (slot as Tensor)));
    const partials = call.partials ? fresh([Math.max(1, call.count), call.partials], `${name} partial sums`, temporaries) : null;
    const values = { op, count: call.count, width: call.width ?? 0, flag: call.flag ?? 0, floats: call.floats ?? [] };
    const program = call.grid === 'elements' ? gpu.elementwise : gpu.rows;
    const plans: Dispatch[][] = [program.plan(call.count, values, reads, partials ? [...writes, partials] : writes, gpu.context)];
    const sums: Tensor[] = [];
    if (call.sums) {
      const of = call.sums.of;
      const [source, rows, stride] = of === 'partials' ? [partials!, call.count, call.partials!] : [reads[of.read]!, of.rows, of.width];
      for (const sum of call.sums.into) {
        const out = fresh(sum.shape, name, created);
        sums.push(out);
        const sumValues = { op: 0, count: sum.count, width: stride, rows, flag: sum.from, floats: [sum.scale] };
        plans.push(gpu.columns.plan(sum.count, sumValues, [source], [out], gpu.context));
      }
    }
    await gpu.run(...plans);
    return call.result(writes, sums);
  } catch (error) {
    for (const t of created) t.dispose();
    throw error;
  } finally {
    for (const t of temporaries) t.dispose();
  }
}
