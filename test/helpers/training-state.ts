import type { Backend } from '../../src/kernels/types.js';
import type { Sequential } from '../../src/train/layers/sequential.js';
import type { Optimizer } from '../../src/train/optimizers.js';

/** Every parameter's value and optimiser state tensor, as float32 bit patterns by name (`<name>#<slot>` for the state): runs compared bit for bit. */
export async function trainingStateBits(backend: Backend, model: Sequential, optimizer: Optimizer): Promise<Map<string, Uint32Array>> {
  const out = new Map<string, Uint32Array>();
  for (const p of model.parameters()) {
    out.set(p.name, new Uint32Array((await backend.read(p.value)).buffer));
    for (const [i, t] of optimizer.state(p).entries()) out.set(`${p.name}#${i}`, new Uint32Array((await backend.read(t)).buffer));
  }
  return out;
}
