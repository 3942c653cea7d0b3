/**
 * The sparsity methods of a training run from its settings: the --prune and --regrow specs
 * resolved against the run's length, and the hooks they make (with the L0 penalty).
 */
import type { BlockNormKind } from '../kernels/types.js';
import type { Seed } from '../random.js';
import type { TrainingHook } from '../train/hooks.js';
import type { Sequential } from '../train/layers/sequential.js';
import { l0Hook } from '../train/sparsity/l0.js';
import { gradualPruning } from '../train/sparsity/prune.js';
import { riglRegrowth, setRegrowth } from '../train/sparsity/regrow.js';
import { UsageError } from '../usage-error.js';

/** `--prune`, resolved: Zhu & Gupta's gradual magnitude pruning schedule (steps counted over the whole run). */
export interface PruneSpec {
  final: number;
  initial: number;
  begin: number;
  end: number;
  every: number;
  norm: BlockNormKind;
}

/** `--regrow`, resolved: SET (random regrowth) or RigL (gradient regrowth), nnz kept constant. */
export interface RegrowSpec {
  method: 'set' | 'rigl';
  every: number;
  /** SET's drop fraction, or RigL's initial drop fraction alpha (decayed with a cosine until `end`). */
  fraction: number;
  end: number;
  norm: BlockNormKind;
}

/** "0.9,begin=0,every=50" -> the head ("0.9") and the key=value pairs, each key one of `keys`. */
function splitSpec(option: string, text: string, keys: readonly string[]): { head: string; pairs: Map<string, string> } {
  const [head, ...rest] = text.split(',').map((s) => s.trim());
  const pairs = new Map<string, string>();
  for (const item of rest) {
    const match = /^([a-z]+)=(.+)$/.exec(item);
    if (!match || !keys.includes(match[1])) throw new UsageError(`${option} ${JSON.stringify(text)}: "${item}" is not one of ${keys.map((k) => `${k}=...`).join(', ')}`);
    pairs.set(match[1], match[2]);
  }
  return { head: head ?? '', pairs };
}

function numberIn(option: string, key: string, text: string | undefined, fallback: number, lo: number, hi: number, integer: boolean): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < lo || value > hi || (integer && !Number.isInteger(value))) {
    throw new UsageError(`${option} ${key} must be ${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}] (got ${text})`);
  }
  return value;
}

function normOf(option: string, text: string | undefined): BlockNormKind {
  if (text === undefined) return 'l2';
  if (text !== 'l2' && text !== 'max') throw new UsageError(`${option} norm must be l2 or max (got ${text})`);
  return text;
}

/**
 * Parses `--prune <final sparsity>[,begin=STEP][,end=STEP][,every=STEPS][,initial=S][,norm=l2|max]`.
 * Defaults for a run of `totalSteps` steps: begin 0, every max(1, floor(total / 20)), end the last
 * multiple of every from begin within 75% of the run (at least begin + every), initial 0, norm l2.
 */
export function parsePruneSpec(text: string, totalSteps: number): PruneSpec {
  const option = '--prune';
  const { head, pairs } = splitSpec(option, text, ['begin', 'end', 'every', 'initial', 'norm']);
  const final = numberIn(option, 'final sparsity (the first value)', head, Number.NaN, 0, 0.999999, false);
  const initial = numberIn(option, 'initial', pairs.get('initial'), 0, 0, final, false);
  const begin = numberIn(option, 'begin', pairs.get('begin'), 0, 0, Number.MAX_SAFE_INTEGER, true);
  const every = numberIn(option, 'every', pairs.get('every'), Math.max(1, Math.floor(totalSteps / 20)), 1, Number.MAX_SAFE_INTEGER, true);
  const defaultEnd = begin + every * Math.max(1, Math.floor((0.75 * totalSteps - begin) / every));
  const end = numberIn(option, 'end', pairs.get('end'), defaultEnd, begin + 1, Number.MAX_SAFE_INTEGER, true);
  if ((end - begin) % every !== 0) throw new UsageError(`${option} end must be begin plus a multiple of every (${begin} + k * ${every}; got ${end})`);
  return { final, initial, begin, end, every, norm: normOf(option, pairs.get('norm')) };
}

/**
 * Parses `--regrow set|rigl[,every=STEPS][,fraction=F][,end=STEP][,norm=l2|max]`. Defaults: every
 * 100 (RigL's ΔT) or a tenth of the run if shorter, fraction 0.3 (SET's zeta, RigL's alpha), end
 * 75% of the run (RigL's T_end; SET stops there too).
 */
export function parseRegrowSpec(text: string, totalSteps: number): RegrowSpec {
  const option = '--regrow';
  const { head, pairs } = splitSpec(option, text, ['every', 'fraction', 'end', 'norm']);
  if (head !== 'set' && head !== 'rigl') throw new UsageError(`${option} must start with set or rigl (got ${JSON.stringify(head)})`);
  const every = numberIn(option, 'every', pairs.get('every'), Math.max(1, Math.min(100, Math.floor(totalSteps / 10))), 1, Number.MAX_SAFE_INTEGER, true);
  const fraction = numberIn(option, 'fraction', pairs.get('fraction'), 0.3, 0, 1, false);
  const end = numberIn(option, 'end', pairs.get('end'), Math.max(1, Math.floor(0.75 * totalSteps)), 1, Number.MAX_SAFE_INTEGER, true);
  return { method: head, every, fraction, end, norm: normOf(option, pairs.get('norm')) };
}

/** The hooks of a run, in order: the L0 penalty, gradual pruning, regrowth, on the model's block-sparse weights (`Sequential.blockSparseLayers`: an LSTM's included). */
export function trainingHooks(model: Sequential, spec: { l0: number | null; prune: PruneSpec | null; regrow: RegrowSpec | null; seed: Seed }): TrainingHook[] {
  const layers = model.blockSparseLayers();
  if ((spec.prune || spec.regrow) && layers.length === 0) {
    throw new UsageError(`${spec.prune ? '--prune' : '--regrow'} needs block-sparse layers: give --layout (e.g. dense, to prune from dense blocks) and, for an MLP, at least two --hidden sizes`);
  }
  const hooks: TrainingHook[] = [];
  if (spec.l0 !== null) hooks.push(l0Hook({ lambda: spec.l0 }));
  if (spec.prune) {
    const { final, initial, begin, end, every, norm } = spec.prune;
    hooks.push(gradualPruning({ layers, schedule: { initial, final, begin, end, frequency: every }, norm }));
  }
  if (spec.regrow) {
    const { method, every, fraction, end, norm } = spec.regrow;
    hooks.push(method === 'set'
      ? setRegrowth({ layers, every, dropFraction: fraction, end, norm, seed: `${String(spec.seed)}#set` })
      : riglRegrowth({ layers, every, alpha: fraction, end, norm }));
  }
  return hooks;
}
