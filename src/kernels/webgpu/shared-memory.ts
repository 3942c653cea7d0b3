import type { IndexEnv, IndexExpr } from './index-expr.js';

/*
 * A static model of workgroup (shared) memory traffic, evaluated on the same index expressions the
 * kernels compile (index-expr.ts), so that a test can bound bank conflicts and arithmetic per
 * shared load without a GPU.
 *
 * The model is NVIDIA's: 32 banks of 4-byte words; a warp is 32 consecutive invocations
 * (local_invocation_index); a 4-byte access is served for the whole warp at once, a 16-byte (vec4)
 * access in four phases of 8 invocations (a quarter warp moves 128 bytes). In a phase, accesses to
 * the same word are one (a broadcast); distinct words in the same bank are served one after
 * another. A phase takes max over banks of (distinct words in that bank) wavefronts, at best
 * ceil(distinct words / 32). The "ways" of an instruction is the worst ratio of the two over its
 * phases: 1 means conflict-free. AMD's LDS (32 banks, similar phases for 128-bit access) and
 * Intel's SLM behave alike closely enough for the bound to mean the same there.
 */

/** A workgroup-memory array. */
export interface SharedArray {
  readonly name: string;
  readonly element: 'f32' | 'vec4<f32>' | 'vec4<i32>' | 'i32';
  readonly length: number;
}

/** One shared-memory access instruction: an element of `array`, or one lane of a vec4 element. */
export interface SharedAccess {
  readonly array: SharedArray;
  readonly index: IndexExpr;
  /** The lane of a vec4 element (a 4-byte access); absent: the whole element. */
  readonly lane?: IndexExpr;
  /** Only invocations with local index below this execute it (absent: all). */
  readonly activeBelow?: number;
}

/** The WGSL reference of an access (an lvalue or a value). */
export function sharedRef(access: SharedAccess): string {
  const element = `${access.array.name}[${access.index.wgsl}]`;
  return access.lane ? `${element}[${access.lane.wgsl}]` : element;
}

/** Bytes of one element of an array. */
const elementWords = (array: SharedArray): number => (array.element.startsWith('vec4') ? 4 : 1);

/** Bytes a workgroup array takes. */
export function sharedBytes(arrays: readonly SharedArray[]): number {
  return arrays.reduce((sum, a) => sum + 4 * elementWords(a) * a.length, 0);
}

/** A step of a kernel: the shared-memory instructions every invocation executes in it, in order. */
export interface SharedStep {
  /** What the step is, e.g. "stage X (direct)" or "inner product". */
  readonly name: string;
  readonly kind: 'store' | 'load';
  readonly accesses: readonly SharedAccess[];
  /** Values of the step's other symbols (loop counters, buffer offsets): each is analysed. */
  readonly envs: readonly IndexEnv[];
  /** Scalar multiply-adds each invocation does in the step (compute steps). */
  readonly fmas?: number;
}

/** What the model says of a step. */
export interface StepFigures {
  readonly name: string;
  readonly kind: 'store' | 'load';
  /** Worst ways of any instruction (1: conflict-free). */
  readonly ways: number;
  /** Wavefronts the step takes per warp, summed over its instructions and averaged over envs. */
  readonly wavefronts: number;
  /** The same at best (every phase conflict-free). */
  readonly idealWavefronts: number;
  /** Shared-memory instructions per invocation. */
  readonly instructions: number;
  /** Scalar multiply-adds per shared-memory instruction (compute steps), else null. */
  readonly fmaPerAccess: number | null;
}

/** The symbols of invocation `tid` in a workgroup of `size`: itid (the local index), tx, ty, tz. */
export function threadEnv(size: readonly [number, number, number], tid: number): IndexEnv {
  const [x, y] = size;
  return { itid: tid, tx: tid % x, ty: Math.trunc(tid / x) % y, tz: Math.trunc(tid / (x * y)) };
}

const WARP = 32;
const BANKS = 32;

/** Wavefronts and ideal wavefronts of one instruction for one warp. */
function instructionWavefronts(access: SharedAccess, envs: readonly IndexEnv[]): { wavefronts: number; ideal: number; ways: number } {
  const words = elementWords(access.array);
  const width = access.lane ? 1 : words;
  const phaseSize = Math.max(1, WARP / width);
  let wavefronts = 0;
  let ideal = 0;
  let ways = 1;
  for (let start = 0; start < envs.length; start += phaseSize) {
    const banks = new Map<number, Set<number>>();
    const distinct = new Set<number>();
    for (const env of envs.slice(start, start + phaseSize)) {
      if (access.activeBelow !== undefined && env.itid >= access.activeBelow) continue;
      const index = access.index.value(env);
      if (!(index >= 0 && index < access.array.length)) {
        throw new RangeError(`${access.array.name}[${index}] is outside its ${access.array.length} elements (${JSON.stringify(env)})`);
      }
      const first = index * words + (access.lane ? access.lane.value(env) : 0);
      for (let w = first; w < first + width; w++) {
        distinct.add(w);
        let bank = banks.get(w % BANKS);
        if (!bank) banks.set(w % BANKS, (bank = new Set()));
        bank.add(w);
      }
    }
    if (distinct.size === 0) continue;
    const phase = Math.max(...[...banks.values()].map((b) => b.size));
    const best = Math.ceil(distinct.size / BANKS);
    wavefronts += phase;
    ideal += best;
    ways = Math.max(ways, phase / best);
  }
  return { wavefronts, ideal, ways };
}

/** Analyses `step` for a workgroup of `size`: every warp, every instruction, every env. */
export function analyseStep(step: SharedStep, size: readonly [number, number, number]): StepFigures {
  const threads = size[0] * size[1] * size[2];
  let wavefronts = 0;
  let ideal = 0;
  let ways = 1;
  const envs = step.envs.length > 0 ? step.envs : [{}];
  for (const extra of envs) {
    for (let warp = 0; warp < threads; warp += WARP) {
      const lanes: IndexEnv[] = [];
      for (let tid = warp; tid < Math.min(threads, warp + WARP); tid++) lanes.push({ ...extra, ...threadEnv(size, tid) });
      for (const access of step.accesses) {
        const figures = instructionWavefronts(access, lanes);
        wavefronts += figures.wavefronts;
        ideal += figures.ideal;
        ways = Math.max(ways, figures.ways);
      }
    }
  }
  const warps = Math.ceil(threads / WARP) * envs.length;
  return {
    name: step.name,
    kind: step.kind,
    ways,
    wavefronts: wavefronts / warps,
    idealWavefronts: ideal / warps,
    instructions: step.accesses.length,
    fmaPerAccess: step.fmas !== undefined && step.accesses.length > 0 ? step.fmas / step.accesses.length : null,
  };
}

/** A kernel variant whose shared-memory steps can be analysed. */
export interface SharedMemoryModel {
  /** The variant, e.g. "block-product bs32 rows128". */
  readonly key: string;
  readonly workgroupSize: readonly [number, number, number];
  /** Its workgroup arrays. */
  sharedArrays(): readonly SharedArray[];
  /** Its staging and compute steps, built by the same code as its WGSL. */
  sharedSteps(): readonly SharedStep[];
}

/** The figures of every step of a kernel variant. */
export function analyseKernel(model: SharedMemoryModel): StepFigures[] {
  return model.sharedSteps().map((step) => analyseStep(step, model.workgroupSize));
}
