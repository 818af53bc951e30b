/**
 * THE forward pass, for every supported family, read top to bottom: rows in, final hidden states
 * out. A row is one token of one sequence at one position; a step runs any number of rows:
 *
 *   one decode step        1 row
 *   a prompt (prefill)     T rows of one sequence, positions p .. p+T-1
 *   batched decoding       B rows, one per sequence
 *
 * Rows of the same sequence must be in position order: row t stores its keys and values in the
 * cache before it attends over positions 0..pos, so later rows of the block see earlier ones and
 * nothing else (causal by construction).
 *
 * The same loop runs on one device and on each device of a group; three hooks make the difference:
 *   ffnOverride[l]   replaces layer l's dense FFN (HiRE-FFN; a device's share of the neurons)
 *   collectives      all-reduces the partial outputs of attention and FFN across devices
 *                    (absent on one device: then the output biases go straight into the matvecs)
 *   the output head  is not here: callers pass the returned hidden states to an OutputHead
 * A device holding a shard runs this loop over a shard view of the weights (fewer heads, fewer FFN
 * neurons, null matrices where it holds none) with `inputs` (embeddings) instead of token ids.
 */
import type {Backend, KvCache, KvDtype, Mat, RopeTable, Vec} from '../backends/backend.js';
import type {Collectives, FfnOverride, FfnProbe, ForwardLayer, ForwardOptions, ForwardWeights, StepRows, StepStats, StepTimer} from './forward-types.js';
import {batchReadBytes} from '../backends/backend.js';
import {ffnTopKByMagnitude, type ModelConfig} from '../model/config.js';
import {ropeTable} from '../model/rope.js';
import type {ModelWeights, Norm} from './weights.js';

/** Most rows one prefill block runs by default (a longer prompt runs in several blocks). */
export const PREFILL_CHUNK = 256;

export type {ForwardLayer, ForwardWeights, StepRows, Section, StepTimer, FfnRunInfo, FfnOverride, FfnProbe, Collectives, StepStats, ForwardOptions} from './forward-types.js';

/** Scratch buffers of one row, allocated once and reused. */
interface RowState {
  embed: Vec; // [embedDim] token embedding (OPT project_in input)
  x: Vec; // [dim] residual stream
  xb: Vec; // [dim] normed input of a sub-block
  xb2: Vec; // [dim] output of a sub-block
  pos: Vec; // [dim] position embedding row
  q: Vec; // [nHeads * headDim]
  k: Vec; // [nKvHeads * headDim]
  v: Vec; // [nKvHeads * headDim]
  att: Vec; // [nHeads * headDim] attention output before wo
  hb: Vec; // [ffn rows] FFN hidden (gate)
  hb2: Vec; // [ffn rows] FFN hidden (up)
  out: Vec; // [embedDim] final hidden state after OPT project_out
}

export class Transformer<W extends ForwardWeights = ModelWeights> {
  readonly rope: RopeTable | null;
  /** Hidden activations kept per FFN (top-k FFN models), or null for a dense FFN. */
  ffnTopK: number | null;
  /** Optional profiler: only meaningful on backends whose kernels run synchronously. */
  timer: StepTimer | null = null;
  /** Per layer: an FFN to run instead of the dense one (null entries stay dense). */
  ffnOverride: (FfnOverride | null)[] | null = null;
  /** Calibration hook on the dense FFNs. */
  probe: FfnProbe | null = null;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly kvDtype: KvDtype;
  readonly prefillChunk: number;
  private readonly collectives: Collectives | null;
  /** Row states, each field one block of rows (createVectors); grown as needed and kept. */
  private rows: RowState[] = [];
  private readonly zeros: Float32Array;
  private logits: Vec | null = null;
  private last: StepStats = {rows: 0, bytes: 0, unionGroups: null, groupsPerRow: null};
  private groupSums = {union: 0, perRow: 0, layers: 0};

