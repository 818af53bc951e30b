/**
 * DaT-Top-k (docs/ARCHITECTURE.md, The method in brief) as pure functions over typed arrays.
 *
 * Exact baseline: every device sends all of its approximate scores to one place, which takes the
 * global top-k' and sends each device the candidate ids it owns; the devices return the exact
 * values of those ids.
 * DaT: every device takes its own local top-m of its shard, m = ceil(k' / D) + slack, computes the
 * exact values of those m rows, and sends only (id, value) pairs; the merge keeps the best `keep`
 * of the D short lists by exact value. No device ever sees the whole score vector.
 *
 * What DaT can lose: when more than m of the global top-k' sit in one shard, the ones past that
 * shard's m-th are never candidates. The slack is the margin against that, calibrated per D
 * (dat-calibrate.ts). Ordering everywhere is topKIndices's: value descending, ties to the lower
 * (global) id, NaN last, so merging local top lists gives exactly the global top list whenever
 * each local list is long enough.
 */
import {topKIndices} from '../numeric/select.js';
import {sliceIds, type VocabSlice} from './shard-plan.js';

/** (id, value) pairs, ids global. */
export interface TopList {
  ids: Int32Array;
  values: Float32Array;
}

/** The top-m of a shard's values (row i is global id start + i * stride), best first, global ids. */
export function localTopK(values: Float32Array, slice: VocabSlice, m: number): TopList {
  const local = topKIndices(values, m);
  const ids = new Int32Array(local.length);
  const out = new Float32Array(local.length);
  for (let i = 0; i < local.length; i++) {
    ids[i] = slice.start + local[i]! * slice.stride;
    out[i] = values[local[i]!]!;
  }
  return {ids, values: out};
}

/** A shard's values gathered out of a whole vector (for measurement). */
export function sliceValues(x: Float32Array, slice: VocabSlice): Float32Array {
  if (slice.stride === 1) return x.subarray(slice.start, slice.start + slice.count);
  return Float32Array.from(sliceIds(slice), (id) => x[id]!);
}

/** The best `keep` entries of the union of the lists (value descending, ties to the lower id, NaN last). */
export function mergeTopK(lists: readonly TopList[], keep: number): TopList {
  let n = 0;
  for (const l of lists) {
    if (l.ids.length !== l.values.length) throw new RangeError(`mergeTopK: ${l.ids.length} ids but ${l.values.length} values`);
    n += l.ids.length;
  }
  const ids = new Int32Array(n);
  const values = new Float32Array(n);
  let i = 0;
  for (const l of lists) {
    ids.set(l.ids, i);
    values.set(l.values, i);
    i += l.ids.length;
  }
  const key = (v: number) => (v === v ? v : -Infinity);
  const order = Array.from({length: n}, (_, j) => j).sort((a, b) => {
    const [ka, kb] = [key(values[a]!), key(values[b]!)];
    if (ka !== kb) return kb > ka ? 1 : -1;
    const [na, nb] = [values[a] !== values[a], values[b] !== values[b]];
    if (na !== nb) return na ? 1 : -1; // NaN after -Infinity
    return ids[a]! - ids[b]!;
  });
  const kk = Math.max(0, Math.min(Math.floor(keep), n));
  return {ids: Int32Array.from(order.slice(0, kk), (j) => ids[j]!), values: Float32Array.from(order.slice(0, kk), (j) => values[j]!)};
}

/** Entries each device sends in DaT mode: ceil(k' / D) + slack, at most its shard size. */
export function datListSize(kPrime: number, devices: number, slack: number, shardSize: number): number {
  return Math.max(0, Math.min(shardSize, Math.ceil(kPrime / devices) + Math.max(0, Math.floor(slack))));
}

/**
 * DaT candidates from a whole score vector (for measurement): the union of every shard's local
 * top-m, ascending ids. The runtime never builds this vector; calibration and tests do.
 */
export function datCandidates(scores: Float32Array, shards: readonly VocabSlice[], m: number): Int32Array {
  const out: number[] = [];
  for (const s of shards) {
    for (const id of localTopK(sliceValues(scores, s), s, Math.min(m, s.count)).ids) out.push(id);
  }
  return Int32Array.from(out).sort();
}

/** DaT as the runtime runs it, on whole vectors: local top-m by score, exact values, merged. */
export function datTopK(scores: Float32Array, exact: Float32Array, shards: readonly VocabSlice[], m: number, keep: number): TopList {
  const lists = shards.map((s) => {
    const ids = localTopK(sliceValues(scores, s), s, Math.min(m, s.count)).ids;
    return {ids, values: Float32Array.from(ids, (id) => exact[id]!)};
  });
  return mergeTopK(lists, keep);
}

/** The exact baseline on whole vectors: global top-k' by score, exact values, best `keep`. */
export function exactTopK(scores: Float32Array, exact: Float32Array, kPrime: number, keep: number): TopList {
  const ids = topKIndices(scores, kPrime);
  return mergeTopK([{ids, values: Float32Array.from(ids, (id) => exact[id]!)}], keep);
}

/** Share of `exactTop` (the true top-k ids) inside `candidates`. */
export function candidateRecall(candidates: ArrayLike<number>, exactTop: ArrayLike<number>): number {
  if (exactTop.length === 0) return 1;
  const set = new Set<number>();
  for (let i = 0; i < candidates.length; i++) set.add(candidates[i]!);
  let hit = 0;
  for (let i = 0; i < exactTop.length; i++) if (set.has(exactTop[i]!)) hit++;
  return hit / exactTop.length;
}

// ---------------------------------------------------------------------------------------------
// Bytes moved between devices (and the coordinator) by the output layer, per token.

export type SoftmaxTopK = 'dense' | 'exact' | 'dat';

export interface SoftmaxTrafficInput {
  vocabSize: number;
  kPrime: number;
  devices: number;
  /** DaT entries per device (datListSize). */
  listSize: number;
}

/**
 * dense: every device's logits (4 bytes each) to the coordinator.
 * exact: every approximate score (4 bytes) in, k' candidate ids (4 bytes) out, k' exact values
 *   (4 bytes) back.
 * dat: D lists of m (id, value) pairs, 8 bytes each.
 */
export function softmaxBytes(mode: SoftmaxTopK, t: SoftmaxTrafficInput): number {
  switch (mode) {
    case 'dense':
      return 4 * t.vocabSize;
    case 'exact':
      return 4 * t.vocabSize + 8 * t.kPrime;
    case 'dat':
      return 8 * t.devices * t.listSize;
  }
}
