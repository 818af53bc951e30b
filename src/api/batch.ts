/**
 * generateBatch(): several prompts decoded together. Each step reads every weight row once for
 * the whole batch (and, with HiRE-FFN, the union of the sequences' groups), so weight bytes per
 * token fall with the batch size. Sequence b samples with seed + b and gives the same tokens as
 * generate() with that seed. Returns when every sequence has finished; never prints.
 */
import {generateBatch as generateBatchCore, type BatchResult as CoreBatchResult} from '../core/decode/batch-generate.js';
import {generationStats} from '../core/decode/generate.js';
import type {DecodeHead} from '../core/decode/decoder.js';
import {hasPenalties, type PenaltyOptions} from '../core/decode/penalties.js';
import {streamedText} from '../core/decode/streamer.js';
import {UsageError} from '../core/errors.js';
import {HireSoftmaxHead} from '../core/hire/softmax/head.js';
import {modelInternals, type HireModel} from './model.js';
import {GENERATE_DEFAULTS} from './defaults.js';
import {resolveGenerateOptions, type GenerateOptions} from './options.js';
import {describeValue, promptTokenIds, type Prompt} from './prompt.js';
import type {BatchResult, GenerationResult} from './result.js';

export type {BatchResult} from './result.js';

export async function generateBatch(model: HireModel, prompts: readonly Prompt[], options: Omit<GenerateOptions, 'certify'> = {}): Promise<BatchResult> {
  if (!Array.isArray(prompts)) throw new UsageError(`prompts must be an array of prompts, got ${describeValue(prompts)}`, {option: 'prompts'});
  if (prompts.length === 0) throw new UsageError('generateBatch needs at least one prompt', {option: 'prompts'});
  if ((options as GenerateOptions).certify) throw new UsageError('certify decodes one sequence at a time; drop certify or the batch', {option: 'certify'});
  const internals = modelInternals(model);
  const o = resolveGenerateOptions(options);
  const sampling = o.sampling;
  const unsupported = o.stopStrings.length > 0 ? 'stop' : o.logprobs !== undefined ? 'logprobs' : hasPenalties(o.penalties) ? Object.entries(o.penalties).find(([k, v]) => v !== GENERATE_DEFAULTS[k as keyof PenaltyOptions])![0] : null;
  if (unsupported) throw new UsageError(`${unsupported} is not supported by batched generation yet; decode the prompts one at a time with generate()`, {option: unsupported});
  const ids = prompts.map((p, b) => promptTokenIds(model, p, `prompts[${b}]`, {system: o.system, chat: o.chat}));
  const {head, note} = internals.head(sampling, {dense: o.dense, recall: o.recall, kPrime: o.kPrime, predictor: o.predictor});
  if (note) options.onWarning?.(note);
  return internals.step(async () => {
    const r = await generateBatchCore(internals.decoder(), ids, {
      maxTokens: o.maxTokens,
      sampling,
      seed: o.seed,
      eosTokenIds: o.stopOnEos ? model.eosTokenIds : [],
      head,
      signal: options.signal,
    });
    return {
      sequences: ids.map((p, b) => sequenceResult(model, head, p, r, b)),
      tokensPerSecond: r.tokensPerSecond,
      weightBytesPerToken: r.bytesPerToken,
      ffnGroups: r.unionGroups === null ? null : {batch: r.unionGroups, perSequence: r.groupsPerSequence!},
    };
  }, options.signal);
}

/** Sequence b of a batch in the shape generate() returns. */
function sequenceResult(model: HireModel, head: DecodeHead, promptIds: number[], r: CoreBatchResult, b: number): GenerationResult {
  const tokenIds = r.tokens[b]!;
  const steps = r.decodeSteps[b]! + 1; // the output layer ran after the prompt and after every decode step
  const times: [number, number, number] = [0, r.prefillMs[b]!, r.prefillMs[b]! + r.decodeMs];
  const candidates = head instanceof HireSoftmaxHead ? Math.min(head.kPrime, model.config.vocabSize) : model.config.vocabSize;
  return {
    text: streamedText((ids) => model.decode(ids), promptIds, tokenIds),
    promptTokenIds: promptIds,
    tokenIds,
    backend: model.backend,
    stats: generationStats(promptIds.length, tokenIds.length, r.decodeSteps[b]!, times, r.stopReasons[b]!),
    output: {kind: head.kind, describe: head.describe(), bytesPerToken: head.bytesPerToken, steps, meanCandidates: candidates, widenedSteps: 0, widenings: 0},
    weightBytesPerToken: r.bytesPerToken,
    devices: null,
    logprobs: null,
  };
}