  constructor(
    readonly config: ModelConfig,
    readonly weights: W,
    readonly backend: Backend,
    opts: ForwardOptions = {},
  ) {
    this.rope = ropeTable(config);
    this.ffnTopK = config.ffnTopK === null ? null : Math.max(1, Math.round(config.ffnTopK * config.hiddenDim));
    this.nHeads = opts.heads?.nHeads ?? config.nHeads;
    this.nKvHeads = opts.heads?.nKvHeads ?? config.nKvHeads;
    this.collectives = opts.collectives ?? null;
    this.kvDtype = opts.kvDtype ?? 'f32';
    this.prefillChunk = opts.prefillChunk ?? PREFILL_CHUNK;
    if (!(Number.isInteger(this.prefillChunk) && this.prefillChunk >= 1)) throw new RangeError(`prefillChunk must be a positive integer, got ${opts.prefillChunk}`);
    this.zeros = new Float32Array(config.dim);
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
    const {nLayers, headDim} = this.config;
    return this.backend.createKvCache({nLayers, nKvHeads: this.nKvHeads, headDim, maxSeqLen, dtype: this.kvDtype});
  }

  /** Frees a cache from createCache() now (it must not be used afterwards). */
  releaseCache(cache: KvCache): void {
    this.backend.releaseKvCache(cache);
  }

  /** Statistics of the last step. */
  stats(): StepStats {
    return this.last;
  }

  /**
   * Runs the layers for every row and returns each row's final hidden state [embedDim] (buffers of
   * this Transformer, valid until the next step). Async because a sparse FFN reads its predictor's
   * output back to choose rows, and devices wait for each other at the all-reduces.
   */
  async run(step: StepRows): Promise<Vec[]> {
    const {config: c, weights: w} = this;
    const n = step.positions.length;
    if (n < 1 || step.caches.length !== n || (step.tokens !== null && step.tokens.length !== n)) {
      throw new RangeError(`a step needs one position, cache${step.tokens ? ' and token' : ''} per row (${n} positions, ${step.caches.length} caches)`);
    }
    const keep = step.outputs;
    if (keep && !keep.every((r, i) => Number.isInteger(r) && r >= 0 && r < n && (i === 0 || r > keep[i - 1]!))) {
      throw new RangeError(`a step's outputs must be ascending row indices below ${n}`);
    }
    const s = this.rowStates(n);
    this.last = {rows: n, bytes: 0, unionGroups: null, groupsPerRow: null};
    this.groupSums = {union: 0, perRow: 0, layers: 0};
    // 1. input embeddings: token (+ OPT project_in) (+ learned position), or given
    this.embed(step, s);
    this.timer?.mark('embed');
    // 2. the blocks; after the last layer's attention only the rows asked for go on
    const calls = attentionCalls(step, this.backend.attentionSeqs !== undefined);
    let rows = s;
    for (let l = 0; l < c.nLayers; l++) {
      const layer = w.layers[l]!;
      rows = await this.attentionBlock(layer, l, step, calls, s, l === c.nLayers - 1 ? keep : undefined);
      this.timer?.mark('attention');
      if (rows.length > 0) await this.ffnBlock(layer, l, rows);
      this.timer?.mark('ffn');
    }
    const g = this.groupSums;
    if (g.layers > 0) this.last = {...this.last, unionGroups: g.union / g.layers, groupsPerRow: g.perRow / g.layers};
    if (rows.length === 0) return [];
    // 3. final norm (+ OPT project_out)
    if (w.finalNorm) this.norm(rows.map((r) => r.x), w.finalNorm, rows.map((r) => r.x));
    if (w.projectOut) {
      this.matvec(w.projectOut, rows.map((r) => r.x), rows.map((r) => r.out));
      return rows.map((r) => r.out);
    }
    return rows.map((r) => r.x);
  }

