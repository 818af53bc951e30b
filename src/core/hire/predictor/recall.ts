/**
 * Recall of approximate logits and the choice of k', plus certified (exact) top-k.
 *
 * recall@k(k') of one token = |top-k(exact) ∩ top-k'(approx)| / k: the share of the dense top-k
 * that survives into the candidates. Ordering everywhere is topKIndices's: value descending, ties
 * by lower index, NaN last.
 */
import {kthLargest, topKIndices} from '../../numeric/select.js';
import {roundUpF32} from '../../numeric/linalg.js';

/** |top-k(exact) ∩ top-k'(approx)| / k. */
export function recallAtK(exact: Float32Array, approx: Float32Array, k: number, kPrime: number): number {
  if (exact.length !== approx.length) throw new RangeError(`recallAtK: ${exact.length} exact vs ${approx.length} approx logits`);
  const kk = Math.min(k, exact.length);
  if (kk < 1) throw new RangeError(`recallAtK: k must be >= 1, got ${k}`);
  const inCandidates = new Uint8Array(approx.length);
  for (const id of topKIndices(approx, kPrime)) inCandidates[id] = 1;
  let hit = 0;
  for (const id of topKIndices(exact, kk)) hit += inCandidates[id];
  return hit / kk;
}

/** Mean recall over tokens for each (k, k'), and the share of tokens whose recall is 1. */
export interface RecallTable {
  ks: number[];
  kPrimes: number[];
  /** mean[a][b] = mean recall@ks[a] with kPrimes[b] candidates. */
  mean: number[][];
  /** full[a][b] = fraction of tokens with recall exactly 1 at (ks[a], kPrimes[b]). */
  full: number[][];
  /** Tokens measured. */
  tokens: number;
}

/** Recall table over calibration tokens (one pair of full logit vectors per token). */
export function recallCurve(
  pairs: ReadonlyArray<{exact: Float32Array; approx: Float32Array}>,
  ks: number[],
  kPrimes: number[],
): RecallTable {
  const acc = new RecallAccumulator(ks, kPrimes);
  for (const {exact, approx} of pairs) acc.add(topKIndices(exact, acc.maxK), approx);
  return acc.table();
}

/**
 * Streaming form of recallCurve: add one token at a time (its exact top ids and its approximate
 * logits), so calibration never holds every token's full logit vectors.
 */
export class RecallAccumulator {
  readonly maxK: number;
  private readonly maxKPrime: number;
  private readonly mean: number[][];
  private readonly full: number[][];
  private n = 0;

  constructor(
    private readonly ks: number[],
    private readonly kPrimes: number[],
  ) {
    if (ks.some((k) => !(k >= 1)) || kPrimes.some((kp) => !(kp >= 1))) {
      throw new RangeError("recallCurve: every k and k' must be >= 1");
    }
    this.maxK = Math.max(...ks);
    this.maxKPrime = Math.max(...kPrimes);
    this.mean = ks.map(() => kPrimes.map(() => 0));
    this.full = ks.map(() => kPrimes.map(() => 0));
  }

  /** exactTop: the exact top-maxK ids, best first (topKIndices order). */
  add(exactTop: Int32Array, approx: Float32Array): void {
    const vocab = approx.length;
    // rank[id] = position of id in the approximate order (vocab when beyond the largest k').
    const rank = new Int32Array(vocab).fill(vocab);
    topKIndices(approx, this.maxKPrime).forEach((id, pos) => (rank[id] = pos));
    this.ks.forEach((k, a) => {
      const kk = Math.min(k, vocab, exactTop.length);
      this.kPrimes.forEach((kp, b) => {
        let hit = 0;
        for (let j = 0; j < kk; j++) if (rank[exactTop[j]] < kp) hit++;
        this.mean[a][b] += hit / kk;
        if (hit === kk) this.full[a][b] += 1;
      });
    });
    this.n++;
  }

  table(): RecallTable {
    const scale = (t: number[][]) => t.map((row) => row.map((v) => (this.n > 0 ? v / this.n : 0)));
    return {ks: [...this.ks], kPrimes: [...this.kPrimes], mean: scale(this.mean), full: scale(this.full), tokens: this.n};
  }
}

/** Smallest k' of the table whose MEAN recall@k reaches target; null when none does. */
export function chooseKPrime(table: RecallTable, k: number, target: number): number | null {
  const a = table.ks.indexOf(k);
  if (a < 0) throw new RangeError(`chooseKPrime: k = ${k} was not measured; the table has k in {${table.ks.join(', ')}}`);
  if (table.tokens === 0) return null;
  let best: number | null = null;
  table.kPrimes.forEach((kp, b) => {
    if (table.mean[a][b] >= target && (best === null || kp < best)) best = kp;
  });
  return best;
}

/** k' grid: 2^j and 1.5 * 2^j from max(lo, 8) up to, and ending with, vocabSize. */
export function defaultKPrimeGrid(vocabSize: number, lo = 8): number[] {
  const start = Math.max(lo, 8);
  const grid: number[] = [];
  for (let p = 1; p < vocabSize; p *= 2) {
    for (const v of [p, (3 * p) / 2]) if (Number.isInteger(v) && v >= start && v < vocabSize) grid.push(v);
  }
  grid.push(vocabSize);
  return [...new Set(grid)].sort((x, y) => x - y);
}

