/**
 * HiRE-FFN from a bundle: read its FFN section and predictors, pick k'_g per layer for the
 * requested recall target (or take k'_g as given), and install the sparse layers on the model
 * (hire/ffn/setup.ts). The model must have been loaded from the bundle (W_out as neuron rows).
 */
import path from 'node:path';
import type {Transformer} from '../decode/forward.js';
import {BundleError, UsageError} from '../errors.js';
import {isBundle, readManifest} from '../hire/bundle/bundle.js';
import {kPrimeAt, readFfnPlans} from '../hire/bundle/ffn-section.js';
import {installFfnPlans, type SparseFfn} from '../hire/ffn/setup.js';

export interface FfnDecodeOptions {
  /** 'auto' (default): sparse FFN when the bundle has an FFN section; 'off': dense FFN. */
  ffn?: 'auto' | 'off';
  /** Mean FFN recall target that picks k'_g per layer (default 0.99). */
  ffnRecall?: number;
  /** Dynamic groups per layer instead of the table's k'_g. */
  ffnKPrime?: number;
}

export async function installSparseFfn(model: Transformer, dir: string, opts: FfnDecodeOptions = {}): Promise<SparseFfn | null> {
  if (opts.ffn === 'off' || !isBundle(dir)) return null;
  const {config} = model;
  const manifest = readManifest(dir, config);
  const ffn = manifest.ffn;
  if (!ffn) return null;
  if (config.ffnLayout !== 'neuron-rows') {
    throw new BundleError(path.join(dir, 'config.json'), 'the bundle has an FFN section but its config.json lacks "hire_ffn_layout": "neuron-rows"; re-run hire calibrate');
  }
  const target = opts.ffnRecall ?? 0.99;
  if (!(target > 0 && target <= 1)) throw new UsageError(`ffnRecall must be in (0, 1], got ${target}`, {option: 'ffnRecall'});
  const nGroups = config.hiddenDim / ffn.groupSize;
  let plans = readFfnPlans(dir, ffn, target, config);
  if (opts.ffnKPrime !== undefined) {
    const k = opts.ffnKPrime;
    if (!Number.isInteger(k) || k < 0 || k > nGroups) throw new UsageError(`ffnKPrime ${k} must be an integer from 0 to the ${nGroups} groups`, {option: 'ffnKPrime'});
    plans = plans.map((p) => ({...p, kPrime: Math.min(k, nGroups - p.nStatic)}));
  }
  const sparse = await installFfnPlans(model, plans, ffn.topK);
  const full = ffn.layers.filter((r) => kPrimeAt(r, target) === null).length;
  if (full > 0 && opts.ffnKPrime === undefined) sparse.note = `FFN: ${full} layers reach recall ${target} only by reading every group`;
  return sparse;
}
