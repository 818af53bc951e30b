/**
 * The output layer of a multi-device decode: dense, or HiRE-Softmax from the bundle's selected (or
 * named) predictor with k' read off its recall table (as hire/heads.ts does on one device), and
 * for DaT the slack calibrated for this device count (hire.json softmax.dat), else a default.
 */
import type {SamplingOptions} from '../decode/sampler.js';
import {UsageError} from '../errors.js';
import {isBundle, lookupKPrime, readManifest, type ManifestModel} from '../hire/bundle.js';
import {samplingK, type HeadOptions} from '../hire/heads.js';
import {lookupSlack} from './dat-calibrate.js';
import type {DistributedHead, TopKMode} from './distributed-model.js';
import type {VocabLayout} from './shard-plan.js';

export interface DistributedHeadOptions extends HeadOptions {
  devices: number;
  topk: TopKMode;
  /** DaT slack; default: the bundle's calibrated slack, else DEFAULT_SLACK_SHARE of k'/D. */
  slack?: number;
  /** The vocabulary split the slack is for (default strided). */
  vocabLayout?: VocabLayout;
}

/** Without a calibration: slack = a quarter of each device's share of k'. */
export const DEFAULT_SLACK_SHARE = 0.25;

export function chooseDistributedHead(
  modelDir: string,
  model: ManifestModel,
  sampling: SamplingOptions,
  opts: DistributedHeadOptions,
): {head: DistributedHead; note: string | null} {
  if (opts.certify) throw new UsageError('certify is not supported on several devices (certified widening needs every bound in one place)', {option: 'certify'});
  if (opts.slack !== undefined && !(Number.isInteger(opts.slack) && opts.slack >= 0 && opts.slack <= model.vocabSize)) {
    throw new UsageError(`slack must be an integer from 0 to the vocabulary size ${model.vocabSize}, got ${opts.slack}`, {option: 'slack'});
  }
  if (opts.dense || !isBundle(modelDir)) return {head: {kind: 'dense'}, note: null};
  const manifest = readManifest(modelDir, model);
  if (!manifest.softmax) return {head: {kind: 'dense'}, note: 'the bundle has no softmax predictor: dense output layer'};
  const name = opts.predictor ?? manifest.softmax.selected;
  const record = manifest.softmax.predictors.find((p) => p.name === name);
  if (!record) throw new UsageError(`no softmax predictor named "${name}"; the bundle has: ${manifest.softmax.predictors.map((p) => p.name).join(', ')}`);
  const k = samplingK(sampling, model.vocabSize);
  const recall = opts.recall ?? 0.99;
  let kPrime = opts.kPrime;
  if (kPrime !== undefined) {
    if (!Number.isInteger(kPrime) || kPrime < 1 || kPrime > model.vocabSize) {
      throw new UsageError(`kPrime ${kPrime} must be an integer from 1 to the vocabulary size ${model.vocabSize}`, {option: 'kPrime'});
    }
  } else {
    const found = lookupKPrime(record, k ?? Number.MAX_SAFE_INTEGER, recall);
    if (found.kPrime === null) return {head: {kind: 'dense'}, note: `no k' on the calibration grid reaches recall ${recall} at k=${found.k}: dense output layer`};
    kPrime = found.kPrime;
  }
  if (k !== null && kPrime < k) kPrime = k;
  let note: string | null = null;
  let slack = opts.slack ?? 0;
  if (opts.topk === 'dat' && opts.slack === undefined) {
    const cal = name === manifest.softmax.dat?.predictor ? manifest.softmax.dat : undefined;
    const fallback = Math.ceil(DEFAULT_SLACK_SHARE * Math.ceil(kPrime / opts.devices));
    const found = lookupSlack(cal, opts.devices, k ?? Number.MAX_SAFE_INTEGER, kPrime, fallback, opts.vocabLayout);
    slack = found.slack;
    if (!found.calibrated) note = `the bundle has no DaT slack calibration for ${opts.devices} devices: slack ${slack} (re-run hire calibrate to store one)`;
  }
  return {head: {kind: 'hire', source: {kind: 'bundle', dir: modelDir, predictor: name}, name, kPrime, slack}, note};
}
