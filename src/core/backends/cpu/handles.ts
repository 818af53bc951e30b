/**
 * What the cpu backend's opaque handles hold: a vector or a matrix is a byte offset into the shared
 * WebAssembly memory (plus its shape), and a few helpers over them.
 */
import {BackendError} from '../../errors.js';
import {isBlockFormat} from '../../numeric/ggml-quant.js';
import type {Mat, MatDtype, Vec} from '../backend.js';
import type {DenseDtype} from './kernels.js';

export class CpuVec implements Vec {
  constructor(
    readonly ptr: number,
    readonly length: number,
  ) {}
}

export class CpuMat implements Mat {
  constructor(
    readonly ptr: number,
    readonly rows: number,
    readonly cols: number,
    readonly dtype: MatDtype,
    readonly bytes: number,
    /** Quantised matrices: their scales and group size. */
    readonly quant?: {scales: number; groupSize: number},
  ) {}
}

/** A copy of a list of this backend's vectors (lists are kept while work waits in the queue). */
export function vecs(list: Vec[]): CpuVec[] {
  return [...list] as CpuVec[];
}

/** The matrix's dense dtype; a BackendError naming `op` for a quantised one. */
export function denseDtype(m: CpuMat, op: string): DenseDtype {
  if (m.dtype === 'q8' || m.dtype === 'q4' || m.dtype === 'q2' || isBlockFormat(m.dtype)) {
    throw new BackendError(`${op} is not implemented for quantised (${m.dtype}) matrices on the cpu backend`);
  }
  return m.dtype;
}
