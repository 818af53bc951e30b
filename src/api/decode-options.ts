/**
 * GenerateOptions checked and resolved once, the same way for generate() and a chat's turns:
 * defaults filled in, sampling, penalties, stop strings and log-probs validated (UsageError naming
 * the option), and the core loop's options built from them.
 */
import type {DecodeHead} from '../core/decode/decoder.js';
import type {GenerateOptions as CoreOptions} from '../core/decode/generate.js';
import {validatePenalties, type PenaltyOptions} from '../core/decode/penalties.js';
import {validateSamplingOptions, type SamplingOptions as CoreSampling} from '../core/decode/sampler.js';
import {validateStopStrings} from '../core/decode/stop.js';
import {UsageError} from '../core/errors.js';
import type {HireModel} from './model.js';
import {GENERATE_DEFAULTS, type GenerateOptions} from './options.js';

export type Resolved = typeof GENERATE_DEFAULTS & GenerateOptions;

export interface ResolvedOptions {
  o: Resolved;
  sampling: CoreSampling;
  penalties: PenaltyOptions;
  stop: string[];
  logprobs: number | undefined;
}

/** The HiRE head options of a generation (the predictor's tail only when log-probs estimate it). */
export function headOptions(r: ResolvedOptions) {
  const o = r.o;
  const approxTail = r.logprobs !== undefined && o.logprobsTail === 'estimate';
  return {dense: o.dense, recall: o.recall, kPrime: o.kPrime, certify: o.certify, predictor: o.predictor, approxTail};
}

export function resolveOptions(options: GenerateOptions): ResolvedOptions {
  const o = {...GENERATE_DEFAULTS, ...withoutUndefined(options)} as Resolved;
  const sampling: CoreSampling = {temperature: o.temperature, topK: o.topK, topP: o.topP, minP: o.minP};
  validateSamplingOptions(sampling);
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) throw new UsageError(`maxTokens must be an integer >= 1, got ${o.maxTokens}`, {option: 'maxTokens'});
  const penalties = {repetitionPenalty: o.repetitionPenalty, presencePenalty: o.presencePenalty, frequencyPenalty: o.frequencyPenalty};
  validatePenalties(penalties);
  const stop = validateStopStrings(o.stop);
  const logprobs = o.logprobs;
  if (logprobs !== undefined && !(Number.isInteger(logprobs) && logprobs >= 0 && logprobs <= 100)) {
    throw new UsageError(`logprobs must be an integer from 0 to 100 (alternatives per token), got ${logprobs}`, {option: 'logprobs'});
  }
  if (o.logprobsTail !== undefined && o.logprobsTail !== 'drop' && o.logprobsTail !== 'estimate') {
    throw new UsageError(`logprobsTail must be 'drop' or 'estimate', got ${String(o.logprobsTail)}`, {option: 'logprobsTail'});
  }
  return {o, sampling, penalties, stop, logprobs};
}

/** The core loop's options for a generation with this head (shouldStop is the caller's). */
export function coreOptions(model: HireModel, r: ResolvedOptions, head: DecodeHead, signal: AbortSignal | undefined): CoreOptions {
  return {
    maxTokens: r.o.maxTokens,
    sampling: r.sampling,
    head,
    seed: r.o.seed,
    eosTokenIds: r.o.stopOnEos ? model.eosTokenIds : [],
    signal,
    penalties: r.penalties,
    logprobs: r.logprobs,
  };
}

export function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
