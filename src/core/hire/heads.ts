/**
 * Choosing the output head for a decode: dense, or HiRE-Softmax from the bundle's selected (or
 * named) predictor with k' read off its stored recall curve, optionally certified.
 */
import type {Backend, Mat} from '../backends/backend.js';
import {DenseHead, type OutputHead} from '../decode/output-head.js';
import {samplingK, type SamplingOptions} from '../decode/sampler.js';
import type {HeadChoice as DecoderHeadChoice, HeadOptions} from '../decode/decoder.js';
import {UsageError} from '../errors.js';
import {isBundle, lookupKPrime, readManifest, readPredictor} from './bundle.js';
import {HireSoftmaxHead} from './softmax-head.js';

export type {HeadOptions} from '../decode/decoder.js';
export {samplingK} from '../decode/sampler.js';
type HeadChoice = DecoderHeadChoice<OutputHead>;

export function chooseHead(
  modelDir: string,
  model: {backend: Backend; lmHead: Mat; vocabSize: number; dim: number},
  sampling: SamplingOptions,
  opts: HeadOptions,
): HeadChoice {
  const dense = new DenseHead(model.backend, model.lmHead);
  if (opts.dense || !isBundle(modelDir)) {
    if (opts.certify && !opts.dense) throw new UsageError('--certify needs a HiRE bundle; make one with `hire calibrate`');
    return {head: dense, note: null};
  }
  const manifest = readManifest(modelDir, model);
  if (!manifest.softmax) return {head: dense, note: 'the bundle has no softmax predictor: dense output layer'};
  const name = opts.predictor ?? manifest.softmax.selected;
  const predictor = readPredictor(modelDir, manifest, name);
  const record = manifest.softmax.predictors.find((p) => p.name === name)!;
  const k = samplingK(sampling);
  if (opts.certify && k === null) {
    throw new UsageError('--certify makes the top-k exact, so it needs greedy decoding (--temperature 0) or --top-k');
  }
  const recall = opts.recall ?? 0.99;
  if (!(recall > 0 && recall <= 1)) throw new UsageError(`--recall must be in (0, 1], got ${recall}`);
  let kPrime = opts.kPrime;
  let note: string | null = null;
  if (kPrime !== undefined) {
    if (!Number.isInteger(kPrime) || kPrime < 1 || kPrime > model.vocabSize) {
      throw new UsageError(`--k-prime ${kPrime} must be an integer from 1 to the vocabulary size ${model.vocabSize}`);
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
