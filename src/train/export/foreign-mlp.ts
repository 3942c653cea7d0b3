/**
 * An MLP trained elsewhere, read from a safetensors state dict (PyTorch's
 * `safetensors.torch.save_file(model.state_dict(), ...)` of an nn.Sequential of Linear layers and
 * activations), optionally pruned to blocks by masks, into a model of this toolkit: dense Linear
 * layers, and BlockSparseLinear layers on the masks' layouts.
 *
 * The convention (docs/pytorch.md): tensors named `<prefix><k>.<field>`, one prefix for all (""
 * for nn.Sequential's "0.weight", "model." for "model.0.weight", "fc" for "fc1.weight"), k an
 * integer: the Linear layers in increasing k. Fields: `weight` [out, in] (PyTorch's orientation,
 * y = x W^T + b), or `weight_orig` (torch.nn.utils.prune's name for it); `bias` [out] (optional);
 * `weight_mask` [out, in] (optional; prune's name): 0/1, constant on every bs x bs block, bs the
 * arch's block size; a masked layer is block-sparse on the mask's blocks. Anything else in the
 * file is refused (FormatError naming the tensor), as are shapes other than the arch's, masks that
 * are not block-aligned or not 0/1, and values that are not finite.
 */
import { FormatError, ParameterError } from '../../errors.js';
import type { Backend } from '../../kernels/types.js';
import { layoutToJSON } from '../../patterns/json-format.js';
import { BlockLayout } from '../../patterns/layout.js';
import { modelFromRecord } from '../model.js';
import type { LayerRecord } from '../model-records.js';
import { decodeSafetensors, type SafetensorsFile, type SafetensorsTensor } from '../safetensors.js';
import { checkMlpArch, mlpWidths, type MlpArch } from './mlp-arch.js';
import type { ImportedModel } from './imported-model.js';

/** Options of `mlpFromStateDict`. */
export interface StateDictImportOptions {
  /** The file's name, recorded in the provenance of the model and of the masks' layouts. */
  source?: string;
}

const FIELDS = ['weight', 'weight_orig', 'weight_mask', 'bias'] as const;
type Field = (typeof FIELDS)[number];
const NAME = /^(.*?)(\d+)\.(weight|weight_orig|weight_mask|bias)$/;

/** One Linear layer of the state dict: its index k and its tensors' names by field. */
interface Module {
  k: number;
  names: Partial<Record<Field, string>>;
}

/** The Linear layers of the file in increasing k (FormatError naming a tensor outside the convention). */
function modulesOf(file: SafetensorsFile): { prefix: string; modules: Module[] } {
  let prefix: string | null = null;
  const byIndex = new Map<number, Module>();
  for (const name of file.tensors.keys()) {
    const match = NAME.exec(name);
    if (!match) throw new FormatError(`${name} is not <prefix><k>.weight, .weight_orig, .weight_mask or .bias of a Linear layer k (the state dict of an nn.Sequential of Linear layers and activations)`, name);
    const [, p, digits, field] = match;
    if (prefix === null) prefix = p;
    else if (p !== prefix) throw new FormatError(`${name} has the prefix "${p}" but the other tensors have "${prefix}" (one nn.Sequential per file)`, name);
    const k = Number(digits);
    const module = byIndex.get(k) ?? { k, names: {} };
    byIndex.set(k, module);
    const f = field as Field;
    if (module.names[f] !== undefined) throw new FormatError(`${name} and ${module.names[f]} are the same tensor of layer ${k}`, name);
    module.names[f] = name;
  }
  return { prefix: prefix ?? '', modules: [...byIndex.values()].sort((a, b) => a.k - b.k) };
}

