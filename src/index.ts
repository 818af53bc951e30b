/**
 * The library API of hire: what `import ... from 'hire'` gives. A deliberate, small surface; the
 * CLI commands call the same functions. Everything else under src/core is internal.
 *
 *   loadModel / loadBundle   a checkpoint or HiRE bundle on a backend (HireModel; dispose() it)
 *   generate                 an async iterator of text chunks with per-token statistics
 *   chat / ChatSession       a conversation through the model's chat template, its KV cache kept between turns
 *   score                    log-probability of every token of a text, and the top alternatives
 *   calibrate                fit predictors, measure recall, write a bundle
 *   evaluate                 recall, top-1, KL, perplexity: dense against HiRE
 *   bench                    tokens/s and bandwidth utilisation, dense against HiRE
 *   quantize                 a checkpoint or GGUF file with its matrices in ggml Q8_0 / Q4_0 blocks
 *   createServer             an OpenAI-compatible HTTP server, concurrent requests decoded together
 *   DEFAULTS                 every option's default (the CLI flags show the same)
 *   resolveModel / pullModel a model reference as a directory; Hugging Face downloads into its cache
 *   listCache / clearCache   what hire and the Hugging Face cache hold, and removing it
 *   errors                   one class per failure kind, each with a stable `code`
 */
import {DEFAULTS} from './api/defaults.js';

export {loadModel, loadBundle, HireModel} from './api/model.js';
export {generate, Generation} from './api/generate.js';
export {generateBatch} from './api/batch.js';
export {chat, ChatSession} from './api/chat.js';
export type {ChatOptions, TurnOptions} from './api/chat.js';
export {score} from './api/score.js';
export {createServer} from './api/server/server.js';
export type {ServerOptions, ListenOptions, HireServer} from './api/server/server.js';
export type {ScoreOptions, ScoreResult, ScoredToken} from './api/score.js';
export type {BatchResult} from './api/batch.js';
export type {TokenChunk, GenerationResult, OutputInfo, Prompt, ChatMessage, TokenLogprobs} from './api/generate.js';
export type {DevicesInfo} from './api/result.js';
export {calibrate} from './api/calibrate.js';
export type {CalibrateOptions, CalibrationResult} from './api/calibrate.js';
export {evaluate} from './api/evaluate.js';
export type {EvaluateOptions, EvalReport, EvalRow} from './api/evaluate.js';
export {bench} from './api/bench.js';
export type {BenchOptions, BenchReport, BenchRow} from './api/bench.js';
export {quantize} from './api/quantize.js';
export type {QuantizeOptions, QuantizeReport, QuantizedTensor} from './api/quantize.js';
export {DEFAULTS, GENERATE_DEFAULTS} from './api/defaults.js';
export type {FfnMode, LogprobsTail, MergeMode} from './api/defaults.js';
export {resolveModel, pullModel} from './api/hub.js';
export type {HubOptions, ResolveOptions, ResolvedModel, PullResult, PulledFile} from './api/hub.js';
export {listCache, clearCache} from './api/cache.js';
export type {CacheEntry, CacheListing, CacheClearResult, CacheOptions} from './api/cache.js';
export type {LoadOptions, GenerateOptions, SamplingOptions, HireOptions} from './api/options.js';
export type {ProgressEvent, ProgressCallback, TaskOptions} from './api/progress.js';
export type {GenerateStats, StopReason} from './core/decode/generate.js';
export type {HireManifest, PredictorRecord} from './core/hire/bundle/bundle.js';
export type {ModelConfig} from './core/model/config.js';
export type {SoftmaxKind} from './core/hire/predictor/predictor.js';
export type {QuantBits} from './core/numeric/quant.js';
export type {BackendName} from './core/backends/backend.js';

export {
  HireError,
  UsageError,
  SafetensorsError,
  GgufError,
  ConfigError,
  UnsupportedArchitectureError,
  WeightError,
  TokenizerError,
  BundleError,
  DataError,
  BackendError,
  IoError,
  AbortError,
  DisposedError,
  HubError,
  OverloadedError,
} from './core/errors.js';
export type {ErrorCode} from './core/errors.js';

/** The bundled demo model: a plain checkpoint and its HiRE bundle (absolute paths). */
export const demo = DEFAULTS.demo;
