/**
 * HiRE-FFN at decode time, one object per layer (docs/ARCHITECTURE.md, HiRE-FFN):
 *
 *   u~ = P x                       the layer's predictor of [W_gate; W_up] x (W_in x when not gated)
 *   groups = static + top-k'_g     by group score of |act(gate~) * up~| or |act(u~)| (ffn-groups.ts)
 *   h_S = act(W_gate[S] x) * (W_up[S] x)    (non-gated: act(W_in[S] x + b_S)), S = their rows
 *   h_S = top-k(h_S)               the model's top-k FFN semantics, k counted over all neurons
 *   y = sum_{i in S} h_i W_out^T[i]  (+ b_out)   W_out held transposed: one row per neuron
 *
 * Only |S| rows of each FFN matrix are read, plus the predictor. When S covers every group the
 * result equals the dense top-k FFN exactly (up to summation order).
 */
import {batchReadBytes, OWNERS_MAX_BATCH, type Backend, type Owners, type Vec} from '../../backends/backend.js';
import type {FfnOverride, FfnRunInfo} from '../../decode/forward.js';
import {ffnTopKByMagnitude, type ModelConfig} from '../../model/config.js';
import {ffnBytes, type LayerWeights} from '../../decode/weights.js';
import {groupRows, padGroups, pickGroups, selectGroups, unionGroups, type GroupScore} from './groups.js';
import type {SoftmaxPredictor} from '../predictor/predictor.js';
import {UploadedPredictor} from '../predictor/uploaded.js';

/** What one layer's sparse FFN needs from calibration. */
export interface FfnLayerPlan {
  /** Predictor of the layer's [W_gate; W_up] (2 * hiddenDim rows, "vocabSize" in the type) or W_in (hiddenDim rows). */
  predictor: SoftmaxPredictor;
  /** Neurons per group. */
  groupSize: number;
  score: GroupScore;
  /** Groups [0, nStatic) are always computed. */
  nStatic: number;
  /** Dynamic groups taken per token (k'_g). */
  kPrime: number;
}

export interface SparseFfnStats {
  steps: number;
  /** Mean neurons (rows) computed per step. */
  meanRows: number;
  /** Batched runs whose union was every group, read as whole matrices. */
  fullSteps: number;
}

interface Scratch {
  gate: Vec;
  up: Vec;
  bias: Vec;
}
const SCRATCH = new WeakMap<Backend, Map<string, Scratch>>();

export class SparseFfnLayer implements FfnOverride {
  private readonly predictor: UploadedPredictor;
  private readonly nGroups: number;
  private readonly scores: Float32Array<ArrayBuffer>;
  private readonly gScores: Float32Array<ArrayBuffer>;
  private steps = 0;
  private rowsRead = 0;
  private fullSteps = 0;
  private all: Int32Array | null = null;
  /** Whether to try the backend's group scoring (it has the op and no bias needs adding first). */
  private deviceScores: boolean;
  /** Group scores per sequence of a batch, on the backend. */
  private readonly gVecs: Vec[] = [];

  private constructor(
    private readonly backend: Backend,
    private readonly config: ModelConfig,
    private readonly layer: LayerWeights,
    readonly plan: FfnLayerPlan,
    /** Hidden activations kept (top-k FFN), or null. */
    private readonly topK: number | null,
    /** Host copies of b_gate / b_in (gathered per step), or null. */
    private readonly bGate: Float32Array | null,
    private readonly bUp: Float32Array | null,
  ) {
    const {hiddenDim} = config;
    this.predictor = new UploadedPredictor(backend, plan.predictor, {roundedX: true});
    this.nGroups = hiddenDim / plan.groupSize;
    this.scores = new Float32Array(hiddenDim);
    this.gScores = new Float32Array(this.nGroups);
    this.deviceScores = backend.ffnGroupScores !== undefined && bGate === null && bUp === null;
  }

