import { checkNumber } from '../check.js';
import { ParameterError } from '../errors.js';
import type { AdamStepOptions, Backend, SgdStepOptions, Tensor } from '../kernels/types.js';
import type { Parameter } from './layers/layer.js';

/** A parameter to update in a step: its gradient and its state tensors. */
export interface OptimizerEntry {
  readonly p: Parameter;
  readonly grad: Tensor;
  readonly slots: readonly Tensor[];
}

/**
 * Optimisers over a model's parameters, updating them in place on the backend. State tensors
 * (velocity, moments) are created as zeros at a parameter's first step and kept by parameter;
 * `remap` rewrites them when pruning or regrowth changes a parameter's blocks.
 */
export abstract class Optimizer {
  readonly backend: Backend;
  readonly parameters: readonly Parameter[];
  /** The learning rate of the next step (a schedule may change it between steps). */
  lr: number;
  /** Steps taken. */
  steps = 0;
  protected readonly slots = new Map<Parameter, Tensor[]>();
  /** Steps each parameter has taken (PyTorch counts per parameter too). */
  protected readonly paramSteps = new Map<Parameter, number>();

  constructor(parameters: readonly Parameter[], lr: number) {
    if (parameters.length === 0) throw new ParameterError('parameters', 'a non-empty list', '[]', this.constructor.name);
    this.backend = parameters[0].value.backend;
    this.parameters = parameters;
    this.lr = checkNumber('lr', lr, 0, Number.MAX_VALUE, this.constructor.name);
  }

  /** Number of state tensors per parameter. */
  protected abstract get slotCount(): number;
  /** Updates the parameters given their gradients and state tensors, all in one backend call (`Backend.batch`). */
  protected abstract update(entries: readonly OptimizerEntry[]): Promise<void>;

  /** One step over every parameter that has a gradient: one pass over all of them on the backend. */
  async step(): Promise<void> {
    this.steps++;
    const entries: OptimizerEntry[] = [];
    for (const p of this.parameters) {
      if (!p.grad) continue;
      let slots = this.slots.get(p);
      if (!slots) {
        slots = Array.from({ length: this.slotCount }, () => this.backend.zeros(p.value.shape));
        this.slots.set(p, slots);
      }
      this.paramSteps.set(p, (this.paramSteps.get(p) ?? 0) + 1);
      entries.push({ p, grad: p.grad, slots });
    }
    await this.update(entries);
  }

  /** A parameter's state tensors (empty before its first step), e.g. for checkpoints. */
  state(p: Parameter): readonly Tensor[] {
    return this.slots.get(p) ?? [];
  }

  /** Steps the parameter has taken. */
  stepsOf(p: Parameter): number {
    return this.paramSteps.get(p) ?? 0;
  }

  /** Replaces a parameter's state tensors and step count (restoring a checkpoint); they must have the parameter's shape. */
  setState(p: Parameter, tensors: Tensor[], steps: number): void {
    this.paramSteps.set(p, steps);
    if (tensors.length !== this.slotCount) throw new ParameterError('tensors', `${this.slotCount} state tensors`, tensors.length, 'setState');
    for (const t of this.slots.get(p) ?? []) t.dispose();
    this.slots.set(p, tensors);
  }

  /** Rewrites a parameter's state tensors with `transform` (e.g. gather the kept blocks), disposing the old ones. */
  async remap(p: Parameter, transform: (t: Tensor) => Promise<Tensor>): Promise<void> {
    const slots = this.slots.get(p);
    if (!slots) return;
    const next: Tensor[] = [];
    for (const t of slots) {
      next.push(await transform(t));
      t.dispose();
    }
    this.slots.set(p, next);
  }

  /** Frees every parameter's state tensors. */
  dispose(): void {
    for (const slots of this.slots.values()) for (const t of slots) t.dispose();
    this.slots.clear();
  }
}

/** Options of `SGD` (PyTorch's torch.optim.SGD without dampening). */
export interface SgdOptions {
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  /** L2 penalty on parameters marked for decay (weights, not biases or gains). */
  weightDecay?: number;
}

/** Stochastic gradient descent with optional (Nesterov) momentum and weight decay. */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(parameters: readonly Parameter[], options: SgdOptions) {
    super(parameters, options.lr);
    this.momentum = checkNumber('momentum', options.momentum ?? 0, 0, 1, 'SGD');
    this.nesterov = options.nesterov ?? false;
    if (this.nesterov && this.momentum === 0) throw new ParameterError('momentum', 'above 0 with nesterov', 0, 'SGD');
    this.weightDecay = checkNumber('weightDecay', options.weightDecay ?? 0, 0, Number.MAX_VALUE, 'SGD');
  }

  protected get slotCount(): number {
    return this.momentum > 0 ? 1 : 0;
  }

  protected async update(entries: readonly OptimizerEntry[]): Promise<void> {
    await this.backend.batch('sgdStep', entries.map(({ p, grad, slots }) => {
      const options: SgdStepOptions = { lr: this.lr * (p.lrScale ?? 1), momentum: this.momentum, nesterov: this.nesterov, weightDecay: p.decay ? this.weightDecay : 0 };
      return [p.value, grad, slots[0] ?? null, options] as [Tensor, Tensor, Tensor | null, SgdStepOptions];
    }));
  }
}

/**
 * Options of `Adam` (PyTorch's torch.optim.Adam, or AdamW with `decoupled`): the backend step's
 * hyper-parameters without the step number, which the optimiser counts per parameter; the weight
 * decay applies to the parameters marked for decay.
 */
export type AdamOptions = Omit<AdamStepOptions, 'step'>;

/** Adam and AdamW with bias correction. */
export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;

  constructor(parameters: readonly Parameter[], options: AdamOptions) {
    super(parameters, options.lr);
    this.beta1 = checkNumber('beta1', options.beta1 ?? 0.9, 0, 1, 'Adam');
    this.beta2 = checkNumber('beta2', options.beta2 ?? 0.999, 0, 1, 'Adam');
    if (this.beta1 === 1) throw new ParameterError('beta1', 'a number in [0, 1)', 1, 'Adam');
    if (this.beta2 === 1) throw new ParameterError('beta2', 'a number in [0, 1)', 1, 'Adam');
    this.eps = checkNumber('eps', options.eps ?? 1e-8, 0, 1, 'Adam');
    this.weightDecay = checkNumber('weightDecay', options.weightDecay ?? 0, 0, Number.MAX_VALUE, 'Adam');
    this.decoupled = options.decoupled ?? false;
  }

  protected get slotCount(): number {
    return 2;
  }

  protected async update(entries: readonly OptimizerEntry[]): Promise<void> {
    await this.backend.batch('adamStep', entries.map(({ p, grad, slots }) => {
      const options: AdamStepOptions = {
        lr: this.lr * (p.lrScale ?? 1), beta1: this.beta1, beta2: this.beta2, eps: this.eps,
        weightDecay: p.decay ? this.weightDecay : 0, decoupled: this.decoupled, step: this.stepsOf(p),
      };
      return [p.value, grad, slots[0], slots[1], options] as [Tensor, Tensor, Tensor, Tensor, AdamStepOptions];
    }));
  }
}
