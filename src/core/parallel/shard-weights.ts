/**
 * Loading one device's shard of a checkpoint: each tensor is read by name (as the single-device
 * loader reads it, transposes and fused-q/k/v slices included), the device's rows or columns are
 * cut out on the host, and only those are uploaded to the device's backend.
 *
 *   wq, wk, wv      rows of the device's query / KV heads          [localHeads * headDim, dim]
 *   wo              columns of the device's query heads            [dim, localHeads * headDim]
 *   wGate, wUp      rows of the device's FFN neurons               [localNeurons, dim]
 *   wDownT          W_down^T rows of those neurons (ffnNeuronRows)  [localNeurons, dim]
 *   lmHead          the device's vocabulary rows                    [localVocab, embedDim]
 * Norms and the biases added after a reduce (bo, bDown) are replicated.
 */
import type {Backend, HostMatrix, Mat, Vec} from '../backends/backend.js';
import {hostMatrixBytes, hostMatrixF32, isBlockMatrix} from '../backends/backend.js';
import {BLOCK_BYTES, BLOCK_SIZE, blockRowBytes} from '../numeric/ggml-quant.js';
import {UsageError} from '../errors.js';
import type {ModelSource} from '../model/load.js';
import {readHostMatrix, readHostVector, type WeightSpec} from '../model/weights.js';
import {type Norm} from '../decode/weights.js';
import {rangeIds, rangeSize, sliceIds, type DeviceShard, type Range} from './shard-plan.js';

export interface ShardLayer {
  attnNorm: Norm;
  ffnNorm: Norm;
  /** Null when the device holds no attention heads. */
  wq: Mat | null;
  wk: Mat | null;
  wv: Mat | null;
  wo: Mat | null;
  bq?: Vec;
  bk?: Vec;
  bv?: Vec;
  bo?: Vec;
  /** Null when the device holds no FFN neurons (wGate also null for ungated FFNs). */
  wGate: Mat | null;
  wUp: Mat | null;
  wDownT: Mat | null;
  bGate?: Vec;
  bUp?: Vec;
  bDown?: Vec;
}

export interface ShardWeights {
  layers: ShardLayer[];
  finalNorm?: Norm;
  /** The device's vocabulary rows of the output layer. */
  lmHead: Mat;
  /** Global ids of the device's FFN neurons, in local row order. */
  ffnIds: Int32Array;
  /** Weight bytes the device holds. */
  bytes: number;
}

/** `source` must be opened with ffnNeuronRows (W_out as wDownT [hiddenDim, dim], one row per neuron). */
export function loadShardWeights(source: ModelSource, shard: DeviceShard, backend: Backend): ShardWeights {
  const {config: c, checkpoint} = source;
  if (!source.specs.some((s) => s.key === 'layers.0.wDownT')) throw new RangeError('loadShardWeights: open the model with {ffnNeuronRows: true}');
  const byKey = new Map(source.specs.map((s) => [s.key, s]));
  if (byKey.has('projectIn') || byKey.has('projectOut')) {
    throw new UsageError('multi-device decoding does not support OPT project_in/project_out (word_embed_proj_dim != hidden_size)');
  }
  let bytes = 0;
  const spec = (key: string): WeightSpec => byKey.get(key)!;
  const upload = (m: HostMatrix): Mat => {
    bytes += hostMatrixBytes(m);
    return backend.uploadMatrix(m);
  };
  const vector = (key: string, range?: Range): Vec | undefined => {
    if (!byKey.has(key)) return undefined;
    const v = readHostVector(checkpoint, spec(key));
    bytes += 4 * (range ? rangeSize(range) : v.length);
    return backend.uploadVector(range ? v.slice(range.start, range.end) : v);
  };
  /** A bias restricted to the listed neurons (they may span several ranges). */
  const gathered = (key: string, ids: Int32Array): Vec | undefined => {
    if (!byKey.has(key)) return undefined;
    const v = readHostVector(checkpoint, spec(key));
    bytes += 4 * ids.length;
    return backend.uploadVector(Float32Array.from(ids, (i) => v[i]!));
  };
  const norm = (key: string): Norm => ({weight: vector(`${key}.weight`)!, bias: vector(`${key}.bias`)});

  const hd = c.headDim;
  const q: Range = {start: shard.heads.start * hd, end: shard.heads.end * hd};
  const kv: Range = {start: shard.kvHeads.start * hd, end: shard.kvHeads.end * hd};
  const hasHeads = rangeSize(q) > 0;
  const neurons = rangeIds(shard.ffn);
  const hasFfn = neurons.length > 0;
  const layers: ShardLayer[] = [];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `layers.${i}.`;
    const rows = (key: string, r: Range) => upload(sliceRows(readHostMatrix(checkpoint, spec(p + key)), [r]));
    layers.push({
      attnNorm: norm(`${p}attnNorm`),
      ffnNorm: norm(`${p}ffnNorm`),
      wq: hasHeads ? rows('wq', q) : null,
      wk: hasHeads ? rows('wk', kv) : null,
      wv: hasHeads ? rows('wv', kv) : null,
      wo: hasHeads ? upload(sliceCols(readHostMatrix(checkpoint, spec(`${p}wo`)), q)) : null,
      bq: hasHeads ? vector(`${p}bq`, q) : undefined,
      bk: hasHeads ? vector(`${p}bk`, kv) : undefined,
      bv: hasHeads ? vector(`${p}bv`, kv) : undefined,
      bo: vector(`${p}bo`),
      wGate: hasFfn && byKey.has(`${p}wGate`) ? upload(sliceRows(readHostMatrix(checkpoint, spec(`${p}wGate`)), shard.ffn)) : null,
      wUp: hasFfn ? upload(sliceRows(readHostMatrix(checkpoint, spec(`${p}wUp`)), shard.ffn)) : null,
      wDownT: hasFfn ? upload(sliceRows(readHostMatrix(checkpoint, spec(`${p}wDownT`)), shard.ffn)) : null,
      bGate: hasFfn ? gathered(`${p}bGate`, neurons) : undefined,
      bUp: hasFfn ? gathered(`${p}bUp`, neurons) : undefined,
      bDown: vector(`${p}bDown`),
    });
  }
  const head = byKey.get('lmHead') ?? spec('embed');
  const lmHead = upload(gatherRows(readHostMatrix(checkpoint, head), sliceIds(shard.vocab)));
  return {layers, finalNorm: byKey.has('finalNorm.weight') ? norm('finalNorm') : undefined, lmHead, ffnIds: neurons, bytes};
}

