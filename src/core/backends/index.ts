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
}

/** Backends that are implemented in this build, in order of preference. */
export const AVAILABLE_BACKENDS: readonly BackendName[] = ['reference'];

export async function createBackend(name: string, _opts: BackendOptions = {}): Promise<Backend> {
  switch (name) {
    case 'reference':
      return new ReferenceBackend();
    default:
      throw new UsageError(`unknown backend "${name}"; available: ${AVAILABLE_BACKENDS.join(', ')}`);
  }
}
