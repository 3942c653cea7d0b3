/**
 * Restoring training checkpoints (read by `loadCheckpoint`, checkpoint.ts): a model rebuilt from
 * one, an optimiser with its state, hooks given their state, or all of it put into an existing
 * model and optimiser. Everything is checked against the model before any value is replaced.
 */
import { join } from 'node:path';
import { describeValue, FormatError, ParameterError } from '../errors.js';
import type { Backend, Tensor } from '../kernels/types.js';
import { layoutFromJSON, type LayoutJSON } from '../patterns/json-format.js';
import type { BlockLayout } from '../patterns/layout.js';
import { CHECKPOINT_MANIFEST } from './checkpoint-manifest.js';
import { blockSparseSites, optimizerRecord, sameShape, siteName } from './checkpoint-parts.js';
import { checkpointTensor, type Checkpoint } from './checkpoint.js';
import type { TrainingHook } from './hooks.js';
import type { Parameter } from './layers/layer.js';
import { LSTM } from './layers/lstm.js';
import type { Sequential } from './layers/sequential.js';
import { describeModel, modelFromRecord, type LayerRecord } from './model.js';
import { Adam, SGD, type Optimizer } from './optimizers.js';

/** The keys of a layer record that hold layouts (compared by their blocks, provenance aside). */
const LAYOUT_KEYS: readonly string[] = ['layout', 'inputLayout', 'recurrentLayout'];

/** Puts the stored parameter values and gate-noise states into `model` (whose parameters must have the stored names and shapes), and the carried states unless `states` is false. */
function loadParameters(checkpoint: Checkpoint, model: Sequential, states = true): void {
  const { manifest } = checkpoint;
  const params = model.parameters();
  if (params.length !== manifest.parameters.length) {
    throw new FormatError(`the checkpoint holds ${manifest.parameters.length} parameters but the model has ${params.length}`, 'parameters');
  }
  params.forEach((p, i) => {
    const entry = manifest.parameters[i];
    if (entry.name !== p.name || !sameShape(entry.shape, p.value.shape)) {
      throw new FormatError(`parameters[${i}] is ${entry.name} [${entry.shape.join(', ')}] in the checkpoint but ${p.name} [${p.value.shape.join(', ')}] in the model`, `parameters[${i}]`);
    }
  });
  const sites = blockSparseSites(model);
  const key = (site: { layer: number; part?: string }) => `${site.layer}.${site.part ?? ''}`;
  const byKey = new Map(sites.map((site) => [key(site), site]));
  for (const entry of manifest.noise) {
    const site = byKey.get(key(entry));
    if (!site || site.target.noiseState() === null) {
      throw new FormatError(`noise: ${siteName(entry)} has a gate-noise state in the checkpoint but is not an L0-gated block-sparse weight in the model`, 'noise');
    }
  }
  const noisy = new Set(manifest.noise.map(key));
  for (const site of sites) {
    if (site.target.noiseState() !== null && !noisy.has(key(site))) throw new FormatError(`noise: ${siteName(site)} is L0-gated but the checkpoint has no gate-noise state for it`, 'noise');
  }
  for (const { layer } of manifest.state) {
    const target = model.layers[layer];
    if (!(target instanceof LSTM) || target.hidden !== manifest.state.find((st) => st.layer === layer)!.h.shape[1]) {
      throw new FormatError(`state: layer ${layer} has a carried state in the checkpoint but is not an LSTM of its width in the model`, 'state');
    }
  }
  // Everything checked: now the values.
  params.forEach((p, i) => replaceValue(p, p.value.backend.tensor(checkpointTensor(checkpoint, manifest.parameters[i]), manifest.parameters[i].shape)));
  for (const entry of manifest.noise) byKey.get(key(entry))!.target.setNoiseState(entry.state);
  const backend = model.backend;
  model.resetState();
  if (!states) return;
  for (const { layer, h, c } of manifest.state) {
    (model.layers[layer] as LSTM).setState({ h: backend.tensor(checkpointTensor(checkpoint, h), h.shape), c: backend.tensor(checkpointTensor(checkpoint, c), c.shape) });
  }
}

function replaceValue(p: Parameter, value: Tensor): void {
  p.value.dispose();
  p.value = value;
  p.grad?.dispose();
  p.grad = null;
}

