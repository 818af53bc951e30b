/** Greedy decoding helpers shared by the multi-device tests. */
import {DistributedModel, type DistributedOptions} from '../../src/core/parallel/distributed-model.js';
import {generateTokens} from '../../src/core/decode/generate.js';
import {Session} from '../../src/core/engine/session.js';
import {chooseHead} from '../../src/core/hire/softmax/choose-head.js';
import {greedyIds} from './greedy.js';

export const GREEDY = {temperature: 0, topK: 0, topP: 1};

/** n greedy tokens after `prompt` on one device of `backend` (dense FFN; the bundle's softmax head when asked). */
export async function singleDevice(dir: string, prompt: number[], n: number, opts: {backend?: string; bundleHead?: boolean} = {}): Promise<number[]> {
  const s = await Session.open(dir, {backend: opts.backend ?? 'cpu', threads: 1, tokenizer: 'none', ffn: 'off'});
  try {
    const head = opts.bundleHead
      ? chooseHead(dir, {backend: s.backend, lmHead: s.model.weights.lmHead, config: s.config}, GREEDY, {}).head
      : undefined;
    return await greedyIds(s, prompt, n, head);
  } finally {
    s.dispose();
  }
}

/** n greedy tokens on a DistributedModel opened (and disposed) here; the model is returned for its stats. */
export async function multiDevice(o: DistributedOptions, prompt: number[], n: number): Promise<{ids: number[]; model: DistributedModel}> {
  const model = await DistributedModel.open(o);
  const ids: number[] = [];
  try {
    for await (const t of generateTokens(model, prompt, {maxTokens: n, sampling: GREEDY, seed: 0, eosTokenIds: [], head: model.openedHead})) ids.push(t.id);
  } finally {
    await model.dispose();
  }
  return {ids, model};
}
