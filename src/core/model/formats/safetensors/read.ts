/**
 * Reading safetensors: one file (`SafetensorsFile`) or a whole checkpoint, possibly sharded
 * (`Checkpoint`). Both read lazily, tensor by tensor, by name.
 */

export type {TensorInfo} from './header.js';
export {SafetensorsFile, type TensorSource} from './file.js';
export {Checkpoint, INDEX_FILE_NAME, SINGLE_FILE_NAME, readIndex, type ParsedIndex} from './checkpoint.js';
