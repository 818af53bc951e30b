/**
 * What a generation's resolved options (resolveGenerateOptions in ./options.ts) give the HiRE
 * head and the core loop, the same way for generate() and a chat's turns.
 */
import type {DecodeHead} from '../core/decode/decoder.js';
import type {GenerateOptions as CoreOptions} from '../core/decode/generate.js';
import type {HireModel} from './model.js';
import type {ResolvedGenerateOptions} from './options.js';

/** The HiRE head options of a generation (the predictor's tail only when log-probs estimate it). */
export function headOptions(o: ResolvedGenerateOptions) {
  const approxTail = o.logprobs !== undefined && o.logprobsTail === 'estimate';
  return {dense: o.dense, recall: o.recall, kPrime: o.kPrime, certify: o.certify, predictor: o.predictor, approxTail};
}

/** The core loop's options for a generation with this head (shouldStop is the caller's). */
export function coreOptions(model: HireModel, o: ResolvedGenerateOptions, head: DecodeHead, signal: AbortSignal | undefined): CoreOptions {
  return {
    maxTokens: o.maxTokens,
    sampling: o.sampling,
    head,
    seed: o.seed,
    eosTokenIds: o.stopOnEos ? model.eosTokenIds : [],
    signal,
    penalties: o.penalties,
    logprobs: o.logprobs,
  };
}
