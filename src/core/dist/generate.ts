/**
 * The generation loop of decode/generate.ts for a DistributedModel: the prompt goes to the
 * devices in batches (one command per batch), then one command per token. Same options, events,
 * statistics and stopping rules, so the commands treat both alike.
 */
import {generationStats, type GenerateOptions, type GenerateStats, type StopReason, type TokenEvent} from '../decode/generate.js';
import type {HeadResult} from '../decode/output-head.js';
import {createRng, sample, sampleCandidates} from '../decode/sampler.js';
import {UsageError} from '../errors.js';
import type {DistributedModel} from './distributed-model.js';

export async function* generateDistributed(
  model: DistributedModel,
  promptIds: readonly number[],
  opts: Omit<GenerateOptions, 'head'>,
): AsyncGenerator<TokenEvent, GenerateStats> {
  const {maxSeqLen, vocabSize} = model.config;
  if (promptIds.length === 0) throw new UsageError('the prompt is empty: give --prompt text or --tokens ids');
  for (const id of promptIds) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new UsageError(`token id ${id} is outside the vocabulary (0..${vocabSize - 1})`);
  }
  if (promptIds.length >= maxSeqLen) throw new UsageError(`the prompt has ${promptIds.length} tokens; this model's context is ${maxSeqLen}`);
  const rng = createRng(opts.seed);
  const limit = Math.min(maxSeqLen, promptIds.length + opts.maxTokens);
  const eos = new Set(opts.eosTokenIds);
  const t0 = performance.now();
  await model.reset(limit);
  let r: HeadResult = await model.step(promptIds, 0);
  const t1 = performance.now();
  opts.onPrefillDone?.();

  let pos = promptIds.length - 1;
  let generated = 0;
  let decodeSteps = 0;
  let stopReason: StopReason = 'max_tokens';
  while (generated < opts.maxTokens) {
    const id = r.ids === null ? sample(r.logits, opts.sampling, rng) : sampleCandidates(r.ids, r.logits, opts.sampling, rng);
    if (eos.has(id)) {
      stopReason = 'eos';
      break;
    }
    pos++;
    generated++;
    yield {id, pos};
    if (generated >= opts.maxTokens) break;
    if (pos + 1 >= limit) {
      stopReason = pos + 1 >= maxSeqLen ? 'context_full' : 'max_tokens';
      break;
    }
    r = await model.step([id], pos);
    decodeSteps++;
  }
  return generationStats(promptIds.length, generated, decodeSteps, [t0, t1, performance.now()], stopReason);
}
