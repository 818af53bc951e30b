/**
 * How a host matrix becomes GPU words: rows padded to 16 bytes (so kernels walk whole vec4 units
 * without bounds checks), f16/bf16 kept as their 16-bit patterns two to a u32 (unpacked in the
 * shader), quantised rows as their packed bytes read as little-endian u32 words, plus f32 scales.
 * Then the row chunks: a matrix whose padded size exceeds the largest storage binding is split by
 * rows, one GPU buffer per chunk.
 */
import type {BlockHostMatrix, DenseHostMatrix, HostQuantMatrix} from '../backend.js';
import {BLOCK_BYTES, BLOCK_SIZE, halfValue} from '../../numeric/ggml-quant.js';
import type {GpuWeightKind} from './wgsl/weights.js';

/** A matrix laid out for the GPU, before upload. */
export interface PackedMatrix {
  kind: GpuWeightKind;
  rows: number;
  cols: number;
  /** u32 words per padded row (a multiple of 4). */
  rowWords: number;
  /** [rows, rowWords] */
  words: Uint32Array;
  /** Quantised: [rows, groups] f32 scales, else null. */
  scales: Float32Array | null;
  groups: number;
  groupSize: number;
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** Copies `rows` rows of `rowBytes` bytes each into rows of rowWords * 4 bytes (zero padded). */
function padRows(src: Uint8Array, rows: number, rowBytes: number, rowWords: number): Uint32Array {
  const out = new Uint32Array(rows * rowWords);
  const dst = new Uint8Array(out.buffer);
  if (rowBytes === rowWords * 4) {
    dst.set(src.subarray(0, rows * rowBytes));
    return out;
  }
  for (let r = 0; r < rows; r++) dst.set(src.subarray(r * rowBytes, (r + 1) * rowBytes), r * rowWords * 4);
  return out;
}

const bytesOf = (a: Float32Array | Uint16Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export function packMatrix(m: DenseHostMatrix): PackedMatrix {
  const elemBytes = m.dtype === 'f32' ? 4 : 2;
  const rowBytes = m.cols * elemBytes;
  const rowWords = roundUp(rowBytes, 16) / 4;
  const words = padRows(bytesOf(m.data), m.rows, rowBytes, rowWords);
  return {kind: m.dtype, rows: m.rows, cols: m.cols, rowWords, words, scales: null, groups: 0, groupSize: 0};
}

/**
 * ggml blocks as the shaders' q8 / q4 kinds with one f32 scale per 32 columns, losslessly: a Q8_0
 * block's bytes are already signed bytes in column order; a Q4_0 nibble n stands for n - 8, whose
 * two's-complement nibble is n ^ 8, and moves from (j, j + 16 in byte j) to (2j, 2j + 1 in byte j).
 * The half scale widens exactly. (The GPU so reads 36 / 20 bytes per block where the file has 34 / 18.)
 */
export function packBlockMatrix(m: BlockHostMatrix): PackedMatrix {
  const q8 = m.dtype === 'q8_0';
  const nBlocks = (m.rows * m.cols) / BLOCK_SIZE;
  const bb = BLOCK_BYTES[m.dtype];
  const scales = new Float32Array(nBlocks);
  const data = new Uint8Array(q8 ? m.rows * m.cols : (m.rows * m.cols) / 2);
  for (let b = 0; b < nBlocks; b++) {
    const o = b * bb;
    scales[b] = halfValue(m.data[o]! | (m.data[o + 1]! << 8));
    if (q8) {
      data.set(m.data.subarray(o + 2, o + 34), b * 32);
    } else {
      for (let c = 0; c < 32; c++) {
        const n = c < 16 ? m.data[o + 2 + c]! & 15 : m.data[o + 2 + c - 16]! >> 4;
        data[b * 16 + (c >> 1)] |= (n ^ 8) << ((c & 1) * 4);
      }
    }
  }
  return packQuantMatrix({bits: q8 ? 8 : 4, rows: m.rows, cols: m.cols, groupSize: BLOCK_SIZE, data, scales});
}

/**
 * Whether the shader's per-word scale lookup works for this matrix: every u32 word (32/bits
 * columns) must sit inside one scale group. Otherwise the backend dequantises to f32.
 */
export function quantFitsWords(q: HostQuantMatrix): boolean {
  if (q.bits !== 8 && q.bits !== 4 && q.bits !== 2) return false;
  return q.groupSize >= q.cols || q.groupSize % (32 / q.bits) === 0;
}

export function packQuantMatrix(q: HostQuantMatrix): PackedMatrix {
  const rowBytes = Math.ceil((q.cols * q.bits) / 8);
  const rowWords = roundUp(rowBytes, 16) / 4;
  const groups = Math.ceil(q.cols / q.groupSize);
  const words = padRows(q.data, q.rows, rowBytes, rowWords);
  const kind = `q${q.bits}` as GpuWeightKind;
  return {kind, rows: q.rows, cols: q.cols, rowWords, words, scales: Float32Array.from(q.scales), groups, groupSize: q.groupSize};
}

/** Units per padded row as unitDot walks them, and the stride in the W binding's element type. */
export function rowUnits(p: Pick<PackedMatrix, 'kind' | 'rowWords'>): {stride: number; units: number} {
  // f32 / f16 / bf16 bind W as vec4 (4 words); quantised as single words.
  const stride = p.kind === 'f32' || p.kind === 'f16' || p.kind === 'bf16' ? p.rowWords / 4 : p.rowWords;
  return {stride, units: stride};
}

/** Words per scale group (quantised), large when the row is one group. */
export function wordsPerGroup(p: PackedMatrix): number {
  if (p.scales === null) return 1;
  if (p.groups === 1) return 0x7fffffff;
  const bits = p.kind === 'q8' ? 8 : p.kind === 'q4' ? 4 : 2;
  return p.groupSize / (32 / bits);
}

/** Rows per chunk so that a chunk's words fit one storage binding (and one buffer). */
export function chunkRows(p: PackedMatrix, maxBinding: number): number {
  const rowBytes = p.rowWords * 4;
  const rows = Math.floor(maxBinding / rowBytes);
  if (rows < 1) throw new RangeError(`a row of ${rowBytes} bytes exceeds the largest storage binding (${maxBinding} bytes)`);
  return Math.min(rows, p.rows);
}
