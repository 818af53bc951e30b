/** Safetensors: dtypes and half-precision conversions, lazy reading (single file or sharded), atomic writing. */

export {
  DTYPES,
  DTYPE_BYTES,
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  float32ToHalf,
  halfToFloat32,
  isDtype,
  isFloatDtype,
  toFloat32,
  viewAs,
  type Dtype,
  type FloatDtype,
  type TypedArrayByDtype,
} from './dtypes.js';
export {MAX_HEADER_BYTES, type TensorInfo} from './header.js';
export {Checkpoint, INDEX_FILE_NAME, SINGLE_FILE_NAME, SafetensorsFile, readIndex, type ParsedIndex, type TensorSource} from './read.js';
export {float32Tensor, writeSafetensors, type TensorData} from './write.js';
