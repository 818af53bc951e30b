/**
 * Starting tfjs in Node: the wasm engine (SIMD where the runtime has it, never threads: tfjs-wasm
 * threads do not work in Node) when its binary loads, the plain-JS cpu engine otherwise.
 *
 * tfjs keeps one global engine per process, so this module owns it: the first backend picks the
 * engine, later backends share it, and a backend asking for the other engine while one is alive is
 * refused (tfjs would otherwise migrate every tensor between engines behind our back).
 */
import fs from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {setWasmPaths} from '@tensorflow/tfjs-backend-wasm';
import {BackendError} from '../../errors.js';

export type EngineName = 'wasm' | 'cpu';

export interface EngineOptions {
  /** Engine to try first (default 'wasm'); 'cpu' skips wasm altogether. */
  prefer?: EngineName;
  /** Folder holding the tfjs-backend-wasm .wasm binaries (default: the installed package's dist/). */
  wasmDir?: string;
  /** Receives a one-line explanation when wasm cannot start and the cpu engine is used instead. */
  onWarning?: (msg: string) => void;
}

export interface Engine {
  name: EngineName;
  /** Whether the wasm engine runs its SIMD build (false for cpu). */
  simd: boolean;
  /** Gives the engine back; the last release lets a later backend pick the other engine. */
  release(): void;
}

const SIMD_BINARY = 'tfjs-backend-wasm-simd.wasm';
const PLAIN_BINARY = 'tfjs-backend-wasm.wasm';

/** The engine tfjs runs now and how many live backends use it. */
let active: {name: EngineName; simd: boolean; users: number} | null = null;
/** The one attempt to start wasm in this process (tfjs cannot retry after a failed start). */
let wasmStart: Promise<{ok: true; simd: boolean} | {ok: false; reason: string}> | null = null;

export async function acquireEngine(opts: EngineOptions = {}): Promise<Engine> {
  // Silence tfjs's own console output (the "install tfjs-node" banner, failed-init logs) and
  // skip its per-op debug checks: core never prints, and we report problems through onWarning.
  tf.env().set('PROD', true);
  const prefer = opts.prefer ?? 'wasm';
  if (active && active.users > 0) {
    if (prefer === active.name) return hold(active);
    const failed = prefer === 'wasm' && wasmStart ? await wasmStart : null;
    if (failed && !failed.ok) {
      // wasm already failed in this process: share the cpu engine, and tell this caller too.
      opts.onWarning?.(fallbackWarning(failed.reason));
      return hold(active);
    }
    throw new BackendError(
      `the tfjs ${active.name} engine is already in use in this process; ` +
        `dispose the other tfjs backend before asking for the ${prefer} engine`,
    );
  }
  let name: EngineName = 'cpu';
  let simd = false;
  if (prefer === 'wasm') {
    wasmStart ??= startWasm(opts.wasmDir ?? defaultWasmDir());
    const started = await wasmStart;
    if (started.ok) {
      name = 'wasm';
      simd = started.simd;
    } else {
      opts.onWarning?.(fallbackWarning(started.reason));
    }
  }
  if (name === 'cpu' && !(await tf.setBackend('cpu'))) {
    throw new BackendError('tfjs could not start its cpu engine; reinstall @tensorflow/tfjs-backend-cpu');
  }
  if (name === 'wasm' && tf.getBackend() !== 'wasm') await tf.setBackend('wasm');
  return hold({name, simd, users: 0});
}

function fallbackWarning(reason: string): string {
  return `tfjs wasm engine unavailable (${reason}); using the slower tfjs cpu engine`;
}

function hold(state: {name: EngineName; simd: boolean; users: number}): Engine {
  active = state;
  state.users++;
  let released = false;
  return {
    name: state.name,
    simd: state.simd,
    release() {
      if (released) return;
      released = true;
      state.users--;
    },
  };
}

function defaultWasmDir(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
}

async function startWasm(dir: string): Promise<{ok: true; simd: boolean} | {ok: false; reason: string}> {
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const binary = path.join(dir, simd ? SIMD_BINARY : PLAIN_BINARY);
  // Check first: a missing binary makes Emscripten print an abort message before tfjs gives up.
  if (!fs.existsSync(binary)) return {ok: false, reason: `${binary} not found`};
  // Emscripten installs process-wide uncaughtException/unhandledRejection handlers that rethrow;
  // a library must not change how the host process handles errors, so take them off again.
  const before = new Set<unknown>([
    ...process.listeners('uncaughtException'),
    ...process.listeners('unhandledRejection'),
  ]);
  try {
    setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
    if (!(await tf.setBackend('wasm'))) return {ok: false, reason: `loading ${binary} failed`};
    return {ok: true, simd};
  } catch (error) {
    return {ok: false, reason: error instanceof Error ? error.message : String(error)};
  } finally {
    for (const listener of process.listeners('uncaughtException')) {
      if (!before.has(listener)) process.removeListener('uncaughtException', listener);
    }
    for (const listener of process.listeners('unhandledRejection')) {
      if (!before.has(listener)) process.removeListener('unhandledRejection', listener);
    }
  }
}
