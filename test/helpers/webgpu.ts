/**
 * The webgpu backend in tests. It must start wherever the tests run (.ci/run installs Mesa so that
 * Dawn finds llvmpipe): a machine where it cannot start FAILS these tests. Set HIRE_SKIP_WEBGPU=1
 * to skip them instead, with a printed reason (e.g. on a developer machine without Mesa).
 */
import {createWebGpuBackend, type WebGpuBackend, type WebGpuBackendOptions} from '../../src/core/backends/webgpu/webgpu-backend.js';

export const SKIP_WEBGPU = process.env['HIRE_SKIP_WEBGPU'] === '1';

if (SKIP_WEBGPU) console.warn('[skip] HIRE_SKIP_WEBGPU=1: the webgpu backend tests are skipped');

const live: WebGpuBackend[] = [];

/** A webgpu backend that `disposeWebGpu()` frees; throws (failing the test) when no adapter exists. */
export async function openWebGpu(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const b = await createWebGpuBackend(opts);
  live.push(b);
  return b;
}

export function disposeWebGpu(): void {
  for (const b of live.splice(0)) b.dispose();
}
