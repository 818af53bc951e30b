/**
 * One device's FFN step: its neurons only, a partial sum out (the all-reduce adds the devices'
 * partials and the down-projection bias).
 *
 *   rows  = selector?.select(layer, x) ?? every local neuron          (HiRE-FFN hook, see below)
 *   h     = act(W_gate[rows] x + b_gate[rows]) * (W_up[rows] x + b_up[rows])
 *           (ungated: act(W_in[rows] x + b_in[rows]); biases gathered for the rows when there are any)
 *   keep  = top-k FFN models, over the computed rows: exact mode, the global top-k_f via an
 *           all-gather of the devices' local top-k_f lists; dat mode, the device's share
 *           ceil(k_f * localNeurons / hiddenDim), no global step
 *   out   = sum over kept rows r of h_r * W_downT[r]                  (accumulateRows)
 *
 * THE HiRE-FFN HOOK: `FfnSelector.select` runs on each device with the device's own predictor
 * shard and returns the local rows (whole groups) to compute, so the FFN needs no global step
 * (shard-ffn-select.ts). Null means "all rows" (dense shard).
 */
import type {Backend, Mat, Vec} from '../backends/backend.js';
import {topKIndices} from '../numeric/select.js';
import type {Activation} from '../model/config.js';
import {mergeTopK, type TopList} from './dat-top-k.js';
import type {ShardLayer} from './shard-weights.js';

export interface FfnSelector {
  /**
   * Ascending local row indices (into the device's neuron list, ShardWeights.ffnIds) to compute
   * for this layer and input, or null for all of them.
   */
  select(layer: number, input: Vec): Int32Array | null | Promise<Int32Array | null>;
}

export interface FfnTopK {
  /** Hidden activations kept over the whole FFN (k_f). */
  k: number;
  /** By |h| (gated or non-relu FFNs) or by value (plain relu). */
  byMagnitude: boolean;
  mode: 'exact' | 'dat';
  /** Exact mode: all-gather of every device's local list (global ids, key values), device order. */
  exchange(list: TopList): TopList[] | Promise<TopList[]>;
}

export interface FfnShardContext {
  backend: Backend;
  activation: Activation;
  hiddenDim: number;
  /** Global ids of the device's neurons, ascending, in local row order. */
  ids: Int32Array;
  selector: FfnSelector | null;
  topK: FfnTopK | null;
}

/** Scratch vectors by length (the number of selected or kept rows changes per token). */
class VecCache {
  private readonly vecs = new Map<string, Vec>();
  constructor(private readonly backend: Backend) {}
  get(name: string, n: number): Vec {
    const key = `${name}:${n}`;
    let v = this.vecs.get(key);
    if (!v) {
      v = this.backend.createVector(n);
      this.vecs.set(key, v);
    }
    return v;
  }
}

const caches = new WeakMap<Backend, VecCache>();

/** Computes the device's partial FFN output for `input` into `out` [dim]. */
export async function ffnShardStep(ctx: FfnShardContext, l: number, layer: ShardLayer, input: Vec, out: Vec): Promise<void> {
  const b = ctx.backend;
  let cache = caches.get(b);
  if (!cache) caches.set(b, (cache = new VecCache(b)));
  if (!layer.wUp || !layer.wDownT) {
    b.write(out, new Float32Array(out.length));
    return;
  }
  const rows = ctx.selector ? await ctx.selector.select(l, input) : null;
  const n = rows ? rows.length : layer.wUp.rows;
  if (n === 0) {
    b.write(out, new Float32Array(out.length));
    return;
  }
  const hb = cache.get('hb', n);
  const hb2 = cache.get('hb2', n);
  await project(b, cache, layer.wUp, layer.bUp, rows, input, layer.wGate ? hb2 : hb);
  if (layer.wGate) {
    await project(b, cache, layer.wGate, layer.bGate, rows, input, hb);
    b.activation(ctx.activation, hb, hb);
    b.mul(hb, hb2, hb);
  } else {
    b.activation(ctx.activation, hb, hb);
  }
  if (!ctx.topK) {
    b.accumulateRows(layer.wDownT, rows, hb, out);
    return;
  }
  const h = await b.read(hb);
  const keep = await keptRows(ctx, ctx.topK, h, rows, layer.wUp.rows);
  if (keep.length === 0) {
    b.write(out, new Float32Array(out.length));
    return;
  }
  const coef = cache.get('coef', keep.length);
  b.write(coef, Float32Array.from(keep, (j) => h[j]!));
  b.accumulateRows(layer.wDownT, Int32Array.from(keep, (j) => (rows ? rows[j]! : j)), coef, out);
}

/** Host copies of the FFN biases (read once; gathered per step for the selected rows). */
const hostBiases = new WeakMap<Vec, Promise<Float32Array>>();

/** out = W[rows] x (+ bias[rows]); all rows when rows is null. */
async function project(b: Backend, cache: VecCache, w: Mat, bias: Vec | undefined, rows: Int32Array | null, x: Vec, out: Vec): Promise<void> {
  if (!rows) {
    b.matvec(w, x, out, bias);
    return;
  }
  b.matvecRows(w, rows, x, out);
  if (!bias) return;
  let host = hostBiases.get(bias);
  if (!host) hostBiases.set(bias, (host = b.read(bias).then((v) => v.slice())));
  const all = await host;
  const gathered = cache.get('bias', rows.length);
  b.write(gathered, Float32Array.from(rows, (r) => all[r]!));
  b.add(out, gathered, out);
}

/**
 * Which of the n computed activations h survive the top-k FFN: positions into h (ascending).
 * Exact: the global top-k of the devices' local top-k lists, merged by key then global id (the
 * order keepTopK uses on one device, so it is exactly the single-device set). DaT: the local top
 * share of k, no exchange.
 */
async function keptRows(ctx: FfnShardContext, t: FfnTopK, h: Float32Array, rows: Int32Array | null, localRows: number): Promise<number[]> {
  const key = t.byMagnitude ? h.map(Math.abs) : h;
  const globalId = (j: number) => ctx.ids[rows ? rows[j]! : j]!;
  if (t.mode === 'dat') {
    const share = Math.ceil((t.k * localRows) / ctx.hiddenDim);
    return Array.from(topKIndices(key, share)).sort((a, b) => a - b);
  }
  const local = topKIndices(key, t.k);
  const list = {ids: Int32Array.from(local, globalId), values: Float32Array.from(local, (j) => key[j]!)};
  const winners = new Set(mergeTopK(await t.exchange(list), t.k).ids);
  return Array.from(local)
    .filter((j) => winners.has(globalId(j)))
    .sort((a, b) => a - b);
}