/** A host matrix's data and the number of its array elements per row (blocks: bytes per row). */
function rowsOf(m: HostMatrix): {data: Float32Array | Uint16Array | Uint8Array; width: number} {
  return {data: m.data, width: isBlockMatrix(m) ? blockRowBytes(m.dtype, m.cols) : m.cols};
}

function withRows(m: HostMatrix, rows: number, data: Float32Array | Uint16Array | Uint8Array): HostMatrix {
  return {dtype: m.dtype, rows, cols: m.cols, data} as HostMatrix;
}

/** Rows of the listed ranges, concatenated. */
export function sliceRows(m: HostMatrix, ranges: readonly Range[]): HostMatrix {
  const {data: src, width} = rowsOf(m);
  const n = ranges.reduce((s, r) => s + rangeSize(r), 0);
  const data = new (src.constructor as new (n: number) => typeof src)(n * width);
  let at = 0;
  for (const r of ranges) {
    data.set(src.subarray(r.start * width, r.end * width), at);
    at += rangeSize(r) * width;
  }
  return withRows(m, n, data);
}

/** The listed rows, in order. */
export function gatherRows(m: HostMatrix, ids: Int32Array): HostMatrix {
  const {data: src, width} = rowsOf(m);
  const data = new (src.constructor as new (n: number) => typeof src)(ids.length * width);
  ids.forEach((r, i) => data.set(src.subarray(r * width, (r + 1) * width), i * width));
  return withRows(m, ids.length, data);
}

/**
 * Columns [start, end) of every row: [rows, end - start]. A block matrix keeps its blocks when the
 * range starts and ends on a block boundary; otherwise that slice is held as f32 (exactly).
 */
export function sliceCols(m: HostMatrix, r: Range): HostMatrix {
  const w = rangeSize(r);
  if (isBlockMatrix(m)) {
    if (r.start % BLOCK_SIZE !== 0 || r.end % BLOCK_SIZE !== 0) {
      return sliceCols({dtype: 'f32', rows: m.rows, cols: m.cols, data: hostMatrixF32(m)}, r);
    }
    const bb = BLOCK_BYTES[m.dtype];
    const [from, to, width] = [(r.start / BLOCK_SIZE) * bb, (r.end / BLOCK_SIZE) * bb, blockRowBytes(m.dtype, m.cols)];
    const data = new Uint8Array(m.rows * (to - from));
    for (let i = 0; i < m.rows; i++) data.set(m.data.subarray(i * width + from, i * width + to), i * (to - from));
    return {dtype: m.dtype, rows: m.rows, cols: w, data};
  }
  const data = new (m.data.constructor as new (n: number) => Float32Array | Uint16Array)(m.rows * w);
  for (let i = 0; i < m.rows; i++) data.set(m.data.subarray(i * m.cols + r.start, i * m.cols + r.end), i * w);
  return {dtype: m.dtype, rows: m.rows, cols: w, data};
}
