/**
 * Whether this run is the fast tier: `npm run test:fast` (vitest.fast.config.ts) sets
 * BLOCKSPARSE_TEST_TIER=fast. The fast tier leaves out the Python cross-checks (see python.ts) and
 * the parts of a file that need Python outside a test or the Fashion-MNIST data set
 * (`describe.skipIf(FAST_TIER)`); whole files that are slow are left out by the config. `npm test`
 * runs everything, and there a cross-check whose peer is missing or disagrees fails.
 */
export const FAST_TIER = process.env.BLOCKSPARSE_TEST_TIER === 'fast';
