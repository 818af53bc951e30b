/**
 * The webgpu backend's matvec for a block of rows (a prompt's tokens): the input vectors are
 * copied into one block buffer, the block kernel (wgsl/block-kernels.ts) runs once per row chunk of
 * the matrix, and each output row is copied back out, all queued in the step's command buffer.
 * The two block buffers are scratch that only grows; a replaced one is destroyed after the next
 * submit (queued commands may still use it).
 */
import type {Pipelines} from './pipelines.js';
import {USAGE, type Recorder} from './recorder.js';
import type {GpuMat, GpuVec} from './resources.js';
import {GEMM_PARAMS, GEMM_WG, type GemmParams} from './wgsl/block-kernels.js';

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

export interface BlockContext {
  device: GPUDevice;
  rec: Recorder;
  pipes: Pipelines;
  /** Bound where there is no bias. */
  dummy: GPUBuffer;
  /** Takes ownership of a new buffer (destroyed with the backend). */
  own(b: GPUBuffer): GPUBuffer;
  /** Destroys a buffer after the next submit. */
  retire(b: GPUBuffer): void;
}

export class BlockMatvec {
  private x: GPUBuffer | null = null;
  private y: GPUBuffer | null = null;

  constructor(private readonly ctx: BlockContext) {}

  /** Whether the block kernel handles this matrix (dense weights; quantised ones loop per vector). */
  static handles(mat: GpuMat): boolean {
    return mat.kind === 'f32' || mat.kind === 'f16' || mat.kind === 'bf16';
  }

  /** outs[b] = W xs[b] (+ bias) for every b. */
  run(mat: GpuMat, xs: GpuVec[], outs: GpuVec[], bias: GpuVec | undefined): void {
    const {rec, pipes} = this.ctx;
    const nb = xs.length;
    const xStride = roundUp(mat.cols, 64); // floats per input row: a vector with its padding
    const yStride = roundUp(mat.rows, 64);
    const x = (this.x = this.fit(this.x, nb * xStride * 4));
    const y = (this.y = this.fit(this.y, nb * yStride * 4));
    xs.forEach((v, b) => rec.copy(v.buffer, x, b * xStride * 4, xStride * 4));
    const pipeline = pipes.gemm(mat.kind as 'f32' | 'f16' | 'bf16');
    for (const c of mat.chunks) {
      const p: GemmParams = {rows: c.rows, stride: mat.shape.stride, units: mat.shape.units, outOff: c.rowStart, hasBias: bias ? 1 : 0, nb, xStride: xStride / 4, yStride};
      const threads = c.rows * Math.ceil(nb / 4);
      rec.dispatch(pipeline, Uint32Array.from(GEMM_PARAMS, (f) => p[f]), [
        [1, c.words],
        [3, x],
        [4, y],
        [5, bias ? bias.buffer : this.ctx.dummy],
      ], rec.grid(Math.ceil(threads / GEMM_WG)));
    }
    outs.forEach((o, b) => rec.copy(y, o.buffer, 0, mat.rows * 4, b * yStride * 4));
  }

  /** `buf` when it holds `bytes`, else a new buffer (the old one retired). */
  private fit(buf: GPUBuffer | null, bytes: number): GPUBuffer {
    if (buf && buf.size >= bytes) return buf;
    if (buf) this.ctx.retire(buf);
    const size = roundUp(Math.max(bytes, 2 * (buf?.size ?? 0), 256), 256);
    return this.ctx.own(this.ctx.device.createBuffer({size, usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST}));
  }
}