/** Puts the stored optimiser state (steps, lr, per-parameter tensors and steps) into `optimizer`; its kind and hyper-parameters must match. */
function loadOptimizerState(checkpoint: Checkpoint, optimizer: Optimizer): void {
  const record = checkpoint.manifest.optimizer;
  const { state: _state, steps, lr, ...hyper } = record;
  const current = optimizerRecord(optimizer) as Record<string, unknown>;
  for (const [key, value] of Object.entries(hyper)) {
    if (current[key] !== value) {
      throw new FormatError(`optimizer.${key} is ${JSON.stringify(value)} in the checkpoint but ${JSON.stringify(current[key])} in the optimiser given`, `optimizer.${key}`);
    }
  }
  optimizer.lr = lr;
  optimizer.steps = steps;
  const byName = new Map(optimizer.parameters.map((p) => [p.name, p]));
  for (const { parameter, steps: paramSteps, slots } of record.state) {
    const p = byName.get(parameter);
    if (!p) throw new FormatError(`optimizer.state names ${parameter}, which the optimiser does not update`, 'optimizer.state');
    for (const slot of slots) {
      if (!sameShape(slot.shape, p.value.shape)) throw new FormatError(`optimizer state ${slot.name} has shape [${slot.shape.join(', ')}] but ${parameter} has [${p.value.shape.join(', ')}]`, 'optimizer.state');
    }
    if (slots.length === 0 && paramSteps === 0) continue;
    const tensors = slots.map((slot) => p.value.backend.tensor(checkpointTensor(checkpoint, slot), slot.shape));
    try {
      optimizer.setState(p, tensors, paramSteps);
    } catch (error) {
      for (const t of tensors) t.dispose();
      throw new FormatError(`optimizer state of ${parameter}: ${(error as Error).message}`, 'optimizer.state');
    }
  }
}

/**
 * Gives each hook its stored state; the checkpoint and the hooks must name the same hooks, a hook
 * that restores state must have one stored, and a hook that keeps none must have null.
 * FormatError naming the manifest and the field inside the state (`hooks.gradual-pruning.initialNnz[0]`)
 * when a hook's `restore` refuses its state.
 */
export function restoreHooks(checkpoint: Checkpoint, hooks: readonly TrainingHook[]): void {
  const stored = checkpoint.manifest.hooks;
  const manifestPath = join(checkpoint.dir, CHECKPOINT_MANIFEST);
  const names = new Set(hooks.map((h) => h.name));
  for (const name of Object.keys(stored)) {
    if (!names.has(name)) throw new FormatError(`the checkpoint has state of hook "${name}" but no such hook was given (resuming without it would not continue the run)`, 'hooks');
  }
  for (const hook of hooks) {
    if (!Object.hasOwn(stored, hook.name)) throw new FormatError(`hook "${hook.name}" has no state in the checkpoint (it was not part of the saved run)`, 'hooks');
    const state = stored[hook.name];
    const where = `hooks.${hook.name}`;
    if (!hook.restore) {
      if (state !== null && !hook.state) throw new FormatError(`${manifestPath}: ${where} must be null: the hook keeps no state (got ${describeValue(state)})`, where);
      continue;
    }
    if (state === null) throw new FormatError(`${manifestPath}: ${where} is null, but the hook needs its saved state to continue the run`, where);
    try {
      hook.restore(state);
    } catch (error) {
      if (error instanceof FormatError) {
        const inner = error.field ?? '';
        const field = inner ? `${where}.${inner}` : where;
        const message = inner && error.message.startsWith(inner) ? `${field}${error.message.slice(inner.length)}` : `${where}: ${error.message}`;
        throw new FormatError(`${manifestPath}: ${message}`, field);
      }
      if (error instanceof ParameterError) throw new FormatError(`${manifestPath}: ${where}: ${error.message}`, where);
      throw error;
    }
  }
}

/** Options of `restoreModel`. */
export interface RestoreModelOptions {
  /**
   * For inference: the memory checked is the model's values alone (no gradients, no optimiser
   * state), and the LSTMs' carried states are not restored (the model starts new streams). Implied
   * by a checkpoint read with `parametersOnly`.
   */
  inference?: boolean;
}

