export * from './errors.js';
export { type Rng, type Seed, type RandomOptions, resolveRng } from './random.js';
export { writeFileAtomic, writeFileAtomicAsync } from './atomic-write.js';
export {
  checkMemory, defaultMemoryBudget, formatBytes, memoryBudget, parseByteSize, setMemoryBudget, withMemoryBudget,
  MAX_BUFFER_BYTES, MAX_STRING_LENGTH, MAX_TYPED_ARRAY_LENGTH, type MemoryCheckOptions,
} from './budget.js';
export { gunzipChecked, readFileChecked, readTextChecked, type ReadFileOptions } from './read-file.js';
export { lockDirectory, LOCK_FILE, type DirectoryLock } from './lock.js';
export { oneLine, printable } from './printable.js';
export * from './graph/index.js';
export * from './patterns/index.js';
export * from './analysis/index.js';
export * from './render/index.js';
export * from './kernels/index.js';
export * from './train/index.js';
export * from './runs/index.js';
