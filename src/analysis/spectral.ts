import { checkInteger, checkNumber } from '../check.js';
import { ParameterError } from '../errors.js';
import type { CSRGraph } from '../graph/csr.js';
import { type RandomOptions, resolveRng } from '../random.js';
import { checkAnalysisMemory } from './resources.js';
import { type AnalysisInput, analysisGraph, undirectedView } from './adapter.js';
import { connectedComponents } from './components.js';

/** Options of `spectralGap`. */
export interface SpectralGapOptions extends RandomOptions {
  /** Bound on the residual norm ||N y - theta y|| of both reported Ritz pairs, which bounds each eigenvalue's error; default 1e-10. */
  tolerance?: number;
  /** Most matrix-vector products before giving up (the result then has converged: false); default 10000. */
  maxIterations?: number;
  /** Lanczos vectors held before a thick restart; default min(32, max(20, 2^25 / order)), at most order - 1. */
  basisSize?: number;
}

/** Extreme eigenvalues of the normalised adjacency matrix and the gaps derived from them. */
export interface SpectralResult {
  /** Second largest eigenvalue of N = D^-1/2 A D^-1/2 (exactly 1 for a disconnected graph). */
  lambda2: number;
  /** Smallest eigenvalue of N (-1 exactly when some component is bipartite). */
  lambdaMin: number;
  /** Random-walk mixing gap 1 - max(|lambda2|, |lambdaMin|): the simple random walk approaches its stationary law like (1 - gap)^t. */
  gap: number;
  /** 1 - lambda2, the spectral gap (smallest non-zero eigenvalue of the normalised Laplacian, for a connected graph). */
  spectralGap: number;
  /** Matrix-vector products used. */
  iterations: number;
  /** Whether both reported eigenvalues met the tolerance (the Krylov space was exhausted counts as converged). */
  converged: boolean;
  /** Residual norm bounds (eigenvalue error bounds) of lambda2 and lambdaMin; 0 where exact. */
  residualLambda2: number;
  residualLambdaMin: number;
  /** The solver: thick-restart Lanczos with full reorthogonalisation, top eigenvector deflated. */
  method: string;
  /** Whether the (underlying undirected) graph is connected, and its number of components (isolated nodes included). */
  connected: boolean;
  components: number;
  /** Whether the input was directed (the spectrum is then that of its underlying undirected graph). */
  directed: boolean;
  /** Anything the numbers need to be read with (disconnected, directed input, isolated nodes); empty when nothing. */
  notes: string[];
}

const METHOD = 'thick-restart Lanczos, full reorthogonalisation, D^1/2 1 deflated';

/**
 * Second largest and smallest eigenvalues of the normalised adjacency matrix N = D^-1/2 A D^-1/2
 * of an undirected graph, and the gaps `gap` = 1 - max(|lambda2|, |lambdaMin|) (random-walk
 * mixing) and `spectralGap` = 1 - lambda2. N = I - L with L networkx's normalized_laplacian_matrix,
 * so an isolated node (where D^-1/2 is undefined) gets L's convention: a zero row in L, that is a
 * 1 on N's diagonal, and the graph is disconnected.
 *
 * Directed input: the underlying undirected graph (u ~ v when u -> v or v -> u), said in `notes`.
 * Disconnected graphs: eigenvalue 1 has one eigenvector per component, so lambda2 = 1 and both
 * gaps are 0 exactly; lambdaMin is still computed. A graph without edges has N = I (all 1).
 *
 * Method: Lanczos on N restricted to the complement of its known top eigenvector D^1/2 1, with
 * full reorthogonalisation (classical Gram-Schmidt, repeated when it cancels) and thick restarts
 * (Wu and Simon 2000) keeping Ritz vectors at both ends of the spectrum; memory is basisSize
 * vectors of length order, never an order x order matrix. The start vector is random: `seed`
 * (default 1) or `rng`. Raises ParameterError for a graph with fewer than 2 nodes or bad options.
 */
