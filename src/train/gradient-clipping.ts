/**
 * Gradient clipping by global norm (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training
 * recurrent neural networks"; PyTorch's clip_grad_norm_): the gradients of all parameters scaled
 * together, so that the step keeps its direction and its length is bounded.
 */
import { checkNumber } from '../check.js';
import { ParameterError } from '../errors.js';
import type { Tensor } from '../kernels/types.js';
import { setGrad, type Parameter } from './layers/layer.js';

/** What `clipGradNorm` found and did. */
export interface GradNormClip {
  /** The global norm sqrt(sum over every gradient of its squared elements) before clipping. */
  norm: number;
  /** The factor the gradients were multiplied by: maxNorm / norm when norm > maxNorm, else 1. */
  scale: number;
  /** Whether the gradients were scaled. */
  clipped: boolean;
}

/**
 * Clips the gradients of `parameters` (those without one are skipped) to global norm `maxNorm`:
 * when norm = sqrt(sum_p |grad_p|^2) exceeds maxNorm, every gradient is multiplied by
 * maxNorm / norm (so the clipped norm is maxNorm, to float32 rounding); otherwise nothing
 * changes. The squared norms are sumSquares of every gradient in one Backend.batch call, added on
 * the backend, and read as one scalar; the scaling is one batch of `scale`, whose results replace
 * the gradients. A norm that is not finite is returned as it is and nothing is scaled (the loss
 * that produced it shows the divergence). ParameterError for maxNorm not in (0, 1e30] or a
 * parameter list mixing backends.
 */
export async function clipGradNorm(parameters: readonly Parameter[], maxNorm: number): Promise<GradNormClip> {
  const context = 'clipGradNorm';
  checkNumber('maxNorm', maxNorm, Number.MIN_VALUE, 1e30, context);
  const withGrad = parameters.filter((p): p is Parameter & { grad: Tensor } => p.grad !== null);
  if (withGrad.length === 0) return { norm: 0, scale: 1, clipped: false };
  const backend = withGrad[0].grad.backend;
  if (withGrad.some((p) => p.grad.backend !== backend)) throw new ParameterError('parameters', 'parameters on one backend', 'several backends', context);
  const squares = await backend.batch('sumSquares', withGrad.map((p) => [p.grad] as [Tensor]));
  const total = squares[0];
  let sum: number;
  try {
    for (let i = 1; i < squares.length; i++) await backend.axpy(1, squares[i], total);
    [sum] = await backend.read(total);
  } finally {
    for (const t of squares) t.dispose();
  }
  const norm = Math.sqrt(sum);
  if (!(norm > maxNorm) || !Number.isFinite(norm)) return { norm, scale: 1, clipped: false };
  const scale = maxNorm / norm;
  const scaled = await backend.batch('scale', withGrad.map((p) => [p.grad, scale] as [Tensor, number]));
  withGrad.forEach((p, i) => setGrad(p, scaled[i]));
  return { norm, scale, clipped: true };
}