  /**
   * A prompt (or any run of tokens of one sequence) at positions pos0, pos0 + 1, ...: every token's
   * keys and values go into the cache; returns the last token's final hidden state. Long prompts
   * run in blocks of prefillChunk rows so memory stays bounded. A prompt that does not fit the
   * cache fails before anything runs.
   */
  async prefill(tokens: readonly number[], pos0: number, cache: KvCache, checkAbort?: () => void): Promise<Vec> {
    if (tokens.length === 0) throw new RangeError('prefill needs at least one token');
    if (!(Number.isInteger(pos0) && pos0 >= 0) || pos0 + tokens.length > cache.maxSeqLen) {
      throw new RangeError(`a prompt of ${tokens.length} tokens at position ${pos0} does not fit a KV cache of ${cache.maxSeqLen} positions`);
    }
    let last: Vec[] = [];
    for (let start = 0; start < tokens.length; start += this.prefillChunk) {
      checkAbort?.();
      const block = tokens.slice(start, start + this.prefillChunk);
      const positions = block.map((_, i) => pos0 + start + i);
      // only the prompt's last token needs a final hidden state
      const outputs = start + block.length === tokens.length ? [block.length - 1] : [];
      last = await this.run({tokens: block, positions, caches: block.map(() => cache), outputs});
    }
    return last[0]!;
  }

  /** One row: the final hidden state of `token` at `pos` in `cache`. */
  async hidden(token: number, pos: number, cache: KvCache): Promise<Vec> {
    return (await this.run({tokens: [token], positions: [pos], caches: [cache]}))[0]!;
  }

  /** One row through the dense output layer: logits [vocabSize] (tests and evaluation; decoding uses an OutputHead). */
  async forward(token: number, pos: number, cache: KvCache): Promise<Vec> {
    const lmHead = this.weights.lmHead;
    if (!lmHead) throw new RangeError('this forward pass holds no output layer');
    const h = await this.hidden(token, pos, cache);
    this.logits ??= this.backend.createVector(lmHead.rows);
    this.backend.matvec(lmHead, h, this.logits);
    this.timer?.mark('output');
    return this.logits;
  }

  private embed(step: StepRows, s: RowState[]): void {
    const {config: c, weights: w, backend: b} = this;
    if (step.tokens === null) {
      if (!step.inputs || step.inputs.length !== s.length * c.dim) throw new RangeError(`a step without tokens needs ${s.length} x ${c.dim} input embeddings`);
      s.forEach((r, i) => b.write(r.x, step.inputs!.subarray(i * c.dim, (i + 1) * c.dim)));
      return;
    }
    if (!w.embed) throw new RangeError('this forward pass holds no embedding table: give input embeddings');
    const embed = w.embed;
    s.forEach((r, i) => b.embedRow(embed, step.tokens![i]!, w.projectIn ? r.embed : r.x));
    this.last.bytes += s.length * (embed.bytes / embed.rows);
    if (w.projectIn) this.matvec(w.projectIn, s.map((r) => r.embed), s.map((r) => r.x));
    if (w.positions && c.positions.kind === 'learned') {
      const offset = c.positions.offset;
      s.forEach((r, i) => b.embedRow(w.positions!, step.positions[i]! + offset, r.pos));
      b.addRows(s.map((r) => r.x), s.map((r) => r.pos), s.map((r) => r.x));
      this.last.bytes += s.length * (w.positions.bytes / w.positions.rows);
    }
  }