  static async create(backend: Backend, config: ModelConfig, layer: LayerWeights, plan: FfnLayerPlan, topK: number | null): Promise<SparseFfnLayer> {
    const {hiddenDim, dim} = config;
    if (!layer.wDownT) throw new RangeError('sparse FFN: W_out must be loaded as neuron rows (wDownT)');
    if (hiddenDim % plan.groupSize !== 0) throw new RangeError(`sparse FFN: group size ${plan.groupSize} does not divide hiddenDim ${hiddenDim}`);
    const rows = layer.wGate ? 2 * hiddenDim : hiddenDim;
    if (plan.predictor.vocabSize !== rows || plan.predictor.dim !== dim) {
      throw new RangeError(`sparse FFN: predictor is [${plan.predictor.vocabSize}, ${plan.predictor.dim}], the layer needs [${rows}, ${dim}]`);
    }
    const gateBias = layer.wGate ? layer.bGate : layer.bUp;
    const upBias = layer.wGate ? layer.bUp : undefined;
    return new SparseFfnLayer(
      backend,
      config,
      layer,
      plan,
      topK,
      gateBias ? await backend.read(gateBias) : null,
      upBias ? await backend.read(upBias) : null,
    );
  }

  /** Groups one step computes: the static set plus k'_g (at most every group). */
  get groupsRead(): number {
    return this.plan.nStatic + Math.min(this.plan.kPrime, this.nGroups - this.plan.nStatic);
  }

  /**
   * True when the plan reads every group (the static set and k'_g cover the layer): the dense FFN
   * then does the same work without the predictor, and is used instead.
   */
  get readsAll(): boolean {
    return this.groupsRead >= this.nGroups;
  }

  /**
   * True when the dense FFN is used instead of this layer's sparse one: where the plan reads every
   * group, or where the predictor plus the rows it picks read at least the dense FFN's bytes (a
   * full-size predictor on quantised weights: an int4 predictor of [W_gate; W_up] is as large as
   * their q4_0 rows). The dense top-k FFN is then cheaper and exact.
   */
  get runsDense(): boolean {
    return this.readsAll || this.sparseBytes >= ffnBytes(this.layer);
  }

  /** Weight bytes one sparse step reads: the predictor plus the chosen rows of every FFN matrix. */
  get sparseBytes(): number {
    return this.predictor.bytes + this.groupsRead * this.plan.groupSize * this.rowBytes;
  }

  /** Weight bytes one step reads: sparseBytes, or the dense FFN's where the layer runs dense. */
  get bytesPerToken(): number {
    return this.runsDense ? ffnBytes(this.layer) : this.sparseBytes;
  }

  /** Bytes of one neuron's row in every FFN matrix together. */
  get rowBytes(): number {
    return ffnBytes(this.layer) / this.config.hiddenDim;
  }

  /** Weight bytes a batched step of n sequences reads over `rows` union rows (shared reads counted once where the backend batches). */
  batchBytes(rows: number, n: number): number {
    return this.predictor.batchBytes(n) + batchReadBytes(this.backend, this.layer.wUp, n, rows * this.rowBytes);
  }

  stats(): SparseFfnStats {
    return {steps: this.steps, meanRows: this.steps ? this.rowsRead / this.steps : 0, fullSteps: this.fullSteps};
  }

  /** Every neuron id in order (the rows of a union of every group, read as whole matrices). */
  private allRows(): Int32Array {
    return (this.all ??= Int32Array.from({length: this.config.hiddenDim}, (_, i) => i));
  }

  /** The groups this layer would compute for input x (static + predicted), ascending. */
  async selectGroups(x: Vec): Promise<Int32Array> {
    return (await this.selectGroupsBatch([x]))[0]!;
  }

  /**
   * selectGroups for several inputs, the predictor read once for all of them (batched decoding).
   * Where the backend scores groups itself (ffnGroupScores: same bits as the host), only the
   * group scores are read back; otherwise the predictions, scored here.
   */
  async selectGroupsBatch(xs: Vec[]): Promise<Int32Array[]> {
    const preds = this.predictor.enqueueBatch(xs);
    const b = this.backend;
    const {groupSize, score, nStatic, kPrime} = this.plan;
    if (this.deviceScores) {
      const spec = {activation: this.config.activation, gated: Boolean(this.layer.wGate), groupSize, score};
      const outs = preds.map((_, i) => (this.gVecs[i] ??= b.createVector(this.nGroups)));
      if (preds.every((p, i) => b.ffnGroupScores!(p, spec, outs[i]!))) {
        const res: Int32Array[] = [];
        for (const o of outs) res.push(selectGroups(await b.read(o), nStatic, kPrime));
        return res;
      }
      this.deviceScores = false; // no kernel for this activation: score on the host from now on
    }
    const res: Int32Array[] = [];
    for (const p of preds) res.push(this.groupsFor(await b.read(p)));
    return res;
  }

