/**
 * Scoring one softmax predictor against the dense output layer, token by token: recall@k, top-1
 * agreement, KL / tail mass and the perplexities of docs/ARCHITECTURE.md (Numbers every report
 * carries), accumulated over the scored tokens and turned into one row per (k, k').
 */
import {topKIndices} from '../../numeric/select.js';
import {RecallAccumulator} from '../../hire/predictor/recall.js';
import type {SoftmaxKind} from '../../hire/predictor/predictor.js';
import {candidateKl, candidateLogProb, perplexity, perplexityWithDrops} from './metrics.js';
import type {PredictorPlan} from './plan.js';

/** One (predictor, k, k') measurement; every number is a mean over the scored tokens. */
export interface EvalRow {
  predictor: string;
  kind: SoftmaxKind;
  /** Output-layer weight bytes per token: the predictor plus k' exact rows. */
  bytesPerToken: number;
  k: number;
  kPrime: number;
  /** Recall targets whose stored k' (for this k) is this k'; empty for grid points and --k-prime. */
  targets: number[];
  /** Mean recall@k: share of the dense top-k inside the candidates. */
  recall: number;
  /** Share of tokens whose whole dense top-k is inside the candidates. */
  fullRecall: number;
  /** Share of tokens where greedy HiRE picks the dense argmax. */
  top1Agreement: number;
  /** KL(p_S || q), KL(q || p) and p(not S) (see metrics.ts for why these three). */
  kl: number;
  tailMass: number;
  reverseKl: number;
  /** HiRE perplexity over the next tokens inside the candidates (kept tokens). */
  perplexity: number;
  /** Dense perplexity over the same kept tokens (the fair comparison for `perplexity`). */
  densePerplexityKept: number;
  /** Share of next tokens outside the candidates (HiRE cannot produce them). */
  droppedShare: number;
  /**
   * Perplexity over every next token when the tail keeps the predictor's approximate logits
   * (exact logits on the candidates, z~ elsewhere): finite, and equal to dense at k' = V.
   */
  approxTailPerplexity: number;
}

/** Sums of one k' over the scored tokens (the k-independent numbers). */
interface KPrimeSums {
  top1: number;
  kl: number;
  tailMass: number;
  reverseKl: number;
  /** log q(next token) per token; -Infinity when it was not a candidate. */
  logProbs: number[];
  /** log p(next token) of the tokens kept (inside the candidates). */
  denseKept: number[];
  /** log q~(next token) where q~ keeps the predictor's logits on the tail (every token counts). */
  tailLogProbs: number[];
}

/** What the dense model gives at one position. */
export interface DenseToken {
  /** Dense logits z [vocabSize]. */
  logits: Float32Array;
  /** topKIndices(logits, at least the largest k measured): best first, ties by lower id. */
  top: Int32Array;
  /** The true next token and its dense log-probability. */
  next: number;
  logProb: number;
}

/** log softmax(m)[token] for m = z~ with the candidates' exact logits written over it. */
function approxTailLogProb(approx: Float32Array, ids: Int32Array, logits: Float32Array, token: number): number {
  const mixed = Float64Array.from(approx);
  ids.forEach((id, i) => (mixed[id] = logits[i]!));
  let max = -Infinity;
  for (let i = 0; i < mixed.length; i++) if (mixed[i]! > max) max = mixed[i]!;
  let sum = 0;
  for (let i = 0; i < mixed.length; i++) sum += Math.exp(mixed[i]! - max);
  return mixed[token]! - max - Math.log(sum);
}

/** Running measurements of one predictor; add() one token at a time, rows() at the end. */
export class PredictorTally {
  private readonly recall: RecallAccumulator;
  private readonly sums: KPrimeSums[];
  private readonly maxKPrime: number;
  private n = 0;

  constructor(readonly plan: PredictorPlan) {
    this.recall = new RecallAccumulator(plan.ks, plan.kPrimes);
    this.sums = plan.kPrimes.map(() => ({top1: 0, kl: 0, tailMass: 0, reverseKl: 0, logProbs: [], denseKept: [], tailLogProbs: []}));
    this.maxKPrime = plan.kPrimes[plan.kPrimes.length - 1]!;
  }

  /** One position: the dense side and this predictor's approximate logits z~ [vocabSize]. */
  add(dense: DenseToken, approx: Float32Array): void {
    this.recall.add(dense.top, approx);
    const order = topKIndices(approx, this.maxKPrime); // candidates for k' are order[0, k')
    this.plan.kPrimes.forEach((kPrime, b) => {
      const ids = order.subarray(0, kPrime);
      // HiRE's exact stage computes W[C] h: the same rows times the same h as the dense layer,
      // so the candidates' exact logits are the dense logits at those ids; we gather them rather
      // than run a second (gathered-row) matvec.
      const logits = Float32Array.from(ids, (id) => dense.logits[id]!);
      const s = this.sums[b]!;
      if (ids[argmaxLowestId(ids, logits)] === dense.top[0]) s.top1++;
      const d = candidateKl(dense.logits, ids, logits);
      s.kl += d.kl;
      s.tailMass += d.tailMass;
      s.reverseKl += d.reverseKl;
      const lq = candidateLogProb(ids, logits, dense.next);
      s.logProbs.push(lq);
      if (lq > -Infinity) s.denseKept.push(dense.logProb);
      s.tailLogProbs.push(approxTailLogProb(approx, ids, logits, dense.next));
    });
    this.n++;
  }

  rows(rowBytes: number): EvalRow[] {
    const table = this.recall.table();
    const {record, pairs, kPrimes} = this.plan;
    const n = Math.max(this.n, 1);
    return pairs.map(({k, kPrime, targets}) => {
      const a = table.ks.indexOf(k);
      const b = kPrimes.indexOf(kPrime);
      const s = this.sums[b]!;
      const ppl = perplexityWithDrops(s.logProbs);
      return {
        predictor: record.name,
        kind: record.kind,
        bytesPerToken: record.bytesPerToken + kPrime * rowBytes,
        k,
        kPrime,
        targets,
        recall: table.mean[a]![b]!,
        fullRecall: table.full[a]![b]!,
        top1Agreement: s.top1 / n,
        kl: s.kl / n,
        tailMass: s.tailMass / n,
        reverseKl: s.reverseKl / n,
        perplexity: ppl.perplexity,
        densePerplexityKept: s.denseKept.length > 0 ? perplexity(s.denseKept) : Infinity,
        droppedShare: ppl.dropped / n,
        approxTailPerplexity: perplexity(s.tailLogProbs),
      };
    });
  }
}

/** Position of the largest logit, ties by lower id (as greedy decoding over the candidates picks). */
function argmaxLowestId(ids: Int32Array, logits: Float32Array): number {
  let best = 0;
  for (let j = 1; j < ids.length; j++) {
    const v = logits[j]!;
    const w = logits[best]!;
    if (v > w || (v === w && ids[j]! < ids[best]!) || (w !== w && v === v)) best = j;
  }
  return best;
}
