/**
 * HiRE-FFN calibration, per layer: collect each FFN's inputs and true top-k neurons over the
 * calibration text (an FfnProbe on the dense forward pass), find the co-activation permutation
 * and static set, fit predictors of the permuted W_gate (W_in), measure recall against k'_g on
 * the held-out split, and pick per layer the predictor that reads the fewest bytes at the
 * recall target. Pure apart from reading weights from the checkpoint; never prints.
 */
import type {Backend, Vec} from '../../backends/backend.js';
import type {FfnProbe} from '../../decode/forward.js';
import {ffnTopKByMagnitude, type ModelConfig} from '../../model/config.js';
import type {ModelSource} from '../../model/load.js';
import {blockFormatOf, hostMatrixF32, readHostMatrix} from '../../model/weights.js';
import {blockRowBytes} from '../../numeric/ggml-quant.js';
import {
  accumulateGroupRanks,
  groupScores,
  kPrimeForRecall,
  neuronScores,
  recallFromRanks,
  topNeurons,
  type GroupScore,
} from '../../hire/ffn/groups.js';
import {coactivationPermutation, createActivity, identityPermutation, markActive, type Activity, type Permutation} from '../../hire/ffn/permutation.js';
import {fitPredictors} from '../../hire/predictor/fit.js';
import {lowRankLogits, lowRankQuantLogits} from '../../hire/predictor/fit-lowrank.js';
import {quantMatvec} from '../../numeric/quant.js';
import {predictorBytes, predictorMeta, type SoftmaxKind, type SoftmaxPredictor} from '../../hire/predictor/predictor.js';
import type {FfnLayerRecord} from '../../hire/bundle/ffn-section.js';

export type {FfnLayerRecord} from '../../hire/bundle/ffn-section.js';

export interface FfnFitRequest {
  /** Predictor kinds to try per layer (default: quant; on q8_0 / q4_0 weights also lowrank+quant). */
  kinds?: SoftmaxKind[];
  rank?: number;
  /** Bit widths tried for the quantised kinds (default [4, 8]: calibration keeps the cheaper per layer). */
  bits?: (8 | 4)[];
  /** Columns per quantisation scale. */
  quantGroup?: number;
  /** Neurons per group g (default 8). */
  groupSize?: number;
  score?: GroupScore;
  /** Fraction of neurons kept by the top-k FFN (default: the model's own, else 0.1). */
  topK?: number;
  /** Groups active on more than this share of calibration tokens are static (default 0.5). */
  staticThreshold?: number;
  /** Co-activation permutation (default true). */
  permute?: boolean;
  /** Random group swaps tried per neuron after the greedy grouping (default 0: none). */
  refine?: number;
}

/** One layer's calibration outcome, as hire.json records it. */
export interface FfnCalibration {
  records: FfnLayerRecord[];
  predictors: SoftmaxPredictor[];
  perms: Permutation[];
  groupSize: number;
  score: GroupScore;
  topK: number;
  staticThreshold: number;
  permuted: boolean;
}

/** Collects, per layer, every FFN input and the true top-k neuron ids of each token. */
export class FfnCollector implements FfnProbe {
  /** Index of the token the forward pass is on (set by the caller before each step). */
  token = 0;
  readonly inputs: Float32Array[];
  readonly top: Int32Array[][];
  readonly activity: Activity[];
  private readonly k: number;

  constructor(
    private readonly backend: Backend,
    private readonly config: ModelConfig,
    topK: number,
    private readonly tokens: number,
    private readonly fitTokens: number,
  ) {
    const {nLayers, dim, hiddenDim} = config;
    this.k = Math.max(1, Math.round(topK * hiddenDim));
    this.inputs = Array.from({length: nLayers}, () => new Float32Array(tokens * dim));
    this.top = Array.from({length: nLayers}, () => []);
    this.activity = Array.from({length: nLayers}, () => createActivity(hiddenDim, fitTokens));
  }

  async ffn(layer: number, x: Vec, hidden: Vec): Promise<void> {
    const t = this.token;
    if (t >= this.tokens) return;
    const {dim} = this.config;
    this.inputs[layer]!.set(await this.backend.read(x), t * dim);
    const ids = topNeurons(await this.backend.read(hidden), this.k, ffnTopKByMagnitude(this.config));
    if (t < this.fitTokens) markActive(this.activity[layer]!, t, ids);
    this.top[layer]![t] = ids;
  }
}

/** Host products u~ = P x of a predictor (same maths as the backends). */
function predictHost(p: SoftmaxPredictor, x: Float32Array): Float32Array {
  if (p.kind === 'lowrank') return lowRankLogits({rank: p.rank!, A: p.A!, B: p.B!}, x);
  if (p.kind === 'quant') return quantMatvec(p.Q!, x);
  return lowRankQuantLogits({rank: p.rank!, A: p.Q!, B: p.B!}, x);
}

/**
 * The matrix the layer's predictor approximates, as f32 with rows permuted: [W_gate; W_up]
 * [2 * hiddenDim, dim] for a gated FFN (the top-k ranks the product), W_in [hiddenDim, dim] otherwise.
 */
export function readPredictedRows(source: ModelSource, layer: number, perm: Int32Array): Float32Array {
  const keys = source.config.gatedFfn ? ['wGate', 'wUp'] : ['wUp'];
  const {hiddenDim, dim} = source.config;
  const out = new Float32Array(keys.length * hiddenDim * dim);
  keys.forEach((key, part) => {
    const spec = source.specs.find((s) => s.key === `layers.${layer}.${key}`)!;
    const f = hostMatrixF32(readHostMatrix(source.checkpoint, spec)); // blocks and halves widened exactly
    const base = part * hiddenDim * dim;
    for (let i = 0; i < perm.length; i++) out.set(f.subarray(perm[i]! * dim, (perm[i]! + 1) * dim), base + i * dim);
  });
  return out;
}

