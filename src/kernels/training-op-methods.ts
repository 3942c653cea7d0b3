import { TRAINING_OPS, type Backend } from './types.js';

/*
 * Each backend implements the training operations (`TRAINING_OPS`, declared with the `Backend`
 * interface in types.ts) as kernel functions of its own context and gets the methods from
 * `installTrainingOps`, so no backend writes a forwarding method.
 */

/** The name of a training operation. */
export type TrainingOpName = (typeof TRAINING_OPS)[number];

/** The training-operation methods of a backend (merged into each backend class's type). */
export type TrainingOpMethods = Pick<Backend, TrainingOpName>;

/** Each training operation as a kernel function of a backend's context `K`, taking the method's arguments after it. */
export type TrainingKernelTable<K> = {
  [N in TrainingOpName]: (context: K, ...args: Parameters<Backend[N]>) => ReturnType<Backend[N]>;
};

/**
 * Gives `prototype` (a backend class's) one method per training operation: it calls the kernel of
 * `table` with the context `contextOf(backend)` returns, which first checks that the backend takes
 * work (its error then rejects the returned promise, as an async method's would).
 */
export function installTrainingOps<B extends object, K>(prototype: B, table: TrainingKernelTable<K>, contextOf: (backend: B) => K): void {
  for (const name of TRAINING_OPS) {
    const kernel = table[name] as (context: K, ...args: unknown[]) => Promise<unknown>;
    Object.defineProperty(prototype, name, {
      async value(this: B, ...args: unknown[]): Promise<unknown> {
        return kernel(contextOf(this), ...args);
      },
      writable: true,
      configurable: true,
    });
  }
}
