export * from './errors.js';
export * from './data/index.js';
