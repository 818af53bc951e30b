/**
 * Opening a model as a device group (`loadModel(dir, {devices: N})`, `hire generate --devices N`):
 * the same checks as on one device (hire.json field by field, the weights' identity), the tokenizer,
 * the predictor the devices load and their default output head (dense, HiRE exact or HiRE DaT),
 * the FFN (HiRE-FFN per device on bundles with an FFN section), then the DistributedModel whose
 * devices hold the weight shards. The coordinator never loads the weights beyond the embedding table.
 */
import {isBundle, type HireManifest} from '../hire/bundle/bundle.js';
import {checkBundle} from '../hire/bundle/identity.js';
import {openModel, openTokenizer} from '../model/load.js';
import type {HireTokenizer} from '../model/tokenizer.js';
import {DistributedModel, type TopKMode} from '../parallel/distributed-model.js';
import {chooseDistributedHead} from '../parallel/heads.js';
import type {DistributedFfnOptions} from '../parallel/shard-ffn-select.js';

export interface DeviceGroupOptions extends DistributedFfnOptions {
  devices: number;
  /** How the output layer's top-k is merged (default exact). */
  merge?: TopKMode;
  /** Backend of every device (default cpu). */
  backend?: string;
  /** DaT slack per device (default: the bundle's calibrated slack). */
  slack?: number;
  /** The softmax predictor the devices load (default: the one calibration selected). */
  predictor?: string;
  /** Load no predictor: every generation decodes with the dense output layer. */
  dense?: boolean;
  /** 'required' fails without tokenizer.json; 'optional' loads it when present; 'none' skips it. */
  tokenizer?: 'required' | 'optional' | 'none';
  /** HiRE bundles: also compare every weight file's full sha256 with hire.json. */
  verifyWeights?: boolean;
  onWarning?: (message: string) => void;
}

export interface OpenedGroup {
  decoder: DistributedModel;
  tokenizer: HireTokenizer | null;
  bundle: HireManifest | null;
}

export async function openDeviceGroup(dir: string, o: DeviceGroupOptions): Promise<OpenedGroup> {
  // the config (a directory's config.json, or a GGUF file's metadata) and the tokenizer
  const source = openModel(dir);
  let tokenizer: HireTokenizer | null;
  try {
    tokenizer = openTokenizer(source, o.tokenizer ?? 'optional');
  } finally {
    source.checkpoint.close();
  }
  const {config} = source;
  // the same checks as one device: hire.json field by field, and the weights' identity
  const bundle = isBundle(dir) ? checkBundle(dir, config, {verifyWeights: o.verifyWeights}).manifest : null;
  const merge = o.merge ?? 'exact';
  // the devices' default head: greedy at the bundle's 0.99 table (each generation picks its own k')
  const greedy = {temperature: 0, topK: 0, topP: 1};
  const {head, note} = chooseDistributedHead(dir, config, greedy, {devices: o.devices, topk: merge, slack: o.slack, predictor: o.predictor, dense: o.dense});
  if (note) o.onWarning?.(note);
  const ffn = {ffn: o.ffn, ffnRecall: o.ffnRecall, ffnKPrime: o.ffnKPrime, ffnSlack: o.ffnSlack};
  const decoder = await DistributedModel.open({modelDir: dir, devices: o.devices, backend: o.backend, topk: merge, head, slack: o.slack, ffn});
  for (const n of decoder.notes) o.onWarning?.(n);
  return {decoder, tokenizer, bundle};
}
