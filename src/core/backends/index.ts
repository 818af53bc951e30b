/**
 * The backend registry: the only place that knows every implementation. One entry per backend
 * says what it is and what it can do (callers ask instead of naming a backend); implementations
 * with heavy dependencies are imported lazily, so `--backend reference` never loads them. The tools
 * a backend brings beyond the Backend interface (the cpu backend's bandwidth probe, the tfjs
 * engine the demo model trains on) are reached through here too.
 */
import {BackendError, UsageError} from '../errors.js';
import type {Backend, BackendName} from './backend.js';
import {ReferenceBackend} from './reference/reference-backend.js';
import type {Engine, EngineOptions} from './tfjs/engine.js';

export type {Backend, BackendName} from './backend.js';
export type {Engine as TfjsEngine, EngineName as TfjsEngineName} from './tfjs/engine.js';

export interface BackendOptions {
  /** Worker threads for the cpu backend (default: all cores). */
  threads?: number;
  /** Non-fatal backend messages, e.g. the tfjs wasm -> cpu fallback. */
  onWarning?: (msg: string) => void;
  /** webgpu: 'auto' (default; also HIRE_WEBGPU_ADAPTER) picks a GPU when there is one, else llvmpipe. */
  webgpuAdapter?: 'auto' | 'gpu' | 'llvmpipe';
  /**
   * cpu: how dot products on ggml block weights (q8_0, q4_0) take the activations: 'f32'
   * (default, exact to f32 rounding), 'int16' (about twice the compute rate; rounds them) or
   * 'int8' (q4_0 weights: 8 bits, as llama.cpp; relaxed SIMD only, else int16).
   */
  blockActivations?: 'f32' | 'int16' | 'int8';
}

/** What a backend is and can do, for callers that must choose how to run it. */
export interface BackendInfo {
  name: BackendName;
  /** One line for help texts. */
  summary: string;
  /**
   * Must live in the main thread: a device group runs its devices in-process instead of in worker
   * threads (Dawn aborts the process when a worker thread holding it shuts down).
   */
  inProcessOnly: boolean;
  /**
   * npm packages it loads on demand, at the versions package.json's optionalDependencies pin: an
   * install with --omit=optional lacks them, and asking for the backend then says which to install.
   */
  packages: Readonly<Record<string, string>>;
  create(opts: BackendOptions): Promise<Backend>;
}

const TFJS_PACKAGES = {'@tensorflow/tfjs-core': '4.22.0', '@tensorflow/tfjs-backend-cpu': '4.22.0', '@tensorflow/tfjs-backend-wasm': '4.22.0'};

/** The registry, in order of preference. */
export const BACKENDS: readonly BackendInfo[] = [
  {
    name: 'cpu',
    summary: 'WebAssembly SIMD kernels on worker threads (default)',
    inProcessOnly: false,
    packages: {},
    create: async (o) => (await import('./cpu/cpu-backend.js')).createCpuBackend({threads: o.threads, blockActivations: o.blockActivations}),
  },
  {
    name: 'tfjs',
    summary: 'tfjs-core with its wasm backend (cpu fallback)',
    inProcessOnly: false,
    packages: TFJS_PACKAGES,
    create: async (o) => (await import('./tfjs/tfjs-backend.js')).createTfjsBackend({onWarning: o.onWarning}),
  },
  {
    name: 'webgpu',
    summary: 'WGSL kernels on Dawn (llvmpipe without a GPU)',
    inProcessOnly: true,
    packages: {webgpu: '0.6.2'},
    create: async (o) => (await import('./webgpu/webgpu-backend.js')).createWebGpuBackend({adapter: o.webgpuAdapter}),
  },
  {
    name: 'reference',
    summary: 'plain TypeScript, float64 accumulation (the oracle)',
    inProcessOnly: false,
    packages: {},
    create: async () => new ReferenceBackend(),
  },
];

