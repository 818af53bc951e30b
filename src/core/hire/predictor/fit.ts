/**
 * Which HiRE-Softmax predictors calibration fits, with their defaults, and the fitting itself
 * (the numerics are in fit-lowrank.ts and numeric/quant.ts).
 */
import {UsageError} from '../../errors.js';
import {
  fitLowRankDataAware,
  fitLowRankSvd,
  lowRankQuantRowErrors,
  lowRankRowErrors,
  quantizeLowRank,
  quantRowErrors,
  type LowRank,
} from './fit-lowrank.js';
import {quantize, type QuantBits} from '../../numeric/quant.js';
import {predictorName, SOFTMAX_KINDS, type LowRankFit, type SoftmaxKind, type SoftmaxPredictor} from './predictor.js';

export interface FitRequest {
  /** Predictor kinds to fit (default: all). */
  softmax?: SoftmaxKind[];
  /** Rank of the low-rank kinds (default: dim / 8 rounded to a multiple of 8, within 8..256). */
  rank?: number;
  /** Bits of the quantised kinds (default: 4 for quant, 8 for lowrank+quant's factor). */
  bits?: QuantBits;
  /** Columns per quantisation scale for `quant` (default 64 where it divides dim, else per row). */
  groupSize?: number;
}

export function defaultRank(dim: number): number {
  return Math.min(dim, Math.max(8, Math.min(256, Math.round(dim / 8 / 8) * 8)));
}

function defaultGroup(dim: number): number {
  for (const g of [64, 32]) if (dim % g === 0 && dim > g) return g;
  return dim;
}

/** The option names checkFitRequest's messages use (the FFN request names its fields differently). */
export interface FitOptionNames {
  softmax: string;
  rank: string;
  bits: string;
  groupSize: string;
}

const FIT_OPTION_NAMES: FitOptionNames = {softmax: 'softmax', rank: 'rank', bits: 'bits', groupSize: 'groupSize'};

/** Checks a request against the model before any work is done. */
export function checkFitRequest(req: FitRequest, vocabSize: number, dim: number, names: FitOptionNames = FIT_OPTION_NAMES): void {
  for (const kind of req.softmax ?? []) {
    if (!SOFTMAX_KINDS.includes(kind)) throw new UsageError(`${names.softmax} has the unknown kind "${kind}"; use ${SOFTMAX_KINDS.join(', ')}`, {option: names.softmax});
  }
  if (req.rank !== undefined && (!Number.isInteger(req.rank) || req.rank < 1 || req.rank > Math.min(dim, vocabSize))) {
    throw new UsageError(`${names.rank} ${req.rank} must be an integer from 1 to the model width ${Math.min(dim, vocabSize)}`, {option: names.rank});
  }
  if (req.bits !== undefined && ![8, 4, 2].includes(req.bits)) throw new UsageError(`${names.bits} must be 8, 4 or 2, got ${req.bits}`, {option: names.bits});
  if (req.bits === 2 && (req.softmax ?? SOFTMAX_KINDS).includes('lowrank+quant')) {
    throw new UsageError(`${names.bits} 2 applies to the quant kind only; lowrank+quant stores its factor in 8 or 4 bits`, {option: names.bits});
  }
  if (req.groupSize !== undefined) {
    const g = req.groupSize;
    const perByte = 8 / (req.bits ?? 4);
    if (!Number.isInteger(g) || g < 1 || dim % g !== 0 || (g !== dim && g % perByte !== 0)) {
      throw new UsageError(`${names.groupSize} ${g} must divide the model width ${dim} (and be a multiple of ${perByte} at ${req.bits ?? 4} bits)`, {option: names.groupSize});
    }
  }
}

export function fitPredictors(
  w: Float32Array,
  vocabSize: number,
  dim: number,
  hs: Float32Array,
  n: number,
  req: FitRequest,
  seed: number,
  progress: (stage: string) => void,
): SoftmaxPredictor[] {
  checkFitRequest(req, vocabSize, dim);
  const kinds = req.softmax && req.softmax.length > 0 ? req.softmax : [...SOFTMAX_KINDS];
  const rank = req.rank ?? defaultRank(dim);
  const out: SoftmaxPredictor[] = [];
  const base = {vocabSize, dim, fit: null, rank: null, bits: null, groupSize: null, A: null, B: null, Q: null};
  let dataAware: LowRank | null = null;
  const lowRank = (fit: LowRankFit): LowRank => {
    progress(`fitting rank-${rank} ${fit === 'svd' ? 'truncated SVD' : 'data-aware low-rank'} predictor`);
    if (fit === 'svd') return fitLowRankSvd(w, vocabSize, dim, rank, seed);
    dataAware ??= fitLowRankDataAware(w, vocabSize, dim, rank, hs, n, seed);
    return dataAware;
  };
  if (kinds.includes('lowrank')) {
    for (const fit of ['svd', 'data-aware'] as const) {
      const lr = lowRank(fit);
      out.push({...base, name: predictorName('lowrank', {fit, rank}), kind: 'lowrank', fit, rank, A: lr.A, B: lr.B, errNorms: lowRankRowErrors(w, lr)});
    }
  }
  if (kinds.includes('quant')) {
    const bits = req.bits ?? 4;
    const groupSize = req.groupSize ?? defaultGroup(dim);
    progress(`quantising the output layer to int${bits}`);
    const q = quantize(w, vocabSize, dim, bits, groupSize);
    out.push({...base, name: predictorName('quant', {bits, groupSize}), kind: 'quant', bits, groupSize, Q: q, errNorms: quantRowErrors(w, q)});
  }
  if (kinds.includes('lowrank+quant')) {
    const bits = (req.bits ?? 8) as 8 | 4;
    const lr = lowRank('data-aware');
    progress(`quantising the rank-${rank} factor to int${bits}`);
    const lrq = quantizeLowRank(lr, bits);
    out.push({
      ...base,
      name: predictorName('lowrank+quant', {fit: 'data-aware', rank, bits}),
      kind: 'lowrank+quant',
      fit: 'data-aware',
      rank,
      bits,
      groupSize: rank,
      B: lr.B,
      Q: lrq.A,
      errNorms: lowRankQuantRowErrors(w, lrq),
    });
  }
  return out;
}
