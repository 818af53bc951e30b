/**
 * Batched decoding: B sequences advance one token together, so that each weight row is read
 * once per step for all of them (DESIGN.md section 3, dynamic overlap). Dense matrices use the
 * backend's batched matvec; a sparse FFN reads the union of the sequences' predicted groups once
 * and masks each sequence back to its own groups, so every sequence gets exactly what it would
 * get decoded alone; the HiRE softmax reads the union of the candidates once.
 *
 * Each sequence has its own buffers and KV cache; the forward pass is the same as
 * Transformer.hidden, step for step, with each kernel call taking the whole batch.
 */
import type {Backend, KvCache, Mat, Vec} from '../backends/backend.js';
import {groupRows, unionGroups} from '../hire/ffn-groups.js';
import {SparseFfnLayer} from '../hire/ffn-sparse.js';
import {batchReadBytes} from '../hire/uploaded-predictor.js';
import type {HireSoftmaxHead} from '../hire/softmax-head.js';
import {ffnTopKByMagnitude, type ModelConfig} from '../model/config.js';
import type {LayerWeights, Norm} from '../model/weights.js';
import {createRunState, type RunState, type Transformer} from './forward.js';
import type {HeadResult} from './output-head.js';
import {topKIndices} from './sampler.js';

type SeqState = RunState;

export interface BatchStepStats {
  /** Weight bytes read by the last step, all sequences together. */
  bytes: number;
  /** Mean groups per layer read for the batch, and per sequence alone. */
  unionGroups: number | null;
  groupsPerSequence: number | null;
}

export class BatchDecoder {
  private readonly s: SeqState[];
  /** The states of the sequences in the current step (a prefix of s). */
  private cur: SeqState[] = [];
  private readonly b: Backend;
  private readonly c: ModelConfig;
  private bytes = 0;
  private unionSum = 0;
  private ownSum = 0;
  private sparseLayers = 0;

  constructor(
    readonly model: Transformer,
    readonly batch: number,
  ) {
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
    this.b = model.backend;
    this.c = model.config;
    const {b, c} = this;
    this.s = Array.from({length: batch}, () => createRunState(this.c, this.b));

  }

  /** Final hidden states [embedDim] of one step: tokens[b] at positions[b] in caches[b]. */
  async hidden(tokens: number[], positions: number[], caches: KvCache[]): Promise<Vec[]> {
    const {b, c} = this;
    if (tokens.length < 1 || tokens.length > this.batch) throw new RangeError(`a step takes 1..${this.batch} sequences, got ${tokens.length}`);
    const s = (this.cur = this.s.slice(0, tokens.length));
    const w = this.model.weights;
    this.resetStats();
    const all = <K extends keyof SeqState>(key: K) => s.map((st) => st[key]);
    s.forEach((st, i) => {
      if (w.projectIn) b.embedRow(w.embed, tokens[i]!, st.embed);
      else b.embedRow(w.embed, tokens[i]!, st.x);
    });
    this.bytes += s.length * (w.embed.bytes / w.embed.rows);
    if (w.projectIn) this.matvec(w.projectIn, all('embed'), all('x'));
    if (w.positions && c.positions.kind === 'learned') {
      const offset = c.positions.offset;
      s.forEach((st, i) => {
        b.embedRow(w.positions!, positions[i]! + offset, st.pos);
        b.add(st.x, st.pos, st.x);
      });
    }
    for (let l = 0; l < c.nLayers; l++) {
      const layer = w.layers[l]!;
      this.attention(layer, l, positions, caches);
      await this.ffn(layer, l);
    }
    if (w.finalNorm) s.forEach((st) => this.norm(st.x, w.finalNorm!, st.x));
    if (w.projectOut) {
      this.matvec(w.projectOut, all('x'), all('out'));
      return all('out');
    }
    return all('x');
  }

  /** Dense logits of every sequence, reading the output layer once. */
  denseLogits(hs: Vec[]): Vec[] {
    const outs = this.cur.map((st) => st.logits);
    this.matvec(this.model.weights.lmHead, hs, outs);
    return outs;
  }

  /** HiRE-Softmax for the batch: each sequence's candidates, the union's rows read once. */
  async hireLogits(head: HireSoftmaxHead, kPrime: number, hs: Vec[]): Promise<HeadResult[]> {
    const lm = this.model.weights.lmHead;
    const cands = (await head.approximateBatch(hs)).map((approx) => topKIndices(approx, kPrime));
    this.bytes += head.predictorBatchBytes(hs.length);
    const union = padGroups(unionGroups(cands, lm.rows), lm.rows, 64);
    // logits of the union's rows for every sequence: [union.length] each
    const scratch = hs.map((_, i) => this.unionScratch(union.length, i));
    this.b.matvecRowsBatch(lm, union, hs, scratch);
    this.bytes += batchReadBytes(this.b, lm, hs.length, union.length * (lm.bytes / lm.rows));
    const where = (this.where ??= new Int32Array(lm.rows)); // union slot of each vocabulary id (only union ids are read)
    union.forEach((id, j) => (where[id] = j));
    const results: HeadResult[] = [];
    for (let i = 0; i < hs.length; i++) {
      const all = await this.b.read(scratch[i]!);
      const ids = cands[i]!;
      results.push({ids, logits: Float32Array.from(ids, (id) => all[where[id]!]!)});
    }
    return results;
  }

