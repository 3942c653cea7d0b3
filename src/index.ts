export * from './errors.js';
export { type Rng, type Seed, type RandomOptions, resolveRng } from './random.js';
export { writeFileAtomic, writeFileAtomicAsync } from './atomic-write.js';
export * from './graph/index.js';
export * from './patterns/index.js';
export * from './analysis/index.js';
export * from './kernels/index.js';
export * from './train/index.js';