export function spectralGap(input: AnalysisInput, options: SpectralGapOptions = {}): SpectralResult {
  const context = 'spectralGap';
  const tolerance = checkNumber('tolerance', options.tolerance ?? 1e-10, 1e-15, 0.5, context);
  const maxIterations = checkInteger('maxIterations', options.maxIterations ?? 10_000, 1, Number.MAX_SAFE_INTEGER, context);
  const source = analysisGraph(input);
  const graph = undirectedView(source);
  const n = graph.order;
  if (n < 2) throw new ParameterError('graph', 'a graph with at least 2 nodes', `${n} nodes`, context);
  const defaultBasis = Math.min(32, Math.max(20, Math.floor(2 ** 25 / n)));
  const basisSize = checkInteger('basisSize', options.basisSize ?? defaultBasis, 3, Number.MAX_SAFE_INTEGER, context);
  const rng = resolveRng(options.seed === undefined && options.rng === undefined ? { seed: 1 } : options, context);

  const components = connectedComponents(graph).count;
  const notes: string[] = [];
  if (source.directed) notes.push('directed input: eigenvalues of the underlying undirected graph');
  if (components > 1) notes.push(`disconnected (${components} components): eigenvalue 1 is repeated, so lambda2 = 1 and both gaps are 0`);
  let isolated = 0;
  for (let u = 0; u < n; u++) if (graph.offsets[u + 1] === graph.offsets[u]) isolated++;
  if (isolated > 0) notes.push(`${isolated} isolated node(s): each a component with eigenvalue 1 (networkx's normalized Laplacian convention)`);
  const base = { method: METHOD, connected: components === 1, components, directed: source.directed, notes };

  if (graph.targets.length === 0) {
    return { ...base, lambda2: 1, lambdaMin: 1, gap: 0, spectralGap: 0, iterations: 0, converged: true, residualLambda2: 0, residualLambdaMin: 0 };
  }
  const solved = extremeEigenvalues(graph, { tolerance, maxIterations, basisSize: Math.min(basisSize, n - 1), rng, needTop: components === 1 });
  const lambda2 = components === 1 ? solved.top : 1;
  const residualLambda2 = components === 1 ? solved.topResidual : 0;
  const lambdaMin = solved.bottom;
  return {
    ...base,
    lambda2,
    lambdaMin,
    gap: 1 - Math.max(Math.abs(lambda2), Math.abs(lambdaMin)),
    spectralGap: 1 - lambda2,
    iterations: solved.iterations,
    converged: solved.converged,
    residualLambda2,
    residualLambdaMin: solved.bottomResidual,
  };
}

interface SolverOptions {
  tolerance: number;
  maxIterations: number;
  basisSize: number;
  rng: () => number;
  /** Whether the largest eigenvalue (of the deflated operator) must converge too. */
  needTop: boolean;
}

interface SolverResult {
  top: number;
  bottom: number;
  topResidual: number;
  bottomResidual: number;
  iterations: number;
  converged: boolean;
}

/**
 * Largest and smallest eigenvalues of N on the orthogonal complement of phi = D^1/2 1 / ||.||,
 * by thick-restart Lanczos. The projected matrix H = V^T N V is kept explicitly (tridiagonal, with
 * an arrow of couplings to the kept Ritz vectors after a restart) and diagonalised by Jacobi.
 */