/** A tensor of `dtypes` and `shape` whose values are finite (FormatError naming it otherwise). */
function checked(file: SafetensorsFile, name: string, shape: readonly number[], what: string, dtypes: readonly string[] = ['F32']): SafetensorsTensor {
  const t = file.tensors.get(name)!;
  if (!dtypes.includes(t.dtype)) throw new FormatError(`${name} is ${t.dtype} but must be ${dtypes.join(' or ')}`, name);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new FormatError(`${name} has shape [${t.shape.join(', ')}] but ${what} needs [${shape.join(', ')}]`, name);
  }
  for (let i = 0; i < t.data.length; i++) {
    if (t.data[i] - t.data[i] !== 0) throw new FormatError(`${name} holds ${t.data[i]} at element ${i}; values must be finite`, name);
  }
  return t;
}

/**
 * The layout of a weight_mask [out, in] in blocks of `bs`: block (c, k) of inputs [c bs, (c+1) bs)
 * and outputs [k bs, (k+1) bs) present when its values are 1. FormatError naming the mask when
 * the sizes are not multiples of bs, a value is not 0 or 1, or a block is not constant.
 */
function layoutOfMask(mask: SafetensorsTensor, name: string, bs: number, source: string | undefined): BlockLayout {
  const [out, inputs] = mask.shape;
  if (out % bs !== 0 || inputs % bs !== 0) {
    throw new FormatError(`${name} is [${out}, ${inputs}], but a mask is read in blocks of ${bs} (the arch's block size): both sizes must be multiples of it`, name);
  }
  const [inBlocks, outBlocks] = [inputs / bs, out / bs];
  const values = mask.data;
  const rowPtr = new Int32Array(inBlocks + 1);
  const cols: number[] = [];
  for (let c = 0; c < inBlocks; c++) {
    for (let k = 0; k < outBlocks; k++) {
      const first = values[k * bs * inputs + c * bs];
      for (let q = 0; q < bs; q++) {
        for (let p = 0; p < bs; p++) {
          const v = values[(k * bs + q) * inputs + c * bs + p];
          if (v !== 0 && v !== 1) throw new FormatError(`${name} holds ${v} at [${k * bs + q}, ${c * bs + p}]; a mask holds 0 and 1 only`, name);
          if (v !== first) {
            throw new FormatError(
              `${name} is not constant on the ${bs} x ${bs} block of outputs [${k * bs}, ${(k + 1) * bs}) and inputs [${c * bs}, ${(c + 1) * bs}): ` +
                `[${k * bs}, ${c * bs}] is ${first} but [${k * bs + q}, ${c * bs + p}] is ${v}`,
              name,
            );
          }
        }
      }
      if (first === 1) cols.push(k);
    }
    rowPtr[c + 1] = cols.length;
  }
  const provenance = { generator: 'state-dict-mask', params: { tensor: name, ...(source === undefined ? {} : { file: source }) } };
  return BlockLayout.fromCSR({ inBlocks, outBlocks, blockSize: bs as 8 | 16 | 32, rowPtr, colIdx: Int32Array.from(cols), provenance });
}

/** W [out, in] (PyTorch's) as [in, out] (ours). */
function transpose(w: ArrayLike<number>, out: number, inputs: number): Float32Array {
  const t = new Float32Array(out * inputs);
  for (let o = 0; o < out; o++) for (let i = 0; i < inputs; i++) t[i * out + o] = w[o * inputs + i];
  return t;
}

/** The present blocks of W [out, in] on `layout`, [nnz, bs, bs] (input within the block down, output across). */
function blocksOf(w: ArrayLike<number>, layout: BlockLayout, inputs: number): Float32Array {
  const bs = layout.blockSize;
  const blocks = new Float32Array(layout.nnz * bs * bs);
  for (let c = 0; c < layout.inBlocks; c++) {
    for (let b = layout.rowPtr[c]; b < layout.rowPtr[c + 1]; b++) {
      const k = layout.colIdx[b];
      for (let p = 0; p < bs; p++) for (let q = 0; q < bs; q++) blocks[(b * bs + p) * bs + q] = w[(k * bs + q) * inputs + c * bs + p];
    }
  }
  return blocks;
}