  /** Static groups plus the best k'_g others for one prediction ([gate~; up~] or u~, biases not yet added). */
  private groupsFor(pred: Float32Array): Int32Array {
    const {groupSize, score, nStatic, kPrime} = this.plan;
    return pickGroups(pred, {
      activation: this.config.activation,
      gated: Boolean(this.layer.wGate),
      bGate: this.bGate,
      bUp: this.bUp,
      groupSize,
      score,
      nStatic,
      kDyn: kPrime,
      scores: this.scores,
      gScores: this.gScores,
    });
  }

  /**
   * outs[i] = the layer's FFN output for input xs[i] (the normed residual, [dim]). One row: its own
   * groups. Several rows (batched decoding, a prompt block): the union of their groups is read once
   * and each row is masked back to its own groups, so every row gets exactly its own sparse FFN.
   * A prompt block is never handed to the dense top-k FFN, even where its union is every group:
   * that FFN gives other values than the row's own groups do (recall below 1), so a prompt's
   * result would depend on how it was split into blocks (a server's chunked prefill against a
   * generation alone). The union read costs at most what the dense FFN reads, plus the predictor.
   */
  async run(xs: Vec[], outs: Vec[]): Promise<FfnRunInfo> {
    const g = this.plan.groupSize;
    if (xs.length === 1) {
      const groups = await this.selectGroups(xs[0]!);
      this.computeBatch(xs, groupRows(groups, g), outs, null);
      return {bytes: this.sparseBytes, groups: {union: groups.length, perRow: groups.length}};
    }
    const own = await this.selectGroupsBatch(xs);
    const union = padGroups(unionGroups(own, this.nGroups), this.nGroups, 8);
    // A union of every group (common from about 8 rows on) reads what the dense FFN reads: then the
    // whole matrices go through the dense batched kernels (contiguous rows, the blocked product),
    // faster than gathering every row by id, with each row still masked to its own groups.
    const full = union.length === this.nGroups;
    const rows = full ? this.allRows() : groupRows(union, g);
    // masks[b][j] = 1 when row j of the union belongs to one of row b's own groups; owners[j] the
    // same as one bit per row b, so that a backend computes only what each row needs
    const {masks, owners} = ownersOf(own, rows, g, this.nGroups);
    this.computeBatch(xs, rows, outs, masks, full, owners);
    const perRow = own.reduce((a, o) => a + o.length, 0) / own.length;
    return {bytes: this.batchBytes(rows.length, xs.length), groups: {union: union.length, perRow}};
  }

