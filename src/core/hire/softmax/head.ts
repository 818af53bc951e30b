/**
 * HiRE-Softmax output head (see decode/output-head.ts for the interface and the dense head):
 * approximate logits z~ from the predictor, candidates
 *   C = top-k'(z~), exact logits W[C] h of the candidates only; sampling then sees C alone, the
 *   tail outside C is dropped. In certified mode candidates are taken by the upper bound
 *   z~ + e ||h|| and k' is doubled until the top-k is provably the dense top-k.
 */
import type {Backend, Mat, Vec} from '../../backends/backend.js';
import {batchReadBytes, OWNERS_MAX_BATCH, type Owners} from '../../backends/backend.js';
import type {BatchHeadResult, HeadResult, HeadStats, OutputHead} from '../../decode/output-head.js';
import {topKIndices} from '../../numeric/select.js';
import {padGroups, unionGroups} from '../ffn/groups.js';
import {certifiedTopK} from '../predictor/recall.js';
import type {SoftmaxPredictor} from '../predictor/predictor.js';
import {UploadedPredictor} from '../predictor/uploaded.js';

export interface HireHeadOptions {
  /** Candidates per step. */
  kPrime: number;
  /** Certified mode: the top-k that must be exact (1 for greedy). Null: plain HiRE. */
  certifyK: number | null;
  /** Also return the approximate logits of the whole vocabulary (HeadResult.approx). */
  approxTail?: boolean;
}

export class HireSoftmaxHead implements OutputHead {
  readonly kind = 'hire' as const;
  private readonly uploaded: UploadedPredictor;
  private readonly candidateVecs = new Map<number, Vec>();
  private steps = 0;
  private candidates = 0;
  private widenedSteps = 0;
  private widenings = 0;

  constructor(
    private readonly backend: Backend,
    private readonly lmHead: Mat,
    readonly predictor: SoftmaxPredictor,
    private readonly opts: HireHeadOptions,
  ) {
    this.uploaded = new UploadedPredictor(backend, predictor);
  }

  /** What the backend reads: the predictor as it holds it (tfjs holds quantised factors as f32) plus k' exact rows. */
  get bytesPerToken(): number {
    const rowBytes = this.lmHead.bytes / this.lmHead.rows;
    return this.uploaded.bytes + this.opts.kPrime * rowBytes;
  }

  /** Candidates per step. */
  get kPrime(): number {
    return this.opts.kPrime;
  }

  /** The predictor's approximate logits z~ [vocabSize] for h. */
  async approximate(h: Vec): Promise<Float32Array> {
    return this.uploaded.predict(h);
  }

  /** Weight bytes approximateBatch reads for n hidden states. */
  predictorBatchBytes(n: number): number {
    return this.uploaded.batchBytes(n);
  }

  /** approximate() for several hidden states, the predictor read once for all of them (batched decoding). */
  async approximateBatch(hs: Vec[]): Promise<Float32Array[]> {
    return this.uploaded.predictBatch(hs);
  }

  async next(h: Vec): Promise<HeadResult> {
    const b = this.backend;
    this.steps++;
    if (this.opts.certifyK === null) {
      // Candidates selected where z~ lives: only k' (id, value) pairs come back, not vocabSize logits.
      this.uploaded.enqueue(h);
      const {ids} = await b.topK(this.uploaded.out, this.opts.kPrime);
      this.candidates += ids.length;
      const approx = this.opts.approxTail ? await b.read(this.uploaded.out) : undefined;
      return {ids, logits: await this.exactRows(ids, h), ...(approx ? {approx} : {})};
    }
    const approx = await this.approximate(h);
    const hv = await b.read(h);
    let ss = 0;
    for (let i = 0; i < hv.length; i++) ss += hv[i]! * hv[i]!;
    const res = await certifiedTopK(approx, this.predictor.errNorms, Math.sqrt(ss), this.opts.certifyK, this.opts.kPrime, (ids) =>
      this.exactRows(ids, h),
    );
    this.candidates += res.ids.length;
    if (res.widened > 0) this.widenedSteps++;
    this.widenings += res.widened;
    return {ids: res.ids, logits: res.logits, ...(this.opts.approxTail ? {approx} : {})};
  }