  /**
   * Attention of every row (each stores its keys and values), then the output projection and the
   * residual for the rows in `keep` (default all); returns the rows that go on.
   */
  private async attentionBlock(layer: ForwardLayer, l: number, step: StepRows, calls: AttentionCalls, s: RowState[], keep?: readonly number[]): Promise<RowState[]> {
    const {config: c, backend: b} = this;
    const inputs = c.preNorm ? this.norm(s.map((r) => r.x), layer.attnNorm, s.map((r) => r.xb)) : s.map((r) => r.x);
    const kept = keep ? keep.map((i) => s[i]!) : s;
    const xs = kept.map((r) => r.x);
    const outs = kept.map((r) => r.xb2);
    const reduce = this.collectives !== null;
    if (layer.wq && layer.wk && layer.wv && layer.wo) {
      this.matvec(layer.wq, inputs, s.map((r) => r.q), layer.bq);
      this.matvec(layer.wk, inputs, s.map((r) => r.k), layer.bk);
      this.matvec(layer.wv, inputs, s.map((r) => r.v), layer.bv);
      const shape = {nHeads: this.nHeads, nKvHeads: this.nKvHeads, headDim: c.headDim};
      if (this.rope) {
        b.ropeRows(s.map((r) => r.q), this.nHeads, step.positions, this.rope);
        b.ropeRows(s.map((r) => r.k), this.nKvHeads, step.positions, this.rope);
      }
      const {alone} = calls;
      const rows = alone.rows.map((i) => s[i]!);
      const joint = rows.length >= 2 && b.attentionSeqs!(rows.map((r) => r.q), rows.map((r) => r.k), rows.map((r) => r.v), alone.caches, l, alone.positions, shape, rows.map((r) => r.att));
      for (const [i, j] of calls.runs) {
        if (joint && calls.isAlone[i]) continue;
        const run = s.slice(i, j);
        b.attentionRows(run.map((r) => r.q), run.map((r) => r.k), run.map((r) => r.v), step.caches[i]!, l, step.positions[i]!, shape, run.map((r) => r.att));
      }
      if (kept.length > 0) this.matvec(layer.wo, kept.map((r) => r.att), outs, reduce ? undefined : layer.bo);
    } else {
      for (const o of outs) b.write(o, this.zeros); // a device holding no heads adds nothing
    }
    if (kept.length === 0) return kept;
    if (reduce) await this.reduce(outs, layer.bo);
    b.addRows(xs, outs, xs);
    if (!c.preNorm) this.norm(xs, layer.attnNorm, xs);
    return kept;
  }

  private async ffnBlock(layer: ForwardLayer, l: number, s: RowState[]): Promise<void> {
    const {config: c, backend: b} = this;
    const xs = s.map((r) => r.x);
    const inputs = c.preNorm ? this.norm(xs, layer.ffnNorm, s.map((r) => r.xb)) : xs;
    const outs = s.map((r) => r.xb2);
    const reduce = this.collectives !== null;
    const override = this.ffnOverride?.[l];
    if (override) {
      const info = await override.run(inputs, outs);
      this.last.bytes += info.bytes;
      if (info.groups) {
        this.groupSums.union += info.groups.union;
        this.groupSums.perRow += info.groups.perRow;
        this.groupSums.layers++;
      }
    } else if (layer.wUp) {
      await this.denseFfn(layer, l, inputs, s, reduce ? undefined : layer.bDown);
    } else {
      for (const o of outs) b.write(o, this.zeros); // a device holding no neurons adds nothing
    }
    if (reduce) await this.reduce(outs, layer.bDown);
    b.addRows(xs, outs, xs);
    if (!c.preNorm) this.norm(xs, layer.ffnNorm, xs);
  }

  /** down(act(gate x) * up x), or down(act(up x)); top-k of the hidden activations for top-k FFN models. */
  private async denseFfn(layer: ForwardLayer, l: number, inputs: Vec[], s: RowState[], bias: Vec | undefined): Promise<void> {
    const {config: c, backend: b} = this;
    const hb = s.map((r) => r.hb);
    if (layer.wGate) {
      const hb2 = s.map((r) => r.hb2);
      this.matvec(layer.wGate, inputs, hb, layer.bGate);
      this.matvec(layer.wUp!, inputs, hb2, layer.bUp);
      b.activationRows(c.activation, hb, hb);
      b.mulRows(hb, hb2, hb);
    } else {
      this.matvec(layer.wUp!, inputs, hb, layer.bUp);
      b.activationRows(c.activation, hb, hb);
    }
    if (this.probe) for (let i = 0; i < s.length; i++) await this.probe.ffn(l, inputs[i]!, s[i]!.hb);
    // Models trained with a top-k FFN keep only the k largest hidden activations: by value after
    // a plain relu, by magnitude otherwise (a gated product or gelu/silu can be negative).
    if (this.ffnTopK !== null) for (const r of s) b.keepTopK(r.hb, this.ffnTopK, ffnTopKByMagnitude(c));
    const outs = s.map((r) => r.xb2);
    if (layer.wDownT) {
      b.accumulateRowsBatch(layer.wDownT, null, hb, outs, bias);
      this.last.bytes += batchReadBytes(b, layer.wDownT, s.length);
    } else {
      this.matvec(layer.wDown!, hb, outs, bias);
    }
  }

