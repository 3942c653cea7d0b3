import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The fast tier (`npm run test:fast`, docs/testing.md): the unit tests without the Python
 * cross-checks, the notebooks (nbconvert), WebGPU on lavapipe and training on Fashion-MNIST.
 * Whole files are left out here; Python inside otherwise fast files is skipped through
 * BLOCKSPARSE_TEST_TIER (test/helpers/tier.ts).
 */
export default mergeConfig(
  base,
  defineConfig({
    test: {
      // One process per worker for all its files (no fresh module graph per file): about half the
      // time on 2 cores. The full tier keeps a fresh module graph per file.
      isolate: false,
      // A missing data folder: a test that reads Fashion-MNIST fails here instead of slowing the tier.
      env: { BLOCKSPARSE_TEST_TIER: 'fast', BLOCKSPARSE_FASHION_MNIST: '/nonexistent/fast-tier-reads-no-data-set' },
      exclude: [
        '**/node_modules/**',
        'test/notebooks/**',
        'test/kernels/webgpu.test.ts',
        'test/kernels/webgpu-matmul.test.ts',
        'test/train/webgpu-training.test.ts',
        'test/train/webgpu-sequence-layers.test.ts',
        'test/kernels/webgpu-bench.test.ts',
        'test/bench/gpu-kit.test.ts',
        'test/kernels/webgpu-kernels.test.ts',
        'test/kernels/webgpu-conv.test.ts',
        'test/cli/train.test.ts',
        'test/cli/train-sparsity.test.ts',
        'test/cli/train-cnn.test.ts',
        'test/cli/predict-prune.test.ts',
        'test/cli/export-import.test.ts',
      ],
    },
  }),
);
