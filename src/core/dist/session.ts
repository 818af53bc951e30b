/**
 * What `hire generate --devices N` holds: the tokenizer and end-of-sequence ids of the model
 * directory, the output layer chosen for N devices (dense, HiRE exact or HiRE DaT), the FFN
 * (HiRE-FFN per device on bundles with an FFN section), and the DistributedModel whose devices
 * hold the weight shards. The coordinator never loads the weights
 * beyond the embedding table.
 */
import fs from 'node:fs';
import path from 'node:path';
import type {SamplingOptions} from '../decode/sampler.js';
import {isBundle} from '../hire/bundle.js';
import {checkBundle} from '../hire/bundle-identity.js';
import {readConfigJson} from '../model/config.js';
import {parseModelConfig} from '../model/architectures/index.js';
import {HireTokenizer} from '../model/tokenizer.js';
import {DistributedModel, type TopKMode} from './distributed-model.js';
import {chooseDistributedHead, type DistributedHeadOptions} from './heads.js';
import type {DistributedFfnOptions} from './shard-ffn-select.js';

export interface DistributedSessionOptions extends Omit<DistributedHeadOptions, 'devices' | 'topk'>, DistributedFfnOptions {
  devices: number;
  topk: TopKMode;
  backend?: string;
  sampling: SamplingOptions;
  /** 'required' fails without tokenizer.json; 'optional' loads it when present. */
  tokenizer: 'required' | 'optional';
  /** HiRE bundles: also compare every weight file's full sha256 with hire.json (as Session.open). */
  verifyWeights?: boolean;
  onWarning?: (message: string) => void;
}

export class DistributedSession {
  private constructor(
    readonly model: DistributedModel,
    readonly tokenizer: HireTokenizer | null,
  ) {}

  static async open(dir: string, o: DistributedSessionOptions): Promise<DistributedSession> {
    const {config} = parseModelConfig(readConfigJson(dir));
    // the same checks as one device: hire.json field by field, and the weights' identity
    if (isBundle(dir)) checkBundle(dir, config, {verifyWeights: o.verifyWeights});
    const hasTokenizer = fs.existsSync(path.join(dir, 'tokenizer.json'));
    const tokenizer = o.tokenizer === 'required' || hasTokenizer ? HireTokenizer.load(dir) : null;
    const {head, note} = chooseDistributedHead(dir, config, o.sampling, o);
    if (note) o.onWarning?.(note);
    const ffn = {ffn: o.ffn, ffnRecall: o.ffnRecall, ffnKPrime: o.ffnKPrime, ffnSlack: o.ffnSlack};
    const model = await DistributedModel.open({modelDir: dir, devices: o.devices, backend: o.backend, topk: o.topk, head, ffn});
    for (const n of model.notes) o.onWarning?.(n);
    return new DistributedSession(model, tokenizer);
  }

  /** Token ids that end generation: config and tokenizer special tokens, merged. */
  get eosTokenIds(): number[] {
    const ids = new Set(this.model.config.eosTokenIds);
    for (const id of this.tokenizer?.special.eosTokenIds ?? []) ids.add(id);
    return [...ids];
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