  private async reduce(parts: Vec[], bias: Vec | undefined): Promise<void> {
    await this.collectives!.allReduce(parts);
    if (bias) this.backend.addRows(parts, parts.map(() => bias), parts);
  }

  private matvec(w: Mat, xs: Vec[], outs: Vec[], bias?: Vec): void {
    this.backend.matvecBatch(w, xs, outs, bias);
    this.last.bytes += batchReadBytes(this.backend, w, xs.length);
  }

  /** Normalises every row of xs into outs (which may be xs) and returns outs. */
  private norm(xs: Vec[], n: Norm, outs: Vec[]): Vec[] {
    const {config: c, backend: b} = this;
    if (c.norm === 'rmsnorm') b.rmsNormRows(xs, n.weight, c.normEps, outs);
    else b.layerNormRows(xs, n.weight, n.bias!, c.normEps, outs);
    return outs;
  }

  /**
   * The first n row states. Each field of the rows is one block (Backend.createVectors), so that
   * a backend can run a step's rows as one block; more rows make new blocks (at least twice the
   * old count, so growth is rare), which are kept for later steps.
   */
  private rowStates(n: number): RowState[] {
    if (this.rows.length < n) {
      const {config: c, backend: b} = this;
      const count = Math.max(n, 2 * this.rows.length);
      const ffnRows = this.weights.layers.find((l) => l.wUp)?.wUp?.rows ?? c.hiddenDim;
      const q = Math.max(1, this.nHeads * c.headDim);
      const kv = Math.max(1, this.nKvHeads * c.headDim);
      const block = (length: number) => b.createVectors(count, length);
      const f = {
        embed: block(c.embedDim), x: block(c.dim), xb: block(c.dim), xb2: block(c.dim), pos: block(c.dim),
        q: block(q), k: block(kv), v: block(kv), att: block(q), hb: block(ffnRows), hb2: block(ffnRows), out: block(c.embedDim),
      };
      this.rows = Array.from({length: count}, (_, i) => ({
        embed: f.embed[i]!, x: f.x[i]!, xb: f.xb[i]!, xb2: f.xb2[i]!, pos: f.pos[i]!, q: f.q[i]!, k: f.k[i]!, v: f.v[i]!,
        att: f.att[i]!, hb: f.hb[i]!, hb2: f.hb2[i]!, out: f.out[i]!,
      }));
    }
    return this.rows.slice(0, n);
  }
}

/** How a step's rows attend, the same in every layer (attentionCalls). */
interface AttentionCalls {
  /** Runs [i, j) of rows of one sequence at consecutive positions (a prompt block: one call each). */
  runs: [number, number][];
  /**
   * Rows that are their sequence's only row in the step (a batched decoding step's rows), with
   * their caches and positions, for one attentionSeqs call where the backend has it (else none);
   * isAlone[i] marks them.
   */
  alone: {rows: number[]; caches: KvCache[]; positions: number[]};
  isAlone: boolean[];
}

function attentionCalls(step: StepRows, joint: boolean): AttentionCalls {
  const {caches, positions} = step;
  const runs: [number, number][] = [];
  const count = new Map<KvCache, number>();
  for (let i = 0; i < caches.length; ) {
    let j = i + 1;
    while (j < caches.length && caches[j] === caches[i] && positions[j] === positions[j - 1]! + 1) j++;
    runs.push([i, j]);
    count.set(caches[i]!, (count.get(caches[i]!) ?? 0) + 1);
    i = j;
  }
  const rows = joint ? runs.filter(([i, j]) => j === i + 1 && count.get(caches[i]!) === 1).map(([i]) => i) : [];
  const isAlone = Array.from(caches, () => false);
  for (const i of rows) isAlone[i] = true;
  return {runs, alone: {rows, caches: rows.map((i) => caches[i]!), positions: rows.map((i) => positions[i]!)}, isAlone};
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
