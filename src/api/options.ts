/**
 * The options of the library API. Their defaults are DEFAULTS (./defaults.ts), which the CLI flags
 * read too, so that the same options give the same tokens from code and from `hire generate`.
 *
 * Load-time options (backend, threads, devices) decide where the weights live, so they are
 * given once to loadModel. Per-generation options (sampling, HiRE output layer, stopping) are
 * given to each generate() call.
 */
import type {BackendName} from '../core/backends/backend.js';
import {validateSamplingOptions, type SamplingOptions as CoreSampling} from '../core/decode/sampler.js';
import {UsageError} from '../core/errors.js';
import {GENERATE_DEFAULTS, type FfnMode, type MergeMode} from './defaults.js';

export interface LoadOptions {
  /** Compute backend: 'cpu' (WebAssembly SIMD + worker threads), 'tfjs', 'webgpu' or 'reference' (default DEFAULTS.backend). */
  backend?: BackendName | (string & {});
  /** Worker threads of the cpu backend (default: every core). */
  threads?: number;
  /**
   * Element type of the KV cache: 'f32' or 'f16' (half the bytes that decoding at long contexts
   * reads; cpu backend only). Default DEFAULTS.kvDtype.
   */
  kvDtype?: 'f32' | 'f16';
  /**
   * tokenizer.json: 'optional' (default) loads it when present, 'required' fails at load when it
   * is missing, 'none' skips it (prompts must then be token ids; text is the ids joined by spaces).
   */
  tokenizer?: 'required' | 'optional' | 'none';
  /** Weight upload progress. */
  onProgress?: (event: {stage: string; done: number; total: number}) => void;
  /** Non-fatal problems (e.g. the tfjs wasm -> cpu fallback). Default: ignored. */
  onWarning?: (message: string) => void;
  /**
   * HiRE-FFN (bundles calibrated with an FFN section): 'auto' decodes with the sparse FFN, 'off'
   * with the dense (exact top-k) FFN (default DEFAULTS.ffn).
   */
  ffn?: FfnMode;
  /** Mean FFN recall target that picks k'_g per layer (default DEFAULTS.ffnRecall). */
  ffnRecall?: number;
  /** Dynamic FFN groups per layer, instead of the table's k'_g. */
  ffnKPrime?: number;
  /**
   * Also compare the full sha256 of every bundle weight file with hire.json (reads every byte; the
   * size and a sampled fingerprint are always compared). Default false.
   */
  verifyWeights?: boolean;
  /**
   * Decode on this many devices (DaT-Top-k), each holding a shard of the weights: worker threads
   * with their own backend (cpu, tfjs, reference), or in-process GPUDevices with webgpu. Default:
   * one backend in this thread.
   */
  devices?: number;
  /** With devices: how the output layer's top-k is merged, 'exact' (one global top-k') or 'dat' (each device's local top list). Default DEFAULTS.merge. */
  merge?: MergeMode;
  /** With devices and merge 'dat': slack per device (default: the bundle's calibrated slack). */
  slack?: number;
  /** With devices and HiRE-FFN: dynamic groups each device reads beyond its share ceil(k'_g/N) (default DEFAULTS.ffnSlack). */
  ffnSlack?: number;
  /** With devices: the softmax predictor the devices load (default: the one calibration selected). */
  predictor?: string;
}

/** How the next token is chosen. Same meaning and defaults (DEFAULTS.sampling) as the CLI's sampling flags. */
export interface SamplingOptions {
  /** 0 is greedy. */
  temperature?: number;
  /** Sample from the k most likely tokens only; 0 = off. */
  topK?: number;
  /** Nucleus: smallest set with this much probability; 1 = off. */
  topP?: number;
  /** Random seed: the same seed and options give the same tokens. */
  seed?: number;
}

/**
 * The HiRE-Softmax output layer, used when the model is a bundle (ignored, apart from `certify`,
 * for plain checkpoints).
 */
export interface HireOptions {
  /** Decode densely even when the model is a bundle (default false). */
  dense?: boolean;
  /** Mean recall@k target that picks k' from the bundle's table (default DEFAULTS.recall). */
  recall?: number;
  /** Exactly this many candidates k' (overrides `recall`). */
  kPrime?: number;
  /** Certified top-k: widen k' until the top-k provably equals dense (needs greedy or topK). */
  certify?: boolean;
  /** Softmax predictor name (default: the one calibration selected). */
  predictor?: string;
  // HiRE-FFN and the device group's merge mode are load options (LoadOptions).
}

export interface GenerateOptions extends SamplingOptions, HireOptions {
  /** Most tokens to generate (default DEFAULTS.maxTokens). */
  maxTokens?: number;
  /** Stop at an end-of-sequence token (default DEFAULTS.stopOnEos); false runs to maxTokens or a full context. */
  stopOnEos?: boolean;
  /** Stops the generation within one token: the iterator throws AbortError (code E_ABORTED). */
  signal?: AbortSignal;
  /** Why the output layer is what it is (e.g. "no k' reaches recall 0.999: dense"). */
  onWarning?: (message: string) => void;
}

/** A generation's options with DEFAULTS filled in and the sampling options as the core takes them. */
export type ResolvedGenerateOptions = typeof GENERATE_DEFAULTS & GenerateOptions & {sampling: CoreSampling};

/**
 * Fills a generation's missing options from DEFAULTS and checks them (UsageError naming the
 * option), before anything is decoded: generate(), generateBatch() and `hire generate` (which
 * calls it before loading the model, so a bad option fails fast).
 */
export function resolveGenerateOptions(options: GenerateOptions = {}): ResolvedGenerateOptions {
  const o = {...GENERATE_DEFAULTS, ...withoutUndefined(options)};
  const sampling: CoreSampling = {temperature: o.temperature, topK: o.topK, topP: o.topP};
  validateSamplingOptions(sampling);
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) throw new UsageError(`maxTokens must be an integer >= 1, got ${o.maxTokens}`, {option: 'maxTokens'});
  return {...o, sampling};
}

/** `o` without its undefined fields, so that they do not hide a default when spread over it. */
export function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