/** A model rebuilt from a checkpoint on `backend`: its architecture (with the layouts as saved), parameter values and gate-noise states (and carried states, unless for inference). */
export function restoreModel(checkpoint: Checkpoint, backend: Backend, options: RestoreModelOptions = {}): Sequential {
  const inference = options.inference === true || checkpoint.parametersOnly === true;
  const { kind, momentum } = checkpoint.manifest.optimizer as { kind: 'sgd' | 'adam' | 'adamw'; momentum?: number };
  const model = modelFromRecord(backend, checkpoint.manifest.architecture, inference ? { kind: 'none' } : { kind, momentum });
  try {
    loadParameters(checkpoint, model, !inference);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

/** An optimiser of the saved kind and hyper-parameters over `model`'s parameters, with the saved state. */
export function restoreOptimizer(checkpoint: Checkpoint, model: Sequential): Optimizer {
  if (checkpoint.parametersOnly) throw new ParameterError('checkpoint', 'a checkpoint read whole (not with parametersOnly, which leaves out the optimiser state)', checkpoint.dir, 'restoreOptimizer');
  const r = checkpoint.manifest.optimizer;
  const optimizer =
    r.kind === 'sgd'
      ? new SGD(model.parameters(), { lr: r.lr, momentum: r.momentum, nesterov: r.nesterov, weightDecay: r.weightDecay })
      : new Adam(model.parameters(), { lr: r.lr, beta1: r.beta1, beta2: r.beta2, eps: r.eps, weightDecay: r.weightDecay, decoupled: r.kind === 'adamw' });
  loadOptimizerState(checkpoint, optimizer);
  return optimizer;
}

/**
 * Restores a checkpoint into an existing model, optimiser and hooks. The model must have the
 * saved architecture, including each block-sparse layer's layout (a run whose layouts changed is
 * resumed with `restoreModel`); FormatError names the first difference.
 */
export function applyCheckpoint(checkpoint: Checkpoint, target: { model: Sequential; optimizer: Optimizer; hooks?: readonly TrainingHook[] }): void {
  if (checkpoint.parametersOnly) throw new ParameterError('checkpoint', 'a checkpoint read whole (not with parametersOnly, which leaves out the optimiser state)', checkpoint.dir, 'applyCheckpoint');
  const saved = checkpoint.manifest.architecture;
  const current = describeModel(target.model);
  if (saved.length !== current.length) throw new FormatError(`the checkpoint's model has ${saved.length} layers but the model given has ${current.length}`, 'architecture');
  current.forEach((layer, i) => {
    const other = saved[i];
    if (layer.kind !== other.kind) throw new FormatError(`architecture[${i}] is ${other.kind} in the checkpoint but ${layer.kind} in the model`, `architecture[${i}]`);
    // Layouts compare by their blocks (provenance aside); everything else by value.
    const layouts = (r: LayerRecord): [string, LayoutJSON | null][] =>
      r.kind === 'block-sparse-linear' || r.kind === 'block-sparse-conv2d'
        ? [['layout', r.layout]]
        : r.kind === 'lstm' ? [['inputLayout', r.inputLayout], ['recurrentLayout', r.recurrentLayout]] : [];
    const mine = layouts(layer);
    layouts(other).forEach(([key, json], j) => {
      const theirs = json === null ? null : layoutFromJSON(json);
      const ours = mine[j][1] === null ? null : layoutFromJSON(mine[j][1]!);
      if (theirs === null && ours === null) return;
      if (theirs === null || ours === null || !theirs.equals(ours)) {
        const describe = (l: BlockLayout | null, blocks: string) => (l === null ? 'dense' : `${l.inBlocks} x ${l.outBlocks}${blocks}, nnz ${l.nnz}`);
        throw new FormatError(
          `architecture[${i}]: the checkpoint's ${key} (${describe(theirs, ' blocks')}) differs from the model's (${describe(ours, '')}); rebuild the model with restoreModel`,
          `architecture[${i}].${key}`,
        );
      }
    });
    const rest = (r: LayerRecord) => JSON.stringify(Object.fromEntries(Object.entries(r).filter(([key]) => !LAYOUT_KEYS.includes(key))));
    if (rest(layer) !== rest(other)) {
      if (layer.kind === 'block-sparse-linear') throw new FormatError(`architecture[${i}]: the bias, L0 gates or fixed layout differ between the checkpoint and the model`, `architecture[${i}]`);
      if (layer.kind === 'block-sparse-conv2d') throw new FormatError(`architecture[${i}]: the geometry, bias, L0 gates or fixed layout differ between the checkpoint and the model`, `architecture[${i}]`);
      throw new FormatError(`architecture[${i}] is ${rest(other)} in the checkpoint but ${rest(layer)} in the model`, `architecture[${i}]`);
    }
  });
  loadParameters(checkpoint, target.model);
  loadOptimizerState(checkpoint, target.optimizer);
  restoreHooks(checkpoint, target.hooks ?? []);
}
