/**
 * calibrate(): fit HiRE-Softmax predictors on calibration text, measure their recall on a
 * held-out split, and write a bundle that loadBundle() and `hire generate` read. Never prints.
 */
import {calibrate as calibrateCore} from '../core/hire/calibrate.js';
import type {HireManifest} from '../core/hire/bundle.js';
import type {FfnFitRequest} from '../core/hire/ffn-calibrate.js';
import type {QuantBits} from '../core/hire/quant.js';
import type {SoftmaxKind} from '../core/hire/softmax-predictor.js';
import {DEMO_MODEL_DIR} from '../core/model/defaults.js';
import {coreProgress, type TaskOptions} from './progress.js';

export interface CalibrateOptions extends TaskOptions {
  /** Checkpoint directory (default: the bundled demo model, models/shakespeare-topk). */
  model?: string;
  /** Bundle directory to write (default: `<model name>.hire` in the current directory). */
  out?: string;
  /** Replace an existing bundle at `out` (default false: IoError). */
  force?: boolean;
  /** Calibration text files (default: the bundled corpus); their train split is used. */
  data?: string[];
  /** Predictor kinds to fit (default: all: 'lowrank', 'quant', 'lowrank+quant'). */
  softmax?: SoftmaxKind[];
  /** Rank of the low-rank predictors (default: width/8 within 8..256). */
  rank?: number;
  /** Bits of the quantised predictors (default: 4 for quant, 8 for lowrank+quant's factor). */
  bits?: QuantBits;
  /** Columns per scale for 'quant' (default 64 where it divides the width). */
  groupSize?: number;
  /** Top-k sizes recall is measured for (default 1, 8, 32, 64). */
  ks?: number[];
  /** Recall target that chooses the predictor; stored with 0.9, 0.95, 0.99, 0.999 (default 0.99). */
  recall?: number;
  /** Calibration tokens, fit + held out (default 8192; the CLI's --tokens default is 4096). */
  tokens?: number;
  /** Tokens per sequence while collecting hidden states (default 128). */
  seqLen?: number;
  /** Share of the tokens held out for recall (default 0.2). */
  heldOut?: number;
  /** Backend (default 'cpu') and its threads (default: every core). */
  backend?: string;
  threads?: number;
  /** Seed of the randomized SVD (default 1). */
  seed?: number;
  /**
   * Also calibrate HiRE-FFN (null/undefined: softmax only): predictor kinds and bit widths tried
   * per layer, neurons per group (default 8), group score, top-k fraction (default the model's,
   * else 0.1), static threshold (default 0.5), co-activation permutation (default true).
   */
  ffn?: FfnFitRequest | null;
}

export interface CalibrationResult {
  /** The bundle directory written (absolute). */
  bundle: string;
  /** Its hire.json: predictors, recall curves, k' tables, the selected predictor. */
  manifest: HireManifest;
}

export async function calibrate(options: CalibrateOptions = {}): Promise<CalibrationResult> {
  const {onProgress: _p, onWarning, signal: _s, model, ...rest} = options;
  return calibrateCore({
    ...rest,
    model: model ?? DEMO_MODEL_DIR,
    onProgress: coreProgress('calibration', options),
    onWarning,
  });
}
