/**
 * Turning HiRE-FFN on for a decode: read the bundle's FFN section and predictors, build one
 * SparseFfnLayer per layer with k'_g for the requested recall target, and install them on the
 * model. The model must have been loaded from the bundle (W_out as neuron rows).
 */
import path from 'node:path';
import type {Transformer} from '../../decode/forward.js';
import {BundleError, UsageError} from '../../errors.js';
import {isBundle, readManifest} from '../bundle/bundle.js';
import {kPrimeAt, readFfnPlans} from '../bundle/ffn-section.js';
import {SparseFfnLayer, type FfnLayerPlan} from './sparse-layer.js';
import {ffnBytes} from '../../model/weights.js';

export interface FfnDecodeOptions {
  /** 'auto' (default): sparse FFN when the bundle has an FFN section; 'off': dense FFN. */
  ffn?: 'auto' | 'off';
  /** Mean FFN recall target that picks k'_g per layer (default 0.99). */
  ffnRecall?: number;
  /** Dynamic groups per layer instead of the table's k'_g. */
  ffnKPrime?: number;
}

export interface SparseFfn {
  layers: SparseFfnLayer[];
  /** What goes into Transformer.ffnOverride: the sparse layer, or null where it would read every group. */
  overrides: (SparseFfnLayer | null)[];
  /** Fraction of neurons the top-k FFN keeps. */
  topK: number;
  describe: string;
  /** Weight bytes all layers' FFNs read per token (predictors + chosen rows). */
  bytesPerToken: number;
  /** The same FFNs read densely. */
  denseBytesPerToken: number;
  note: string | null;
}

/** Installs sparse FFNs from plans (bundles and synthetic benchmarks both end here). */
export async function installFfnPlans(model: Transformer, plans: FfnLayerPlan[], topKFraction: number): Promise<SparseFfn> {
  const {config, weights, backend} = model;
  model.setFfnTopK(topKFraction);
  const layers: SparseFfnLayer[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    layers.push(await SparseFfnLayer.create(backend, config, weights.layers[l]!, plans[l]!, model.ffnTopK));
  }
  // a layer whose plan reads every group runs the dense FFN: the same rows, no predictor
  const overrides = layers.map((l) => (l.readsAll ? null : l));
  model.ffnOverride = overrides;
  const g = plans[0]!.groupSize;
  const meanGroups = layers.reduce((a, l) => a + l.groupsRead, 0) / layers.length;
  const full = layers.filter((l) => l.readsAll).length;
  return {
    layers,
    overrides,
    topK: topKFraction,
    describe: `HiRE FFN (${plans[0]!.predictor.name}, g=${g}, ${meanGroups.toFixed(1)} of ${config.hiddenDim / g} groups per layer${full ? `; ${full} of ${layers.length} layers read every group and run dense` : ''})`,
    bytesPerToken: layers.reduce((a, l) => a + l.bytesPerToken, 0),
    denseBytesPerToken: weights.layers.reduce((a, l) => a + ffnBytes(l), 0),
    note: null,
  };
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
