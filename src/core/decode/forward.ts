/**
 * One forward step for every supported family, read top to bottom: token in, logits out.
 * It talks only to the Backend interface. Buffers live in RunState; the KV cache is passed in so
 * that several sequences can share one set of weights.
 */
import type {Backend, KvCache, RopeTable, Vec} from '../backends/backend.js';
import {ffnTopKByMagnitude, type ModelConfig} from '../model/config.js';
import {ropeTable} from '../model/rope.js';
import type {LayerWeights, ModelWeights, Norm} from '../model/weights.js';

/** Scratch buffers for one step, allocated once per model (and once per sequence of a batch). */
export interface RunState {
  embed: Vec; // [embedDim] token embedding (OPT project_in input)
  x: Vec; // [dim] residual stream
  xb: Vec; // [dim] normed input of a sub-block
  xb2: Vec; // [dim] output of a sub-block
  pos: Vec; // [dim] position embedding row
  q: Vec; // [nHeads * headDim]
  k: Vec; // [nKvHeads * headDim]
  v: Vec; // [nKvHeads * headDim]
  att: Vec; // [nHeads * headDim] attention output before wo
  hb: Vec; // [hiddenDim] FFN hidden (gate)
  hb2: Vec; // [hiddenDim] FFN hidden (up)
  out: Vec; // [embedDim] final hidden state (after norm / project_out)
  logits: Vec; // [vocabSize]
}

export function createRunState(c: ModelConfig, b: Backend): RunState {
  return {
    embed: b.createVector(c.embedDim),
    x: b.createVector(c.dim),
    xb: b.createVector(c.dim),
    xb2: b.createVector(c.dim),
    pos: b.createVector(c.dim),
    q: b.createVector(c.nHeads * c.headDim),
    k: b.createVector(c.nKvHeads * c.headDim),
    v: b.createVector(c.nKvHeads * c.headDim),
    att: b.createVector(c.nHeads * c.headDim),
    hb: b.createVector(c.hiddenDim),
    hb2: b.createVector(c.hiddenDim),
    out: b.createVector(c.embedDim),
    logits: b.createVector(c.vocabSize),
  };
}

/** Where a step's time goes; `hire bench` installs one to print a per-component breakdown. */
export type Section = 'embed' | 'attention' | 'ffn' | 'output';
export interface StepTimer {
  /** Called at the end of each section; the timer attributes the time since its last call. */
  mark(section: Section): void;
}

/**
 * A replacement for the dense FFN of some layers (HiRE-FFN, hire/ffn-sparse.ts): given the FFN
 * input x [dim] it writes the FFN output [dim] to out.
 */
export interface FfnOverride {
  run(x: Vec, out: Vec): Promise<void>;
}

/** Sees every dense FFN's input and hidden activations (before top-k); calibration installs one. */
export interface FfnProbe {
  ffn(layer: number, x: Vec, hidden: Vec): Promise<void>;
}

export class Transformer {
  readonly rope: RopeTable | null;
  /** Hidden activations kept per FFN (top-k FFN models), or null for a dense FFN. */
  ffnTopK: number | null;
  /** Optional profiler: only meaningful on backends whose kernels run synchronously. */
  timer: StepTimer | null = null;
  /** Per layer: a sparse FFN to run instead of the dense one (null entries stay dense). */
  ffnOverride: (FfnOverride | null)[] | null = null;
  /** Calibration hook on the dense FFNs. */
  probe: FfnProbe | null = null;
  private readonly s: RunState;

  constructor(
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
    readonly backend: Backend,
  ) {
    this.rope = ropeTable(config);
    this.ffnTopK = config.ffnTopK === null ? null : Math.max(1, Math.round(config.ffnTopK * config.hiddenDim));
    this.s = createRunState(config, backend);
  }

  /**
   * Applies top-k FFN semantics with this fraction of hidden activations kept (null: dense FFN).
   * For models not trained with top-k this is an approximation whose cost `hire eval` measures.
   */
  setFfnTopK(fraction: number | null): void {
    if (fraction !== null && !(fraction > 0 && fraction <= 1)) throw new RangeError(`FFN top-k fraction must be in (0, 1], got ${fraction}`);
    this.ffnTopK = fraction === null ? null : Math.max(1, Math.round(fraction * this.config.hiddenDim));
  }

  createCache(maxSeqLen = this.config.maxSeqLen): KvCache {
    const {nLayers, nKvHeads, headDim} = this.config;
    return this.backend.createKvCache({nLayers, nKvHeads, headDim, maxSeqLen});
  }