function extremeEigenvalues(graph: CSRGraph, options: SolverOptions): SolverResult {
  const { order: n, offsets, targets } = graph;
  const { tolerance, maxIterations, rng, needTop } = options;
  const m = options.basisSize;
  // basisSize + 1 basis vectors and four more of n doubles, H and the Ritz work of m^2 doubles each.
  checkAnalysisMemory('spectral gap', graph, 8 * n * (m + 5) + 8 * 4 * m * m, Math.max(n, m * m));
  const dimension = n - 1; // of the complement of phi

  const invSqrt = new Float64Array(n);
  const phi = new Float64Array(n);
  let phiNorm = 0;
  for (let u = 0; u < n; u++) {
    const d = offsets[u + 1] - offsets[u];
    invSqrt[u] = d > 0 ? 1 / Math.sqrt(d) : 0;
    phi[u] = Math.sqrt(d);
    phiNorm += d;
  }
  phiNorm = Math.sqrt(phiNorm);
  for (let u = 0; u < n; u++) phi[u] /= phiNorm;

  const scaled = new Float64Array(n);
  const multiply = (x: Float64Array, y: Float64Array): void => {
    for (let u = 0; u < n; u++) scaled[u] = invSqrt[u] * x[u];
    for (let u = 0; u < n; u++) {
      const start = offsets[u];
      const end = offsets[u + 1];
      if (start === end) {
        y[u] = x[u]; // isolated node: N_uu = 1
        continue;
      }
      let s = 0;
      for (let i = start; i < end; i++) s += scaled[targets[i]];
      y[u] = invSqrt[u] * s;
    }
  };

  const basis: Float64Array[] = [];
  for (let i = 0; i <= m; i++) basis.push(new Float64Array(n));
  const H = new Float64Array(m * m);

  // Start: a random vector orthogonal to phi.
  const start = basis[0];
  for (let u = 0; u < n; u++) start[u] = rng() - 0.5;
  deflate(start, phi);
  normalise(start);

  let kept = 0; // Ritz vectors kept at the last restart (basis[0..kept)); basis[kept] continues
  let iterations = 0;
  const w = new Float64Array(n);
  let result: SolverResult = { top: NaN, bottom: NaN, topResidual: Infinity, bottomResidual: Infinity, iterations: 0, converged: false };

  for (;;) {
    let size = kept;
    let beta = 0;
    let exhausted = false;
    for (let j = kept; j < m; j++) {
      const v = basis[j];
      multiply(v, w);
      iterations++;
      const alpha = dot(v, w);
      axpy(-alpha, v, w);
      if (j === kept) for (let i = 0; i < kept; i++) axpy(-H[i * m + kept], basis[i], w);
      else axpy(-beta, basis[j - 1], w);
      // Full reorthogonalisation: classical Gram-Schmidt, repeated when it removed most of w
      // (Daniel, Gragg, Kaufman and Stewart's criterion), so that the basis stays orthonormal.
      let norm = Math.sqrt(dot(w, w));
      for (let pass = 0; pass < 3; pass++) {
        for (let i = 0; i <= j; i++) axpy(-dot(basis[i], w), basis[i], w);
        deflate(w, phi);
        const after = Math.sqrt(dot(w, w));
        const enough = after > Math.SQRT1_2 * norm;
        norm = after;
        if (enough) break;
      }
      H[j * m + j] = alpha;
      beta = norm;
      size = j + 1;
      // Breakdown: the Krylov space is invariant (or the whole complement of phi), so H's
      // eigenvalues are exact eigenvalues of N.
      if (beta <= 1e-12 || size >= dimension) {
        exhausted = true;
        beta = 0;
        break;
      }
      const next = basis[j + 1];
      for (let u = 0; u < n; u++) next[u] = w[u] / beta;
      if (j + 1 < m) H[j * m + j + 1] = H[(j + 1) * m + j] = beta;
      if (iterations >= maxIterations) break;
    }

    const { values, vectors } = symmetricEigen(H, m, size);
    let top = 0;
    let bottom = 0;
    for (let i = 1; i < size; i++) {
      if (values[i] > values[top]) top = i;
      if (values[i] < values[bottom]) bottom = i;
    }
    const topResidual = Math.abs(beta * vectors[(size - 1) * size + top]);
    const bottomResidual = Math.abs(beta * vectors[(size - 1) * size + bottom]);
    const converged = exhausted || (bottomResidual <= tolerance && (!needTop || topResidual <= tolerance));
    result = { top: values[top], bottom: values[bottom], topResidual, bottomResidual, iterations, converged };
    if (converged || iterations >= maxIterations) return result;

    // Thick restart: keep the Ritz vectors at both ends, then continue from the residual direction.
    const perEnd = Math.max(1, Math.floor(m / 5)); // more kept vectors converge no faster here but cost more per restart
    const order = Array.from(values.keys()).sort((a, b) => values[a] - values[b]);
    const keep = [...order.slice(0, perEnd), ...order.slice(size - perEnd)];
    kept = keep.length;
    const coefficients = new Float64Array(kept * size); // row c: the basis combination giving Ritz vector keep[c]
    for (let c = 0; c < kept; c++) for (let l = 0; l < size; l++) coefficients[c * size + l] = vectors[l * size + keep[c]];
    const row = new Float64Array(size);
    for (let u = 0; u < n; u++) {
      for (let l = 0; l < size; l++) row[l] = basis[l][u];
      for (let c = 0; c < kept; c++) {
        let s = 0;
        const offset = c * size;
        for (let l = 0; l < size; l++) s += row[l] * coefficients[offset + l];
        basis[c][u] = s;
      }
    }
    const residualVector = basis[size];
    basis[size] = basis[kept];
    basis[kept] = residualVector;
    H.fill(0);
    for (let c = 0; c < kept; c++) {
      H[c * m + c] = values[keep[c]];
      H[c * m + kept] = H[kept * m + c] = beta * vectors[(size - 1) * size + keep[c]];
    }
  }
}

