/**
 * The FFN part of a HiRE bundle as decoding reads it: hire.json's `ffn` section (group size, score,
 * top-k, static sets, k'_g per recall target, recall curves) and each layer's predictor from
 * hire.safetensors (`ffn.<layer>.<name>`). Calibration writes it (tasks/calibrate/ffn-bundle.ts);
 * the bundle's model.safetensors then holds the permuted weights with W_out as neuron rows.
 */
import type {PredictorMeta} from '../predictor/predictor.js';
import type {GroupScore} from '../ffn/groups.js';
import type {FfnLayerPlan} from '../ffn/sparse-layer.js';
import {withPredictorTensors} from './bundle.js';
import {predictorFromTensors} from '../predictor/predictor.js';

/** One layer's FFN record in hire.json. */
export interface FfnLayerRecord {
  predictor: PredictorMeta;
  /** Predictors tried and their k'_g at the selection target (null: not reached). */
  tried: {name: string; bytesPerToken: number; kPrime: number | null}[];
  nStatic: number;
  /** Mean held-out recall at k'_g = 0..nGroups - nStatic (selected predictor). */
  recall: number[];
  /** recall target -> k'_g (null: not reachable; the layer then reads every group). */
  kPrime: Record<string, number | null>;
  /** Share of calibration tokens each (permuted) group is active on. */
  groupActivity: number[];
}

export interface FfnManifest {
  layout: 'neuron-rows';
  groupSize: number;
  score: GroupScore;
  /** Fraction of neurons the top-k FFN keeps. */
  topK: number;
  staticThreshold: number;
  permuted: boolean;
  recallTargets: number[];
  /** The target per-layer predictor selection used. */
  selectTarget: number;
  layers: FfnLayerRecord[];
}

/**
 * Decode plans for every layer at a recall target: the layer's predictor, static set and k'_g
 * (a layer whose table has no k'_g for the target reads every group).
 */
export function readFfnPlans(
  dir: string,
  ffn: FfnManifest,
  target: number,
  model: {hiddenDim: number; dim: number; gatedFfn: boolean},
): FfnLayerPlan[] {
  const {hiddenDim, dim} = model;
  const nGroups = hiddenDim / ffn.groupSize;
  const predRows = model.gatedFfn ? 2 * hiddenDim : hiddenDim; // [W_gate; W_up] or W_in
  return withPredictorTensors(dir, (read) =>
    ffn.layers.map((rec, l) => {
      const predictor = predictorFromTensors(rec.predictor, predRows, dim, read(`FFN layer ${l}`), `ffn.${l}`);
      return {predictor, groupSize: ffn.groupSize, score: ffn.score, nStatic: rec.nStatic, kPrime: kPrimeAt(rec, target) ?? nGroups - rec.nStatic};
    }),
  );
}

/**
 * k'_g of a layer for a recall target: the stored table when it has the target, else read off
 * the stored recall curve (null: not reachable).
 */
export function kPrimeAt(rec: FfnLayerRecord, target: number): number | null {
  const stored = rec.kPrime[String(target)];
  if (stored !== undefined) return stored;
  const k = rec.recall.findIndex((r) => r >= target - 1e-12);
  return k < 0 ? null : k;
}
