/**
 * Choosing the output head for a decode: dense, or HiRE-Softmax from the bundle's selected (or
 * named) predictor with k' read off its stored recall curve, optionally certified.
 */
import type {Backend, Mat} from '../backends/backend.js';
import {DenseHead, type OutputHead} from '../decode/output-head.js';
import type {SamplingOptions} from '../decode/sampler.js';
import {UsageError} from '../errors.js';
import {isBundle, lookupKPrime, readManifest, readPredictor, type ManifestModel} from './bundle.js';
import {HireSoftmaxHead} from './softmax-head.js';

export interface HeadOptions {
  /** Turn HiRE off even when the model is a bundle. */
  dense?: boolean;
  /** Mean recall@k target that picks k' (default 0.99). */
  recall?: number;
  /** Use exactly this many candidates instead of the table's k'. */
  kPrime?: number;
  /** Certified mode: the top-k of every step provably equals dense top-k. */
  certify?: boolean;
  /** Predictor name (default: the one calibration selected). */
  predictor?: string;
}

export interface HeadChoice {
  head: OutputHead;
  /** Why this head, for the user (e.g. "no k' reaches recall 0.999: dense"). */
  note: string | null;
}

/**
 * The top-k that sampling needs exactly: 1 for greedy, top-k when set, else null (full
 * distribution). A top-k that covers the whole vocabulary keeps every token, so it is null too:
 * it never asks for more candidates than there are rows.
 */
export function samplingK(s: SamplingOptions, vocabSize: number): number | null {
  if (s.temperature === 0 || s.topK === 1) return 1;
  return s.topK > 0 && s.topK < vocabSize ? s.topK : null;
}

export function chooseHead(
  modelDir: string,
  model: {backend: Backend; lmHead: Mat; config: ManifestModel},
  sampling: SamplingOptions,
  opts: HeadOptions,
): HeadChoice {
  const dense = new DenseHead(model.backend, model.lmHead);
  if (opts.dense || !isBundle(modelDir)) {
    if (opts.certify && !opts.dense) throw new UsageError('certify needs a HiRE bundle; make one with calibrate()', {option: 'certify'});
    return {head: dense, note: null};
  }
  const manifest = readManifest(modelDir, model.config);
  if (!manifest.softmax) return {head: dense, note: 'the bundle has no softmax predictor: dense output layer'};
  const name = opts.predictor ?? manifest.softmax.selected;
  const predictor = readPredictor(modelDir, manifest, name);
  const record = manifest.softmax.predictors.find((p) => p.name === name)!;
  const k = samplingK(sampling, model.config.vocabSize);
  if (opts.certify && k === null) {
    throw new UsageError('certify makes the top-k exact, so it needs greedy decoding (a temperature of 0) or a top-k', {option: 'certify'});
  }
  const recall = opts.recall ?? 0.99;
  if (!(recall > 0 && recall <= 1)) throw new UsageError(`recall must be in (0, 1], got ${recall}`, {option: 'recall'});
  let kPrime = opts.kPrime;
  let note: string | null = null;
  if (kPrime !== undefined) {
    if (!Number.isInteger(kPrime) || kPrime < 1 || kPrime > model.config.vocabSize) {
      throw new UsageError(`kPrime ${kPrime} must be an integer from 1 to the vocabulary size ${model.config.vocabSize}`, {option: 'kPrime'});
    }
  } else {
    const found = lookupKPrime(record, k ?? Number.MAX_SAFE_INTEGER, recall);
    if (found.kPrime === null) {
      if (!opts.certify) {
        return {head: dense, note: `no k' on the calibration grid reaches recall ${recall} at k=${found.k}: dense output layer`};
      }
      kPrime = Math.max(k ?? 1, 64);
      note = `no k' reaches recall ${recall} at k=${found.k}; certified mode starts from k'=${kPrime} and widens`;
    } else {
      kPrime = found.kPrime;
    }
  }
  if (k !== null && kPrime < k) kPrime = k;
  const head = new HireSoftmaxHead(model.backend, model.lmHead, predictor, {kPrime, certifyK: opts.certify ? k : null});
  return {head, note};
}
