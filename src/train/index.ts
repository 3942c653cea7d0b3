export * from './errors.js';
export * from './data/index.js';
export * from './sparsity/schedules.js';
export * from './sparsity/erk.js';
