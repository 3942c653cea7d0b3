/**
 * Models leaving and entering the toolkit as files (the `export` and `import` commands): a run's
 * model written as safetensors (blocks, layouts' CSR, architecture and provenance in the
 * metadata) or ONNX (standard operators, dense with zeros); a safetensors model file, or a
 * PyTorch MLP's state dict with its architecture, made into a run directory that predict, prune,
 * export and train --resume take.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { FileError, ParameterError } from '../errors.js';
import { getBackend, type BackendChoice } from '../kernels/get-backend.js';
import { readFileChecked } from '../read-file.js';
import { saveCheckpoint } from '../train/checkpoint.js';
import { modelFromSafetensors, modelToSafetensors } from '../train/export/model-safetensors.js';
import type { MlpArch } from '../train/export/mlp-arch.js';
import { modelToOnnx } from '../train/export/onnx.js';
import type { Sequential } from '../train/layers/sequential.js';
import { layerDensities, parameterCount, type LayerRecord } from '../train/model.js';
import { CHECKPOINT_DIR, openRunDirectory, SUMMARY_FILE } from '../train/run-directory.js';
import { loadModel } from './inference.js';
import { makeOptimizer, runRecordFor, writeRunLayouts } from './training.js';
import { savedRunConfig, withDefaults, type TrainRunConfig } from './training-settings.js';

/** The formats `exportRun` writes. */
export const EXPORT_FORMATS = ['safetensors', 'onnx'] as const;

/** A format `exportRun` writes. */
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Options of `exportRun`. */
export interface ExportRunOptions {
  format: ExportFormat;
  /** The file to write (default <run>/model.safetensors or <run>/model.onnx). */
  out?: string;
  /** Replace an existing file. */
  force?: boolean;
  backend?: BackendChoice;
  log?: (message: string) => void;
}

/**
 * Writes the model of the run in `dir` as a safetensors model file or an ONNX model (see the
 * module comment); the file is written whole or not at all, and an existing one is refused
 * (FileError) unless `force`. The provenance stored: the run, its step and its settings. Returns
 * the path written and its size.
 */
export async function exportRun(dir: string, options: ExportRunOptions): Promise<{ path: string; bytes: number }> {
  const format = options.format;
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new ParameterError('format', EXPORT_FORMATS.join(' or '), format, 'export');
  const path = options.out ?? join(dir, format === 'onnx' ? 'model.onnx' : 'model.safetensors');
  if (existsSync(path) && !options.force) throw new FileError(path, 'exists: give --force to replace it');
  const model = await loadModel(dir, { backend: options.backend ?? 'cpu', ...(options.log ? { log: options.log } : {}) });
  try {
    const provenance = { generator: 'blocksparse', run: dir, step: model.step, settings: model.run };
    const bytes =
      format === 'onnx'
        ? await modelToOnnx(model.model, { docString: JSON.stringify(provenance) })
        : await modelToSafetensors(model.model, { provenance, vocabulary: model.vocabulary });
    writeFileAtomic(path, bytes);
    return { path, bytes: bytes.length };
  } finally {
    await model.dispose();
  }
}

/** Options of `importModelFile`. */
export interface ImportModelOptions {
  /** The run directory to write (new or empty unless `force`). */
  out: string;
  /** The architecture of a state dict trained elsewhere (an MLP); not for a blocksparse model file. */
  arch?: MlpArch;
  force?: boolean;
  backend?: BackendChoice;
  log?: (message: string) => void;
}

/** The hidden widths of an MLP's records (its products' outputs but the last), or null when the records are not an MLP's. */
function mlpHidden(records: readonly LayerRecord[]): number[] | null {
  const products: number[] = [];
  for (const r of records) {
    if (r.kind === 'linear') products.push(r.outFeatures);
    else if (r.kind === 'block-sparse-linear') products.push(r.layout.outBlocks * r.layout.blockSize);
    else if (r.kind !== 'activation') return null;
  }
  return products.length >= 2 ? products.slice(0, -1) : null;
}

/** The settings an imported model's run holds: those its file carries (a run of this toolkit), else an MLP's defaults on Fashion-MNIST, else none. */
function importedSettings(provenance: Record<string, unknown>, records: readonly LayerRecord[], file: string): TrainRunConfig | null {
  if (provenance.settings !== undefined && provenance.settings !== null) {
    try {
      return savedRunConfig(provenance.settings, file);
    } catch {
      // A file's settings that this version does not read: fall back to what the architecture says.
    }
  }
  const hidden = mlpHidden(records);
  if (hidden === null) return null;
  return withDefaults({
    model: 'mlp', data: 'fashion-mnist', hidden, channels: null, depth: null, layout: null, blockSize: 32, batch: 128, lr: 1e-3, optimizer: 'adam', momentum: 0.9, weightDecay: 0,
    l0: null, l0LrScale: 1, sparseInput: false, prune: null, regrow: null, seed: 0, limit: null, seq: null, embedding: null, clip: 0,
  });
}

/**
 * Makes a run directory from a safetensors file: a blocksparse model file (its architecture,
 * layouts, vocabulary and provenance from its metadata) or, with `arch`, an MLP's state dict
 * trained elsewhere (dense weights, or weights with torch.nn.utils.prune's masks constant on
 * blocks: block-sparse layers). The run holds the model's checkpoint (a fresh optimiser state),
 * its layouts and summary.json; its settings are the file's run's, or for an MLP Fashion-MNIST's
 * defaults (so that predict and prune take it). FileError when the file does not exist or `out`
 * holds files and `force` is not given; the readers' FormatError for a malformed file.
 */
export async function importModelFile(file: string, options: ImportModelOptions): Promise<{ out: string; origin: string; parameters: number }> {
  if (!existsSync(file)) throw new FileError(file, 'does not exist: there is no model to import');
  const lock = openRunDirectory(options.out, options.force ? 'replace' : 'refuse');
  try {
    const bytes = new Uint8Array(readFileChecked(file));
    const backend = await getBackend(options.backend ?? 'cpu', options.log ? { log: options.log } : {});
    let model: Sequential | undefined;
    try {
      const imported = modelFromSafetensors(backend, bytes, { source: file, ...(options.arch ? { arch: options.arch } : {}) });
      model = imported.model;
      const settings = importedSettings(imported.provenance, imported.architecture, file);
      const optimizer = makeOptimizer(settings ?? withDefaults({ optimizer: 'adam', lr: 1e-3, weightDecay: 0 } as TrainRunConfig), model);
      try {
        const run = settings === null ? {} : runRecordFor(settings);
        await saveCheckpoint(join(options.out, CHECKPOINT_DIR), { model, optimizer, seed: settings?.seed ?? 0, position: { epoch: 0, batch: 0, step: 0 }, run, vocabulary: imported.vocabulary });
      } finally {
        optimizer.dispose();
      }
      const layouts = writeRunLayouts(options.out, model);
      const parameters = parameterCount(model);
      const summary = { imported: file, origin: imported.origin, provenance: imported.provenance, ...(settings ?? {}), parameterCount: parameters, layerDensities: layerDensities(model), layouts };
      writeFileAtomic(join(options.out, SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`);
      return { out: options.out, origin: imported.origin, parameters };
    } finally {
      model?.dispose();
      await backend.dispose();
    }
  } finally {
    lock.release();
  }
}
