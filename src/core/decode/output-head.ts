/**
 * Output heads: how a decode step turns the final hidden state h into logits to sample from.
 * DenseHead computes z = W h over the whole vocabulary; HiRE's sparse head is in
 * hire/softmax/head.ts.
 */
import {batchReadBytes, type Backend, type Mat, type Vec} from '../backends/backend.js';

export interface HeadResult {
  /** Candidate ids, or null when `logits` covers the whole vocabulary. */
  ids: Int32Array | null;
  logits: Float32Array;
  /** A sparse head asked for it (HeadOptions.approxTail): the predictor's approximate logits [vocabSize]. */
  approx?: Float32Array;
}

export interface HeadStats {
  steps: number;
  /** Mean candidates per step (vocabSize for the dense head). */
  meanCandidates: number;
  /** Steps on which certified mode had to widen k'. */
  widenedSteps: number;
  /** Total doublings of k' over all steps. */
  widenings: number;
}

/** The results of several hidden states and the weight bytes read for all of them together. */
export interface BatchHeadResult {
  results: HeadResult[];
  bytes: number;
}

export interface OutputHead {
  readonly kind: 'dense' | 'hire';
  next(h: Vec): Promise<HeadResult>;
  /** next() for several hidden states (batched decoding), weight rows read once where the backend can. */
  nextBatch(hs: Vec[]): Promise<BatchHeadResult>;
  /** Weight bytes a step reads (for certified mode: at the base k'). */
  readonly bytesPerToken: number;
  describe(): string;
  stats(): HeadStats;
}

export class DenseHead implements OutputHead {
  readonly kind = 'dense' as const;
  private readonly out: Vec;
  private readonly outs: Vec[] = [];
  private steps = 0;

  constructor(
    private readonly backend: Backend,
    private readonly lmHead: Mat,
  ) {
    this.out = backend.createVector(lmHead.rows);
  }

  get bytesPerToken(): number {
    return this.lmHead.bytes;
  }

  async next(h: Vec): Promise<HeadResult> {
    this.backend.matvec(this.lmHead, h, this.out);
    this.steps++;
    return {ids: null, logits: await this.backend.read(this.out)};
  }

  async nextBatch(hs: Vec[]): Promise<BatchHeadResult> {
    if (hs.length === 1) return {results: [await this.next(hs[0]!)], bytes: this.lmHead.bytes};
    while (this.outs.length < hs.length) this.outs.push(this.backend.createVector(this.lmHead.rows));
    const outs = this.outs.slice(0, hs.length);
    this.backend.matvecBatch(this.lmHead, hs, outs);
    this.steps += hs.length;
    const results: HeadResult[] = [];
    for (const o of outs) results.push({ids: null, logits: await this.backend.read(o)});
    return {results, bytes: batchReadBytes(this.backend, this.lmHead, hs.length)};
  }

  describe(): string {
    return `dense output layer (${this.lmHead.rows} rows)`;
  }

  stats(): HeadStats {
    return {steps: this.steps, meanCandidates: this.lmHead.rows, widenedSteps: 0, widenings: 0};
  }
}