  /**
   * Batched decoding: each hidden state's own k' candidates (certified mode is not batched: each
   * state goes through next()); the union of the candidates' rows is read once for all of them.
   */
  async nextBatch(hs: Vec[]): Promise<BatchHeadResult> {
    if (hs.length === 1 || this.opts.certifyK !== null) {
      const results: HeadResult[] = [];
      for (const h of hs) results.push(await this.next(h));
      return {results, bytes: hs.length * this.bytesPerToken};
    }
    const lm = this.lmHead;
    const approxes = await this.approximateBatch(hs);
    const cands = approxes.map((approx) => topKIndices(approx, this.opts.kPrime));
    const union = padGroups(unionGroups(cands, lm.rows), lm.rows, 64);
    const where = (this.where ??= new Int32Array(lm.rows)); // union slot of each vocabulary id (only union ids are read)
    union.forEach((id, j) => (where[id] = j));
    // logits of the union's rows for every state: [union.length] each, of which a state reads only
    // its own candidates' (owners: bit i of a slot for each state i that has it as a candidate)
    const scratch = hs.map((_, i) => this.unionScratch(union.length, i));
    this.backend.matvecRowsBatch(lm, union, hs, scratch, ownersOfCandidates(cands, where, union.length));
    const bytes = this.predictorBatchBytes(hs.length) + batchReadBytes(this.backend, lm, hs.length, union.length * (lm.bytes / lm.rows));
    const results: HeadResult[] = [];
    for (let i = 0; i < hs.length; i++) {
      const all = await this.backend.read(scratch[i]!);
      const ids = cands[i]!;
      const logits = Float32Array.from(ids, (id) => all[where[id]!]!);
      results.push(this.opts.approxTail ? {ids, logits, approx: approxes[i]!} : {ids, logits});
    }
    this.steps += hs.length;
    this.candidates += cands.reduce((a, c) => a + c.length, 0);
    return {results, bytes};
  }

  private readonly unionVecs = new Map<string, Vec>();
  private where: Int32Array | null = null;
  private unionScratch(n: number, seq: number): Vec {
    const key = `${n}:${seq}`;
    let v = this.unionVecs.get(key);
    if (!v) this.unionVecs.set(key, (v = this.backend.createVector(n)));
    return v;
  }

  describe(): string {
    const mode = this.opts.certifyK === null ? '' : `, certified top-${this.opts.certifyK}`;
    return `HiRE softmax (${this.predictor.name}, k'=${this.opts.kPrime}${mode})`;
  }

  stats(): HeadStats {
    return {
      steps: this.steps,
      meanCandidates: this.steps ? this.candidates / this.steps : 0,
      widenedSteps: this.widenedSteps,
      widenings: this.widenings,
    };
  }

  /** Queues z~ = predictor(h) into this.approx. */
  /** Exact logits W[ids] h of the listed rows. */
  private async exactRows(ids: Int32Array, h: Vec): Promise<Float32Array> {
    if (ids.length === 0) return new Float32Array(0);
    let out = this.candidateVecs.get(ids.length);
    if (!out) {
      out = this.backend.createVector(ids.length);
      this.candidateVecs.set(ids.length, out);
    }
    this.backend.matvecRows(this.lmHead, ids, h, out);
    return this.backend.read(out);
  }
}

/** Bit i of slot where[id] for each candidate id of state i (undefined above OWNERS_MAX_BATCH states). */
function ownersOfCandidates(cands: Int32Array[], where: Int32Array, n: number): Owners | undefined {
  if (cands.length > OWNERS_MAX_BATCH) return undefined;
  const owners = new Uint32Array(n);
  cands.forEach((ids, i) => {
    for (let k = 0; k < ids.length; k++) owners[where[ids[k]!]!]! |= 1 << i;
  });
  return owners;
}
