/**
 * HiRE-FFN group logic (docs/ARCHITECTURE.md, HiRE-FFN), pure functions over typed arrays.
 *
 * The hiddenDim neurons of one FFN are fetched in groups of g consecutive neurons. After
 * calibration's permutation, groups [0, nStatic) are the static set (always computed); the rest
 * are scored from the predictor's approximate pre-activations u~ and the top k'_g are taken.
 *
 *   neuron score  s_i = |act(g~_i) * u~_i|   gated FFN: the predictor covers [W_gate; W_up]
 *                 s_i = |act(u~_i)|          otherwise (relu: the value itself)
 *   (the model's top-k keeps gated products and silu/gelu outputs by magnitude, relu by value)
 *   group score   max or sum of s_i over the group
 */
import {applyActivation} from '../../numeric/activations.js';
import {topKAscending, topKIndices} from '../../numeric/select.js';
import type {Activation} from '../../model/config.js';

export type GroupScore = 'max' | 'sum';
export const GROUP_SCORES: readonly GroupScore[] = ['max', 'sum'];

/**
 * Per-neuron scores [hiddenDim] from the predictor's output: [gate~; up~] (2 * hiddenDim values)
 * for a gated FFN, u~ [hiddenDim] otherwise.
 */
export function neuronScores(pred: ArrayLike<number>, activation: Activation, gated: boolean, out = new Float32Array(gated ? pred.length / 2 : pred.length)): Float32Array {
  const n = out.length;
  if (activation === 'silu') {
    // Scoring only ranks neurons, so silu's exp is the cheap (1 + x/1024)^1024 (ten squarings,
    // relative error under 1.3% for |x| <= 5, where the ranking is decided): 4x faster than
    // Math.exp, which was a tenth of a sparse FFN layer's time. Calibration scores the same way.
    for (let i = 0; i < n; i++) {
      const x = pred[i]!;
      let e = 1 - (x < -30 ? -30 : x > 30 ? 30 : x) / 1024; // e^(-x)
      e *= e; e *= e; e *= e; e *= e; e *= e; e *= e; e *= e; e *= e; e *= e; e *= e;
      out[i] = x / (1 + e);
    }
  } else {
    applyActivation(activation, pred, out); // out[i] = act(pred[i]) for i < n
  }
  if (gated) for (let i = 0; i < n; i++) out[i] = Math.abs(out[i]! * pred[n + i]!);
  else for (let i = 0; i < n; i++) out[i] = Math.abs(out[i]!);
  return out;
}

/**
 * The neurons the top-k FFN keeps for hidden activations h (k largest, by |h| when byMagnitude),
 * leaving out exact zeros: a relu zero carries nothing, so missing it costs nothing, and counting
 * ties among zeros would make recall measure the tie-break.
 */
export function topNeurons(h: Float32Array, k: number, byMagnitude: boolean): Int32Array {
  const key = byMagnitude ? h.map(Math.abs) : h;
  return topKIndices(key, k).filter((i) => h[i] !== 0);
}

/** Group scores [hiddenDim / g] (g must divide hiddenDim). */
export function groupScores(scores: ArrayLike<number>, g: number, mode: GroupScore, out = new Float32Array(scores.length / g)): Float32Array {
  for (let grp = 0; grp < out.length; grp++) {
    let acc = mode === 'max' ? -Infinity : 0;
    for (let i = grp * g, end = i + g; i < end; i++) {
      const s = scores[i]!;
      acc = mode === 'max' ? (s > acc ? s : acc) : acc + s;
    }
    out[grp] = acc;
  }
  return out;
}

/**
 * The groups to compute: every static group [0, nStatic) plus the kDyn best-scoring of the
 * others, in ascending order (so rows are read in memory order).
 */
export function selectGroups(gScores: Float32Array, nStatic: number, kDyn: number): Int32Array {
  const nGroups = gScores.length;
  const dyn = topKAscending(gScores.subarray(nStatic), Math.min(kDyn, nGroups - nStatic));
  const out = new Int32Array(nStatic + dyn.length);
  for (let i = 0; i < nStatic; i++) out[i] = i;
  for (let i = 0; i < dyn.length; i++) out[nStatic + i] = dyn[i]! + nStatic;
  return out;
}

/** Groups whose rows are read side by side (see groupRows). */
const GROUP_STREAMS = 4;

/**
 * Neuron (row) ids of the listed groups, g rows each, in the order the kernels read them: blocks
 * of GROUP_STREAMS groups interleaved row by row (a0 b0 c0 d0 a1 b1 ...), so that four groups
 * stream from memory at once. On the 2-core CI machine this reads gathered groups of 8 at about
 * 1.6x (one thread) to 2x (two threads) the speed of one group after another. Every kernel of a
 * step uses the same order, so it changes nothing but the speed.
 */
export function groupRows(groups: Int32Array, g: number, out = new Int32Array(groups.length * g)): Int32Array {
  let o = 0;
  for (let b0 = 0; b0 < groups.length; b0 += GROUP_STREAMS) {
    const b1 = Math.min(groups.length, b0 + GROUP_STREAMS);
    for (let j = 0; j < g; j++) for (let i = b0; i < b1; i++) out[o++] = groups[i]! * g + j;
  }
  return out;
}

