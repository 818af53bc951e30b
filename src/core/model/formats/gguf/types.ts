/**
 * The ggml tensor types a GGUF file may name (ggml.h's enum ggml_type): their numbers, block
 * sizes and bytes per block, so every tensor's byte length can be checked against its shape.
 * Only some can be read (GGUF_READABLE); the others are named in the error.
 */

export interface GgmlType {
  name: string;
  /** Weights per block (1 for plain floats). */
  blockSize: number;
  /** Bytes per block. */
  blockBytes: number;
}

/** ggml type number -> name, block size, bytes per block (numbers as ggml.h defines them). */
export const GGML_TYPES: ReadonlyMap<number, GgmlType> = new Map([
  [0, {name: 'F32', blockSize: 1, blockBytes: 4}],
  [1, {name: 'F16', blockSize: 1, blockBytes: 2}],
  [2, {name: 'Q4_0', blockSize: 32, blockBytes: 18}],
  [3, {name: 'Q4_1', blockSize: 32, blockBytes: 20}],
  [6, {name: 'Q5_0', blockSize: 32, blockBytes: 22}],
  [7, {name: 'Q5_1', blockSize: 32, blockBytes: 24}],
  [8, {name: 'Q8_0', blockSize: 32, blockBytes: 34}],
  [9, {name: 'Q8_1', blockSize: 32, blockBytes: 36}],
  [10, {name: 'Q2_K', blockSize: 256, blockBytes: 84}],
  [11, {name: 'Q3_K', blockSize: 256, blockBytes: 110}],
  [12, {name: 'Q4_K', blockSize: 256, blockBytes: 144}],
  [13, {name: 'Q5_K', blockSize: 256, blockBytes: 176}],
  [14, {name: 'Q6_K', blockSize: 256, blockBytes: 210}],
  [15, {name: 'Q8_K', blockSize: 256, blockBytes: 292}],
  [16, {name: 'IQ2_XXS', blockSize: 256, blockBytes: 66}],
  [17, {name: 'IQ2_XS', blockSize: 256, blockBytes: 74}],
  [18, {name: 'IQ3_XXS', blockSize: 256, blockBytes: 98}],
  [19, {name: 'IQ1_S', blockSize: 256, blockBytes: 50}],
  [20, {name: 'IQ4_NL', blockSize: 32, blockBytes: 18}],
  [21, {name: 'IQ3_S', blockSize: 256, blockBytes: 110}],
  [22, {name: 'IQ2_S', blockSize: 256, blockBytes: 82}],
  [23, {name: 'IQ4_XS', blockSize: 256, blockBytes: 136}],
  [24, {name: 'I8', blockSize: 1, blockBytes: 1}],
  [25, {name: 'I16', blockSize: 1, blockBytes: 2}],
  [26, {name: 'I32', blockSize: 1, blockBytes: 4}],
  [27, {name: 'I64', blockSize: 1, blockBytes: 8}],
  [28, {name: 'F64', blockSize: 1, blockBytes: 8}],
  [29, {name: 'IQ1_M', blockSize: 256, blockBytes: 56}],
  [30, {name: 'BF16', blockSize: 1, blockBytes: 2}],
  [34, {name: 'TQ1_0', blockSize: 256, blockBytes: 54}],
  [35, {name: 'TQ2_0', blockSize: 256, blockBytes: 66}],
]);

/** The types hire reads: plain floats, Q8_0 and Q4_0 as they are, Q4_K / Q5_K / Q6_K converted to Q8_0. */
export const GGUF_READABLE = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q5_K', 'Q6_K'] as const;
export type ReadableType = (typeof GGUF_READABLE)[number];

export function isReadable(name: string): name is ReadableType {
  return (GGUF_READABLE as readonly string[]).includes(name);
}

/** ggml type number of each readable type (for writers). */
export const GGML_TYPE_ID: Readonly<Record<ReadableType, number>> = {F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14, BF16: 30};

/** GGUF metadata value types (gguf.h's enum gguf_type). */
export const GGUF_VALUE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
