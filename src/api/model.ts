/**
 * A loaded model for library callers: a plain checkpoint or a HiRE bundle, on one backend or on a
 * group of devices (`devices`), behind the one Decoder interface. It owns the backend or the
 * devices (for `cpu`: worker threads and WebAssembly memory) and frees them on dispose().
 * Generations on one model run one step at a time (a lock), so several may be interleaved.
 */
import path from 'node:path';
import './dispose.js';
import {isBundle, type HireManifest} from '../core/hire/bundle/bundle.js';
import type {DecodeHead, Decoder, HeadChoice, HeadOptions} from '../core/decode/decoder.js';
import type {SamplingOptions as CoreSampling} from '../core/decode/sampler.js';
import {isModelDir, Session} from '../core/engine/session.js';
import {openDeviceGroup} from '../core/engine/device-group.js';
import type {HireTokenizer} from '../core/model/tokenizer.js';
import {checkMessages, type ChatMessage} from '../core/model/chat-template.js';
import {BundleError, DisposedError, TokenizerError, UsageError} from '../core/errors.js';
import type {ModelConfig} from '../core/model/config.js';
import {DEFAULTS} from './defaults.js';
import type {LoadOptions} from './options.js';
import {resolveModel} from './hub.js';

export class HireModel {
  /** The model directory: as given, or the snapshot folder in the Hugging Face cache for a Hub id. */
  readonly dir: string;
  /** The parsed config.json. */
  readonly config: ModelConfig;
  /** hire.json of a HiRE bundle (predictors, k' tables), or null for a plain checkpoint. */
  readonly bundle: HireManifest | null;
  readonly #decoder: Decoder;
  readonly #tok: HireTokenizer | null;
  readonly #eos: number[];
  #tail: Promise<unknown> = Promise.resolve();
  #busy = 0;
  #disposed = false;
  #released: Promise<void> | null = null;

  private constructor(dir: string, decoder: Decoder, tokenizer: HireTokenizer | null, bundle: HireManifest | null) {
    this.dir = dir;
    this.#decoder = decoder;
    this.#tok = tokenizer;
    this.config = decoder.config;
    this.bundle = bundle;
    this.#eos = [...new Set([...decoder.config.eosTokenIds, ...(tokenizer?.special.eosTokenIds ?? [])])];
    INTERNALS.set(this, {
      decoder: () => this.#open(),
      head: (sampling, opts) => this.#open().head(sampling, opts),
      step: (fn, signal) => this.#step(fn, signal),
    });
  }

  /** Same as loadModel(model, options). */
  static async load(model: string = DEFAULTS.demo.bundle, options: LoadOptions = {}): Promise<HireModel> {
    const dir = await resolveDir(model, options);
    const common = {
      backend: options.backend ?? DEFAULTS.backend,
      tokenizer: options.tokenizer ?? 'optional',
      onWarning: options.onWarning,
      ffn: options.ffn ?? DEFAULTS.ffn,
      ffnRecall: options.ffnRecall ?? DEFAULTS.ffnRecall,
      ffnKPrime: options.ffnKPrime,
      verifyWeights: options.verifyWeights,
    } as const;
    if (options.devices !== undefined) {
      if (options.threads !== undefined) throw new UsageError('threads applies to one cpu backend; each device of a group runs one thread', {option: 'threads'});
      if ((options.kvDtype ?? DEFAULTS.kvDtype) !== 'f32') throw new UsageError('kvDtype f16 applies to one cpu backend; the devices of a group keep f32 KV caches', {option: 'kvDtype'});
      const {decoder, tokenizer, bundle} = await openDeviceGroup(dir, {
        ...common,
        devices: options.devices,
        merge: options.merge ?? DEFAULTS.merge,
        slack: options.slack,
        ffnSlack: options.ffnSlack ?? DEFAULTS.ffnSlack,
        predictor: options.predictor,
      });
      return new HireModel(dir, decoder, tokenizer, bundle);
    }
    const session = await Session.open(dir, {
      ...common,
      threads: options.threads,
      kvDtype: options.kvDtype ?? DEFAULTS.kvDtype,
      blockActivations: options.blockActivations ?? DEFAULTS.blockActivations,
      onProgress: options.onProgress && ((stage, done, total) => options.onProgress!({stage, done, total})),
    });
    return new HireModel(dir, session, session.tokenizer, session.bundle);
  }

  /** The backend's name ('cpu', 'tfjs', 'webgpu', 'reference'); on a device group, each device's. */
  get backend(): string {
    return this.#decoder.backendName;
  }

  /** One line about the backend (or the devices), e.g. "cpu (wasm simd, 2 threads)". */
  get backendInfo(): string {
    return this.#decoder.describe();
  }

  /** The FFN in use, in words (null: the dense FFN on one backend). */
  get ffnInfo(): string | null {
    return this.#decoder.ffnInfo;
  }

  /** Whether the model has a tokenizer (text prompts need one). */
  get hasTokenizer(): boolean {
    return this.#tok !== null;
  }

