/**
 * Generation on a DistributedModel: the loop of decode/generate.ts (same options, events,
 * statistics and stopping rules), with the prompt sent to the devices as one batch command and
 * then one command per token.
 */
import {checkPrompt, decodeLoop, type GenerateOptions, type GenerateStats, type TokenEvent} from '../decode/generate.js';
import type {DistributedModel} from './distributed-model.js';

export async function* generateDistributed(
  model: DistributedModel,
  promptIds: readonly number[],
  opts: Omit<GenerateOptions, 'head'>,
): AsyncGenerator<TokenEvent, GenerateStats> {
  const {maxSeqLen} = model.config;
  checkPrompt(promptIds, model.config);
  return yield* decodeLoop(promptIds, maxSeqLen, opts, {
    async prefill(checkAbort) {
      checkAbort();
      await model.reset(Math.min(maxSeqLen, promptIds.length + opts.maxTokens));
      return model.step(promptIds, 0);
    },
    step: (id, pos) => model.step([id], pos),
  });
}
