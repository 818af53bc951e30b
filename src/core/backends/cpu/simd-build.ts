/**
 * Which build of the WebAssembly kernels runs: plain SIMD, or the relaxed-SIMD build whose
 * prompt-block tile uses fused multiply-adds (scripts/build-wasm.mjs writes both). Relaxed SIMD is
 * behind a V8 flag in Node 20, so it is feature-detected (the module must validate) and falls back
 * to plain SIMD; the build in use is reported by the backend's describe().
 */
import v8 from 'node:v8';
import {BackendError} from '../../errors.js';
import {KERNELS_RELAXED_WASM_BASE64, KERNELS_WASM_BASE64} from './kernels-wasm.js';
import {wasm, type WasmModule} from './wasm-api.js';

export type SimdBuild = 'simd' | 'relaxed';
/**
 * The build asked for by default. Measured with scripts/relaxed-simd.mjs (both builds in one
 * process, interleaved, medians of 9 rounds) on a shared 2-core machine: the relaxed build's
 * prompt-block products ran 1.3x to 1.7x the plain build's, so relaxed SIMD is the default where
 * the runtime has it, plain SIMD elsewhere. (Earlier, on a quiet machine with one thread, the fused
 * tile measured no faster: re-measure before relying on the gain.)
 */
export const DEFAULT_SIMD: SimdBuild = 'relaxed';

const compiled = new Map<SimdBuild, WasmModule>();

/** The build asked for (option, else HIRE_CPU_SIMD, else DEFAULT_SIMD). */
export function requestedSimd(simd: SimdBuild | undefined): SimdBuild {
  const asked = simd ?? process.env.HIRE_CPU_SIMD ?? DEFAULT_SIMD;
  if (asked !== 'simd' && asked !== 'relaxed') throw new BackendError(`HIRE_CPU_SIMD must be simd or relaxed, got "${asked}"`);
  return asked;
}

/** Whether this runtime runs the relaxed-SIMD build (switching V8's flag on first, as start-up would). */
export function relaxedSimdAvailable(): boolean {
  if (compiled.has('relaxed')) return true;
  const bytes = Buffer.from(KERNELS_RELAXED_WASM_BASE64, 'base64');
  const validate = (globalThis as unknown as {WebAssembly: {validate(b: Uint8Array): boolean}}).WebAssembly.validate;
  if (!validate(bytes)) {
    try {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      return false;
    }
    if (!validate(bytes)) return false;
  }
  compiled.set('relaxed', new wasm.Module(bytes));
  return true;
}

/** The compiled kernels of a build: relaxed falls back to plain SIMD where the runtime lacks it. */
export function kernelsModule(asked: SimdBuild): {build: SimdBuild; module: WasmModule} {
  if (asked === 'relaxed' && relaxedSimdAvailable()) return {build: 'relaxed', module: compiled.get('relaxed')!};
  if (!compiled.has('simd')) compiled.set('simd', new wasm.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64')));
  return {build: 'simd', module: compiled.get('simd')!};
}
