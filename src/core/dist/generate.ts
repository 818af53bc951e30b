/**
 * Generation on a DistributedModel: the one generation loop (decode/generate.ts), with the output
 * head the group was opened with.
 */
import {generateTokens, type GenerateOptions, type GenerateStats, type TokenEvent} from '../decode/generate.js';
import type {DistributedModel} from './distributed-model.js';

export function generateDistributed(
  model: DistributedModel,
  promptIds: readonly number[],
  opts: Omit<GenerateOptions, 'head'>,
): AsyncGenerator<TokenEvent, GenerateStats> {
  return generateTokens(model, promptIds, {...opts, head: model.openedHead});
}
