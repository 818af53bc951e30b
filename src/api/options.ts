/**
 * The options of the library API, with the defaults the CLI flags use, so that the same options
 * give the same tokens from code and from `hire generate`.
 *
 * Load-time options (backend, threads, devices) decide where the weights live, so they are
 * given once to loadModel. Per-generation options (sampling, HiRE output layer, stopping) are
 * given to each generate() call.
 */
import type {BackendName} from '../core/backends/backend.js';

export interface LoadOptions {
  /** Compute backend: 'cpu' (default, WebAssembly SIMD + worker threads), 'tfjs', 'webgpu' or 'reference'. */
  backend?: BackendName | (string & {});
  /** Worker threads of the cpu backend (default: every core). */
  threads?: number;
  /**
   * Element type of the KV cache: 'f32' (default) or 'f16' (half the bytes that decoding at long
   * contexts reads; cpu backend only).
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
   * HiRE-FFN (bundles calibrated with an FFN section): 'auto' (default) decodes with the sparse
   * FFN, 'off' with the dense (exact top-k) FFN.
   */
  ffn?: 'auto' | 'off';
  /** Mean FFN recall target that picks k'_g per layer (default 0.99). */
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
  /** With devices: how the output layer's top-k is merged, 'exact' (one global top-k') or 'dat' (each device's local top list). Default 'exact'. */
  merge?: 'exact' | 'dat';
  /** With devices and merge 'dat': slack per device (default: the bundle's calibrated slack). */
  slack?: number;
  /** With devices and HiRE-FFN: dynamic groups each device reads beyond its share ceil(k'_g/N) (default 1). */
  ffnSlack?: number;
  /** With devices: the softmax predictor the devices load (default: the one calibration selected). */
  predictor?: string;
}

/** How the next token is chosen. Same meaning and defaults as the CLI's sampling flags. */
export interface SamplingOptions {
  /** 0 is greedy (default 0.8). */
  temperature?: number;
  /** Sample from the k most likely tokens only; 0 = off (default 40). */
  topK?: number;
  /** Nucleus: smallest set with this much probability; 1 = off (default 0.95). */
  topP?: number;
  /** Random seed (default 42): the same seed and options give the same tokens. */
  seed?: number;
}

/**
 * The HiRE-Softmax output layer, used when the model is a bundle (ignored, apart from `certify`,
 * for plain checkpoints).
 */
export interface HireOptions {
  /** Decode densely even when the model is a bundle (default false). */
  dense?: boolean;
  /** Mean recall@k target that picks k' from the bundle's table (default 0.99). */
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
  /** Most tokens to generate (default 128). */
  maxTokens?: number;
  /** Stop at an end-of-sequence token (default true); false runs to maxTokens or a full context. */
  stopOnEos?: boolean;
  /** Stops the generation within one token: the iterator throws AbortError (code E_ABORTED). */
  signal?: AbortSignal;
  /** Why the output layer is what it is (e.g. "no k' reaches recall 0.999: dense"). */
  onWarning?: (message: string) => void;
}

/** The defaults the CLI flags of `hire generate` use too (a test keeps them equal). */
export const GENERATE_DEFAULTS = Object.freeze({
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  seed: 42,
  maxTokens: 128,
  recall: 0.99,
  stopOnEos: true,
  backend: 'cpu' as BackendName,
});
