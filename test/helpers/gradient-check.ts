import { expect } from 'vitest';
import type { Backend, Tensor } from '../../src/kernels/types.js';
import type { Rng } from '../../src/random.js';
import type { ForwardMode, Layer, Parameter } from '../../src/train/layers/layer.js';

/** Options of `gradientCheck`. */
export interface GradientCheckOptions {
  /** Rows of the input (for a recurrent layer: steps x N). */
  rows: number;
  /** The input's shape when it is not [rows, inFeatures] (an NHWC image [N, H, W, C]: give rows = N). */
  inputShape?: readonly number[];
  /** The forward mode (default a training pass of one step). */
  mode?: ForwardMode;
  /** Runs before every forward (e.g. to restore a gate-noise state or reset a carried state). */
  before?: () => void;
  /** Scale of the random input (default 1). */
  inputScale?: number;
  /** Coordinates checked per parameter (default 6) and of the input (default 4). */
  coords?: number;
  inputCoords?: number;
}

/**
 * Checks a layer's backward against central differences of L = sum(Y * R) for a fixed random R
 * (so dL/dY = R), accumulated in float64 on the host from float32 outputs: every parameter's
 * gradient at a few random coordinates, and the input's. With h = 1e-2 on float32 the differences
 * are good to about 1e-4 here, so the bound is 1e-3 absolute plus 1e-2 relative (a wrong factor or
 * a missing term is far outside it).
 */
export async function gradientCheck(backend: Backend, layer: Layer, rng: Rng, options: GradientCheckOptions): Promise<void> {
  const random = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
  const mode = options.mode ?? { training: true };
  const shape = options.inputShape ?? [options.rows, layer.inFeatures];
  const xValues = random(shape.reduce((a, b) => a * b, 1), options.inputScale ?? 1);
  const x = backend.tensor(xValues, shape);
  // R of the output's size: [rows, outFeatures], or (with inputShape) whatever the layer gives.
  let r = options.inputShape ? new Float32Array(0) : random(options.rows * layer.outFeatures);
  const lossOf = async (input: Tensor): Promise<number> => {
    options.before?.();
    const y = await layer.forward(input, mode);
    const values = await backend.read(y);
    y.dispose();
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[i] * r[i];
    return sum;
  };
  options.before?.();
  const y = await layer.forward(x, mode);
  if (options.inputShape) r = random(y.size);
  const dy = backend.tensor(r, y.shape);
  y.dispose();
  const dx = await backend.read((await layer.backward(dy))!);
  const h = 1e-2;
  const check = (analytic: number, numeric: number, what: string) =>
    expect(Math.abs(analytic - numeric), `${what}: analytic ${analytic}, numeric ${numeric}`).toBeLessThanOrEqual(1e-3 + 1e-2 * Math.abs(numeric));
  const perturbed = async (p: Parameter, values: Float32Array, i: number, delta: number) => {
    const copy = values.slice();
    copy[i] += delta;
    const old = p.value;
    p.value = backend.tensor(copy, old.shape);
    const loss = await lossOf(x);
    p.value.dispose();
    p.value = old;
    return loss;
  };
  for (const p of layer.parameters()) {
    const values = await backend.read(p.value);
    const grad = await backend.read(p.grad!);
    for (let t = 0; t < (options.coords ?? 6); t++) {
      const i = Math.floor(rng() * values.length);
      const numeric = ((await perturbed(p, values, i, h)) - (await perturbed(p, values, i, -h))) / (2 * h);
      check(grad[i], numeric, `${layer.kind} ${p.name}[${i}]`);
    }
  }
  for (let t = 0; t < (options.inputCoords ?? 4); t++) {
    const i = Math.floor(rng() * xValues.length);
    const at = async (delta: number) => {
      const copy = xValues.slice();
      copy[i] += delta;
      const xt = backend.tensor(copy, x.shape);
      const loss = await lossOf(xt);
      xt.dispose();
      return loss;
    };
    check(dx[i], ((await at(h)) - (await at(-h))) / (2 * h), `${layer.kind} dx[${i}]`);
  }
  x.dispose();
  dy.dispose();
}
