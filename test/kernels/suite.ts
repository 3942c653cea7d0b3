import { afterAll, beforeAll, it } from 'vitest';
import type { Backend } from '../../src/kernels/types.js';

/**
 * Inside a describe: makes the backend before the tests and disposes it after, and returns an
 * `it` whose body gets the backend; the tests skip when it is not available here, and the suite
 * fails when `required` (REQUIRE_WEBGPU=1 in CI).
 */
export function backendTests(name: string, make: () => Promise<Backend | null>, required: boolean): (title: string, body: (b: Backend) => Promise<void>) => void {
  let backend: Backend | null = null;
  beforeAll(async () => {
    backend = await make();
    if (!backend && required) throw new Error(`the ${name} backend is not available here, and it is required`);
  });
  afterAll(async () => {
    await backend?.dispose();
  });
  return (title, body) =>
    it(title, async (context) => {
      if (!backend) {
        context.skip(`the ${name} backend is not available here`);
        return;
      }
      await body(backend);
    });
}