  stats(): BatchStepStats {
    const n = this.sparseLayers;
    return {
      bytes: this.bytes,
      unionGroups: n ? this.unionSum / n : null,
      groupsPerSequence: n ? this.ownSum / n : null,
    };
  }

  private readonly unionVecs = new Map<string, Vec>();
  private where: Int32Array | null = null;
  private unionScratch(n: number, seq: number): Vec {
    const key = `${n}:${seq}`;
    let v = this.unionVecs.get(key);
    if (!v) this.unionVecs.set(key, (v = this.b.createVector(n)));
    return v;
  }

  private resetStats(): void {
    this.bytes = 0;
    this.unionSum = 0;
    this.ownSum = 0;
    this.sparseLayers = 0;
  }

  private matvec(w: Mat, xs: Vec[], outs: Vec[], bias?: Vec): void {
    this.b.matvecBatch(w, xs, outs, bias);
    this.bytes += batchReadBytes(this.b, w, xs.length);
  }

  private attention(layer: LayerWeights, l: number, positions: number[], caches: KvCache[]): void {
    const {b, c} = this;
    const s = this.cur;
    const inputs = s.map((st) => (c.preNorm ? this.norm(st.x, layer.attnNorm, st.xb) : st.x));
    this.matvec(layer.wq, inputs, s.map((st) => st.q), layer.bq);
    this.matvec(layer.wk, inputs, s.map((st) => st.k), layer.bk);
    this.matvec(layer.wv, inputs, s.map((st) => st.v), layer.bv);
    s.forEach((st, i) => {
      if (this.model.rope) {
        b.rope(st.q, c.nHeads, positions[i]!, this.model.rope);
        b.rope(st.k, c.nKvHeads, positions[i]!, this.model.rope);
      }
      b.attention(st.q, st.k, st.v, caches[i]!, l, positions[i]!, c, st.att);
    });
    this.matvec(layer.wo, s.map((st) => st.att), s.map((st) => st.xb2), layer.bo);
    for (const st of s) {
      b.add(st.x, st.xb2, st.x);
      if (!c.preNorm) this.norm(st.x, layer.attnNorm, st.x);
    }
  }

  private async ffn(layer: LayerWeights, l: number): Promise<void> {
    const {b, c} = this;
    const s = this.cur;
    const m = this.model;
    const inputs = s.map((st) => (c.preNorm ? this.norm(st.x, layer.ffnNorm, st.xb) : st.x));
    const outs = s.map((st) => st.xb2);
    const sparse = m.ffnOverride?.[l];
    if (sparse instanceof SparseFfnLayer) {
      await this.sparseFfn(sparse, inputs, outs);
    } else if (sparse) {
      throw new RangeError('batched decoding supports the built-in sparse FFN only');
    } else {
      const hb = s.map((st) => st.hb);
      if (layer.wGate) {
        this.matvec(layer.wGate, inputs, hb, layer.bGate);
        this.matvec(layer.wUp, inputs, s.map((st) => st.hb2), layer.bUp);
        for (const st of s) {
          b.activation(c.activation, st.hb, st.hb);
          b.mul(st.hb, st.hb2, st.hb);
        }
      } else {
        this.matvec(layer.wUp, inputs, hb, layer.bUp);
        for (const st of s) b.activation(c.activation, st.hb, st.hb);
      }
      if (m.ffnTopK !== null) for (const st of s) b.keepTopK(st.hb, m.ffnTopK, ffnTopKByMagnitude(c));
      if (layer.wDownT) {
        b.accumulateRowsBatch(layer.wDownT, null, hb, outs, layer.bDown);
        this.bytes += batchReadBytes(b, layer.wDownT, s.length);
      } else {
        this.matvec(layer.wDown!, hb, outs, layer.bDown);
      }
    }
    for (const st of s) {
      b.add(st.x, st.xb2, st.x);
      if (!c.preNorm) this.norm(st.x, layer.ffnNorm, st.x);
    }
  }

  private async sparseFfn(layer: SparseFfnLayer, inputs: Vec[], outs: Vec[]): Promise<void> {
    const g = layer.plan.groupSize;
    const nGroups = this.c.hiddenDim / g;
    const own = await layer.selectGroupsBatch(inputs);
    const union = padGroups(unionGroups(own, nGroups), nGroups, 8);
    const rows = groupRows(union, g);
    // masks[b][j] = 1 when row j of the union belongs to one of sequence b's own groups
    const masks = own.map((groups) => {
      const mine = new Uint8Array(nGroups);
      for (const grp of groups) mine[grp] = 1;
      return Float32Array.from(rows, (r) => mine[Math.floor(r / g)]!);
    });
    layer.computeBatch(inputs, rows, outs, masks);
    this.bytes += layer.batchBytes(rows.length, inputs.length);
    this.unionSum += union.length;
    this.ownSum += own.reduce((a, o) => a + o.length, 0) / own.length;
    this.sparseLayers++;
  }

  private norm(x: Vec, n: Norm, out: Vec): Vec {
    const {b, c} = this;
    if (c.norm === 'rmsnorm') b.rmsNorm(x, n.weight, c.normEps, out);
    else b.layerNorm(x, n.weight, n.bias!, c.normEps, out);
    return out;
  }
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
