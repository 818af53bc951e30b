import {generateTokens} from '../../src/core/decode/generate.js';
import type {Transformer} from '../../src/core/decode/forward.js';
import type {OutputHead} from '../../src/core/decode/output-head.js';

/** Greedy decoding of n tokens after the prompt (eos ignored); the generated ids. */
export async function greedyIds(model: Transformer, prompt: number[], n: number, head?: OutputHead): Promise<number[]> {
  const ids: number[] = [];
  const gen = generateTokens(model, prompt, {maxTokens: n, sampling: {temperature: 0, topK: 0, topP: 1}, seed: 0, eosTokenIds: [], head});
  for await (const t of gen) ids.push(t.id);
  return ids;
}
