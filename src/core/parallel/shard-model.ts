/**
 * What one device computes (inside its worker, or in-process for WebGPU devices): THE forward pass
 * (decode/forward.ts) over the device's shard view of the weights (its attention heads and FFN
 * neurons; the residual stream whole on every device), with the devices' all-reduce as its
 * collectives hook and the device's FFN step (shard-ffn.ts) as its FFN override; then the device's
 * vocabulary rows of the output layer (dense, the HiRE predictor's approximate scores, or DaT's
 * local top list).
 */
import type {Backend, KvCache, Vec} from '../backends/backend.js';
import {Transformer, type Collectives as ForwardCollectives, type FfnOverride} from '../decode/forward.js';
import {ffnTopKByMagnitude, type ModelConfig} from '../model/config.js';
import {HireSoftmaxHead} from '../hire/softmax/head.js';
import type {SoftmaxPredictor} from '../hire/predictor/predictor.js';
import {localTopK, type TopList} from './dat-top-k.js';
import {ffnShardStep, type FfnSelector, type FfnShardContext} from './shard-ffn.js';
import {rangeSize, sliceLocal, type DeviceShard} from './shard-plan.js';
import type {ShardWeights} from './shard-weights.js';

/**
 * The collectives a device takes part in; every device calls them in the same sequence. Worker
 * devices answer at once (they block at a barrier); in-process devices answer with a promise that
 * resolves once every device has contributed.
 */
export interface Collectives {
  /** Sum of every device's partial, in device order: the same bits on every device. */
  allReduce(partial: Float32Array): Float32Array | Promise<Float32Array>;
  /** Every device's list, in device order. */
  allGather(list: TopList): TopList[] | Promise<TopList[]>;
}

export interface ShardModelOptions {
  /** How top-k FFN models pick their kept activations across devices. */
  ffnTopK: 'exact' | 'dat';
  /** HiRE-FFN: per-device group selection (null: every local neuron). */
  ffnSelector?: FfnSelector | null;
}

export class ShardModel {
  private readonly forward: Transformer<ShardWeights>;
  private readonly ffn: FfnShardContext;
  private readonly logits: Vec;
  private cache: KvCache | null = null;
  private readonly hire: HireSoftmaxHead | null;
  private readonly rowsOut = new Map<number, Vec>();

  constructor(
    readonly config: ModelConfig,
    readonly weights: ShardWeights,
    readonly backend: Backend,
    readonly shard: DeviceShard,
    private readonly collectives: Collectives,
    predictor: SoftmaxPredictor | null,
    opts: ShardModelOptions,
  ) {
    const c = config;
    const b = backend;
    const heads = {nHeads: rangeSize(shard.heads), nKvHeads: rangeSize(shard.kvHeads)};
    this.forward = new Transformer(c, weights, b, {heads, collectives: this.allReduce()});
    this.logits = b.createVector(shard.vocab.count);
    const topK = c.ffnTopK === null ? null : Math.max(1, Math.round(c.ffnTopK * c.hiddenDim));
    this.ffn = {
      backend: b,
      activation: c.activation,
      hiddenDim: c.hiddenDim,
      ids: weights.ffnIds,
      selector: opts.ffnSelector ?? null,
      topK:
        topK === null
          ? null
          : {k: topK, byMagnitude: ffnTopKByMagnitude(c), mode: opts.ffnTopK, exchange: (l) => collectives.allGather(l)},
    };
    // every layer's FFN is the device's share: its neurons (or its selected groups), a partial sum out
    this.forward.ffnOverride = weights.layers.map((layer, l): FfnOverride => ({
      run: async (xs, outs) => {
        for (let i = 0; i < xs.length; i++) await ffnShardStep(this.ffn, l, layer, xs[i]!, outs[i]!);
        return {bytes: 0, groups: null};
      },
    }));
    this.hire = predictor ? new HireSoftmaxHead(b, weights.lmHead, predictor, {kPrime: 1, certifyK: null}) : null;
  }

  /** A fresh KV cache for the device's heads (one sequence at a time). */
  reset(maxSeqLen: number): void {
    if (this.cache) this.forward.releaseCache(this.cache);
    this.cache = this.forward.createCache(maxSeqLen);
  }

  /** Runs the layers for one token whose input embedding is x0 [dim]; returns the final hidden state. */
  async hidden(x0: Float32Array, pos: number): Promise<Vec> {
    if (!this.cache) throw new RangeError('ShardModel.hidden before reset()');
    return (await this.forward.run({tokens: null, inputs: x0, positions: [pos], caches: [this.cache]}))[0]!;
  }

  /** Exact logits of the device's vocabulary rows [localVocab]. */
  async denseLogits(h: Vec): Promise<Float32Array> {
    this.backend.matvec(this.weights.lmHead, h, this.logits);
    return this.backend.read(this.logits);
  }
  /** The predictor's approximate scores of the device's rows [localVocab]. */
  async approxScores(h: Vec): Promise<Float32Array> {
    if (!this.hire) throw new RangeError('this device has no softmax predictor');
    return this.hire.approximate(h);
  }

  /** Exact logits of the listed global vocabulary ids (all inside the device's shard). */
  async exactRows(ids: Int32Array, h: Vec): Promise<Float32Array> {
    if (ids.length === 0) return new Float32Array(0);
    const local = ids.map((id) => sliceLocal(this.shard.vocab, id));
    if (local.some((i) => i < 0)) throw new RangeError(`exactRows: an id outside device ${this.shard.device}'s vocabulary`);
    let out = this.rowsOut.get(ids.length);
    if (!out) this.rowsOut.set(ids.length, (out = this.backend.createVector(ids.length)));
    this.backend.matvecRows(this.weights.lmHead, local, h, out);
    return this.backend.read(out);
  }

  /** DaT: the device's local top-m by approximate score, with exact logits (global ids). */
  async datList(h: Vec, m: number): Promise<TopList> {
    const scores = await this.approxScores(h);
    const ids = localTopK(scores, this.shard.vocab, Math.min(m, scores.length)).ids;
    return {ids, values: await this.exactRows(ids, h)};
  }

  /** The forward pass's collectives: each partial is summed over the devices through the host exchange. */
  private allReduce(): ForwardCollectives {
    return {
      allReduce: async (parts) => {
        for (const p of parts) this.backend.write(p, await this.collectives.allReduce(await this.backend.read(p)));
      },
    };
  }

  dispose(): void {
    this.backend.dispose();
  }
}
