import { TRAINING_OPS, type TrainingOpName, type TrainingOps } from './training-ops.js';
import type { Tensor } from './types.js';

/*
 * Each backend runs every training operation through one function of its own (its training
 * runner), which takes the operation's spec (training-ops.ts) and executes it; the methods that
 * call it are installed here, so no backend writes a method per operation.
 */

/** The training-operation methods of a backend (merged into each backend class's type). */
export type TrainingOpMethods = TrainingOps<Tensor>;

/** A backend's training runner: runs operation `name` with the method's arguments. */
export type TrainingOpRunner<B> = (backend: B, name: TrainingOpName, args: unknown[]) => Promise<unknown>;

/**
 * Gives `prototype` (a backend class's) one method per training operation, each calling `run`
 * (whose checks reject the returned promise, as an async method's would).
 */
export function installTrainingOps<B extends object>(prototype: B, run: TrainingOpRunner<B>): void {
  for (const name of TRAINING_OPS) {
    Object.defineProperty(prototype, name, {
      value(this: B, ...args: unknown[]): Promise<unknown> {
        try {
          return run(this, name, args);
        } catch (error) {
          return Promise.reject(error);
        }
      },
      writable: true,
      configurable: true,
    });
  }
}
