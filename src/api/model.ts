/**
 * A loaded model for library callers: a plain checkpoint or a HiRE bundle on one backend. It owns
 * the backend (for `cpu`: its worker threads and WebAssembly memory) and frees it on dispose().
 * Generations on one model run one step at a time (a lock), so several may be interleaved.
 */
import path from 'node:path';
import './dispose.js';
import {isBundle, type HireManifest} from '../core/hire/bundle.js';
import type {HeadOptions} from '../core/hire/heads.js';
import type {OutputHead} from '../core/decode/output-head.js';
import type {SamplingOptions as CoreSampling} from '../core/decode/sampler.js';
import {isModelDir, Session} from '../core/decode/session.js';
import {BundleError, DisposedError, TokenizerError, UsageError} from '../core/errors.js';
import type {ModelConfig} from '../core/model/config.js';
import {DEMO_BUNDLE_DIR} from '../core/model/defaults.js';
import {GENERATE_DEFAULTS, type LoadOptions} from './options.js';

export class HireModel {
  /** The model directory as given. */
  readonly dir: string;
  /** The parsed config.json. */
  readonly config: ModelConfig;
  /** hire.json of a HiRE bundle (predictors, k' tables), or null for a plain checkpoint. */
  readonly bundle: HireManifest | null;
  readonly #session: Session;
  #tail: Promise<unknown> = Promise.resolve();
  #busy = 0;
  #disposed = false;
  #released: Promise<void> | null = null;

  private constructor(dir: string, session: Session) {
    this.dir = dir;
    this.#session = session;
    this.config = session.config;
    this.bundle = session.bundle;
    INTERNALS.set(this, {
      session: () => this.#open(),
      head: (sampling, opts) => this.#head(sampling, opts),
      step: (fn, signal) => this.#step(fn, signal),
    });
  }

  /** Same as loadModel(dir, options). */
  static async load(dir: string = DEMO_BUNDLE_DIR, options: LoadOptions = {}): Promise<HireModel> {
    const session = await Session.open(dir, {
      backend: options.backend ?? GENERATE_DEFAULTS.backend,
      threads: options.threads,
      tokenizer: options.tokenizer ?? 'optional',
      onProgress: options.onProgress && ((stage, done, total) => options.onProgress!({stage, done, total})),
      onWarning: options.onWarning,
      ffn: options.ffn,
      ffnRecall: options.ffnRecall,
      ffnKPrime: options.ffnKPrime,
      verifyWeights: options.verifyWeights,
    });
    try {
      return new HireModel(dir, session);
    } catch (error) {
      session.dispose();
      throw error;
    }
  }

  /** The backend's name ('cpu', 'tfjs', 'webgpu', 'reference'). */
  get backend(): string {
    return this.#session.backend.name;
  }

  /** One line about the backend, e.g. "cpu (wasm simd, 2 threads)". */
  get backendInfo(): string {
    return this.#session.backend.describe();
  }

  /** The HiRE-FFN in use, in words (null: dense FFN). */
  get ffnInfo(): string | null {
    return this.#session.sparseFfn?.describe ?? null;
  }

  /** Whether the model has a tokenizer (text prompts need one). */
  get hasTokenizer(): boolean {
    return this.#session.tokenizer !== null;
  }

  /** Token ids that end a generation (config, generation_config and tokenizer_config merged). */
  get eosTokenIds(): number[] {
    return this.#session.eosTokenIds;
  }

  /** Weight bytes one dense decode step reads. */
  get denseBytesPerToken(): number {
    return this.#session.denseBytesPerToken;
  }

  /** True once dispose() was called; every further call throws DisposedError. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Text -> token ids (special tokens such as BOS added per the model's policy). */
  encode(text: string): number[] {
    return this.#tokenizer().encode(text);
  }

  /** Token ids -> text (special tokens left out). */
  decode(ids: readonly number[]): string {
    const tokenizer = this.#open().tokenizer;
    return tokenizer ? tokenizer.decode([...ids]) : ids.map((id) => `${id} `).join('');
  }

  /**
   * Frees the backend (worker threads, memory); this model's generations then throw
   * DisposedError at their next step. A step already running finishes first; `[Symbol.asyncDispose]`
   * waits for that.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const release = () => this.#session.dispose();
    if (this.#busy === 0) {
      release();
      this.#released = Promise.resolve();
    } else {
      this.#released = this.#tail.then(release, release);
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
    await this.#released;
  }

  #open(): Session {
    if (this.#disposed) throw new DisposedError(`model ${this.dir}`);
    return this.#session;
  }

  #tokenizer() {
    const tokenizer = this.#open().tokenizer;
    if (!tokenizer) {
      throw new TokenizerError(path.join(this.dir, 'tokenizer.json'), 'not loaded (missing, or loadModel was given tokenizer: "none"); pass the prompt as token ids');
    }
    return tokenizer;
  }

  /** The output head for these options (the session keeps one head per distinct choice). */
  #head(sampling: CoreSampling, opts: HeadOptions): {head: OutputHead; note: string | null} {
    return this.#open().head(sampling, opts);
  }

  /**
   * Runs fn when no other step of this model is running. While it runs, `signal` also stops the
   * backend's waits for slow work (a hung cpu worker then cannot hold the step past an abort).
   */
  #step<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const run = async () => {
      const backend = this.#open().backend;
      this.#busy++;
      backend.abortWaits?.(signal);
      try {
        return await fn();
      } finally {
        backend.abortWaits?.(undefined);
        this.#busy--;
      }
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** What a generation needs from its model (not part of the public API). */
export interface ModelInternals {
  session(): Session;
  head(sampling: CoreSampling, opts: HeadOptions): {head: OutputHead; note: string | null};
  step<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
}

const INTERNALS = new WeakMap<HireModel, ModelInternals>();

export function modelInternals(model: HireModel): ModelInternals {
  const internals = INTERNALS.get(model);
  if (!internals) throw new UsageError('model must be a model from loadModel() or loadBundle()', {option: 'model'});
  return internals;
}

/**
 * Loads a checkpoint directory (config.json, safetensors, tokenizer.json) or a HiRE bundle onto a
 * backend. Default: the bundled demo bundle (models/shakespeare-topk.hire).
 */
export function loadModel(dir: string = DEMO_BUNDLE_DIR, options: LoadOptions = {}): Promise<HireModel> {
  return HireModel.load(dir, options);
}

/**
 * Loads a HiRE bundle (made by calibrate()); like loadModel, but fails with BundleError when the
 * directory is a plain checkpoint, so decoding is never silently dense.
 */
export async function loadBundle(dir: string = DEMO_BUNDLE_DIR, options: LoadOptions = {}): Promise<HireModel> {
  if (!isBundle(dir) && isModelDir(dir)) {
    throw new BundleError(path.join(dir, 'hire.json'), 'missing: this directory is a plain checkpoint, not a HiRE bundle; make one with calibrate() or `hire calibrate`');
  }
  return HireModel.load(dir, options);
}
