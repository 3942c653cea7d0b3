import type { Operand } from '../checks.js';
import { MEMORY_BOUND, TRAINING_OP_SPECS, TRAINING_OPS, type TrainingOpCall, type TrainingOpName } from '../training-ops.js';
import type { Backend, Tensor } from '../types.js';
import { CallTensors, isShape } from '../training-call-tensors.js';
import { ARGUMENT_WORDS, FIRST_FLOAT_WORD } from './abi.js';
import type { Phase } from './jobs.js';
import type { ThreadPool } from './pool.js';
import type { CpuTensor } from './tensor.js';
import type { TensorStore } from './tensors.js';

/*
 * Every training operation on the CPU, with no code per operation: the op's spec
 * (training-ops.ts) checks the arguments and describes the call; this runs it after every call
 * before it (TensorStore's queue). The main stage is one job of the thread pool: units of
 * ELEMENTS_PER_UNIT elements (or of as many whole rows), each running the AssemblyScript kernel
 * named after the op (assembly/training-*.ts) over its items, with the operands and
 * hyper-parameters in the backend's argument block. The pool runs a small job on the calling
 * thread alone and wakes the workers for a large one: elements times the spec's `cost`, against
 * CpuBackendOptions.minParallelFlops.
 * The sum stage is the `sumColumns` kernel over column ranges.
 *
 * Units are fixed by the sizes alone, never by the thread count, so partial sums, and therefore
 * every result, are the same bytes whatever the number of threads.
 */

/** Elements per unit of the main stage (rows grids: whole rows of about as many elements). */
export const ELEMENTS_PER_UNIT = 8192;
/** Columns per unit of the sum stage. */
const COLUMNS_PER_UNIT = 1024;

/** What the runner uses of the backend. */
export interface TrainingRunContext {
  readonly backend: Backend;
  readonly tensors: TensorStore;
  readonly pool: ThreadPool;
  /** Byte offset of the argument block (ARGUMENT_WORDS words, reused by every call: calls run one at a time). */
  readonly args: number;
}

const offsetOf = (t: Operand | null | undefined): number => (t ? (t as CpuTensor).offset : 0);
const f32Bits = new Float32Array(1);
const u32Bits = new Uint32Array(f32Bits.buffer);
/** The float32 bits of `value`, as a 32-bit word. */
function floatWord(value: number): number {
  f32Bits[0] = value;
  return u32Bits[0];
}

/** Runs training operation `name` with the method's arguments. */
export function runTrainingOp(cpu: TrainingRunContext, name: TrainingOpName, args: unknown[]): Promise<unknown> {
  const spec = TRAINING_OP_SPECS[name] as (owner: Backend, ...args: unknown[]) => TrainingOpCall<unknown>;
  const call = spec(cpu.backend, ...args);
  const operands = [...(call.reads ?? []), ...(call.writes ?? [])].filter((t): t is Tensor => t !== null && !(t instanceof Float32Array) && !isShape(t as Operand));
  return cpu.tensors.exclusive(operands, () => execute(cpu, TRAINING_OPS.indexOf(name), call));
}

async function execute(cpu: TrainingRunContext, op: number, call: TrainingOpCall<unknown>): Promise<unknown> {
  const { tensors, pool } = cpu;
  const name = TRAINING_OPS[op];
  const made = new CallTensors({ allocate: (shape) => tensors.allocate(shape), upload: (values) => tensors.upload(values, [values.length]) });
  return made.run(async () => {
    const reads = made.reads(call);
    const writes = made.writes(call, name);
    const width = call.width ?? 0;
    const per = call.grid === 'elements' ? ELEMENTS_PER_UNIT : Math.max(1, Math.floor(ELEMENTS_PER_UNIT / Math.max(1, width)));
    const units = Math.ceil(call.count / per);
    const partials = call.partials ? made.temporary([units, call.partials], `${name} partial sums`) : null;
    const slots = partials ? [...writes, partials] : writes;
    if (slots.length > 3 || reads.length > 5) throw new Error(`training op ${name}: at most 5 reads and 3 writes (partials included)`);

    const words = new Uint32Array(tensors.heap.memory.buffer, cpu.args, ARGUMENT_WORDS);
    words.fill(0);
    reads.forEach((t, i) => (words[i] = offsetOf(t)));
    slots.forEach((t, i) => (words[5 + i] = offsetOf(t)));
    words[8] = call.count;
    words[9] = width;
    words[10] = call.flag ?? 0;
    words[11] = per;
    (call.floats ?? []).forEach((value, i) => (words[FIRST_FLOAT_WORD + i] = floatWord(value)));

    // In-place writes change their tensors: caches of data derived from them (packed panels) go stale.
    for (const slot of call.writes ?? []) if (!isShape(slot)) (slot as CpuTensor).version++;
    if (call.count > 0) {
      const elements = call.grid === 'elements' ? call.count : call.count * width;
      await pool.run({ tasks: [{ job: 'trainingOp', units, params: { op, args: cpu.args, count: call.count, per } }], flops: (call.cost ?? MEMORY_BOUND) * elements });
    } else {
      for (const t of made.all) tensors.fillZero(t as CpuTensor);
    }

    const sums: Operand[] = [];
    if (call.sums) {
      const of = call.sums.of;
      const [source, rows, stride] = of === 'partials' ? [partials!, units, call.partials!] : [reads[of.read]!, of.rows, of.width];
      const phase: Phase = { tasks: [], flops: 0 };
      for (const sum of call.sums.into) {
        const out = made.created(sum.shape, name) as CpuTensor;
        sums.push(out);
        const perUnit = Math.min(COLUMNS_PER_UNIT, Math.max(1, sum.count));
        phase.tasks.push({
          job: 'sumColumns',
          units: Math.ceil(sum.count / perUnit),
          params: { src: offsetOf(source), rows, stride, from: sum.from, dst: out.offset, scale: floatWord(sum.scale), columns: sum.count, perUnit },
        });
        phase.flops += MEMORY_BOUND * rows * sum.count;
      }
      await pool.run(phase);
    }
    return call.result(writes, sums);
  });
}