/** Backends that are implemented in this build, in order of preference. */
export const AVAILABLE_BACKENDS: readonly BackendName[] = BACKENDS.map((b) => b.name);

/** The registry entry of a backend; UsageError naming the known ones otherwise. */
export function backendInfo(name: string): BackendInfo {
  const info = BACKENDS.find((b) => b.name === name);
  if (!info) throw new UsageError(`unknown backend "${name}"; available: ${AVAILABLE_BACKENDS.join(', ')}`, {option: 'backend'});
  return info;
}

export async function createBackend(name: string, opts: BackendOptions = {}): Promise<Backend> {
  const info = backendInfo(name);
  try {
    return await info.create(opts);
  } catch (error) {
    throw missingPackageError(`the ${name} backend`, info.packages, error) ?? error;
  }
}

/**
 * The npm package an import failed to find, when it is one of `packages`: Node's
 * ERR_MODULE_NOT_FOUND ("Cannot find package 'x' imported from ...") here or in a cause.
 */
export function missingPackage(error: unknown, packages: Readonly<Record<string, string>>): string | null {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const m = /Cannot find (?:package|module) '([^']+)'/.exec(e.message);
    const name = m && Object.keys(packages).find((p) => m[1] === p || m[1]!.startsWith(`${p}/`));
    if (name) return name;
  }
  return null;
}

/** One line naming the missing optional package(s) and the command that installs them, or null. */
function missingPackageError(what: string, packages: Readonly<Record<string, string>>, error: unknown): BackendError | null {
  const missing = missingPackage(error, packages);
  if (missing === null) return null;
  const install = Object.entries(packages).map(([p, v]) => `${p}@${v}`).join(' ');
  return new BackendError(
    `${what} needs the npm package ${missing}, which is not installed (it is optional, and an install with --omit=optional leaves it out); install it with: npm install ${install}`,
    {cause: error},
  );
}

/** A streaming-read probe kept open (its own kernels and 512 MiB buffer) to be measured again. */
export interface OpenBandwidthProbe {
  /** Best of `repeats` streaming reads of the buffer on every thread, bytes per second. */
  measure(repeats: number): number;
  dispose(): void;
}

/**
 * Opens the machine's streaming-read bandwidth probe on `threads` threads: a WebAssembly SIMD read
 * on every thread over a 512 MiB buffer (the cpu backend's kernels, their own memory and workers),
 * kept until dispose() so it can be read again during a run.
 */
export async function openBandwidthProbe(threads: number): Promise<OpenBandwidthProbe> {
  const [{CpuKernels}, {BandwidthProbe}] = await Promise.all([import('./cpu/kernels.js'), import('./cpu/bandwidth.js')]);
  const kernels = await CpuKernels.create({threads});
  try {
    const probe = new BandwidthProbe(kernels);
    return {measure: (repeats) => probe.measure(repeats), dispose: () => kernels.dispose()};
  } catch (error) {
    kernels.dispose();
    throw error;
  }
}

/**
 * The machine's multiply-add rate in flop/s: the cpu kernels' matrix-matrix tile over data in L1
 * on every thread (what prompt processing could reach if nothing else cost anything).
 */
export async function measureComputeRate(threads: number): Promise<number> {
  const [{CpuKernels}, {measureCompute}] = await Promise.all([import('./cpu/kernels.js'), import('./cpu/prompt-kernels.js')]);
  const kernels = await CpuKernels.create({threads});
  try {
    return measureCompute(kernels).flopsPerSecond;
  } finally {
    kernels.dispose();
  }
}

/** The tfjs engine (wasm, else cpu) that training runs on. */
export async function acquireTfjsEngine(opts: EngineOptions = {}): Promise<Engine> {
  try {
    return await (await import('./tfjs/engine.js')).acquireEngine(opts);
  } catch (error) {
    throw missingPackageError('the tfjs engine', TFJS_PACKAGES, error) ?? error;
  }
}
