import type { BlockSparseLayer } from './block-sparse-layer.js';
import type { Layer } from './layer.js';

/**
 * A layer that carries state from one forward call to the next (an LSTM's last h and c), and may
 * hold block-sparse weight layers inside it (which pruning, regrowth and L0 hooks act on).
 */
export interface RecurrentLayer extends Layer {
  /** Forgets the carried state. */
  resetState(): void;
  /** The block-sparse weight layers inside it. */
  blockSparseLayers(): BlockSparseLayer[];
}
