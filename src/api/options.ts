/**
 * The options of the library API. Their defaults are DEFAULTS (./defaults.ts), which the CLI flags
 * read too, so that the same options give the same tokens from code and from `hire generate`.
 *
 * Load-time options (backend, threads, devices) decide where the weights live, so they are
 * given once to loadModel. Per-generation options (sampling, HiRE output layer, stopping) are
 * given to each generate() call.
 */
import type {BackendName} from '../core/backends/backend.js';
import {validatePenalties, type PenaltyOptions} from '../core/decode/penalties.js';
import {validateSamplingOptions, type SamplingOptions as CoreSampling} from '../core/decode/sampler.js';
import {validateStopStrings} from '../core/decode/stop.js';
import {UsageError} from '../core/errors.js';
import {GENERATE_DEFAULTS, type FfnMode, type MergeMode} from './defaults.js';

export interface LoadOptions {
  /**
   * When the model is a Hugging Face id (`org/name[@revision]`) that the Hugging Face cache does
   * not hold: download it into the cache (default false: a HubError says how to get it). A cached
   * model is loaded without any request either way.
   */
  download?: boolean;
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
   * cpu backend, ggml block weights (q8_0, q4_0): 'f32' multiplies the weights by the activations
   * as they are (exact to f32 rounding), 'int16' rounds the activations to 16 bits per block of 32
   * first and multiplies in integers (faster), 'int8' rounds them to 8 bits for q4_0 weights (as
   * llama.cpp does; faster again where relaxed SIMD is available, else int16 is used); see README
   * "Quantised weights". Every setting but 'f32' also rounds the input of a HiRE-FFN predictor's
   * int8 / int4 matrix to 8 bits per quantisation group (integer products; the softmax predictor
   * stays exact). Default DEFAULTS.blockActivations.
   */
  blockActivations?: 'f32' | 'int16' | 'int8';
  /**
   * tokenizer.json: 'optional' (default) loads it when present, 'required' fails at load when it
   * is missing, 'none' skips it (prompts must then be token ids; text is the ids joined by spaces).
   */
  tokenizer?: 'required' | 'optional' | 'none';
  /** Weight upload progress (and download progress, per file in bytes, with `download`). */
  onProgress?: (event: {stage: string; done: number; total: number; file?: string}) => void;
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
  /** Min-p: drop tokens less likely than minP times the most likely one; 0 = off. */
  minP?: number;
  /** Random seed: the same seed and options give the same tokens. */
  seed?: number;
  /**
   * Repetition penalty (transformers' CTRL rule): logits of tokens already in the sequence, prompt
   * included, are divided by it when positive and multiplied when negative; 1 = off.
   */
  repetitionPenalty?: number;
  /** Subtracted from the logit of every token already in the sequence; 0 = off. */
  presencePenalty?: number;
  /** Subtracted from a token's logit once per occurrence in the sequence; 0 = off. */
  frequencyPenalty?: number;
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
  /**
   * A system message: the prompt (text) becomes the conversation [system, user] rendered through
   * the model's chat template; with messages, it goes first. Needs a chat template.
   */
  system?: string;
  /** Render a text prompt as one user message through the chat template (implied by `system`). */
  chat?: boolean;
  /**
   * Stop strings: generation ends where its text first contains one; the text returned stops just
   * before it (stop reason 'stop'). The tokens that made it are in tokenIds.
   */
  stop?: string | string[];
  /**
   * Log-probabilities: each chunk (and result.logprobs) gets the token's log-probability and the
   * `logprobs` most likely alternatives (0: the token's own only). Off by default. Under HiRE they
   * are normalised over the k' candidates (see README, "Log-probabilities").
   */
  logprobs?: number;
  /**
   * Under HiRE: 'drop' (DEFAULTS.logprobsTail) normalises log-probabilities over the k' candidates; 'estimate'
   * adds the predictor's approximate logits of the other rows to the normalisation (an estimate of
   * the dense value; reads vocabSize values back per token).
   */
  logprobsTail?: 'drop' | 'estimate';
  /** Stop at an end-of-sequence token (default DEFAULTS.stopOnEos); false runs to maxTokens or a full context. */
  stopOnEos?: boolean;
  /** Stops the generation within one token: the iterator throws AbortError (code E_ABORTED). */
  signal?: AbortSignal;
  /** Why the output layer is what it is (e.g. "no k' reaches recall 0.999: dense"). */
  onWarning?: (message: string) => void;
}

/**
 * A generation's options with DEFAULTS filled in, and what the core takes: the sampling options,
 * the penalties, and the stop strings as a list.
 */
export type ResolvedGenerateOptions = typeof GENERATE_DEFAULTS &
  GenerateOptions & {sampling: CoreSampling; penalties: PenaltyOptions; stopStrings: string[]};

/**
 * Fills a generation's missing options from DEFAULTS and checks them (UsageError naming the
 * option), before anything is decoded: generate(), generateBatch(), a ChatSession's turns and
 * `hire generate` / `hire chat` (which call it before loading the model, so a bad option fails fast).
 */
export function resolveGenerateOptions(options: GenerateOptions = {}): ResolvedGenerateOptions {
  const o = {...GENERATE_DEFAULTS, ...withoutUndefined(options)};
  const sampling: CoreSampling = {temperature: o.temperature, topK: o.topK, topP: o.topP, minP: o.minP};
  validateSamplingOptions(sampling);
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) throw new UsageError(`maxTokens must be an integer >= 1, got ${o.maxTokens}`, {option: 'maxTokens'});
  const penalties = {repetitionPenalty: o.repetitionPenalty, presencePenalty: o.presencePenalty, frequencyPenalty: o.frequencyPenalty};
  validatePenalties(penalties);
  const stopStrings = validateStopStrings(o.stop);
  const logprobs = o.logprobs;
  if (logprobs !== undefined && !(Number.isInteger(logprobs) && logprobs >= 0 && logprobs <= 100)) {
    throw new UsageError(`logprobs must be an integer from 0 to 100 (alternatives per token), got ${logprobs}`, {option: 'logprobs'});
  }
  if (o.logprobsTail !== 'drop' && o.logprobsTail !== 'estimate') {
    throw new UsageError(`logprobsTail must be 'drop' or 'estimate', got ${String(o.logprobsTail)}`, {option: 'logprobsTail'});
  }
  if (o.system !== undefined && typeof o.system !== 'string') throw new UsageError('system must be a string', {option: 'system'});
  return {...o, sampling, penalties, stopStrings};
}

/** `o` without its undefined fields, so that they do not hide a default when spread over it. */
export function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