export function calibrateFfn(
  source: ModelSource,
  collector: FfnCollector,
  fitTokens: number,
  req: Required<FfnFitRequest> & {seed: number; targets: number[]; selectTarget: number},
  progress: (stage: string, done?: number, total?: number) => void,
): FfnCalibration {
  const {config} = source;
  const {hiddenDim, dim, nLayers} = config;
  const g = req.groupSize;
  const nGroups = hiddenDim / g;
  const records: FfnLayerRecord[] = [];
  const chosen: SoftmaxPredictor[] = [];
  const perms: Permutation[] = [];
  const heldOut = collector.top[0]!.length - fitTokens;
  for (let l = 0; l < nLayers; l++) {
    progress(`FFN layer ${l + 1}/${nLayers}: grouping neurons`, l, nLayers);
    const perm = req.permute
      ? coactivationPermutation(collector.activity[l]!, g, req.staticThreshold, req.refine * hiddenDim)
      : identityPermutation(collector.activity[l]!, g, req.staticThreshold);
    perms.push(perm);
    const inverse = new Int32Array(hiddenDim);
    perm.perm.forEach((orig, pos) => (inverse[orig] = pos));
    const w = readPredictedRows(source, l, perm.perm);
    const predRows = w.length / dim;
    progress(`FFN layer ${l + 1}/${nLayers}: fitting predictors`, l, nLayers);
    const xs = collector.inputs[l]!;
    const fitted: SoftmaxPredictor[] = [];
    for (const bits of req.bits) {
      const kinds = fitted.length === 0 ? req.kinds : req.kinds.filter((k) => k !== 'lowrank'); // lowrank has no bits
      if (kinds.length === 0) continue;
      const fit = {softmax: kinds, rank: req.rank, bits, groupSize: req.quantGroup};
      fitted.push(...fitPredictors(w, predRows, dim, xs.subarray(0, fitTokens * dim), fitTokens, fit, req.seed + l, () => {}));
    }
    const rowBytes = ffnRowBytes(source);
    let best: {p: SoftmaxPredictor; curve: Float64Array; cost: number; reaches: boolean} | null = null;
    const tried: FfnLayerRecord['tried'] = [];
    for (const p of fitted) {
      const hist = new Float64Array(nGroups - perm.nStatic + 1);
      const scores = new Float32Array(hiddenDim);
      const gs = new Float32Array(nGroups);
      for (let i = 0; i < heldOut; i++) {
        const t = fitTokens + i;
        const pred = predictHost(p, xs.subarray(t * dim, (t + 1) * dim));
        groupScores(neuronScores(pred, config.activation, config.gatedFfn, scores), g, req.score, gs);
        const top = collector.top[l]![t]!;
        const mapped = new Int32Array(top.length);
        for (let j = 0; j < top.length; j++) mapped[j] = inverse[top[j]!]!;
        accumulateGroupRanks(mapped, gs, g, perm.nStatic, hist);
      }
      const curve = recallFromRanks(hist);
      const kp = kPrimeForRecall(curve, req.selectTarget);
      const cost = ffnStepBytes(predictorBytes(p), perm.nStatic + (kp ?? nGroups - perm.nStatic), g, rowBytes);
      tried.push({name: p.name, bytesPerToken: predictorBytes(p), kPrime: kp});
      const reaches = kp !== null;
      if (!best || (reaches && !best.reaches) || (reaches === best.reaches && cost < best.cost)) best = {p, curve, cost, reaches};
    }
    const kPrime: Record<string, number | null> = {};
    for (const target of req.targets) kPrime[String(target)] = kPrimeForRecall(best!.curve, target);
    chosen.push(best!.p);
    records.push({
      predictor: predictorMeta(best!.p),
      tried,
      nStatic: perm.nStatic,
      recall: Array.from(best!.curve, (v) => Math.round(v * 1e6) / 1e6),
      kPrime,
      groupActivity: Array.from(perm.groupActivity, (v) => Math.round(v * 1e4) / 1e4),
    });
  }
  return {records, predictors: chosen, perms, groupSize: g, score: req.score, topK: req.topK, staticThreshold: req.staticThreshold, permuted: req.permute};
}

/** Weight bytes one sparse FFN step reads: the predictor plus `groups` groups of g neuron rows. */
export function ffnStepBytes(predictorBytes: number, groups: number, g: number, rowBytes: number): number {
  return predictorBytes + groups * g * rowBytes;
}

/** Bytes of one neuron's row in every FFN matrix as the checkpoint stores them. */
export function ffnRowBytes(source: ModelSource): number {
  let bytes = 0;
  for (const key of ['wGate', 'wUp', 'wDown', 'wDownT']) {
    const spec = source.specs.find((s) => s.key === `layers.0.${key}`);
    if (!spec) continue;
    const blocks = blockFormatOf(source.checkpoint, spec.name);
    if (blocks) {
      // W_out from a standard-layout file becomes Q8_0 neuron rows in the bundle (transposeBlocks)
      const format = key === 'wDown' || (key === 'wDownT' && spec.blockTranspose) ? 'q8_0' : blocks;
      bytes += blockRowBytes(format, source.config.dim);
      continue;
    }
    const info = source.checkpoint.info(spec.name);
    const elem = info.dtype === 'F32' ? 4 : info.dtype === 'F64' ? 4 : 2;
    bytes += source.config.dim * elem;
  }
  return bytes;
}
