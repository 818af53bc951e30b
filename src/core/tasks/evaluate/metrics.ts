/**
 * Distribution metrics of HiRE against dense decoding: KL, dropped tail mass, perplexity.
 *
 * HiRE samples from the candidates only, so its next-token distribution q is zero outside the
 * candidate set S and KL(dense || hire) is +Infinity whenever the dense p puts any mass outside S.
 * We therefore report two finite numbers that together say the same thing (docs/ARCHITECTURE.md, Numbers every report carries):
 *
 *   tailMass = p(not S) = sum_{i not in S} p_i          the mass HiRE drops (0 when S holds all of p)
 *   kl       = KL(p_S || q) = sum_{i in S} p_S(i) log(p_S(i) / q_i),   p_S = p restricted to S, renormalised
 *
 * and, as a single finite summary, reverseKl = KL(q || p) = sum_{i in S} q_i log(q_i / p_i), which
 * is always finite because S is inside p's support.
 *
 * Note: when q is the softmax of the EXACT logits on S (HiRE-Softmax with an exact hidden state),
 * q = p_S, so kl = 0 and reverseKl = -log(1 - tailMass): the only loss is the dropped tail. kl
 * becomes informative when the hidden state itself differs (HiRE-FFN, a quantised exact stage).
 */
import {logSoftmax} from '../../numeric/softmax.js';

export interface KlResult {
  /** KL(p_S || q) in nats, p_S = dense restricted to the candidates and renormalised. */
  kl: number;
  /** Dense probability mass outside the candidates. */
  tailMass: number;
  /** KL(q || p) in nats (finite; = -log(1 - tailMass) when q uses exact logits). */
  reverseKl: number;
}

/**
 * KL between the softmax of full dense logits p [vocabSize] and HiRE logits q [vocabSize] where
 * q is -Infinity outside the candidates (see the file comment for the three numbers).
 */
export function klDivergence(pLogits: Float32Array, qLogits: Float32Array): KlResult {
  if (pLogits.length !== qLogits.length) throw new RangeError(`klDivergence: ${pLogits.length} vs ${qLogits.length} logits`);
  const ids: number[] = [];
  const cand: number[] = [];
  for (let i = 0; i < qLogits.length; i++) {
    if (qLogits[i] > -Infinity) {
      ids.push(i);
      cand.push(qLogits[i]);
    }
  }
  return candidateKl(pLogits, Int32Array.from(ids), Float32Array.from(cand));
}

/** The same three numbers from full dense logits and HiRE's candidate ids + their logits. */
export function candidateKl(denseLogits: Float32Array, ids: Int32Array, candLogits: Float32Array): KlResult {
  if (ids.length !== candLogits.length) throw new RangeError(`candidateKl: ${ids.length} ids vs ${candLogits.length} logits`);
  if (ids.length === 0) return {kl: Infinity, tailMass: 1, reverseKl: Infinity};
  const logP = logSoftmax(denseLogits); // float64, log p_i
  const logQ = logSoftmax(candLogits); // over S only, aligned with ids
  // log p(S) by log-sum-exp over the candidates' log p.
  let max = -Infinity;
  for (const id of ids) max = Math.max(max, logP[id]);
  let sum = 0;
  for (const id of ids) sum += Math.exp(logP[id] - max);
  const logPS = max + Math.log(sum);
  const tailMass = Math.max(0, -Math.expm1(logPS)); // 1 - p(S), accurate when the tail is tiny
  let kl = 0;
  let reverseKl = 0;
  for (let j = 0; j < ids.length; j++) {
    const lp = logP[ids[j]];
    const lq = logQ[j];
    const lps = lp - logPS; // log p_S
    if (lps > -Infinity) kl += Math.exp(lps) * (lps - lq);
    if (lq > -Infinity) reverseKl += Math.exp(lq) * (lq - lp);
  }
  return {kl: Math.max(0, kl), tailMass, reverseKl: Math.max(0, reverseKl)};
}

/** log p(token) under the softmax of full logits. */
export function tokenLogProb(logits: Float32Array, token: number): number {
  return logSoftmax(logits)[token];
}

/**
 * log q(token) under HiRE's distribution over its candidates: -Infinity when the token is not a
 * candidate (HiRE cannot produce it; its perplexity is then infinite: count these separately).
 */
export function candidateLogProb(ids: Int32Array, candLogits: Float32Array, token: number): number {
  const j = ids.indexOf(token);
  return j < 0 ? -Infinity : logSoftmax(candLogits)[j];
}

/** exp(-mean log p) over per-token log-probabilities (natural log). Infinity if any is -Infinity. */
export function perplexity(logProbs: ArrayLike<number>): number {
  if (logProbs.length === 0) throw new RangeError('perplexity: no tokens');
  let s = 0;
  for (let i = 0; i < logProbs.length; i++) s += logProbs[i];
  return Math.exp(-s / logProbs.length);
}

/** Perplexity over the tokens HiRE could produce, and how many it could not (log p = -Infinity). */
export function perplexityWithDrops(logProbs: ArrayLike<number>): {perplexity: number; kept: number; dropped: number} {
  const kept: number[] = [];
  for (let i = 0; i < logProbs.length; i++) if (logProbs[i] > -Infinity) kept.push(logProbs[i]);
  return {
    perplexity: kept.length > 0 ? perplexity(kept) : Infinity,
    kept: kept.length,
    dropped: logProbs.length - kept.length,
  };
}
