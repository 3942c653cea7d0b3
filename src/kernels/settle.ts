/*
 * Calls that end now or later. A small CPU operation runs to its end in the calling thread and
 * gives its value at once; a large one waits for the worker pool and gives a promise. Code that
 * wraps such a call (freeing temporaries, releasing caches) uses `settle` so that the small case
 * stays free of promises and microtask turns.
 */

/** A value now, or a promise of it. */
export type Eventually<T> = T | Promise<T>;

/**
 * Runs `body`, then `after(ok)` once it has ended (ok false when it threw or rejected, and the
 * error goes on), and gives `result(value)`: now when the body returned a value, as a promise
 * when it returned a promise.
 */
export function settle<V, R>(body: () => Eventually<V>, after: (ok: boolean) => void, result: (value: V) => R): Eventually<R> {
  let out: Eventually<V>;
  try {
    out = body();
  } catch (error) {
    after(false);
    throw error;
  }
  if (!(out instanceof Promise)) {
    after(true);
    return result(out);
  }
  return out.then(
    (value) => {
      after(true);
      return result(value);
    },
    (error: unknown) => {
      after(false);
      throw error;
    },
  );
}
