/**
 * The backend registry: the only place that knows every implementation. Backends with heavy
 * dependencies are imported lazily so that `--backend reference` never loads them.
 */
import {UsageError} from '../errors.js';
import type {Backend, BackendName} from './backend.js';
import {ReferenceBackend} from './reference/reference-backend.js';

export type {Backend, BackendName} from './backend.js';

export interface BackendOptions {
  /** Worker threads for the cpu backend (default: all cores). */
  threads?: number;
  /** Non-fatal backend messages, e.g. the tfjs wasm -> cpu fallback. */
  onWarning?: (msg: string) => void;
  /** webgpu: 'auto' (default; also HIRE_WEBGPU_ADAPTER) picks a GPU when there is one, else llvmpipe. */
  webgpuAdapter?: 'auto' | 'gpu' | 'llvmpipe';
}

/** Backends that are implemented in this build, in order of preference. */
export const AVAILABLE_BACKENDS: readonly BackendName[] = ['cpu', 'tfjs', 'webgpu', 'reference'];

export async function createBackend(name: string, opts: BackendOptions = {}): Promise<Backend> {
  switch (name) {
    case 'reference':
      return new ReferenceBackend();
    case 'cpu': {
      const {createCpuBackend} = await import('./cpu/cpu-backend.js');
      return createCpuBackend({threads: opts.threads});
    }
    case 'tfjs': {
      const {createTfjsBackend} = await import('./tfjs/tfjs-backend.js');
      return createTfjsBackend({onWarning: opts.onWarning});
    }
    case 'webgpu': {
      const {createWebGpuBackend} = await import('./webgpu/webgpu-backend.js');
      return createWebGpuBackend({adapter: opts.webgpuAdapter});
    }
    default:
      throw new UsageError(`unknown backend "${name}"; available: ${AVAILABLE_BACKENDS.join(', ')}`);
  }
}