  /**
   * Runs the layers for `token` at `pos` and returns the final hidden state [embedDim]. Async
   * because a sparse FFN reads its predictor's output back to choose rows.
   */
  async hidden(token: number, pos: number, cache: KvCache): Promise<Vec> {
    const {config: c, weights: w, backend: b, s} = this;
    // 1. token embedding (+ OPT project_in) (+ learned position)
    if (w.projectIn) {
      b.embedRow(w.embed, token, s.embed);
      b.matvec(w.projectIn, s.embed, s.x);
    } else {
      b.embedRow(w.embed, token, s.x);
    }
    if (w.positions && c.positions.kind === 'learned') {
      b.embedRow(w.positions, pos + c.positions.offset, s.pos);
      b.add(s.x, s.pos, s.x);
    }
    this.timer?.mark('embed');
    // 2. the blocks
    for (let l = 0; l < c.nLayers; l++) {
      const layer = w.layers[l]!;
      this.attentionBlock(layer, l, pos, cache);
      this.timer?.mark('attention');
      await this.ffnBlock(layer, l);
      this.timer?.mark('ffn');
    }
    // 3. final norm (+ OPT project_out)
    if (w.finalNorm) this.norm(s.x, w.finalNorm, s.x);
    if (w.projectOut) {
      b.matvec(w.projectOut, s.x, s.out);
      return s.out;
    }
    return s.x;
  }

  /** Full step: hidden state, then the dense output layer. Returns logits [vocabSize]. */
  async forward(token: number, pos: number, cache: KvCache): Promise<Vec> {
    const h = await this.hidden(token, pos, cache);
    this.backend.matvec(this.weights.lmHead, h, this.s.logits);
    this.timer?.mark('output');
    return this.s.logits;
  }

  private attentionBlock(layer: LayerWeights, l: number, pos: number, cache: KvCache): void {
    const {config: c, backend: b, s} = this;
    const input = c.preNorm ? this.norm(s.x, layer.attnNorm, s.xb) : s.x;
    b.matvec(layer.wq, input, s.q, layer.bq);
    b.matvec(layer.wk, input, s.k, layer.bk);
    b.matvec(layer.wv, input, s.v, layer.bv);
    if (this.rope) {
      b.rope(s.q, c.nHeads, pos, this.rope);
      b.rope(s.k, c.nKvHeads, pos, this.rope);
    }
    b.attention(s.q, s.k, s.v, cache, l, pos, c, s.att);
    b.matvec(layer.wo, s.att, s.xb2, layer.bo);
    b.add(s.x, s.xb2, s.x);
    if (!c.preNorm) this.norm(s.x, layer.attnNorm, s.x);
  }

  private async ffnBlock(layer: LayerWeights, l: number): Promise<void> {
    const {config: c, backend: b, s} = this;
    const input = c.preNorm ? this.norm(s.x, layer.ffnNorm, s.xb) : s.x;
    const sparse = this.ffnOverride?.[l];
    if (sparse) {
      await sparse.run(input, s.xb2);
      b.add(s.x, s.xb2, s.x);
      if (!c.preNorm) this.norm(s.x, layer.ffnNorm, s.x);
      return;
    }
    if (layer.wGate) {
      // down(act(gate x) * up x)
      b.matvec(layer.wGate, input, s.hb, layer.bGate);
      b.matvec(layer.wUp, input, s.hb2, layer.bUp);
      b.activation(c.activation, s.hb, s.hb);
      b.mul(s.hb, s.hb2, s.hb);
    } else {
      // down(act(up x))
      b.matvec(layer.wUp, input, s.hb, layer.bUp);
      b.activation(c.activation, s.hb, s.hb);
    }
    if (this.probe) await this.probe.ffn(l, input, s.hb);
    // Models trained with a top-k FFN keep only the k largest hidden activations: by value after
    // a plain relu, by magnitude otherwise (a gated product or gelu/silu can be negative).
    if (this.ffnTopK !== null) b.keepTopK(s.hb, this.ffnTopK, ffnTopKByMagnitude(c));
    if (layer.wDownT) b.accumulateRows(layer.wDownT, null, s.hb, s.xb2, layer.bDown);
    else b.matvec(layer.wDown!, s.hb, s.xb2, layer.bDown);
    b.add(s.x, s.xb2, s.x);
    if (!c.preNorm) this.norm(s.x, layer.ffnNorm, s.x);
  }

  private norm(x: Vec, n: Norm, out: Vec): Vec {
    const {config: c, backend: b} = this;
    if (c.norm === 'rmsnorm') b.rmsNorm(x, n.weight, c.normEps, out);
    else b.layerNorm(x, n.weight, n.bias!, c.normEps, out);
    return out;
  }
}

/** Weight bytes a dense decode step reads: every matrix once, one row of each embedding table. */
export function denseBytesPerToken(w: ModelWeights): number {
  let bytes = w.embed.bytes / w.embed.rows;
  if (w.positions) bytes += w.positions.bytes / w.positions.rows;
  for (const m of [w.projectIn, w.projectOut, w.lmHead]) if (m) bytes += m.bytes;
  for (const l of w.layers) {
    for (const m of [l.wq, l.wk, l.wv, l.wo, l.wGate, l.wUp, l.wDown, l.wDownT]) if (m) bytes += m.bytes;
  }
  return bytes;
}
