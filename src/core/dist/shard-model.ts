/**
 * What one device computes (inside its worker, or in-process for WebGPU devices): the forward step of decode/forward.ts restricted to
 * the device's attention heads and FFN neurons, with the residual stream kept whole on every
 * device. After each sub-block the devices' partial outputs are all-reduced (summed in device
 * order, so every device holds the same bits), then the device's vocabulary rows of the output
 * layer (dense, or the HiRE predictor's approximate scores, or DaT's local top list).
 */
import type {Backend, KvCache, Vec} from '../backends/backend.js';
import {ffnTopKByMagnitude, type ModelConfig} from '../model/config.js';
import {ropeTable} from '../model/rope.js';
import type {Norm} from '../model/weights.js';
import {HireSoftmaxHead} from '../hire/softmax-head.js';
import type {SoftmaxPredictor} from '../hire/softmax-predictor.js';
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
  private readonly rope;
  private readonly localHeads: number;
  private readonly localKv: number;
  private readonly ffn: FfnShardContext;
  private readonly s: {x: Vec; xb: Vec; q: Vec | null; k: Vec | null; v: Vec | null; att: Vec | null; part: Vec; red: Vec; logits: Vec};
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
    this.rope = ropeTable(c);
    this.localHeads = rangeSize(shard.heads);
    this.localKv = rangeSize(shard.kvHeads);
    const qn = this.localHeads * c.headDim;
    const kvn = this.localKv * c.headDim;
    this.s = {
      x: b.createVector(c.dim),
      xb: b.createVector(c.dim),
      q: qn ? b.createVector(qn) : null,
      k: kvn ? b.createVector(kvn) : null,
      v: kvn ? b.createVector(kvn) : null,
      att: qn ? b.createVector(qn) : null,
      part: b.createVector(c.dim),
      red: b.createVector(c.dim),
      logits: b.createVector(shard.vocab.count),
    };
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
    this.hire = predictor ? new HireSoftmaxHead(b, weights.lmHead, predictor, {kPrime: 1, certifyK: null}) : null;
  }

  /** A fresh KV cache for the device's heads (one sequence at a time). */
  reset(maxSeqLen: number): void {
    this.cache = this.backend.createKvCache({nLayers: this.config.nLayers, nKvHeads: this.localKv, headDim: this.config.headDim, maxSeqLen});
  }

  /** Runs the layers for one token whose embedding is x0 [dim]; returns the final hidden state. */
  async hidden(x0: Float32Array, pos: number): Promise<Vec> {
    const {config: c, weights: w, backend: b, s} = this;
    if (!this.cache) throw new RangeError('ShardModel.hidden before reset()');
    b.write(s.x, x0);
    for (let l = 0; l < c.nLayers; l++) {
      const layer = w.layers[l]!;
      // attention over the device's heads, then x += sum of the devices' partial outputs
      const input = c.preNorm ? this.norm(s.x, layer.attnNorm, s.xb) : s.x;
      if (layer.wq) {
        b.matvec(layer.wq, input, s.q!, layer.bq);
        b.matvec(layer.wk!, input, s.k!, layer.bk);
        b.matvec(layer.wv!, input, s.v!, layer.bv);
        if (this.rope) {
          b.rope(s.q!, this.localHeads, pos, this.rope);
          b.rope(s.k!, this.localKv, pos, this.rope);
        }
        b.attention(s.q!, s.k!, s.v!, this.cache, l, pos, {nHeads: this.localHeads, nKvHeads: this.localKv, headDim: c.headDim}, s.att!);
        b.matvec(layer.wo!, s.att!, s.part);
      } else {
        b.write(s.part, new Float32Array(c.dim));
      }
      await this.reduceInto(layer.bo);
      if (!c.preNorm) this.norm(s.x, layer.attnNorm, s.x);
      // FFN over the device's neurons (the HiRE-FFN hook lives in ffnShardStep)
      const ffnInput = c.preNorm ? this.norm(s.x, layer.ffnNorm, s.xb) : s.x;
      await ffnShardStep(this.ffn, l, layer, ffnInput, s.part);
      await this.reduceInto(layer.bDown);
      if (!c.preNorm) this.norm(s.x, layer.ffnNorm, s.x);
    }
    if (w.finalNorm) this.norm(s.x, w.finalNorm, s.x);
    return s.x;
  }

  /** Exact logits of the device's vocabulary rows [localVocab]. */
  async denseLogits(h: Vec): Promise<Float32Array> {
    this.backend.matvec(this.weights.lmHead, h, this.s.logits);
    return this.backend.read(this.s.logits);
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

  private async reduceInto(bias: Vec | undefined): Promise<void> {
    const {backend: b, s} = this;
    b.write(s.red, await this.collectives.allReduce(await b.read(s.part)));
    if (bias) b.add(s.red, bias, s.red);
    b.add(s.x, s.red, s.x);
  }

  private norm(x: Vec, n: Norm, out: Vec): Vec {
    const {config: c, backend: b} = this;
    if (c.norm === 'rmsnorm') b.rmsNorm(x, n.weight, c.normEps, out);
    else b.layerNorm(x, n.weight, n.bias!, c.normEps, out);
    return out;
  }

  dispose(): void {
    this.backend.dispose();
  }
}
