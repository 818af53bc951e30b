/**
 * inspect(): what a checkpoint holds (family, parameters, dtypes, weight bytes per token, tensors),
 * from config.json and the safetensors headers alone; on a HiRE bundle also hire.json checked
 * field by field and the weight files against it. Never prints.
 */
import {isBundle} from '../core/hire/bundle/bundle.js';
import {checkBundle} from '../core/hire/bundle/identity.js';
import {openModel} from '../core/model/load.js';
import {inspectModel, type ModelReport} from '../core/tasks/inspect.js';

export type {ModelReport, TensorRow} from '../core/tasks/inspect.js';

export interface InspectOptions {
  /**
   * HiRE bundles: also compare the full sha256 of every weight file with hire.json (reads every
   * byte; the size and a sampled fingerprint are always compared). Default false.
   */
  verifyWeights?: boolean;
  /** Include the tensor table (default true; false leaves `tensors` out). */
  tensors?: boolean;
}

export interface InspectReport extends Omit<ModelReport, 'tensors'> {
  /** Every tensor of the checkpoint (absent with `tensors: false`). */
  tensors?: ModelReport['tensors'];
  /** A HiRE bundle: the weight files compared with hire.json (null for a plain checkpoint). */
  bundle: {checked: string[]} | null;
}

export function inspect(dir: string, options: InspectOptions = {}): InspectReport {
  const source = openModel(dir);
  try {
    const bundle = isBundle(dir) ? checkBundle(dir, source.config, {verifyWeights: options.verifyWeights}) : null;
    const report = {...inspectModel(source), bundle: bundle && {checked: bundle.verified}};
    return options.tensors === false ? {...report, tensors: undefined} : report;
  } finally {
    source.checkpoint.close();
  }
}
