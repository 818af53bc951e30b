import {generateTokens} from '../../src/core/decode/generate.js';
import type {DecodeHead, Decoder} from '../../src/core/decode/decoder.js';

/** Greedy decoding of n tokens after the prompt (eos ignored); the generated ids. */
export async function greedyIds(decoder: Decoder, prompt: number[], n: number, head?: DecodeHead): Promise<number[]> {
  const ids: number[] = [];
  const gen = generateTokens(decoder, prompt, {maxTokens: n, sampling: {temperature: 0, topK: 0, topP: 1}, seed: 0, eosTokenIds: [], head});
  for await (const t of gen) ids.push(t.id);
  return ids;
}
