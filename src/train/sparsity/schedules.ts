import { checkInteger, checkNumber } from '../../check.js';
import { ParameterError } from '../../errors.js';

/**
 * Sparsity schedules for block pruning and prune-and-regrow.
 */

/** Zhu & Gupta's gradual pruning schedule: sparsity from `initial` to `final` between steps `begin` and `end`, updated every `frequency` steps. */
export interface CubicScheduleOptions {
  /** Sparsity s_i at `begin` (fraction of blocks removed), in [0, 1). */
  initial: number;
  /** Sparsity s_f reached at `end`, in [initial, 1). */
  final: number;
  /** First pruning step t0 (>= 0). */
  begin: number;
  /** Last pruning step t0 + n Δt (> begin; end - begin a multiple of frequency). */
  end: number;
  /** Steps between pruning steps Δt (>= 1). */
  frequency: number;
}

/** Checks a cubic schedule's options (names the parameter and its range); returns them. */
export function checkCubicSchedule(options: CubicScheduleOptions, context = 'cubicSparsity'): CubicScheduleOptions {
  const initial = checkNumber('initial', options.initial, 0, 1, context);
  if (initial === 1) throw new ParameterError('initial', 'a number in [0, 1)', initial, context);
  const final = checkNumber('final', options.final, initial, 1, context);
  if (final === 1) throw new ParameterError('final', `a number in [${initial}, 1)`, final, context);
  const begin = checkInteger('begin', options.begin, 0, Number.MAX_SAFE_INTEGER, context);
  const frequency = checkInteger('frequency', options.frequency, 1, Number.MAX_SAFE_INTEGER, context);
  const end = checkInteger('end', options.end, begin + 1, Number.MAX_SAFE_INTEGER, context);
  if ((end - begin) % frequency !== 0) {
    throw new ParameterError('end', `begin plus a multiple of frequency (${begin} + k * ${frequency})`, end, context);
  }
  return { initial, final, begin, end, frequency };
}

/**
 * The target sparsity at `step` (Zhu & Gupta 2017, "To prune, or not to prune", eq. 1):
 * s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n Δt))^3 at the pruning steps t = t0 + k Δt,
 * k = 0..n, held between them; 0 before t0 (no pruning yet) and s_f after t0 + n Δt.
 */
export function cubicSparsity(step: number, options: CubicScheduleOptions): number {
  const { initial, final, begin, end, frequency } = checkCubicSchedule(options);
  checkInteger('step', step, 0, Number.MAX_SAFE_INTEGER, 'cubicSparsity');
  if (step < begin) return 0;
  if (step >= end) return final;
  const t = begin + Math.floor((step - begin) / frequency) * frequency;
  const remaining = 1 - (t - begin) / (end - begin);
  return final + (initial - final) * remaining ** 3;
}

/** Whether the schedule prunes at `step`: t0 + k Δt for k = 0..n. */
export function isPruningStep(step: number, options: CubicScheduleOptions): boolean {
  const { begin, end, frequency } = checkCubicSchedule(options, 'isPruningStep');
  checkInteger('step', step, 0, Number.MAX_SAFE_INTEGER, 'isPruningStep');
  return step >= begin && step <= end && (step - begin) % frequency === 0;
}

/** RigL's drop fraction: alpha/2 (1 + cos(pi t / T_end)) for t <= T_end, 0 after (Evci et al. 2020, eq. 2). */
export function cosineDropFraction(step: number, options: { alpha: number; end: number }): number {
  const context = 'cosineDropFraction';
  const alpha = checkNumber('alpha', options.alpha, 0, 1, context);
  const end = checkInteger('end', options.end, 1, Number.MAX_SAFE_INTEGER, context);
  checkInteger('step', step, 0, Number.MAX_SAFE_INTEGER, context);
  if (step > end) return 0;
  return (alpha / 2) * (1 + Math.cos((Math.PI * step) / end));
}

/** Number of blocks to keep out of `nnz` at `sparsity` (fraction removed): round((1 - sparsity) nnz), halves rounded up. */
export function blocksToKeep(nnz: number, sparsity: number): number {
  checkInteger('nnz', nnz, 0, Number.MAX_SAFE_INTEGER, 'blocksToKeep');
  checkNumber('sparsity', sparsity, 0, 1, 'blocksToKeep');
  return Math.round((1 - sparsity) * nnz);
}