  /**
   * Batched decoding: every sequence's FFN over the union `rows` of the batch's groups, each row
   * read once for the batch. masks[b] (1 for rows in sequence b's own groups, else 0) keeps each
   * sequence's result equal to its own sparse FFN; `owners` (the masks as one bit per sequence and
   * row, at most OWNERS_MAX_BATCH sequences) lets the backend skip the rows a sequence does not own.
   */
  computeBatch(xs: Vec[], rows: Int32Array, outs: Vec[], masks: Float32Array[] | null, full = false, owners?: Owners): void {
    const {backend: b, layer: l, config: c} = this;
    const vs = xs.map((_, i) => this.vectors(rows.length, i));
    const gates = vs.map((v) => v.gate);
    const ups = vs.map((v) => v.up);
    if (full) {
      // rows = every neuron in order: the whole matrices, biases added by the kernels
      if (l.wGate) {
        b.matvecBatch(l.wGate, xs, gates, l.bGate, owners);
        b.matvecBatch(l.wUp, xs, ups, l.bUp, owners);
        b.activationRows(c.activation, gates, gates);
        b.mulRows(gates, ups, gates);
      } else {
        b.matvecBatch(l.wUp, xs, gates, l.bUp, owners);
        b.activationRows(c.activation, gates, gates);
      }
      this.fullSteps++;
    } else if (l.wGate && xs.length === 1 && !this.bGate && !this.bUp && b.ffnGatedRows?.(l.wGate, l.wUp!, rows, xs[0]!, c.activation, gates[0]!, ups[0]!)) {
      // one call: both rows of each neuron, the activation and the product (same bits)
    } else if (l.wGate) {
      b.matvecRowsBatch(l.wGate, rows, xs, gates, owners);
      if (this.bGate) vs.forEach((v) => this.addGathered(v.gate, this.bGate!, rows, v.bias));
      b.matvecRowsBatch(l.wUp, rows, xs, ups, owners);
      if (this.bUp) vs.forEach((v) => this.addGathered(v.up, this.bUp!, rows, v.bias));
      for (const v of vs) {
        b.activation(c.activation, v.gate, v.gate);
        b.mul(v.gate, v.up, v.gate);
      }
    } else {
      b.matvecRowsBatch(l.wUp, rows, xs, gates, owners);
      for (const v of vs) {
        if (this.bGate) this.addGathered(v.gate, this.bGate, rows, v.bias);
        b.activation(c.activation, v.gate, v.gate);
      }
    }
    vs.forEach((v, i) => {
      if (masks) {
        b.write(v.up, masks[i]!);
        b.mul(v.gate, v.up, v.gate);
      }
      if (this.topK !== null) b.keepTopK(v.gate, this.topK, ffnTopKByMagnitude(c));
    });
    b.accumulateRowsBatch(l.wDownT!, full ? null : rows, gates, outs, l.bDown, owners);
    this.steps += xs.length;
    this.rowsRead += rows.length;
  }

  private addGathered(dst: Vec, bias: Float32Array, rows: Int32Array, scratch: Vec): void {
    const g = new Float32Array(rows.length);
    for (let i = 0; i < rows.length; i++) g[i] = bias[rows[i]!]!;
    this.backend.write(scratch, g);
    this.backend.add(dst, scratch, dst);
  }

  /**
   * Scratch of n rows for sequence `seq` of a batch, shared by every layer on this backend (a
   * backend frees memory only when disposed, so sizes are kept and reused, not re-made).
   */
  private vectors(n: number, seq: number): Scratch {
    let pool = SCRATCH.get(this.backend);
    if (!pool) SCRATCH.set(this.backend, (pool = new Map()));
    const key = `${n}:${seq}`;
    let v = pool.get(key);
    if (!v) {
      const b = this.backend;
      v = {gate: b.createVector(n), up: b.createVector(n), bias: b.createVector(n)};
      pool.set(key, v);
    }
    return v;
  }
}

/**
 * masks[b][j] = 1 when rows[j] (a neuron id) lies in one of own[b]'s groups, else 0; owners[j] has
 * bit b set for the same (absent above OWNERS_MAX_BATCH sequences).
 */
export function ownersOf(own: Int32Array[], rows: Int32Array, g: number, nGroups: number): {masks: Float32Array[]; owners?: Owners} {
  if (own.length > OWNERS_MAX_BATCH) return {masks: own.map((groups) => maskOf(groups, rows, g, nGroups))};
  const byGroup = new Uint32Array(nGroups);
  own.forEach((groups, b) => {
    for (let i = 0; i < groups.length; i++) byGroup[groups[i]!]! |= 1 << b;
  });
  const masks = own.map(() => new Float32Array(rows.length));
  const owners = new Uint32Array(rows.length);
  for (let j = 0; j < rows.length; j++) {
    const bits = byGroup[(rows[j]! / g) | 0]!;
    owners[j] = bits;
    for (let b = 0; b < own.length; b++) if ((bits >>> b) & 1) masks[b]![j] = 1;
  }
  return {masks, owners};
}

/** 1 for each of `rows` (neuron ids) that lies in one of `groups`, else 0. */
function maskOf(groups: Int32Array, rows: Int32Array, g: number, nGroups: number): Float32Array {
  const mine = new Uint8Array(nGroups);
  for (let i = 0; i < groups.length; i++) mine[groups[i]!] = 1;
  const mask = new Float32Array(rows.length);
  for (let j = 0; j < rows.length; j++) mask[j] = mine[(rows[j]! / g) | 0]!;
  return mask;
}