/**
 * The MLP `arch` with the weights of a PyTorch state dict (`file`: its bytes or the decoded file;
 * the convention is in the module's description): Linear j of the file (in increasing k) is layer
 * 2j of the model, dense unless it has a weight_mask, then block-sparse on the mask's blocks
 * (provenance {generator: 'state-dict-mask', params: {tensor, file}}); the arch's activation
 * follows every layer but the last. The model's memory is checked against the budget before its
 * weights are allocated (ResourceError). FormatError names the tensor that breaks the convention
 * or disagrees with the arch, or `arch` when the file holds another number of Linear layers;
 * ParameterError names the arch's field (checkMlpArch).
 */
export function mlpFromStateDict(backend: Backend, file: SafetensorsFile | Uint8Array, arch: MlpArch, options: StateDictImportOptions = {}): ImportedModel {
  const context = 'mlpFromStateDict';
  const checkedArch = checkMlpArch(arch, context);
  if (options.source !== undefined && typeof options.source !== 'string') throw new ParameterError('source', 'a string (the file name)', options.source, context);
  const dict = file instanceof Uint8Array ? decodeSafetensors(file) : file;
  const widths = mlpWidths(checkedArch);
  const { prefix, modules } = modulesOf(dict);
  if (modules.length !== widths.length - 1) {
    const names = modules.map((m) => `${prefix}${m.k}`).join(', ') || 'none';
    throw new FormatError(`the file holds ${modules.length} Linear layers (${names}) but the arch (widths ${widths.join(',')}) has ${widths.length - 1}`, 'arch');
  }
  // Check every tensor and read the masks' layouts before anything the size of the model is allocated.
  const planned = modules.map((m, j) => {
    const [inputs, out] = [widths[j], widths[j + 1]];
    const what = `Linear ${j} of the arch (${inputs} -> ${out}, PyTorch's [out, in])`;
    const { weight, weight_orig: orig, weight_mask: maskName, bias } = m.names;
    if (weight !== undefined && orig !== undefined) throw new FormatError(`${weight} and ${orig} are both given; a layer has one weight`, orig);
    const weightName = weight ?? orig;
    if (weightName === undefined) throw new FormatError(`the file has no ${prefix}${m.k}.weight (nor .weight_orig) but has ${Object.values(m.names).join(', ')}`, `${prefix}${m.k}.weight`);
    const w = checked(dict, weightName, [out, inputs], what);
    const b = bias === undefined ? null : checked(dict, bias, [out], what);
    const mask = maskName === undefined ? null : checked(dict, maskName, [out, inputs], what, ['F32', 'I32']);
    const layout = mask ? layoutOfMask(mask, maskName!, checkedArch.blockSize, options.source) : null;
    return { inputs, out, w, b, layout };
  });
  const records: LayerRecord[] = [];
  planned.forEach((p, j) => {
    const bias = p.b !== null;
    records.push(p.layout ? { kind: 'block-sparse-linear', layout: layoutToJSON(p.layout), bias, l0: null } : { kind: 'linear', inFeatures: p.inputs, outFeatures: p.out, bias });
    if (j + 1 < planned.length) records.push({ kind: 'activation', activation: checkedArch.activation, features: p.out });
  });
  // modelFromRecord checks the model's memory against the budget before it allocates a weight.
  const model = modelFromRecord(backend, records, { kind: 'sgd' });
  const parameters = new Map(model.parameters().map((p) => [p.name, p]));
  const set = (name: string, values: Float32Array) => {
    const p = parameters.get(name)!;
    const shape = p.value.shape;
    p.value.dispose();
    p.value = backend.tensor(values, shape);
  };
  planned.forEach((p, j) => {
    set(`${2 * j}.weight`, p.layout ? blocksOf(p.w.data, p.layout, p.inputs) : transpose(p.w.data, p.out, p.inputs));
    if (p.b) set(`${2 * j}.bias`, Float32Array.from(p.b.data));
  });
  const provenance = {
    generator: 'state-dict',
    arch: { ...checkedArch, hidden: [...checkedArch.hidden] },
    layers: modules.map((m) => `${prefix}${m.k}`),
    ...(options.source === undefined ? {} : { file: options.source }),
  };
  return { model, architecture: records, provenance, vocabulary: null, origin: 'state-dict' };
}
