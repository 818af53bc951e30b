/**
 * Choosing the output head for a decode: dense, or HiRE-Softmax from the bundle's selected (or
 * named) predictor with k' read off its stored recall curve, optionally certified. planHead is the
 * one decision, made the same way for one device and for a device group; chooseHead builds the
 * single-device head from it (the device group builds its own in parallel/heads.ts).
 */
import type {Backend, Mat} from '../../backends/backend.js';
import type {HeadChoice, HeadOptions} from '../../decode/decoder.js';
import {DenseHead, type OutputHead} from '../../decode/output-head.js';
import {samplingK, type SamplingOptions} from '../../decode/sampler.js';
import path from 'node:path';
import {BundleError, UsageError} from '../../errors.js';
import {MANIFEST_FILE, isBundle, lookupKPrime, readManifest, readPredictor, type HireManifest, type ManifestModel, type PredictorRecord} from '../bundle/bundle.js';
import {HireSoftmaxHead} from './head.js';

export type {HeadOptions} from '../../decode/decoder.js';
export {samplingK} from '../../decode/sampler.js';

/** What the output layer of a decode will be. */
export type HeadPlan =
  | {kind: 'dense'; note: string | null}
  | {
      kind: 'hire';
      manifest: HireManifest;
      record: PredictorRecord;
      /** Candidates per step (certified mode: the k' it starts from). */
      kPrime: number;
      /** Certified mode: the top-k that must be exact; null otherwise. */
      certifyK: number | null;
      /** The sampling top-k the recall table was read at (null: full distribution). */
      k: number | null;
      note: string | null;
    };

/** The one decision: dense or HiRE, which predictor, which k'. Throws UsageError for bad options. */
export function planHead(modelDir: string, config: ManifestModel, sampling: SamplingOptions, opts: HeadOptions): HeadPlan {
  const vocabSize = config.vocabSize;
  if (opts.dense || !isBundle(modelDir)) {
    if (opts.certify && !opts.dense) throw new UsageError('certify needs a HiRE bundle; make one with calibrate()', {option: 'certify'});
    return {kind: 'dense', note: null};
  }
  const manifest = readManifest(modelDir, config);
  if (!manifest.softmax) return {kind: 'dense', note: 'the bundle has no softmax predictor: dense output layer'};
  const name = opts.predictor ?? manifest.softmax.selected;
  const record = manifest.softmax.predictors.find((p) => p.name === name);
  if (!record) {
    const known = manifest.softmax.predictors.map((p) => p.name).join(', ');
    throw new BundleError(path.join(modelDir, MANIFEST_FILE), `no softmax predictor named "${name}"; the bundle has: ${known}`);
  }
  const k = samplingK(sampling, vocabSize);
  if (opts.certify && k === null) {
    throw new UsageError('certify makes the top-k exact, so it needs greedy decoding (a temperature of 0) or a top-k', {option: 'certify'});
  }
  const recall = opts.recall ?? 0.99;
  if (!(recall > 0 && recall <= 1)) throw new UsageError(`recall must be in (0, 1], got ${recall}`, {option: 'recall'});
  let kPrime = opts.kPrime;
  let note: string | null = null;
  if (kPrime !== undefined) {
    if (!Number.isInteger(kPrime) || kPrime < 1 || kPrime > vocabSize) {
      throw new UsageError(`kPrime ${kPrime} must be an integer from 1 to the vocabulary size ${vocabSize}`, {option: 'kPrime'});
    }
  } else {
    const found = lookupKPrime(record, k ?? Number.MAX_SAFE_INTEGER, recall);
    if (found.kPrime === null) {
      if (!opts.certify) return {kind: 'dense', note: `no k' on the calibration grid reaches recall ${recall} at k=${found.k}: dense output layer`};
      kPrime = Math.min(vocabSize, Math.max(k ?? 1, 64));
      note = `no k' reaches recall ${recall} at k=${found.k}; certified mode starts from k'=${kPrime} and widens`;
    } else {
      kPrime = found.kPrime;
    }
  }
  if (k !== null && kPrime < k) kPrime = k;
  return {kind: 'hire', manifest, record, kPrime, certifyK: opts.certify ? k : null, k, note};
}

/** The single-device head: the plan, built on the backend. */
export function chooseHead(
  modelDir: string,
  model: {backend: Backend; lmHead: Mat; config: ManifestModel},
  sampling: SamplingOptions,
  opts: HeadOptions,
): HeadChoice<OutputHead> {
  const plan = planHead(modelDir, model.config, sampling, opts);
  if (plan.kind === 'dense') return {head: new DenseHead(model.backend, model.lmHead), note: plan.note};
  const predictor = readPredictor(modelDir, plan.manifest, plan.record.name);
  const options = {kPrime: plan.kPrime, certifyK: plan.certifyK, approxTail: opts.approxTail ?? false};
  return {head: new HireSoftmaxHead(model.backend, model.lmHead, predictor, options), note: plan.note};
}