  /** Token ids that end a generation (config, generation_config and tokenizer_config merged). */
  get eosTokenIds(): number[] {
    return [...this.#eos];
  }

  /** Weight bytes one dense decode step reads. */
  get denseBytesPerToken(): number {
    return this.#decoder.bytesPerToken(this.#decoder.head({temperature: 0, topK: 0, topP: 1}, {dense: true}).head);
  }

  /** True once dispose() was called; every further call throws DisposedError. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Text -> token ids (special tokens such as BOS added per the model's policy). */
  encode(text: string): number[] {
    return this.#tokenizer().encode(text);
  }

  /** Whether the model has a chat template (tokenizer_config.json's chat_template or chat_template.jinja). */
  get hasChatTemplate(): boolean {
    return this.#tok?.chatTemplate != null;
  }

  /**
   * A conversation -> token ids through the model's chat template, as transformers'
   * apply_chat_template (tokenize=True) gives them; with addGenerationPrompt (default true) they
   * end where the assistant's reply begins. No template: TokenizerError.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: {addGenerationPrompt?: boolean} = {}): number[] {
    return this.#tokenizer().applyChatTemplate(checkMessages(messages), options);
  }

  /** The vocabulary's string of a token id (e.g. "▁time", "<0x0A>"), or null (no tokenizer, or outside the vocabulary). */
  tokenString(id: number): string | null {
    this.#open();
    return this.#tok?.idToToken(id) ?? null;
  }

  /** Token ids -> text (special tokens left out). */
  decode(ids: readonly number[]): string {
    this.#open();
    return this.#tok ? this.#tok.decode([...ids]) : ids.map((id) => `${id} `).join('');
  }

  /**
   * Frees the backend (worker threads, memory); this model's generations then throw
   * DisposedError at their next step. A step already running finishes first; `[Symbol.asyncDispose]`
   * waits for that.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const release = () => void this.#decoder.dispose();
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

  #open(): Decoder {
    if (this.#disposed) throw new DisposedError(`model ${this.dir}`);
    return this.#decoder;
  }

  #tokenizer(): HireTokenizer {
    this.#open();
    const tokenizer = this.#tok;
    if (!tokenizer) {
      throw new TokenizerError(path.join(this.dir, 'tokenizer.json'), 'not loaded (missing, or loadModel was given tokenizer: "none"); pass the prompt as token ids');
    }
    return tokenizer;
  }

  /**
   * Runs fn when no other step of this model is running. While it runs, `signal` also stops the
   * backend's waits for slow work (a hung cpu worker then cannot hold the step past an abort).
   */
  #step<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const run = async () => {
      const decoder = this.#open();
      this.#busy++;
      decoder.abortWaits?.(signal);
      try {
        return await fn();
      } finally {
        decoder.abortWaits?.(undefined);
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
  decoder(): Decoder;
  head(sampling: CoreSampling, opts: HeadOptions): HeadChoice<DecodeHead>;
  step<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
}

const INTERNALS = new WeakMap<HireModel, ModelInternals>();

export function modelInternals(model: HireModel): ModelInternals {
  const internals = INTERNALS.get(model);
  if (!internals) throw new UsageError('model must be a model from loadModel() or loadBundle()', {option: 'model'});
  return internals;
}

/** The directory of a model reference (path, cache folder or Hub id), downloading only with `download`. */
async function resolveDir(model: string, options: LoadOptions): Promise<string> {
  const onProgress = options.onProgress;
  const resolved = await resolveModel(model, {
    download: options.download,
    onProgress: onProgress && ((e) => onProgress({stage: e.stage, done: e.done ?? 0, total: e.total ?? 0, ...(e.file === undefined ? {} : {file: e.file})})),
  });
  return resolved.dir;
}

/**
 * Loads a model onto a backend: a checkpoint directory (config.json, safetensors, tokenizer.json),
 * a HiRE bundle, a Hugging Face cache folder (models--org--name), or a Hub id `org/name[@revision]`
 * from the Hugging Face cache (with `download: true`, fetched when missing). Default: the bundled
 * demo bundle (models/shakespeare-topk.hire).
 */
export function loadModel(model: string = DEFAULTS.demo.bundle, options: LoadOptions = {}): Promise<HireModel> {
  return HireModel.load(model, options);
}

/**
 * Loads a HiRE bundle (made by calibrate()); like loadModel, but fails with BundleError when the
 * directory is a plain checkpoint, so decoding is never silently dense.
 */
export async function loadBundle(model: string = DEFAULTS.demo.bundle, options: LoadOptions = {}): Promise<HireModel> {
  const dir = await resolveDir(model, options);
  if (!isBundle(dir) && isModelDir(dir)) {
    throw new BundleError(path.join(dir, 'hire.json'), 'missing: this directory is a plain checkpoint, not a HiRE bundle; make one with calibrate() or `hire calibrate`');
  }
  return HireModel.load(dir, options);
}
