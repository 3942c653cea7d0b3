import cliProgress from 'cli-progress';
import type { TimeEstimate } from './estimate.js';

/** A progress reporter: update(done, total) and stop(); silent when stderr is not a terminal. */
export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

/** A progress bar on stderr, shown only on a TTY (pipes and CI logs stay clean). */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { stream, format: `${label} [{bar}] {percentage}% | {value}/{total} | eta {eta_formatted}`, hideCursor: true, clearOnComplete: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, done);
        started = true;
      } else bar.update(done, { total });
      bar.setTotal(total);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** "12 s", "3.4 min", "2.1 h". */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** Seconds of expected work from which a computation is announced on stderr (2 s; BLOCKSPARSE_ANNOUNCE_SECONDS overrides, e.g. 0 in tests). */
export function announceSeconds(): number {
  const text = process.env.BLOCKSPARSE_ANNOUNCE_SECONDS;
  const value = text === undefined || text.trim() === '' ? NaN : Number(text);
  return Number.isFinite(value) && value >= 0 ? value : 2;
}

/**
 * "path-length on ring.json: about 2.4 min (estimated from the first 256 of 200000 sources)";
 * "up to about" where the count of work is an upper bound (mixing depth stops once mixed).
 */
export function formatEstimate(label: string, estimate: TimeEstimate): string {
  const { seconds, done, total, unit, bound } = estimate;
  return `${label}: ${bound ? 'up to ' : ''}about ${formatDuration(seconds)} (estimated from the first ${done} of ${bound ? 'at most ' : ''}${total} ${unit})`;
}