/** x -= (phi . x) phi. */
function deflate(x: Float64Array, phi: Float64Array): void {
  axpy(-dot(phi, x), phi, x);
}

function normalise(x: Float64Array): void {
  const norm = Math.sqrt(dot(x, x));
  for (let i = 0; i < x.length; i++) x[i] /= norm;
}

function dot(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

/** y += a x. */
function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += a * x[i];
}

/**
 * Eigenvalues and eigenvectors of the leading size x size block of a symmetric matrix stored with
 * row stride `stride`, by cyclic Jacobi rotations. vectors[l * size + i] is component l of vector i.
 */
function symmetricEigen(matrix: Float64Array, stride: number, size: number): { values: Float64Array; vectors: Float64Array } {
  const a = new Float64Array(size * size);
  for (let r = 0; r < size; r++) for (let c = 0; c < size; c++) a[r * size + c] = matrix[r * stride + c];
  const v = new Float64Array(size * size);
  for (let i = 0; i < size; i++) v[i * size + i] = 1;
  let frobenius = 0;
  for (let i = 0; i < a.length; i++) frobenius += a[i] * a[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < size; p++) for (let q = p + 1; q < size; q++) off += a[p * size + q] ** 2;
    if (off <= 1e-32 * frobenius || off === 0) break;
    for (let p = 0; p < size; p++) {
      for (let q = p + 1; q < size; q++) {
        const apq = a[p * size + q];
        if (apq === 0) continue;
        const app = a[p * size + p];
        const aqq = a[q * size + q];
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < size; r++) {
          if (r === p || r === q) continue;
          const arp = a[r * size + p];
          const arq = a[r * size + q];
          a[r * size + p] = a[p * size + r] = c * arp - s * arq;
          a[r * size + q] = a[q * size + r] = s * arp + c * arq;
        }
        a[p * size + p] = app - t * apq;
        a[q * size + q] = aqq + t * apq;
        a[p * size + q] = a[q * size + p] = 0;
        for (let r = 0; r < size; r++) {
          const vrp = v[r * size + p];
          const vrq = v[r * size + q];
          v[r * size + p] = c * vrp - s * vrq;
          v[r * size + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const values = new Float64Array(size);
  for (let i = 0; i < size; i++) values[i] = a[i * size + i];
  return { values, vectors: v };
}
