/**
 * HiRE-FFN plans with random predictors, for speed measurements on synthetic shapes: a step's
 * cost depends on the predictor's size and on how many groups are read, not on the values.
 * The share of groups read is given explicitly (`read`), since random weights have no sparsity
 * for a predictor to find; calibrated bundles read what calibration measured instead.
 */
import type {ModelConfig} from '../../model/config.js';
import type {FfnLayerPlan} from './sparse-layer.js';
import type {QuantBits} from '../../numeric/quant.js';
import type {SoftmaxKind} from '../predictor/predictor.js';
import {syntheticPredictor} from '../predictor/synthetic.js';

export interface SyntheticFfnSpec {
  kind: SoftmaxKind;
  bits: QuantBits;
  /** Rank of the low-rank kinds (default width / 8). */
  rank?: number;
  /** Neurons per group. */
  groupSize: number;
  /** Fraction of neurons the top-k FFN keeps. */
  topK: number;
  /** Fraction of groups read per token (static + k'_g). */
  read: number;
}

export function syntheticFfnPlans(config: ModelConfig, s: SyntheticFfnSpec): FfnLayerPlan[] {
  const {hiddenDim, dim, nLayers} = config;
  const nGroups = hiddenDim / s.groupSize;
  const kPrime = Math.max(1, Math.min(nGroups, Math.round(s.read * nGroups)));
  const rows = config.gatedFfn ? 2 * hiddenDim : hiddenDim;
  const rank = s.rank ?? Math.max(8, Math.round(dim / 8));
  const quantGroup = dim % 64 === 0 ? 64 : dim;
  return Array.from({length: nLayers}, (_, l) => ({
    predictor: syntheticPredictor({kind: s.kind, vocabSize: rows, dim, rank, bits: s.bits, groupSize: s.kind === 'quant' ? quantGroup : rank, seed: 11 + l}),
    groupSize: s.groupSize,
    score: 'max' as const,
    nStatic: 0,
    kPrime,
  }));
}
