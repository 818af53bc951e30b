/**
 * A softmax predictor cut to one device's vocabulary rows: rows of A (lowrank), of the quantised
 * A (lowrank+quant) or of the quantised W (quant), and of the error norms; B is replicated. The
 * result is an ordinary SoftmaxPredictor over the device's rows (in the slice's order), so
 * HireSoftmaxHead runs it as is.
 */
import {quantRowBytes} from '../hire/quant.js';
import type {QuantMatrix} from '../hire/quant.js';
import type {SoftmaxPredictor} from '../hire/softmax-predictor.js';
import {sliceIds, type VocabSlice} from './shard-plan.js';

export function slicePredictor(p: SoftmaxPredictor, slice: VocabSlice): SoftmaxPredictor {
  const ids = sliceIds(slice);
  return {
    ...p,
    vocabSize: ids.length,
    A: p.A ? gather(p.A, p.rank!, ids) : null,
    Q: p.Q ? gatherQuantRows(p.Q, ids) : null,
    errNorms: gather(p.errNorms, 1, ids),
  };
}

export function gatherQuantRows(q: QuantMatrix, ids: Int32Array): QuantMatrix {
  const rowBytes = quantRowBytes(q.bits, q.cols);
  const groups = Math.ceil(q.cols / q.groupSize);
  return {...q, rows: ids.length, data: gather(q.data, rowBytes, ids), scales: gather(q.scales, groups, ids)};
}

/** Rows `ids` of a row-major array with `width` elements per row. */
function gather<T extends Float32Array | Uint8Array>(src: T, width: number, ids: Int32Array): T {
  const out = new (src.constructor as new (n: number) => T)(ids.length * width);
  ids.forEach((r, i) => out.set(src.subarray(r * width, (r + 1) * width), i * width));
  return out;
}
