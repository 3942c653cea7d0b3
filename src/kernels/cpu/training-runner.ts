import type { Operand } from '../checks.js';
import { MEMORY_BOUND, TRAINING_OPS, type TrainingOpCall, type TrainingOpName } from '../training-ops.js';
import type { Backend, Tensor } from '../types.js';
import { settle, type Eventually } from '../settle.js';
import { batchCalls, CallTensors, isShape, specCall, tensorsOf } from '../training-call-tensors.js';
import { ARGUMENT_WORDS, FIRST_FLOAT_WORD, type Task } from './abi.js';
import { MAX_TASKS, type Phase } from './jobs.js';
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
  const call = specCall(cpu.backend, name, args);
  return cpu.tensors.exclusive(tensorsOf(call) as Tensor[], () => {
    const out = execute(cpu, TRAINING_OPS.indexOf(name), [call], cpu.args);
    return out instanceof Promise ? out.then((results) => results[0]) : out[0];
  });
}

/** Runs training operation `name` once per argument list, as one pass (`Backend.batch`). */
export function runTrainingBatch(cpu: TrainingRunContext, name: TrainingOpName, argLists: readonly (readonly unknown[])[]): Promise<unknown[]> {
  const calls = batchCalls(cpu.backend, name, argLists);
  return cpu.tensors.exclusive(calls.flatMap(tensorsOf) as Tensor[], () => {
    if (calls.length === 0) return [];
    const args = cpu.tensors.heap.alloc(4 * ARGUMENT_WORDS * calls.length);
    return settle(() => execute(cpu, TRAINING_OPS.indexOf(name), calls, args), () => cpu.tensors.heap.free(args), (results) => results);
  });
}

/** A call made ready: its tensors, its argument block, its main task and its sum tasks. */
interface Prepared {
  call: TrainingOpCall<unknown>;
  writes: Operand[];
  sums: Operand[];
  main: Task | null;
  work: number;
  sumTasks: Task[];
  sumWork: number;
}

/**
 * Runs `calls` of op code `op` (argument blocks at `args`, one after another): their main stages
 * as one phase (or as many as the pool's task limit needs), then their sum stages as one. When
 * every phase is small, all of it runs now in the calling thread and the results are returned
 * (no promise, no wait); otherwise a promise of them.
 */
function execute(cpu: TrainingRunContext, op: number, calls: readonly TrainingOpCall<unknown>[], args: number): Eventually<unknown[]> {
  const { tensors, pool } = cpu;
  const name = TRAINING_OPS[op];
  const made = new CallTensors({ allocate: (shape) => tensors.allocate(shape), upload: (values) => tensors.upload(values, [values.length]) });
  return made.run(() => {
    const prepared = calls.map((call, i) => prepare(call, args + 4 * ARGUMENT_WORDS * i));
    const main = phases(prepared.flatMap((p) => (p.main ? [{ task: p.main, work: p.work }] : [])));
    const sums = phases(prepared.flatMap((p) => p.sumTasks.map((task) => ({ task, work: p.sumWork / p.sumTasks.length }))));
    const results = () => prepared.map((p) => p.call.result(p.writes, p.sums));
    // A phase's control words are written when it starts: run them one after another.
    let i = 0;
    const all = [...main, ...sums];
    while (i < all.length && pool.runNow(all[i])) i++;
    if (i === all.length) return results();
    return (async () => {
      for (; i < all.length; i++) await pool.run(all[i]);
      return results();
    })();
  });
  /** Allocates a call's tensors, writes its argument block at `at`, and returns its tasks. */
  function prepare(call: TrainingOpCall<unknown>, at: number): Prepared {
    const reads = made.reads(call);
    const fresh = made.all.length;
    const writes = made.writes(call, name);
    const width = call.width ?? 0;
    const per = call.grid === 'elements' ? ELEMENTS_PER_UNIT : Math.max(1, Math.floor(ELEMENTS_PER_UNIT / Math.max(1, width)));
    const units = Math.ceil(call.count / per);
    const partials = call.partials ? made.temporary([units, call.partials], `${name} partial sums`) : null;
    const slots = partials ? [...writes, partials] : writes;
    if (slots.length > 3 || reads.length > 5) throw new Error(`training op ${name}: at most 5 reads and 3 writes (partials included)`);

    // The heap's views, no new array per call (an int32 store keeps a word's 32 bits).
    const i32 = tensors.heap.i32;
    const f32 = tensors.heap.f32;
    const base = at / 4;
    i32.fill(0, base, base + ARGUMENT_WORDS);
    for (let i = 0; i < reads.length; i++) i32[base + i] = offsetOf(reads[i]);
    for (let i = 0; i < slots.length; i++) i32[base + 5 + i] = offsetOf(slots[i]);
    i32[base + 8] = call.count;
    i32[base + 9] = width;
    i32[base + 10] = call.flag ?? 0;
    i32[base + 11] = per;
    const floats = call.floats ?? [];
    for (let i = 0; i < floats.length; i++) f32[base + FIRST_FLOAT_WORD + i] = floats[i];
    // In-place writes change their tensors: caches of data derived from them (packed panels) go stale.
    for (const slot of call.writes ?? []) if (!isShape(slot)) (slot as CpuTensor).version++;
    if (call.count === 0) for (const t of made.all.slice(fresh)) tensors.fillZero(t as CpuTensor);
    const elements = call.grid === 'elements' ? call.count : call.count * width;
    const main: Task | null = call.count > 0 ? { job: 'trainingOp', units, params: { op, args: at, count: call.count, per } } : null;

    const sums: Operand[] = [];
    const sumTasks: Task[] = [];
    let sumWork = 0;
    if (call.sums) {
      const of = call.sums.of;
      const [source, rows, stride] = of === 'partials' ? [partials!, units, call.partials!] : [reads[of.read]!, of.rows, of.width];
      for (const sum of call.sums.into) {
        const out = made.created(sum.shape, name) as CpuTensor;
        sums.push(out);
        const perUnit = Math.min(COLUMNS_PER_UNIT, Math.max(1, sum.count));
        sumTasks.push({
          job: 'sumColumns',
          units: Math.ceil(sum.count / perUnit),
          params: { src: offsetOf(source), rows, stride, from: sum.from, dst: out.offset, scale: floatWord(sum.scale), columns: sum.count, perUnit },
        });
        sumWork += MEMORY_BOUND * rows * sum.count;
      }
    }
    return { call, writes, sums, main, work: (call.cost ?? MEMORY_BOUND) * elements, sumTasks, sumWork };
  }
}

/** Tasks grouped into phases of at most MAX_TASKS, each phase's work the sum of its tasks'. */
function phases(tasks: { task: Task; work: number }[]): Phase[] {
  const out: Phase[] = [];
  for (let i = 0; i < tasks.length; i += MAX_TASKS) {
    const group = tasks.slice(i, i + MAX_TASKS);
    out.push({ tasks: group.map((t) => t.task), flops: group.reduce((sum, t) => sum + t.work, 0) });
  }
  return out;
}
