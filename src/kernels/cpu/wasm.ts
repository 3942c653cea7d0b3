import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { BackendUnavailableError } from '../errors.js';

/*
 * The WebAssembly side of the CPU backend: feature checks, and the kernel module built from
 * assembly/kernels.ts by `npm run build` (two builds: plain SIMD, and relaxed SIMD whose
 * f32x4.relaxed_madd becomes a fused multiply-add where the CPU has one).
 */

/** Memory pages the kernel module declares as its maximum (4 GiB, all a 32-bit memory can address). */
export const MAX_PAGES = 65536;
/** Bytes in a WebAssembly page. */
export const PAGE_BYTES = 65536;

// (module (func (result v128) v128.const i32x4 0 0 0 0)): valid only where WebAssembly SIMD is.
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x0b,
]);

/** Throws BackendUnavailableError unless WebAssembly SIMD and shared memory (threads) work here. */
export function checkWasmSupport(): void {
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(SIMD_PROBE)) {
    throw new BackendUnavailableError('the cpu backend needs WebAssembly SIMD, which this JavaScript engine does not support');
  }
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch (error) {
    throw new BackendUnavailableError(`the cpu backend needs shared WebAssembly memory (threads): ${(error as Error).message}`);
  }
}

/** Where the built kernel module lies: next to this file in dist/, or in dist/ when running from src/ (tsx, vitest). */
export function kernelPath(relaxed: boolean): URL {
  const file = relaxed ? 'kernels-relaxed.wasm' : 'kernels.wasm';
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL(`../../../dist/kernels/cpu/${file}`, here) : new URL(`./${file}`, here);
}

function readKernel(relaxed: boolean): Uint8Array {
  const url = kernelPath(relaxed);
  try {
    return readFileSync(url);
  } catch (error) {
    throw new BackendUnavailableError(`the cpu backend's kernel module ${url.pathname} is missing (run npm run build): ${(error as Error).message}`);
  }
}

/**
 * The kernel module's bytes, with relaxed SIMD when `relaxed` is asked for and the engine accepts
 * it. Node 20's V8 has relaxed SIMD behind --experimental-wasm-relaxed-simd; when the module does
 * not validate, that flag is turned on (v8.setFlagsFromString, process-wide, affecting only which
 * WebAssembly modules validate) and the module checked again. Falls back to plain SIMD.
 */
export function kernelBytes(relaxed: boolean): { bytes: Uint8Array; relaxed: boolean } {
  if (relaxed) {
    const bytes = readKernel(true);
    if (WebAssembly.validate(bytes)) return { bytes, relaxed: true };
    try {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // no such flag on this engine: plain SIMD below
    }
    if (WebAssembly.validate(bytes)) return { bytes, relaxed: true };
  }
  return { bytes: readKernel(false), relaxed: false };
}