/** What picking groups from one prediction needs; scores/gScores are scratch of hiddenDim / nGroups. */
export interface GroupPick {
  activation: Activation;
  gated: boolean;
  /** Added to gate~ (or u~) and up~ before scoring (null: no bias). */
  bGate: Float32Array | null;
  bUp: Float32Array | null;
  groupSize: number;
  score: GroupScore;
  nStatic: number;
  /** Dynamic groups taken. */
  kDyn: number;
  scores: Float32Array<ArrayBuffer>;
  gScores: Float32Array<ArrayBuffer>;
}

/**
 * The groups to compute for one prediction ([gate~; up~] or u~, biases not yet added; modified in
 * place): neuron scores, group scores, then the static groups plus the best kDyn (selectGroups).
 */
export function pickGroups(pred: Float32Array, p: GroupPick): Int32Array {
  const n = p.scores.length;
  if (p.bGate) for (let i = 0; i < n; i++) pred[i] = pred[i]! + p.bGate[i]!;
  if (p.bUp) for (let i = 0; i < n; i++) pred[n + i] = pred[n + i]! + p.bUp[i]!;
  neuronScores(pred, p.activation, p.gated, p.scores);
  groupScores(p.scores, p.groupSize, p.score, p.gScores);
  return selectGroups(p.gScores, p.nStatic, p.kDyn);
}

/** Sorted union of several ascending group lists (a batch's groups, read once for all). */
export function unionGroups(lists: Int32Array[], nGroups: number): Int32Array {
  const seen = new Uint8Array(nGroups);
  let n = 0;
  for (const l of lists) {
    for (const grp of l) {
      if (seen[grp]) continue;
      seen[grp] = 1;
      n++;
    }
  }
  const out = new Int32Array(n);
  for (let grp = 0, j = 0; grp < nGroups; grp++) if (seen[grp]) out[j++] = grp;
  return out;
}

/**
 * FFN recall for one token: the share of the true top-k neurons (ids, any order) that lie in
 * the selected groups.
 */
export function ffnRecall(trueTop: Int32Array, groups: Int32Array, g: number, nGroups: number): number {
  if (trueTop.length === 0) return 1;
  const chosen = new Uint8Array(nGroups);
  for (const grp of groups) chosen[grp] = 1;
  let hit = 0;
  for (const n of trueTop) if (chosen[Math.floor(n / g)]) hit++;
  return hit / trueTop.length;
}

/**
 * Recall of every k'_g at once for one token: hist[r] += (true top neurons whose dynamic group
 * ranks r-th by predicted score), static neurons counted at rank 0. A cumulative sum of hist over
 * tokens, divided by the neurons counted, is the mean recall curve recall(k'_g).
 */
export function accumulateGroupRanks(trueTop: Int32Array, gScores: Float32Array, g: number, nStatic: number, hist: Float64Array): void {
  const nDyn = gScores.length - nStatic;
  const order = topKIndices(gScores.subarray(nStatic), nDyn); // best first
  const rank = new Int32Array(nDyn);
  for (let r = 0; r < nDyn; r++) rank[order[r]!] = r;
  for (const n of trueTop) {
    const grp = Math.floor(n / g);
    // static groups are always read: they count at k'_g = 0 (hist index 0); dynamic group of rank r needs k'_g >= r + 1
    const at = grp < nStatic ? 0 : rank[grp - nStatic]! + 1;
    hist[at] = hist[at]! + 1;
  }
}

/** Mean recall at k'_g = 0..nDyn from an accumulated rank histogram (see accumulateGroupRanks). */
export function recallFromRanks(hist: Float64Array): Float64Array {
  let total = 0;
  for (const v of hist) total += v;
  const out = new Float64Array(hist.length);
  let acc = 0;
  for (let k = 0; k < hist.length; k++) {
    acc += hist[k]!;
    out[k] = total > 0 ? acc / total : 1;
  }
  return out;
}

/** The smallest k'_g whose recall reaches target (curve from recallFromRanks); null if none. */
export function kPrimeForRecall(curve: Float64Array, target: number): number | null {
  for (let k = 0; k < curve.length; k++) if (curve[k]! >= target - 1e-12) return k;
  return null;
}

/**
 * Pads an ascending group list with the lowest unlisted groups up to a multiple of `multiple`
 * (or every group): union sizes then repeat from step to step, so scratch buffers are reused.
 * The padded groups are read but masked out.
 */
export function padGroups(groups: Int32Array, nGroups: number, multiple: number): Int32Array {
  const want = Math.min(nGroups, Math.ceil(groups.length / multiple) * multiple);
  if (want === groups.length) return groups;
  const taken = new Uint8Array(nGroups);
  for (const grp of groups) taken[grp] = 1;
  const out = Array.from(groups);
  for (let grp = 0; grp < nGroups && out.length < want; grp++) if (!taken[grp]) out.push(grp);
  return Int32Array.from(out).sort();
}
