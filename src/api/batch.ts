/**
 * generateBatch(): several prompts decoded together. Each step reads every weight row once for
 * the whole batch (and, with HiRE-FFN, the union of the sequences' groups), so weight bytes per
 * token fall with the batch size. Sequence b samples with seed + b and gives the same tokens as
 * generate() with that seed. Returns when every sequence has finished; never prints.
 */
import {generateBatch as generateBatchCore} from '../core/decode/batch-generate.js';
import {validateSamplingOptions, type SamplingOptions as CoreSampling} from '../core/decode/sampler.js';
import type {StopReason} from '../core/decode/generate.js';
import {UsageError} from '../core/errors.js';
import {modelInternals, type HireModel} from './model.js';
import {GENERATE_DEFAULTS, type GenerateOptions} from './options.js';
import type {Prompt} from './generate.js';

export interface BatchResult {
  /** Generated text per prompt (prompt not included). */
  texts: string[];
  tokenIds: number[][];
  stopReasons: StopReason[];
  /** Generated tokens per second, all sequences together (prefill excluded). */
  tokensPerSecond: number;
  /** Weight bytes read per generated token. */
  weightBytesPerToken: number;
  /** HiRE-FFN: mean groups read per layer for the batch, and for one sequence (null: dense FFN). */
  ffnGroups: {batch: number; perSequence: number} | null;
}

export async function generateBatch(model: HireModel, prompts: readonly Prompt[], options: Omit<GenerateOptions, 'certify'> = {}): Promise<BatchResult> {
  if (prompts.length === 0) throw new UsageError('generateBatch needs at least one prompt');
  if ((options as GenerateOptions).certify) throw new UsageError('certified mode decodes one sequence at a time; drop certify or the batch');
  const internals = modelInternals(model);
  const o = {...GENERATE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))} as typeof GENERATE_DEFAULTS & GenerateOptions;
  const sampling: CoreSampling = {temperature: o.temperature, topK: o.topK, topP: o.topP};
  validateSamplingOptions(sampling);
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) throw new UsageError(`maxTokens must be an integer >= 1, got ${o.maxTokens}`);
  const ids = prompts.map((p) => (typeof p === 'string' ? model.encode(p) : [...p]));
  const {head, note} = internals.head(sampling, {dense: o.dense, recall: o.recall, kPrime: o.kPrime, predictor: o.predictor});
  if (note) options.onWarning?.(note);
  return internals.step(async () => {
    const session = internals.session();
    const r = await generateBatchCore(session.model, ids, {
      maxTokens: o.maxTokens,
      sampling,
      seed: o.seed,
      eosTokenIds: o.stopOnEos ? model.eosTokenIds : [],
      head,
      signal: options.signal,
    });
    return {
      texts: r.tokens.map((t) => model.decode(t)),
      tokenIds: r.tokens,
      stopReasons: r.stopReasons,
      tokensPerSecond: r.tokensPerSecond,
      weightBytesPerToken: r.bytesPerToken,
      ffnGroups: r.unionGroups === null ? null : {batch: r.unionGroups, perSequence: r.groupsPerSequence!},
    };
  });
}
