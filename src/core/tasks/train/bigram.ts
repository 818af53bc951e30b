/**
 * The bigram baseline: p(next | prev) = (count(prev, next) + alpha) / (count(prev) + alpha V),
 * counted on the training tokens. alpha is chosen on a held-out tail of the training tokens (never
 * on validation), then the counts are redone on all training tokens.
 */
import type {EvalResult} from './train.js';

export interface BigramResult extends EvalResult {
  alpha: number;
}

export const ALPHA_GRID: readonly number[] = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1];

/** Share of the training tokens held out to choose alpha. */
const HOLDOUT = 0.1;

class BigramCounts {
  private readonly pairs = new Map<number, number>();
  private readonly rows: Float64Array;

  constructor(
    tokens: Int32Array,
    readonly vocabSize: number,
  ) {
    this.rows = new Float64Array(vocabSize);
    for (let i = 0; i + 1 < tokens.length; i++) {
      const key = tokens[i]! * vocabSize + tokens[i + 1]!;
      this.pairs.set(key, (this.pairs.get(key) ?? 0) + 1);
      this.rows[tokens[i]!]!++;
    }
  }

  /** Mean -log p(target | input) over the pairs. */
  nll(inputs: Int32Array, targets: Int32Array, alpha: number): number {
    let total = 0;
    for (let i = 0; i < inputs.length; i++) {
      const c = this.pairs.get(inputs[i]! * this.vocabSize + targets[i]!) ?? 0;
      total -= Math.log((c + alpha) / (this.rows[inputs[i]!]! + alpha * this.vocabSize));
    }
    return total / inputs.length;
  }
}

/**
 * Fits on `train`, scores `inputs[i] -> targets[i]` (pass the model's validation windows so both
 * are scored on the same target tokens).
 */
export function bigramBaseline(
  train: Int32Array,
  inputs: Int32Array,
  targets: Int32Array,
  vocabSize: number,
): BigramResult {
  const cut = Math.floor(train.length * (1 - HOLDOUT));
  const fit = new BigramCounts(train.subarray(0, cut), vocabSize);
  const held = train.subarray(cut);
  let alpha = ALPHA_GRID[0]!;
  let best = Infinity;
  for (const a of ALPHA_GRID) {
    const nll = fit.nll(held.subarray(0, held.length - 1), held.subarray(1), a);
    if (nll < best) {
      best = nll;
      alpha = a;
    }
  }
  const loss = new BigramCounts(train, vocabSize).nll(inputs, targets, alpha);
  return {alpha, loss, perplexity: Math.exp(loss), tokens: targets.length};
}