export interface CertifiedTopK {
  /**
   * The final k' candidate ids in canonical order: exact logit descending, ties by lower id (NaN
   * last), so when certified, ids[0, k) is exactly topKIndices(dense logits, k).
   */
  ids: Int32Array;
  /** Exact logits of `ids`, aligned. */
  logits: Float32Array;
  /** How many times k' was doubled. */
  widened: number;
  /** The final k'. */
  kPrime: number;
  /** True when the top-k of the candidates is provably the dense top-k. */
  certified: boolean;
}

export interface CertifiedOptions {
  /**
   * Added to every bound u_i. The proof below is about exact arithmetic; the logits a backend
   * computes carry float32 rounding (~1e-6 relative of sum |W_ij h_j|), so a margin of that size
   * makes the certificate hold for the computed numbers too. Default 0.
   */
  margin?: number;
  /** Stop widening at this k' (default vocabSize, where the result is trivially exact). */
  maxKPrime?: number;
}

/**
 * Exact top-k from approximate logits z~ [vocabSize] and row error norms e [vocabSize].
 *
 * Why it is exact. For every row, z_i - z~_i = (W_i - W~_i) h <= e_i ||h|| (Cauchy-Schwarz), so
 * u_i = z~_i + e_i ||h|| is an upper bound on the exact logit z_i. Candidates are the top-k' rows
 * by u, so every non-candidate j has u_j <= T, where T = the largest u outside the candidates
 * (the (k'+1)-th largest u). Let z_(k) be the k-th largest exact logit among the candidates. If
 * z_(k) > T, every non-candidate has z_j <= u_j <= T < z_(k): it is strictly below at least k
 * candidates, so it is in no top-k of the full vector, and the top-k of all vocabSize logits is the
 * top-k of the candidates, tie-breaking included (the result is sorted by exact logit, ties by
 * lower id, as dense topKIndices orders them). Otherwise k' doubles, and the exact logits already computed are reused; at
 * k' = vocabSize there are no non-candidates and the result is the dense one.
 *
 * Ties: the test is strict (z_(k) > T). With z_(k) = T a non-candidate could tie the k-th value
 * exactly and win the lower-id tie-break in dense decoding, so equality widens instead.
 * Non-finite values (NaN bounds, NaN exact logits) never certify; they widen to vocabSize.
 */
export async function certifiedTopK(
  approx: Float32Array,
  errNorms: Float32Array,
  hNorm: number,
  k: number,
  kPrime: number,
  exactRows: (ids: Int32Array) => Float32Array | Promise<Float32Array>,
  opts: CertifiedOptions = {},
): Promise<CertifiedTopK> {
  const vocab = approx.length;
  if (errNorms.length !== vocab) throw new RangeError(`certifiedTopK: ${errNorms.length} error norms for ${vocab} logits`);
  if (!(hNorm >= 0)) throw new RangeError(`certifiedTopK: ||h|| must be >= 0, got ${hNorm}`);
  const kk = Math.min(Math.max(1, Math.floor(k)), vocab);
  const margin = opts.margin ?? 0;
  const maxKPrime = Math.min(vocab, Math.max(kk, Math.floor(opts.maxKPrime ?? vocab)));

  // Upper bounds, rounded up into float32 so storage never loosens them.
  const upper = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) upper[i] = roundUpF32(approx[i] + errNorms[i] * hNorm + margin);

  let kp = Math.min(Math.max(kk, Math.floor(kPrime)), maxKPrime);
  let widened = 0;
  let order = topKIndices(upper, Math.min(vocab, kp + 1));
  let logits = new Float32Array(0);
  let done = 0; // candidates order[0, done) have exact logits
  for (;;) {
    if (order.length < Math.min(vocab, kp + 1)) order = topKIndices(upper, Math.min(vocab, kp + 1));
    const fresh = await exactRows(order.slice(done, kp));
    if (fresh.length !== kp - done) throw new RangeError(`certifiedTopK: exactRows returned ${fresh.length} logits for ${kp - done} ids`);
    const grown = new Float32Array(kp);
    grown.set(logits);
    grown.set(fresh, done);
    logits = grown;
    done = kp;
    const threshold = kp < vocab ? upper[order[kp]] : -Infinity;
    const certified = kp === vocab || kthLargest(logits, kk) > threshold;
    if (certified || kp >= maxKPrime) return {...canonical(order.subarray(0, kp), logits), widened, kPrime: kp, certified};
    kp = Math.min(2 * kp, maxKPrime);
    widened++;
  }
}

/** Candidates sorted by exact logit descending, ties by lower id, NaN last (topKIndices's order). */
function canonical(ids: Int32Array, logits: Float32Array): {ids: Int32Array; logits: Float32Array} {
  const key = (v: number) => (v === v ? v : -Infinity);
  const perm = Array.from(ids.keys()).sort((a, b) => key(logits[b]) - key(logits[a]) || ids[a] - ids[b]);
  return {ids: Int32Array.from(perm, (j) => ids[j]), logits: Float32Array.from(perm, (j) => logits[j])};
}
