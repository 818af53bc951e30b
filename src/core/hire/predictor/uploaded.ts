/**
 * A HiRE predictor (softmax or one FFN layer) uploaded to a backend: u~ = A (B x) for the
 * low-rank kinds, dequant(Wq) x for the quantised one. Shared by the softmax head and the
 * sparse FFN. With `roundedX` (the FFN predictors) the product by a quantised matrix takes its
 * input rounded to 8 bits per group where the backend has that kernel (Backend.matvecRoundedBatch).
 */
import {batchReadBytes, type Backend, type Mat, type Vec} from '../../backends/backend.js';
import type {SoftmaxPredictor} from './predictor.js';


export class UploadedPredictor {
  private readonly proj: Mat | null; // B [rank, dim]
  private readonly approx: Mat; // A or dequant(A) [rows, rank], or dequant(Wq) [rows, dim]
  private readonly projOut: Vec | null; // [rank]
  /** The prediction of the last enqueue() [rows]. */
  readonly out: Vec;

  constructor(
    private readonly backend: Backend,
    p: SoftmaxPredictor,
    private readonly opts: {roundedX?: boolean} = {},
  ) {
    this.proj = p.B ? backend.uploadMatrix({dtype: 'f32', rows: p.rank!, cols: p.dim, data: p.B}) : null;
    this.projOut = p.B ? backend.createVector(p.rank!) : null;
    this.approx = p.A ? backend.uploadMatrix({dtype: 'f32', rows: p.vocabSize, cols: p.rank!, data: p.A}) : backend.uploadQuantMatrix(p.Q!);
    this.out = backend.createVector(p.vocabSize);
  }

  /** Weight bytes one prediction reads, as the backend holds the tensors (tfjs: quantised as f32). */
  get bytes(): number {
    return (this.proj?.bytes ?? 0) + this.approx.bytes;
  }

  /** Weight bytes predictBatch reads for n inputs: each matrix once where the backend batches it, else n times. */
  batchBytes(n: number): number {
    return [this.proj, this.approx].reduce((a, m) => a + (m ? batchReadBytes(this.backend, m, n) : 0), 0);
  }

  /** Queues the prediction for x into `out`. */
  enqueue(x: Vec): void {
    const b = this.backend;
    if (this.proj) b.matvec(this.proj, x, this.projOut!);
    this.approximate([this.proj ? this.projOut! : x], [this.out]);
  }

  /** outs[i] = A xs[i] (or dequant(Wq) xs[i]): rounded inputs where allowed and the backend can, each row of A read once. */
  private approximate(xs: Vec[], outs: Vec[]): void {
    const b = this.backend;
    if (this.opts.roundedX && b.matvecRoundedBatch?.(this.approx, xs, outs)) return;
    if (xs.length === 1) b.matvec(this.approx, xs[0]!, outs[0]!);
    else b.matvecBatch(this.approx, xs, outs);
  }

  /** The prediction for x, on the host. */
  async predict(x: Vec): Promise<Float32Array> {
    this.enqueue(x);
    return this.backend.read(this.out);
  }

  /** Predictions for several inputs, each predictor matrix read once for all of them (batched decoding). */
  async predictBatch(xs: Vec[]): Promise<Float32Array[]> {
    const res: Float32Array[] = [];
    for (const o of this.enqueueBatch(xs)) res.push(await this.backend.read(o));
    return res;
  }

  /**
   * Queues the predictions for several inputs, each predictor matrix read once for all of them;
   * returns the vectors they land in (this object's, valid until the next call).
   */
  enqueueBatch(xs: Vec[]): Vec[] {
    if (xs.length === 1) {
      this.enqueue(xs[0]!);
      return [this.out];
    }
    const b = this.backend;
    const outs = this.scratch(this.batchOut, xs.length, this.out.length);
    if (this.proj) {
      const mid = this.scratch(this.batchMid, xs.length, this.projOut!.length);
      b.matvecBatch(this.proj, xs, mid);
      this.approximate(mid, outs);
    } else {
      this.approximate(xs, outs);
    }
    return outs;
  }

  private readonly batchOut: Vec[] = [];
  private readonly batchMid: Vec[] = [];

  /** The first n vectors of a pool that grows as needed. */
  private scratch(pool: Vec[], n: number, length: number): Vec[] {
    while (pool.length < n) pool.push(this.backend.createVector(length));
    return pool.slice(0, n);
  }
}
